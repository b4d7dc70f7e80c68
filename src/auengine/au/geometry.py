"""AU region geometry: square regions around AU centres (pure numpy).

Landmark geometry (indices, face frame, scale) lives in :mod:`auengine.face_geometry`.
"""
from __future__ import annotations

import numpy as np


def square_box(center: np.ndarray, side: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer pixel box (x0, y0, x1, y1), x1/y1 exclusive, of a square region.

    Pixel (row i, column j) has its center at (x=j, y=i). The box holds the
    pixels whose centers lie in [cx - side/2, cx + side/2) x [cy - side/2, cy + side/2),
    i.e. exactly side x side pixels, then clipped to an image of ``shape`` (H, W).
    """
    height, width = shape
    x0 = int(np.ceil(center[0] - side / 2))
    y0 = int(np.ceil(center[1] - side / 2))
    return (min(max(x0, 0), width), min(max(y0, 0), height),
            min(max(x0 + side, 0), width), min(max(y0 + side, 0), height))
