"""AU rule sets: load and validate au_rules/*.yaml, compute AU centers and regions.

A rule file is data (see au_rules/infant.yaml): each AU lists its centers, each
the mean of some landmarks moved ``offset`` x s along the face's up or down axis.
This module interprets such files; it holds no per-AU landmark indices itself.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from ..errors import InputError, RuleSchemaError
from ..face_geometry import NUM_LANDMARKS, as_landmarks, face_frame
from .geometry import square_box

RULES_ENV = "AUENGINE_RULES_DIR"
AU_ID = re.compile(r"^AU[1-9][0-9]?$")
DIRECTIONS = {"up": 1.0, "down": -1.0}
META_FIELDS = ("name", "version", "source", "scale_points", "right_eye", "left_eye", "mouth", "region_side")
CENTER_FIELDS = {"anchor", "offset", "direction"}


def rules_dir() -> Path:
    """Folder of the shipped rule sets: ``$AUENGINE_RULES_DIR`` or the repo's au_rules/."""
    env = os.environ.get(RULES_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "au_rules"


@dataclass(frozen=True)
class CenterRule:
    """One AU center: mean of ``anchor`` landmarks + ``offset`` x s along up (+) / down (-)."""

    anchor: tuple[int, ...]
    offset: float  # signed, in units of the face scale s; positive = up


@dataclass(frozen=True)
class AURules:
    """A validated AU rule set.

    Attributes
    ----------
    name : str
        Rule-set name from ``_meta`` (e.g. "infant").
    meta : dict
        The ``_meta`` block as read.
    rules : dict[str, tuple[CenterRule, ...]]
        Centers per AU id, in file order.
    names : dict[str, str]
        Descriptive AU names ("Brow Lowerer").
    sha256 : str
        Hash of the rule file's bytes (recorded in model bundles).
    """

    name: str
    meta: dict
    rules: dict
    names: dict
    sha256: str
    path: Path

    @property
    def aus(self) -> list[str]:
        """AU ids in file order, e.g. ``["AU1", "AU2", ...]``."""
        return list(self.rules)

    def region_side(self, width: float) -> float:
        """Region side in pixels on an image ``width`` pixels wide (10/224 x W for infant)."""
        return float(Fraction(str(self.meta["region_side"]))) * width

    def centers(self, landmarks: np.ndarray) -> dict[str, np.ndarray]:
        """AU centers in pixels.

        Parameters
        ----------
        landmarks : ndarray, shape (68, 2) or (N, 68, 2)
            (x, y) pixel coordinates, iBUG order.

        Returns
        -------
        dict[str, ndarray]
            Per AU id, shape (k, 2) for a single face or (N, k, 2) for a batch,
            k = 1 or 2 (subject's right first).
        """
        points = as_landmarks(landmarks)
        single = points.ndim == 2
        batch = points[None] if single else points
        meta = self.meta
        frame = face_frame(batch, scale_points=tuple(meta["scale_points"]), right_eye=meta["right_eye"],
                           left_eye=meta["left_eye"], mouth=meta["mouth"])
        shift = frame.scale[:, None] * frame.up  # (N, 2): one s along up
        out = {}
        for au, centers in self.rules.items():
            stacked = np.stack([batch[:, list(c.anchor)].mean(axis=1) + c.offset * shift
                                for c in centers], axis=1)  # (N, k, 2)
            out[au] = stacked[0] if single else stacked
        return out

    def boxes(self, landmarks: np.ndarray, shape: tuple[int, int],
              region_px: float | None = None) -> dict[str, list[tuple[int, int, int, int]]]:
        """Square AU regions as pixel boxes (x0, y0, x1, y1), x1/y1 exclusive, clipped.

        ``landmarks`` has shape (68, 2); ``shape`` is the image's (H, W); the side
        defaults to ``region_side(W)`` pixels, rounded to whole pixels.
        """
        side = self.region_side(shape[1]) if region_px is None else float(region_px)
        side_px = max(1, int(round(side)))
        centers = self.centers(as_landmarks(landmarks).reshape(NUM_LANDMARKS, 2))
        return {au: [square_box(c, side_px, shape[:2]) for c in pts] for au, pts in centers.items()}

    def masks(self, landmarks: np.ndarray, shape: tuple[int, int],
              region_px: float | None = None) -> dict[str, np.ndarray]:
        """Boolean AU region masks of shape ``shape`` (H, W); bilateral regions are joined."""
        out = {}
        for au, boxes in self.boxes(landmarks, shape, region_px).items():
            mask = np.zeros(shape[:2], dtype=bool)
            for x0, y0, x1, y1 in boxes:
                mask[y0:y1, x0:x1] = True
            out[au] = mask
        return out


def load_rules(name_or_path: str | os.PathLike = "infant") -> AURules:
    """Load and validate a rule set by name (``au_rules/NAME.yaml``) or file path.

    Raises
    ------
    InputError
        Unknown name or missing file.
    RuleSchemaError
        The file breaks the schema; the message names the file and the field.
    """
    path = Path(name_or_path)
    if path.suffix.lower() not in {".yaml", ".yml", ".json"}:
        path = rules_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in rules_dir().glob("*.yaml"))
            raise InputError(f"unknown AU rule set {str(name_or_path)!r}; choose one of: "
                             f"{', '.join(known)}, or give a .yaml file path")
    if not path.is_file():
        raise InputError(f"AU rule file not found: {path}")
    resolved = path.resolve()
    return _load_cached(resolved, resolved.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_cached(path: Path, mtime_ns: int) -> AURules:
    raw = path.read_bytes()
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 (safe loader subclass)
    except RuleSchemaError as exc:
        raise RuleSchemaError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise RuleSchemaError(f"{path}: not valid YAML/JSON ({exc})".replace("\n", " ")) from None
    return _parse(data, path, hashlib.sha256(raw).hexdigest())


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that refuses duplicate keys (plain YAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise RuleSchemaError(f"{key}: duplicate key at line {key_node.start_mark.line + 1} "
                                      "(each AU id and field may appear once)")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _parse(data, path: Path, sha256: str) -> AURules:
    def fail(field: str, problem: str) -> RuleSchemaError:
        return RuleSchemaError(f"{path}: {field}: {problem}")

    if not isinstance(data, dict):
        raise fail("(top level)", "expected a mapping with '_meta' and 'aus'")
    meta = data.get("_meta")
    if not isinstance(meta, dict):
        raise fail("_meta", "missing block (name, version, source, scale_points, eyes, region_side)")
    for key in META_FIELDS:
        if key not in meta:
            raise fail(f"_meta.{key}", "missing field")
    meta = dict(meta)
    scale_points = _indices(meta["scale_points"], "_meta.scale_points", fail)
    if len(scale_points) != 2:
        raise fail("_meta.scale_points", "expected exactly two landmark indices")
    for key in ("right_eye", "left_eye", "mouth"):
        _indices(meta[key], f"_meta.{key}", fail)
    side = _number(meta["region_side"], "_meta.region_side", fail)
    if not 0 < side < 1:
        raise fail("_meta.region_side", f"{meta['region_side']} is not a fraction of the crop width in (0, 1)")

    aus = data.get("aus")
    if not isinstance(aus, dict) or not aus:
        raise fail("aus", "missing or empty mapping of AU ids to rules")
    rules, names = {}, {}
    for au, entry in aus.items():
        field = f"aus.{au}"
        if not isinstance(au, str) or not AU_ID.match(au):
            raise fail(field, "AU ids look like 'AU1' .. 'AU99'")
        if not isinstance(entry, dict) or not isinstance(entry.get("centers"), list) or not entry["centers"]:
            raise fail(f"{field}.centers", "missing or empty list of centers")
        names[au] = str(entry.get("name", au))
        rules[au] = tuple(_center(c, f"{field}.centers[{i}]", fail) for i, c in enumerate(entry["centers"]))
    return AURules(name=str(meta["name"]), meta=meta, rules=rules, names=names, sha256=sha256, path=path)


def _center(entry, field: str, fail) -> CenterRule:
    if not isinstance(entry, dict):
        raise fail(field, "expected a mapping with 'anchor' (and 'offset' + 'direction')")
    unknown = set(entry) - CENTER_FIELDS
    if unknown:
        raise fail(f"{field}.{sorted(unknown)[0]}", f"unknown field; allowed: {', '.join(sorted(CENTER_FIELDS))}")
    if "anchor" not in entry:
        raise fail(f"{field}.anchor", "missing field")
    anchor = _indices(entry["anchor"], f"{field}.anchor", fail)
    has_offset, has_direction = "offset" in entry, "direction" in entry
    if has_offset != has_direction:
        missing = "direction" if has_offset else "offset"
        raise fail(f"{field}.{missing}", "missing field ('offset' and 'direction' go together)")
    if not has_offset:
        return CenterRule(anchor=anchor, offset=0.0)
    direction = entry["direction"]
    if direction not in DIRECTIONS:
        raise fail(f"{field}.direction", f"unknown direction {direction!r}; use one of: up, down")
    offset = _number(entry["offset"], f"{field}.offset", fail)
    return CenterRule(anchor=anchor, offset=DIRECTIONS[direction] * offset)


def _indices(value, field: str, fail) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise fail(field, "expected a non-empty list of landmark indices")
    for index in value:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_LANDMARKS:
            raise fail(field, f"unknown landmark index {index!r}; indices run 0-{NUM_LANDMARKS - 1}")
    return tuple(value)


def _number(value, field: str, fail) -> float:
    """A float from a number or an exact fraction string such as '1/3'."""
    if isinstance(value, bool):
        raise fail(field, f"{value!r} is not a number")
    try:
        return float(Fraction(str(value)))
    except (ValueError, ZeroDivisionError):
        raise fail(field, f"{value!r} is not a number or a fraction like 1/3") from None
