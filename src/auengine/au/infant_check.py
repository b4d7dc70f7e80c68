"""Does a face look like an infant's? A logistic regression on the landmark measurements.

``infant_probability(landmarks) -> (N,)`` in [0, 1]. The model (standardisation, coefficients,
its cross-validated ROC AUC and provenance) is data: resources/infant_check.json, fitted by
scripts/make_infant_check.py on real infant (InfAnFace) vs adult (300-W) annotations, for
non-commercial research, teaching and benchmarking only. It sees face proportions only
(eyes, brows, mouth and jaw relative to the inner-eye-corner distance), not texture.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..face_geometry import as_landmarks
from .reference import read_resource

CHECK_FILE = Path(__file__).resolve().parents[1] / "resources" / "infant_check.json"
#: below this share of a recording's faces looking like an infant's, outputs say it is not an infant
INFANT_SHARE = 0.5


@lru_cache(maxsize=1)
def check_model() -> dict:
    """The stored model (features, mean, scale, coef, intercept, cv_auc, source, terms)."""
    return read_resource(CHECK_FILE, "scripts/make_infant_check.py",
                         ("features", "mean", "scale", "coef", "intercept"))


def infant_probability(landmarks: np.ndarray) -> np.ndarray:
    """Probability (N,) that each face (N, 68, 2) or (68, 2) px, iBUG order, is an infant's."""
    from .measurements import measurements

    points = as_landmarks(landmarks)
    model = check_model()
    features = measurements(points)[model["features"]].to_numpy(float)
    z = (features - np.asarray(model["mean"])) / np.asarray(model["scale"])
    logit = z @ np.asarray(model["coef"]) + float(model["intercept"])
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))


def infant_column(frames) -> np.ndarray:
    """``infant_prob`` (N,) for the rows of a frame table with landmark columns; NaN where no face."""
    from ..columns import LANDMARK_COLUMNS, landmarks_of

    values = np.full(len(frames), np.nan)
    if not len(frames) or not set(LANDMARK_COLUMNS) <= set(frames.columns):
        return values
    ok = np.isfinite(frames[LANDMARK_COLUMNS].to_numpy(dtype=float)).all(axis=1)
    if ok.any():
        values[ok] = infant_probability(landmarks_of(frames[ok]))
    return values
