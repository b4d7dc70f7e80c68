"""The geometry estimator's AU model and population reference faces, read from
resources/reference_faces.json (made by scripts/make_reference_faces.py from real annotations).

``au_model()`` is the AU model of one face moving (spans, cross-effects): used with a face's
own resting face (``neutral="auto"``, landmarks or an image of the person). ``reference(name)``
is a population's resting face with spans widened to its spread of resting faces (cross-effects
stay the one face's): used when the face's own rest is unknown. Provenance and terms travel with each.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import InputError

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "resources" / "reference_faces.json"
POPULATIONS = ("infant", "adult")


@dataclass(frozen=True)
class AUModel:
    """Spans (AU -> change of its measurement at intensity 5, units of s) and cross-effects
    ((AU, measurement) -> change at the AU's intensity 5); ``neutral`` the resting measurements
    (None: to be given by the caller); ``name`` and ``source`` say where they come from."""

    name: str
    spans: dict
    cross: dict
    au43_closed: float
    source: str
    neutral: pd.Series | None = field(default=None, compare=False)
    terms: str = ""


def read_resource(path: Path, maker: str, keys: tuple[str, ...] = ()) -> dict:
    """A derived data file (JSON, format 1) with ``keys``; InputError naming the script that makes it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc}); reinstall auengine or run {maker}") from None
    if data.get("format") != 1:
        raise InputError(f"{path}: format {data.get('format')!r}, this auengine reads format 1; rebuild it with {maker}")
    for key in keys:
        if key not in data:
            raise InputError(f"{path}: no {key!r}; rebuild it with {maker}")
    return data


@lru_cache(maxsize=1)
def _data() -> dict:
    return read_resource(REFERENCE_FILE, "scripts/make_reference_faces.py", ("au_model", "references"))


def _cross(rows: list) -> dict:
    return {(au, measurement): float(effect) for au, measurement, effect in rows}


def au_model() -> AUModel:
    """The AU model of one face (spans of the phantom's AU moves), without a resting face."""
    model = _data()["au_model"]
    return AUModel("own", dict(model["spans"]), _cross(model["cross"]), float(model["au43_closed"]),
                   model["source"])


def reference(name: str) -> AUModel:
    """Population ``name`` ("infant" or "adult"): its resting face and widened spans."""
    if name not in POPULATIONS:
        raise InputError(f"unknown reference face {name!r}: use one of {', '.join(POPULATIONS)}")
    data = _data()
    ref = data["references"][name]
    return AUModel(name, dict(ref["spans"]), _cross(data["au_model"]["cross"]), float(data["au_model"]["au43_closed"]),
                   ref["source"], pd.Series(ref["neutral"], dtype=float), ref["terms"])


def measurement_of() -> dict:
    """AU -> the measurement it is read from."""
    return dict(_data()["au_model"]["measurement_of"])


def provenance() -> dict:
    """What the reference file says about itself: terms, rest rule, sources, faces used."""
    data = _data()
    return {"file": REFERENCE_FILE.name, "terms": data["terms"], "rest_rule": data["rest_rule"],
            "spread_factor": data["spread_factor"],
            "references": {k: {"source": v["source"], "faces": v["faces"], "faces_at_rest": v["faces_at_rest"]}
                           for k, v in data["references"].items()}}
