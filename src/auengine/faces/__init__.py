"""Faces: detection, 68-point landmarks and aligned crops."""
from .crop import Crop, align_crop
from .detect import DETECTORS, FaceBox, FaceDetector
from .landmarks import LANDMARKERS, LandmarkBackend

__all__ = ["Crop", "align_crop", "DETECTORS", "FaceBox", "FaceDetector", "LANDMARKERS", "LandmarkBackend"]
