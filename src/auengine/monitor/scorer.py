"""Score one live frame at a time: the `score` pipeline with an online AU neutral.

Per frame: :class:`~auengine.scoring.stream.FaceTracker` (detector every N frames,
landmark tracking in between) -> geometry AU measurements (au/landmark_aus.py) -> AU
intensities against an online neutral -> the bundle's intensity -> a trailing
(causal) mean over ``smooth_s``.

`score` calibrates each AU on the least active 10 % of a whole video; live, the future
is unknown, so :class:`OnlineNeutral` uses the same low quantile over a bounded
window of past face frames, and reports ``calibrating`` until it has ``warmup_s``
seconds of them.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from ..au.infant_check import infant_probability
from ..au.landmark_aus import REST_QUANTILE, default_neutral, intensities_from_measurements, measurements
from ..bundle import Bundle
from ..face_geometry import inter_ocular_distance
from ..scoring.stream import FaceTracker, TrackResult

#: faces with a smaller inter-ocular distance than this (pixels) count as low quality
MIN_IOD_PX = 12.0


class OnlineNeutral:
    """Each AU's running low quantile of its raw fraction (geometry backend) over a bounded window.

    Parameters
    ----------
    quantile : float
        Share of recent face time each AU is taken to rest in (as in `score`: 0.1).
    window_s : float
        Seconds of face frames remembered (sampled at ``sample_hz``; bounded memory).
    warmup_s : float
        Seconds of face frames before the neutral counts as calibrated.
    """

    def __init__(self, quantile: float = REST_QUANTILE, window_s: float = 300.0, warmup_s: float = 5.0,
                 sample_hz: float = 5.0) -> None:
        self.quantile, self.window_s, self.warmup_s, self.sample_hz = quantile, window_s, warmup_s, sample_hz
        self._samples: dict[str, collections.deque] = {}
        self._offsets: dict[str, float] = {}
        self._last_sample = -math.inf
        self._sampling = False
        self.face_samples = 0

    @property
    def calibrating(self) -> bool:
        """True until ``warmup_s`` seconds of face frames were seen."""
        return self.face_samples < max(1, round(self.warmup_s * self.sample_hz))

    def start_frame(self, t_s: float) -> None:
        """Call once per face frame before :meth:`rest_of`: decides whether this frame is sampled."""
        self._sampling = t_s - self._last_sample >= 0.999 / self.sample_hz      # (float-rounding slack)
        if self._sampling:
            self._last_sample = t_s
            self.face_samples += 1

    def rest_of(self, au: str, raw: np.ndarray) -> float:
        """The rest offset of ``au`` (for intensities_from_measurements ``rest_of``); records ``raw`` (1,)."""
        if self._sampling or au not in self._offsets:
            size = max(1, int(self.window_s * self.sample_hz))
            samples = self._samples.setdefault(au, collections.deque(maxlen=size))
            samples.append(float(raw[0]))
            self._offsets[au] = float(np.quantile(np.fromiter(samples, float), self.quantile))
        return self._offsets[au]

    def describe(self) -> dict:
        """How the neutral is estimated and its current offsets (for session.json and the docs)."""
        return {"method": f"running {self.quantile:.0%} quantile per AU of its raw geometry value over the last "
                          f"{self.window_s:g} s of face frames (sampled at {self.sample_hz:g} Hz)",
                "warmup_s": self.warmup_s, "calibrating": self.calibrating, "face_samples": self.face_samples,
                "offsets": {au: round(value, 4) for au, value in self._offsets.items()}}


@dataclass(frozen=True)
class FrameScore:
    """One frame's result: face found, quality (and why not), raw and smoothed intensity (NaN without)."""

    face: bool
    quality_ok: bool
    quality_note: str
    intensity: float
    intensity_smooth: float
    detected: bool
    infant_prob: float = math.nan          # the infant-face check (au/infant_check.py) of the frame's face


class InfantShare:
    """Share of recent face frames that look like an infant's (infant_prob >= 0.5), and its verdict.

    The verdict (``looks_like_infant``) is None until ``min_s`` seconds of face frames were
    seen; then it is the share over the last ``window_s`` seconds of face frames >= 0.5.
    """

    def __init__(self, window_s: float = 60.0, min_s: float = 5.0) -> None:
        self.window_s, self.min_s = window_s, min_s
        self._recent: collections.deque[tuple[float, bool]] = collections.deque()
        self.face_frames = self.infant_frames = 0
        self._first_t: float | None = None

    def add(self, t_s: float, infant_prob: float) -> None:
        if not math.isfinite(infant_prob):
            return
        infant = infant_prob >= 0.5
        self._first_t = t_s if self._first_t is None else self._first_t
        self._recent.append((t_s, infant))
        while self._recent and self._recent[0][0] < t_s - self.window_s:
            self._recent.popleft()
        self.face_frames += 1
        self.infant_frames += infant

    @property
    def recent_share(self) -> float:
        return sum(i for _, i in self._recent) / len(self._recent) if self._recent else math.nan

    @property
    def looks_like_infant(self) -> bool | None:
        if not self._recent or self._recent[-1][0] - self._first_t < self.min_s:
            return None
        return self.recent_share >= 0.5

    def describe(self) -> dict:
        share = self.infant_frames / self.face_frames if self.face_frames else None
        return {"method": "logistic regression on landmark proportions (au/infant_check.py), per face frame; "
                          f"verdict over the last {self.window_s:g} s of face frames",
                "face_frames": self.face_frames, "infant_share": None if share is None else round(share, 4),
                "looks_like_infant": self.looks_like_infant}


