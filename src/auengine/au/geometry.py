"""Face geometry shared by AU rules and AU estimators (pure numpy, no I/O).

Landmarks follow DESIGN.md: 68 points in iBUG / Multi-PIE order, (x, y) in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

NUM_LANDMARKS = 68


def as_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Validate and return landmarks as float64 of shape (68, 2) or (N, 68, 2)."""
    array = np.asarray(landmarks, dtype=np.float64)
    if array.shape[-2:] != (NUM_LANDMARKS, 2) or array.ndim not in (2, 3):
        raise InputError(f"landmarks must have shape (68, 2) or (N, 68, 2), got {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("landmarks contain NaN or inf values (drop frames without a face first)")
    return array


@dataclass(frozen=True)
class FaceFrame:
    """A face's own scale and axes, per face.

    Attributes
    ----------
    scale : ndarray, shape (N,)
        Distance between the scale points (inner eye corners), pixels.
    up : ndarray, shape (N, 2)
        Unit vector perpendicular to the right-eye -> left-eye line, pointing
        from the mouth toward the brows (image coordinates, y down).
    """

    scale: np.ndarray
    up: np.ndarray


def face_frame(landmarks: np.ndarray, *, scale_points: tuple[int, int], right_eye: list[int],
               left_eye: list[int], mouth: list[int]) -> FaceFrame:
    """Scale and up axis of each face in ``landmarks`` of shape (N, 68, 2)."""
    a, b = scale_points
    scale = np.linalg.norm(landmarks[:, a] - landmarks[:, b], axis=-1)
    eye_line = landmarks[:, left_eye].mean(axis=1) - landmarks[:, right_eye].mean(axis=1)
    length = np.linalg.norm(eye_line, axis=-1, keepdims=True)
    if np.any(length == 0) or np.any(scale == 0):
        raise InputError("degenerate landmarks: the eyes coincide, so the face has no scale or axis")
    perpendicular = np.stack([eye_line[:, 1], -eye_line[:, 0]], axis=-1) / length
    eyes_mid = 0.5 * (landmarks[:, left_eye].mean(axis=1) + landmarks[:, right_eye].mean(axis=1))
    toward_brows = eyes_mid - landmarks[:, mouth].mean(axis=1)
    sign = np.where(np.einsum("nd,nd->n", perpendicular, toward_brows) < 0, -1.0, 1.0)
    return FaceFrame(scale=scale, up=perpendicular * sign[:, None])


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
