"""PSPI (Prkachin & Solomon pain intensity, paper Eq. 1) and a PSPI baseline classifier.

PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, with AU43 as 0/1. Range 0-16.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ..scales import get_scale

#: AU43 counts as present (1) when its intensity is at least this (eyes at least half closed)
AU43_THRESHOLD = 2.5
PSPI_COLUMNS = ["AU04_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r"]


def eye_closure(table: pd.DataFrame, threshold: float = AU43_THRESHOLD) -> pd.Series:
    """AU43 as 0/1: AU43_c, else AU43_r >= threshold; OpenFace's AU45 (blink) stands in when AU43 is absent."""
    for au in ("AU43", "AU45"):
        if f"{au}_c" in table.columns:
            return (table[f"{au}_c"].astype(float) >= 0.5).astype(float)
        if f"{au}_r" in table.columns:
            return (table[f"{au}_r"].astype(float) >= threshold).astype(float)
    raise InputError("PSPI needs AU43 (or OpenFace's AU45) as AU43_r / AU43_c; the table has neither")


def pspi(table: pd.DataFrame, *, au43_threshold: float = AU43_THRESHOLD) -> pd.Series:
    """PSPI per row of an AU table (AU01_r-style columns, 0-5)."""
    missing = [c for c in PSPI_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"PSPI needs AU columns {', '.join(missing)} (AU4, AU6, AU7, AU9, AU10 and AU43)")
    score = (table["AU04_r"] + np.maximum(table["AU06_r"], table["AU07_r"])
             + np.maximum(table["AU09_r"], table["AU10_r"]) + eye_closure(table, au43_threshold))
    return score.rename("PSPI")


class PSPIClassifier(ClassifierMixin, BaseEstimator):
    """PSPI -> pain level, by a monotone (isotonic) fit on the training data only.

    Parameters
    ----------
    scale : str, optional
        When given, ``y`` holds scores on this scale: PSPI is mapped monotonically to
        the score, then binned by the scale. Otherwise ``y`` holds levels, and the
        monotone map to levels is rounded.
    au43_threshold : float
        Intensity at which AU43 counts as present.

    ``X`` is an AU table (DataFrame with AU04_r, AU06_r, AU07_r, AU09_r, AU10_r and
    AU43_r/AU43_c) or an array whose single column is a precomputed PSPI.
    """

    def __init__(self, scale: str | None = None, au43_threshold: float = AU43_THRESHOLD):
        self.scale = scale
        self.au43_threshold = au43_threshold

    def _pspi(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame) and "AU04_r" in X.columns:
            return pspi(X, au43_threshold=self.au43_threshold).to_numpy(dtype=float)
        values = np.asarray(X, dtype=float)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise InputError("PSPIClassifier takes an AU table or one column of PSPI values")
        return values

    def fit(self, X, y):
        """Fit the monotone map from PSPI to levels (or scores) on training data."""
        target = np.asarray(y, dtype=float)
        self.isotonic_ = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(self._pspi(X), target)
        if self.scale is not None:
            scale = get_scale(self.scale)
            self.classes_ = np.arange(scale.n_levels)
        else:
            self.classes_ = np.unique(target.astype(int))
        return self

    def predict_intensity(self, X) -> np.ndarray:
        """The monotone map's output (N,): score on the scale, or level before rounding."""
        check_is_fitted(self, "isotonic_")
        return self.isotonic_.predict(self._pspi(X))

    def predict_level(self, X) -> np.ndarray:
        """Pain levels (N,), like every baseline's ``predict_level``; = ``predict`` for this classifier."""
        return self.predict(X)

    def predict(self, X) -> np.ndarray:
        """Pain levels (N,)."""
        mapped = self.predict_intensity(X)
        if self.scale is not None:
            scale = get_scale(self.scale)
            return scale.level(np.clip(mapped, scale.low, scale.high))
        return np.clip(np.rint(mapped), self.classes_.min(), self.classes_.max()).astype(int)