class TrailingMean:
    """Mean of the finite values of the last ``window_s`` seconds (causal smoothing)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._values: collections.deque[tuple[float, float]] = collections.deque()
        self._sum = 0.0

    def add(self, t_s: float, value: float) -> float:
        """Add a value at ``t_s`` (NaN: none) and return the current mean (NaN when empty)."""
        if math.isfinite(value):
            self._values.append((t_s, value))
            self._sum += value
        while self._values and self._values[0][0] <= t_s - self.window_s:
            self._sum -= self._values.popleft()[1]
        return self._sum / len(self._values) if self._values else math.nan


class _ReadyBoxes:
    """Detector stand-in for :class:`BackgroundRedetect`: hands out boxes found in the background once,
    otherwise runs the real detector."""

    def __init__(self, detector) -> None:
        self.detector, self.name, self.ready = detector, detector.name, None

    def detect(self, image: np.ndarray):
        boxes, self.ready = self.ready, None
        return boxes if boxes is not None else self.detector.detect(image)


class BackgroundRedetect(FaceTracker):
    """:class:`FaceTracker` whose periodic re-detection runs in a worker thread while tracking goes on.

    When a re-detection is due and a face is tracked, the detector gets that frame in a
    thread and the landmark model keeps tracking; when it finishes (a few frames later),
    the tracker's own detection step uses its boxes on the current frame. Without a face
    (at the start, or after one was not found) the search runs in the thread too, every
    ``retry_every`` frames as in `score`, and the frames meanwhile have no face instead of
    waiting for it. Only a track that jumps is re-detected synchronously. Used for
    real-time sources so that the detector's run does not make frames drop.
    """

    def __init__(self, detector, landmarker, detect_every: int = 30, **kwargs) -> None:
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(_ReadyBoxes(detector), landmarker, detect_every, **kwargs)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="redetect")
        self._pending = None

    def step(self, image: np.ndarray):
        """The face in this frame (RGB uint8, (H, W, 3)); see the class doc."""
        if self._pending is not None and self._pending.done():
            self.detector.ready, self._pending = self._pending.result(), None
            return self._detect(image)
        if self._previous is None:                         # no face: search in the thread, none meanwhile
            if self._pending is None and self._since_detection >= self.retry_every:
                self._pending = self._worker.submit(self.detector.detector.detect, image)
                self._since_detection = 0
            self._since_detection += 1
            return TrackResult(None, None, False)
        if self._since_detection >= self.detect_every - 1:
            if self._pending is None:
                self._pending = self._worker.submit(self.detector.detector.detect, image)
            self._since_detection = min(self._since_detection, max(0, self.detect_every - 2))  # track meanwhile
        return super().step(image)

    def close(self) -> None:
        """Stop the worker thread (a running detection finishes on its own)."""
        self._worker.shutdown(wait=False, cancel_futures=True)


class LiveScorer:
    """Frames in, :class:`FrameScore` out (tracker, AUs with an online neutral, bundle, smoothing)."""

    def __init__(self, bundle: Bundle, tracker: FaceTracker, neutral: OnlineNeutral, smooth_s: float = 0.5,
                 min_iod_px: float = MIN_IOD_PX) -> None:
        self.bundle, self.tracker, self.neutral = bundle, tracker, neutral
        self.scale = bundle.scale
        self.min_iod_px = min_iod_px
        self._smoother = TrailingMean(smooth_s)

    def step(self, image: np.ndarray, t_s: float) -> FrameScore:
        """Score one RGB uint8 frame (H, W, 3) taken at stream time ``t_s`` (s)."""
        result = self.tracker.step(image)
        if result.landmarks is None:
            return FrameScore(False, False, "no face", math.nan, self._smoother.add(t_s, math.nan), result.detected)
        landmarks = result.landmarks.astype(float)
        iod = inter_ocular_distance(landmarks)
        if iod < self.min_iod_px:
            return FrameScore(True, False, f"face too small (eyes {iod:.0f} px apart)", math.nan,
                              self._smoother.add(t_s, math.nan), result.detected)
        self.neutral.start_frame(t_s)
        measured = measurements(landmarks[None])
        aus = intensities_from_measurements(measured, default_neutral(), rest_of=self.neutral.rest_of)
        intensity = float(self.bundle.predict(aus, "live frame")["intensity"].iloc[0])
        ok = math.isfinite(intensity)
        return FrameScore(True, ok, "" if ok else "no intensity", intensity, self._smoother.add(t_s, intensity),
                          result.detected, float(infant_probability(landmarks[None])[0]))
