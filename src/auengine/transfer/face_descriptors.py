"""dlib's 128-D face descriptors of manifest rows, through dlib's own API (``--layers dlib-face``).

Each row's image and 68 landmarks (the manifest's ``x_0..y_67``; rows without them get
dlib's HOG detector + 68-point shape predictor) make a ``dlib.full_object_detection``;
``face_recognition_model_v1.compute_face_descriptor(image, shape, num_jitters, 0.25)``
aligns the 150 x 150 chip and runs the network (the same weights as
:func:`auengine.models.dlib_face.dlib_face_resnet`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import LANDMARK_COLUMNS, landmarks_of
from ..errors import InputError
from ..io.media import read_image
from ..progress import bar

DESCRIPTOR_LAYER = "dlib-face"
DESCRIPTOR_SIZE = 128


class DlibFaceDescriber:
    """Descriptors (128,) from an RGB uint8 image and its 68 landmarks (68, 2), or found by dlib."""

    def __init__(self, jitters: int = 0) -> None:
        import dlib

        from ..faces.offline_models import dlib_model_path
        from ..models.dlib_face import MODEL_FILE

        self._dlib = dlib
        self.jitters = jitters
        self._model = dlib.face_recognition_model_v1(str(dlib_model_path(MODEL_FILE)))
        self._predictor = None
        self._detector = None

    def shape(self, image: np.ndarray, landmarks: np.ndarray | None):
        """A dlib full_object_detection from landmarks (68, 2) in image pixels, or from dlib's own detection."""
        dlib = self._dlib
        if landmarks is None:
            if self._detector is None:
                from ..faces.offline_models import dlib_model_path

                self._detector = dlib.get_frontal_face_detector()
                self._predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
            boxes = sorted(self._detector(image, 1), key=lambda b: -b.area())
            return self._predictor(image, boxes[0]) if boxes else None
        points = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in landmarks])
        x0, y0 = np.floor(landmarks.min(axis=0)).astype(int)
        x1, y1 = np.ceil(landmarks.max(axis=0)).astype(int)
        return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), points)

    def describe(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray | None:
        """The 128-D descriptor, or None when no landmarks were given and dlib finds no face."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        shape = self.shape(image, landmarks)
        if shape is None:
            return None
        return np.asarray(self._model.compute_face_descriptor(image, shape, self.jitters, 0.25), dtype=np.float32)


def face_descriptors(table: pd.DataFrame, *, jitters: int = 0, progress: bool | None = None) -> np.ndarray:
    """dlib face descriptors (N, 128) of the manifest rows (``abspath`` images, optional landmark columns).

    Raises
    ------
    InputError
        Naming the rows with neither landmarks nor a face dlib can find.
    """
    describer = DlibFaceDescriber(jitters)
    has_columns = set(LANDMARK_COLUMNS) <= set(table.columns)
    landmarks = landmarks_of(table) if has_columns else np.full((len(table), 68, 2), np.nan)
    out = np.zeros((len(table), DESCRIPTOR_SIZE), dtype=np.float32)
    missing = []
    for i, path in enumerate(bar(table["abspath"], desc="features dlib-face", total=len(table), progress=progress)):
        points = landmarks[i] if np.isfinite(landmarks[i]).all() else None
        descriptor = describer.describe(read_image(path), points)
        if descriptor is None:
            missing.append(str(path))
        else:
            out[i] = descriptor
    if missing:
        listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(f"dlib-face features: no landmarks and no face found in {len(missing)} image(s): {listed}; "
                         "add landmark columns x_0..y_67 to the manifest (`auengine extract`) or drop these rows")
    return out


def descriptor_note() -> str:
    """How the descriptors were made, for result tables ("init" column)."""
    from ..models.dlib_face import MODEL_FILE

    return f"dlib-face ({MODEL_FILE}, face-recognition pretrained)"
