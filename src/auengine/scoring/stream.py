"""Streaming video input: a decoding thread, and face tracking between detections.

``FrameReader`` decodes with OpenCV in a background thread into a bounded queue, so
decoding overlaps detection and memory stays flat. ``FaceTracker`` runs the detector
every ``detect_every`` frames and, in between, places the landmark model's box from the
previous frame's landmarks; it re-detects at once when the face is lost or jumps.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..faces.detect import FaceBox, FaceDetector, largest_first
from ..faces.landmarks import LandmarkBackend

FALLBACK_FPS = 25.0
#: a stream that ends before this share of the container's frame count is reported as truncated
#: (containers often over-count by a few frames)
TRUNCATED_SHARE = 0.95
_END = object()


class FrameReader:
    """Iterate (index, time_s, RGB frame) of a video; decoding runs in a thread.

    Opening errors raise InputError naming the file; a stream that ends early (truncated
    file) ends iteration and sets ``error``. Use as a context manager or iterate once.
    """

    def __init__(self, path: str | Path, queue_size: int = 32) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: file not found")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty video file (0 bytes)")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise InputError(f"{self.path}: cannot open video (corrupt or unsupported codec)")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
        self.n_frames = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._decode, daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                ok, frame = self._capture.read()
                if not ok:
                    break
                self._put((index, index / self.fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
                index += 1
            if index == 0:
                self.error = f"{self.path}: no frame could be decoded (truncated or corrupt video)"
            elif self.n_frames and index < TRUNCATED_SHARE * self.n_frames and not self._stop.is_set():
                self.error = f"{self.path}: stream ended at frame {index} of {self.n_frames} (truncated video)"
        finally:
            self._capture.release()
            self._put(_END)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            yield item

    def close(self) -> None:
        """Stop decoding (safe to call twice)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
        lm_box = _landmark_box(landmarks)
        size = max(lm_box[2] - lm_box[0], 1.0)
        self._offset = (np.array([box.x0, box.y0, box.x1, box.y1]) - lm_box) / size
        self._previous = landmarks
        return TrackResult(box, landmarks, True)

    def _box_from(self, landmarks: np.ndarray) -> FaceBox:
        lm_box = _landmark_box(landmarks)
        x0, y0, x1, y1 = lm_box + self._offset * max(lm_box[2] - lm_box[0], 1.0)
        return FaceBox(float(x0), float(y0), float(x1), float(y1), float("nan"))

    def _plausible(self, landmarks: np.ndarray, shape: tuple) -> bool:
        previous_iod, current_iod = _iod(self._previous), _iod(landmarks)
        if previous_iod <= 0 or current_iod <= 0:
            return False
        shift = np.linalg.norm(landmarks.mean(axis=0) - self._previous.mean(axis=0)) / previous_iod
        inside = (landmarks[:, 0].min() > -0.1 * shape[1] and landmarks[:, 0].max() < 1.1 * shape[1]
                  and landmarks[:, 1].min() > -0.1 * shape[0] and landmarks[:, 1].max() < 1.1 * shape[0])
        return inside and abs(current_iod / previous_iod - 1) < self.max_change and shift < self.max_change


def _landmark_box(landmarks: np.ndarray) -> np.ndarray:
    return np.array([landmarks[:, 0].min(), landmarks[:, 1].min(), landmarks[:, 0].max(), landmarks[:, 1].max()])


def _iod(landmarks: np.ndarray) -> float:
    """Distance between the eye centres (px)."""
    return float(np.linalg.norm(landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0)))
