"""Face detection backends, chosen by name from ``DETECTORS``.

Each backend implements ``detect(image) -> list[FaceBox]`` for an RGB uint8 image
of shape (H, W, 3). ``auto`` is MTCNN (facenet-pytorch), whose weights ship in the
package, so it works offline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..registries import DETECTORS as _DETECTORS
from ..registry import Registry
from ..weights import WeightsSpec, resolve_weights


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box corners in pixels (x0, y0, x1, y1) and a detector score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return max(self.x1 - self.x0, 0.0) * max(self.y1 - self.y0, 0.0)


class FaceDetector:
    """Base class: subclasses set ``name`` and implement :meth:`detect`."""

    name = "base"

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB uint8 image of shape (H, W, 3), any order."""
        raise NotImplementedError


DETECTORS: Registry[FaceDetector] = _DETECTORS     # declared in auengine.registries (names without imports)


@DETECTORS.register("mtcnn")
class MTCNNDetector(FaceDetector):
    """MTCNN from facenet-pytorch (P/R/O-Net weights ship in the package)."""

    name = "mtcnn"

    def __init__(self, min_score: float = 0.9, min_face_px: int = 20) -> None:
        from facenet_pytorch import MTCNN

        self.min_score = min_score
        self._model = MTCNN(keep_all=True, device="cpu", min_face_size=min_face_px)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        boxes, scores = self._model.detect(image)
        if boxes is None:
            return []
        return [FaceBox(*map(float, box), float(score))
                for box, score in zip(boxes, scores) if score >= self.min_score]


@DETECTORS.register("dlib")
class DlibHOGDetector(FaceDetector):
    """dlib's HOG + linear SVM frontal face detector (no weights file needed)."""

    name = "dlib"

    def __init__(self, upsample: int = 1, min_score: float = 0.0) -> None:
        import dlib

        self.upsample = upsample
        self.min_score = min_score
        self._model = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        rects, scores, _ = self._model.run(np.ascontiguousarray(image), self.upsample, self.min_score)
        return [FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]


SFD_WEIGHTS = WeightsSpec(
    name="face-alignment S3FD detector",
    filename="s3fd-619a316812.pth",
    url="https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",
    torch_hub=True,
)


@DETECTORS.register("face-alignment")
class SFDDetector(FaceDetector):
    """face-alignment's S3FD detector; needs its weights (see :mod:`auengine.weights`)."""

    name = "face-alignment"

    def __init__(self, weights: str | None = None, download: bool | None = None,
                 min_score: float = 0.5) -> None:
        path = resolve_weights(SFD_WEIGHTS, weights, download=download)
        from face_alignment.detection.sfd.sfd_detector import SFDDetector as _SFD

        self._model = _SFD(device="cpu", path_to_detector=str(path), filter_threshold=min_score)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        return [FaceBox(*map(float, b[:4]), float(b[4])) for b in self._model.detect_from_image(image.copy())]


@DETECTORS.register("auto")
def auto_detector(**kwargs) -> FaceDetector:
    """The offline default: MTCNN."""
    return MTCNNDetector(**kwargs)


def largest_first(boxes: list[FaceBox]) -> list[FaceBox]:
    """Boxes sorted by area, largest first (the multi-face policy's order)."""
    return sorted(boxes, key=lambda b: b.area, reverse=True)


__all__ = ["DETECTORS", "FaceBox", "FaceDetector", "largest_first"]
