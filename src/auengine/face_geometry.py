"""Landmark geometry, the one home of it: 68-point indices, eye centres, face scale, face frame.

At the bottom of the import graph (numpy and auengine.errors only). Landmarks follow
DESIGN.md: 68 points in iBUG / Multi-PIE order, (x, y) in pixels, shape (68, 2) or (N, 68, 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

NUM_LANDMARKS = 68
JAW = list(range(0, 17))
RIGHT_BROW = list(range(17, 22))            # the subject's right
LEFT_BROW = list(range(22, 27))
NOSE = list(range(27, 36))
RIGHT_EYE = list(range(36, 42))
LEFT_EYE = list(range(42, 48))
OUTER_LIPS = list(range(48, 60))
INNER_LIPS = list(range(60, 68))
#: the face scale s: distance between the inner eye corners (EAC-Net / JAA-Net "ruler")
SCALE_POINTS = (39, 42)
#: eye corners, which eyelid AUs do not move: (outer, inner) of the right eye, (inner, outer) of the left
RIGHT_EYE_CORNERS = [36, 39]
LEFT_EYE_CORNERS = [42, 45]
#: each point's mirror partner (the subject's right <-> left); midline points are their own
MIRROR = (list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
          + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
          + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def as_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Validate and return landmarks as float64 of shape (68, 2) or (N, 68, 2)."""
    array = np.asarray(landmarks, dtype=np.float64)
    if array.shape[-2:] != (NUM_LANDMARKS, 2) or array.ndim not in (2, 3):
        raise InputError(f"landmarks must have shape (68, 2) or (N, 68, 2), got {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("landmarks contain NaN or inf values (drop frames without a face first)")
    return array


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right and left eye centres (means of points 36-41 and 42-47), each (..., 2) px."""
    points = np.asarray(landmarks, dtype=np.float64)
    return points[..., RIGHT_EYE, :].mean(axis=-2), points[..., LEFT_EYE, :].mean(axis=-2)


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray | float:
    """Distance between the eye centres (px): a float for (68, 2), shape (N,) for (N, 68, 2)."""
    right, left = eye_centers(landmarks)
    distance = np.linalg.norm(left - right, axis=-1)
    return float(distance) if np.ndim(distance) == 0 else distance


def face_scale(landmarks: np.ndarray) -> np.ndarray:
    """The face scale s (px), shape (N,) for (N, 68, 2): distance between the inner eye corners."""
    points = np.asarray(landmarks, dtype=np.float64)
    return np.linalg.norm(points[..., SCALE_POINTS[0], :] - points[..., SCALE_POINTS[1], :], axis=-1)


def eye_angle(landmarks: np.ndarray) -> np.ndarray | float:
    """In-plane angle (radians) of the right-eye -> left-eye centre line in image coordinates."""
    right, left = eye_centers(landmarks)
    line = left - right
    angle = np.arctan2(line[..., 1], line[..., 0])
    return float(angle) if np.ndim(angle) == 0 else angle


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Bounding box (x0, y0, x1, y1) px of one face's landmarks (68, 2)."""
    return np.array([landmarks[:, 0].min(), landmarks[:, 1].min(), landmarks[:, 0].max(), landmarks[:, 1].max()])


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


def face_frame(landmarks: np.ndarray, *, scale_points: tuple[int, int] = SCALE_POINTS,
               right_eye: list[int] = RIGHT_EYE, left_eye: list[int] = LEFT_EYE,
               mouth: list[int] = OUTER_LIPS) -> FaceFrame:
    """Scale and up axis of each face in ``landmarks`` of shape (N, 68, 2) (indices from a rule file's ``_meta``)."""
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


def face_coordinates(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks (N, 68, 2) in the face frame, units of s.

    Origin: midpoint of the two eye-corner midpoints (36/39 and 42/45, which eyelid
    AUs do not move); u along the right -> left eye-corner line; v perpendicular to
    it, pointing from the eyes toward the mouth.
    """
    right = landmarks[:, RIGHT_EYE_CORNERS].mean(axis=1)
    left = landmarks[:, LEFT_EYE_CORNERS].mean(axis=1)
    scale = face_scale(landmarks)
    line = left - right
    length = np.linalg.norm(line, axis=-1, keepdims=True)
    if np.any(length == 0) or np.any(scale == 0):
        raise InputError("degenerate landmarks: the eye corners coincide")
    across = line / length
    down = np.stack([-across[:, 1], across[:, 0]], axis=-1)
    origin = (right + left) / 2
    flip = np.einsum("nd,nd->n", landmarks[:, OUTER_LIPS].mean(axis=1) - origin, down) < 0
    down[flip] *= -1                                             # point toward the mouth
    centred = landmarks - origin[:, None]
    u = np.einsum("npd,nd->np", centred, across) / scale[:, None]
    v = np.einsum("npd,nd->np", centred, down) / scale[:, None]
    return np.stack([u, v], axis=-1)
