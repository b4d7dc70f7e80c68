"""Column names shared by tables (no heavy imports: used in worker processes too)."""
from __future__ import annotations

import numpy as np

from .face_geometry import NUM_LANDMARKS
from .errors import InputError

LANDMARK_COLUMNS = [f"x_{i}" for i in range(NUM_LANDMARKS)] + [f"y_{i}" for i in range(NUM_LANDMARKS)]


def au_column(au: str, kind: str = "r") -> str:
    """OpenFace-style column of a rule AU id: ``au_column("AU1") == "AU01_r"``; kind "c" for occurrence."""
    digits = au.upper().removeprefix("AU")
    if not digits.isdigit():
        raise InputError(f"not an AU id: {au!r} (expected e.g. 'AU12')")
    return f"AU{int(digits):02d}_{kind}"


def landmarks_of(table) -> np.ndarray:
    """Landmarks (N, 68, 2) from a table's x_0..x_67, y_0..y_67 columns (a pandas DataFrame)."""
    values = table[LANDMARK_COLUMNS].to_numpy(dtype=np.float64)
    return np.stack([values[:, :NUM_LANDMARKS], values[:, NUM_LANDMARKS:]], axis=-1)
