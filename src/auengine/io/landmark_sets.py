"""Real 68-point annotation sets (InfAnFace infants, 300-W adults) as landmark arrays.

The files are the ones of ../shared/data/landmarks/ (HRNet's CSV layout: ``image_name``,
``scale``, ``center_w``, ``center_h``, ``original_{i}_x``, ``original_{i}_y``). They are used
by the scripts that derive the reference faces, the phantom's shape model and the
infant-face check, and by tests; the engine itself reads only the derived JSON files.
Terms of both sets: non-commercial research, teaching and benchmarking.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: population -> (folder, CSV files) under the landmark root
SETS = {"infant": ("infanface", ("ads.csv", "google2.csv", "youtube2.csv")),
        "adult": ("300w", ("300w_valid.csv",))}
ENV_ROOT = "AUENGINE_LANDMARK_SETS"


@dataclass(frozen=True)
class LandmarkSet:
    """One population's faces: ``landmarks`` (N, 68, 2) image px, ``image`` (N,) names, ``subset`` (N,)."""

    population: str
    landmarks: np.ndarray
    image: np.ndarray
    subset: np.ndarray

    @property
    def group(self) -> np.ndarray:
        """A person key per face (N,), for subject-independent folds: faces of one photo or one
        advertisement video share it (``ads/1072.Still005`` -> ``ads/1072``, ``ibug/image_049_1`` ->
        ``ibug/image_049``); the sets have no subject ids, so this is the closest reproducible key."""
        keys = []
        for name in self.image:
            path = Path(name)
            stem = path.stem.split(".")[0] if path.parts[0] == "ads" else re.sub(r"_\d{1,2}$", "", path.stem)
            keys.append(f"{path.parts[0]}/{stem}")
        return np.array(keys)

    def __len__(self) -> int:
        return len(self.landmarks)


def default_root() -> Path | None:
    """$AUENGINE_LANDMARK_SETS, else ../shared/data/landmarks next to the repository; None if absent."""
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT])
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / "shared" / "data" / "landmarks"
        if candidate.is_dir():
            return candidate
    return None


def read_landmark_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks (N, 68, 2), image names (N,)) of one HRNet-layout CSV."""
    table = pd.read_csv(path)
    columns = [f"original_{i}_{axis}" for i in range(68) for axis in "xy"]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{path}: not a 68-point annotation file (no column {missing[0]}); "
                         "expected image_name, original_0_x, original_0_y, ... original_67_y")
    points = table[columns].to_numpy(dtype=float).reshape(-1, 68, 2)
    return points, table["image_name"].astype(str).to_numpy()


def load_landmark_set(population: str, root: Path | None = None) -> LandmarkSet:
    """The annotated faces of ``population`` ("infant" or "adult") from ``root``."""
    if population not in SETS:
        raise InputError(f"unknown population {population!r}: use one of {', '.join(SETS)}")
    root = Path(root) if root is not None else default_root()
    if root is None:
        raise InputError(f"no landmark sets found: set {ENV_ROOT} to the folder holding infanface/ and 300w/")
    folder, files = SETS[population]
    parts = []
    for name in files:
        path = root / folder / name
        if not path.is_file():
            raise InputError(f"{path}: missing; {ENV_ROOT} must point at ../shared/data/landmarks")
        points, images = read_landmark_csv(path)
        subset = np.array([Path(name).stem] * len(points)) if population == "infant" else \
            np.array([image.split("/")[0] for image in images])
        parts.append((points, images, subset))
    return LandmarkSet(population, *(np.concatenate([p[i] for p in parts]) for i in range(3)))
