"""The phantom's face shapes: a PCA model of real infant faces at rest.

resources/infant_shape_model.json (made by scripts/make_infant_shape_model.py from InfAnFace
annotations; non-commercial research, teaching and benchmarking only) holds a mean shape
(68, 2), unit components (k, 68, 2) and their robust standard deviations (k,), fitted to
Procrustes-aligned faces (centroid size 1; ``mean_s`` the mean shape's inner-eye-corner
distance s). ``shape`` returns a drawn face upright in the face frame, in units of the mean
shape's s: the mean has s = 1, a face's own s varies with its proportions. An identity is k
coefficients in units of sd, drawn N(0, 1) truncated at +/- TRUNCATION; population 1's
coefficients are centred on POPULATION_SHIFT instead of 0, so the two populations differ.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..face_geometry import face_coordinates, face_scale

MODEL_FILE = Path(__file__).resolve().parents[1] / "resources" / "infant_shape_model.json"
#: coefficients are redrawn until within +/- this many sd
TRUNCATION = 2.5
#: population -> {component index: mean coefficient (sd)}. Population 1: -0.6 sd on component 1
#: (of the stored model), a shorter, wider lower face: jaw drop about -0.18 s, mouth +0.03 s,
#: brow gap +0.04 s on the mean shape (tests/test_phantom_shape.py checks the jaw).
POPULATION_SHIFT = {0: {}, 1: {1: -0.6}}


@lru_cache(maxsize=1)
def shape_model() -> dict:
    """The stored model: ``mean`` (68, 2), ``components`` (k, 68, 2), ``sd`` (k,) as arrays, plus
    its provenance (``source``, ``subset``, ``derivation``, ``terms``)."""
    try:
        data = json.loads(MODEL_FILE.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{MODEL_FILE}: unreadable ({exc}); reinstall auengine or run "
                         "scripts/make_infant_shape_model.py") from None
    for key in ("mean", "components", "sd"):
        data[key] = np.asarray(data[key], dtype=float)
    return data


def components() -> int:
    """Number of components k."""
    return len(shape_model()["sd"])


def draw_coefficients(rng: np.random.Generator, population: int = 0) -> np.ndarray:
    """Coefficients (k,) in units of sd: N(shift, 1), each redrawn until within +/- TRUNCATION of its mean."""
    k = components()
    values = rng.standard_normal(k)
    outside = np.abs(values) > TRUNCATION
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > TRUNCATION
    for index, shift in POPULATION_SHIFT[population % len(POPULATION_SHIFT)].items():
        values[index] += shift
    return values


def shape(coefficients) -> np.ndarray:
    """Resting landmarks (68, 2) of coefficients (k,) in sd: face frame (origin between the eye-corner
    midpoints, eye line along +x, y down), units of the mean shape's s."""
    model = shape_model()
    weights = np.asarray(coefficients, dtype=float) * model["sd"]
    points = (model["mean"] + np.tensordot(weights, model["components"], axes=1))[None]
    return face_coordinates(points)[0] * face_scale(points)[0] / model["mean_s"]
