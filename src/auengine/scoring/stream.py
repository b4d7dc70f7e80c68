"""Face tracking between detections (video frames come from :class:`auengine.io.video.VideoReader`).

``FaceTracker`` runs the detector every ``detect_every`` frames and, in between, places the
landmark model's box from the previous frame's landmarks; it re-detects at once when the
face is lost or jumps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..faces.detect import FaceBox, FaceDetector, largest_first
from ..face_geometry import inter_ocular_distance, landmark_box
from ..faces.landmarks import LandmarkBackend


@dataclass
class TrackResult:
    """One frame's face: box (x0, y0, x1, y1) and landmarks (68, 2), or None; whether it was detected."""

    box: FaceBox | None
    landmarks: np.ndarray | None
    detected: bool


class FaceTracker:
    """Detect every ``detect_every`` frames; in between, track from the previous landmarks.

    ``max_change``: largest relative change of the inter-ocular distance, or of the face
    centre (in inter-ocular distances), between frames before the track counts as lost
    and the detector runs again.
    """

    def __init__(self, detector: FaceDetector, landmarker: LandmarkBackend, detect_every: int = 30,
                 max_change: float = 0.35) -> None:
        # Without a face the detector runs every retry_every (= detect_every // 6) frames, so a face
        # that appears is found quickly and a face-free stretch costs a sixth of the detector runs.
        if detect_every < 1:
            raise InputError("detect_every must be >= 1")
        self.detector = detector
        self.landmarker = landmarker
        self.detect_every = detect_every
        self.retry_every = max(1, detect_every // 6)
        self.max_change = max_change
        self._previous: np.ndarray | None = None
        self._offset: np.ndarray | None = None       # detector box relative to the landmarks' box
        self._since_detection = detect_every      # detect on the first frame
        self.detections = 0

    def step(self, image: np.ndarray) -> TrackResult:
        """The face in this frame (RGB uint8, (H, W, 3))."""
        if self._previous is None and self._since_detection < self.retry_every:
            self._since_detection += 1                 # no face lately: look again every retry_every frames
            return TrackResult(None, None, False)
        if self._previous is not None and self._since_detection < self.detect_every:
            self._since_detection += 1
            box = self._box_from(self._previous)
            landmarks = self.landmarker.predict(image, [box])[0]
            if self._plausible(landmarks, image.shape):
                self._previous = landmarks
                return TrackResult(box, landmarks, False)
        return self._detect(image)

    def _detect(self, image: np.ndarray) -> TrackResult:
        self.detections += 1
        self._since_detection = 1
        boxes = largest_first(self.detector.detect(image))[:1]
        if not boxes:
            self._previous = None
            return TrackResult(None, None, True)
        landmarks = self.landmarker.predict(image, boxes)[0]
        box = boxes[0]
        lm_box = landmark_box(landmarks)
        size = max(lm_box[2] - lm_box[0], 1.0)
        self._offset = (np.array([box.x0, box.y0, box.x1, box.y1]) - lm_box) / size
        self._previous = landmarks
        return TrackResult(box, landmarks, True)

    def _box_from(self, landmarks: np.ndarray) -> FaceBox:
        lm_box = landmark_box(landmarks)
        x0, y0, x1, y1 = lm_box + self._offset * max(lm_box[2] - lm_box[0], 1.0)
        return FaceBox(float(x0), float(y0), float(x1), float(y1), float("nan"))

    def _plausible(self, landmarks: np.ndarray, shape: tuple) -> bool:
        previous_iod, current_iod = inter_ocular_distance(self._previous), inter_ocular_distance(landmarks)
        if previous_iod <= 0 or current_iod <= 0:
            return False
        shift = np.linalg.norm(landmarks.mean(axis=0) - self._previous.mean(axis=0)) / previous_iod
        inside = (landmarks[:, 0].min() > -0.1 * shape[1] and landmarks[:, 0].max() < 1.1 * shape[1]
                  and landmarks[:, 1].min() > -0.1 * shape[0] and landmarks[:, 1].max() < 1.1 * shape[0])
        return inside and abs(current_iod / previous_iod - 1) < self.max_change and shift < self.max_change
