"""Square, eye-aligned face crops with landmarks mapped in and a reversible affine."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face_geometry import as_landmarks, eye_angle

DEFAULT_CROP_SIZE = 224
#: crop side = CROP_ZOOM x the larger extent of the (rotated) landmarks
CROP_ZOOM = 1.3


@dataclass(frozen=True)
class Crop:
    """An aligned face crop.

    Attributes
    ----------
    image : ndarray, shape (S, S, 3), uint8 RGB
    landmarks : ndarray, shape (68, 2)
        Landmarks in crop pixel coordinates.
    affine : ndarray, shape (2, 3)
        Maps image (x, y, 1) to crop (x, y).
    """

    image: np.ndarray
    landmarks: np.ndarray
    affine: np.ndarray

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map crop points of shape (..., 2) back to image pixels."""
        inverse = cv2.invertAffineTransform(self.affine)
        return apply_affine(inverse, points)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to points of shape (..., 2)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ affine[:, :2].T + affine[:, 2]


def crop_affine(landmarks: np.ndarray, size: int = DEFAULT_CROP_SIZE, *, align: bool = True,
                zoom: float = CROP_ZOOM) -> np.ndarray:
    """The (2, 3) similarity transform from image to an S x S crop of one face.

    The face is rotated so the eye centers are level (``align=True``), scaled so
    ``zoom`` x the larger landmark extent fills the crop, and centered on the
    middle of the landmarks' bounding box.
    """
    points = as_landmarks(landmarks)
    angle = 0.0
    if align:
        angle = eye_angle(points)
    cos, sin = np.cos(-angle), np.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    rotated = points @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    extent = max(float((high - low).max()), 1.0)
    scale = size / (zoom * extent)
    center = (low + high) / 2
    linear = scale * rotation
    offset = np.array([size / 2, size / 2]) - scale * center
    return np.hstack([linear, offset[:, None]])


def align_crop(image: np.ndarray, landmarks: np.ndarray, size: int = DEFAULT_CROP_SIZE, *,
               align: bool = True, zoom: float = CROP_ZOOM) -> Crop:
    """Crop one face to an S x S image.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8 RGB
    landmarks : ndarray, shape (68, 2), pixels
    size : int
        Crop side S in pixels (224 by default, the paper's input size).
    align : bool
        Level the eyes (in-plane rotation removed).
    zoom : float
        Crop side relative to the landmark extent.
    """
    affine = crop_affine(landmarks, size, align=align, zoom=zoom)
    warped = cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return Crop(image=warped, landmarks=apply_affine(affine, landmarks), affine=affine)
