"""Named landmark measurements in the face frame (units of the face scale s): what the AUs are read from.

Used by the geometry estimator (landmark_aus.py), the reference-face fit, the infant-face check and
the phantom's shape tests; it sits below all of them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..face_geometry import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, as_landmarks, face_coordinates


def measurements(landmarks: np.ndarray) -> pd.DataFrame:
    """The named measurements (N rows) behind the AUs, in units of s."""
    points = as_landmarks(landmarks)
    points = points[None] if points.ndim == 2 else points
    c = face_coordinates(points)
    u, v = c[..., 0], c[..., 1]
    corner_line_r, corner_line_l = v[:, RIGHT_EYE_CORNERS].mean(axis=1), v[:, LEFT_EYE_CORNERS].mean(axis=1)
    return pd.DataFrame({
        "inner_brow_height": -(v[:, 21] + v[:, 22]) / 2,
        "outer_brow_height": -(v[:, 17] + v[:, 26]) / 2,
        "brow_height": -v[:, 19:25].mean(axis=1),
        "brow_gap": u[:, 22] - u[:, 21],
        "lower_lid_depth": ((v[:, [40, 41]].mean(1) - corner_line_r) + (v[:, [46, 47]].mean(1) - corner_line_l)) / 2,
        "eye_aperture": (v[:, [41, 40, 47, 46]] - v[:, [37, 38, 43, 44]]).mean(axis=1),
        "cheek_height": -v[:, [1, 2, 3, 13, 14, 15]].mean(axis=1),
        "ala_height": -(v[:, 31] + v[:, 35]) / 2,
        "upper_lip_height": -v[:, 50:53].mean(axis=1),
        "lip_corner_height": -(v[:, 48] + v[:, 54]) / 2,
        "mouth_width": u[:, 54] - u[:, 48],
        "lip_gap": (v[:, 67] - v[:, 61] + v[:, 66] - v[:, 62] + v[:, 65] - v[:, 63]) / 3,
        "jaw_drop": v[:, 8],
    })
