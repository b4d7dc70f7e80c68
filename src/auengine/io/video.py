"""The one place that opens, probes and reads video files (OpenCV / FFmpeg).

Every reader in auengine goes through :class:`VideoReader`: the same fallback frame
rate, the same truncation rule and the same FFmpeg log level everywhere.
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
#: frame rate assumed when the container does not give one (``VideoInfo.fps_known`` is then False)
FALLBACK_FPS = 30.0
#: a stream that ends before this share of the container's frame count, and more than
#: TRUNCATED_SLACK frames early, is truncated (containers often over-count by a few frames)
TRUNCATED_SHARE = 0.95
TRUNCATED_SLACK = 3
_END = object()


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video: frame rate (frames/s), frame count, size (px), rotation (deg)."""

    path: str
    fps: float
    fps_known: bool
    n_frames: int
    width: int
    height: int
    rotation: int

    @property
    def duration_s(self) -> float:
        """Duration from the container's frame count (s); 0 when the count is unknown."""
        return self.n_frames / self.fps


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened capture and its :class:`VideoInfo`.

    Raises
    ------
    InputError
        Missing, empty or unopenable file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty video file (0 bytes)")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # FFmpeg's h264 messages off (the CLI's --debug: on)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise InputError(f"{path}: cannot open video (corrupt or unsupported codec)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps_known = bool(fps and np.isfinite(fps) and fps > 0)
    info = VideoInfo(str(path), float(fps) if fps_known else FALLBACK_FPS, fps_known,
                     max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
                     int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
                     int(capture.get(cv2.CAP_PROP_ORIENTATION_META) or 0))
    return capture, info


def probe(path: str | Path) -> VideoInfo:
    """:class:`VideoInfo` of a video file, without decoding it."""
    capture, info = open_video(path)
    capture.release()
    return info


def truncation_error(info: VideoInfo, decoded: int) -> str | None:
    """Why a stream that ended after ``decoded`` frames is broken, or None (the one rule for all readers)."""
    if decoded == 0:
        return f"{info.path}: no frame could be decoded (empty, truncated or corrupt video)"
    if info.n_frames and decoded < TRUNCATED_SHARE * info.n_frames and info.n_frames - decoded > TRUNCATED_SLACK:
        return f"{info.path}: stream ended at frame {decoded} of {info.n_frames} (truncated video)"
    return None


class VideoReader:
    """Iterate ``(index, time_s, rgb)`` over a video's frames: RGB uint8 (H, W, 3), time in s.

    Parameters
    ----------
    path : path
        Video file; opening errors raise InputError naming it.
    step : int
        Keep every ``step``-th frame (skipped frames are not decoded).
    sample_fps : float, optional
        Sample at about this rate (frames/s) instead: ``step`` = round(video fps / sample_fps).
    start, stop : int
        Frame range [start, stop) (seeks to ``start``); ``stop=None`` reads to the end.
    start_s : float, optional
        Start at this time (s) instead of ``start``; ``stop`` then counts frames from there.
    prefetch : int
        When > 0, decode in a background thread into a queue of this many frames, so that
        decoding overlaps the caller's work and memory stays bounded.

    After iteration, ``error`` says why the stream ended early (see :func:`truncation_error`),
    and ``decoded`` counts the frames read. Use as a context manager, or iterate once.
    """

    def __init__(self, path: str | Path, *, step: int = 1, sample_fps: float | None = None, start: int = 0,
                 stop: int | None = None, start_s: float | None = None, prefetch: int = 0) -> None:
        if step < 1 or start < 0 or (start_s is not None and start_s < 0) or (sample_fps is not None and sample_fps <= 0):
            raise InputError(f"{path}: need step >= 1, start >= 0, start_s >= 0, sample_fps > 0 "
                             f"(got step={step}, start={start}, start_s={start_s}, sample_fps={sample_fps})")
        self._capture, self.info = open_video(path)
        if sample_fps:
            step = max(1, int(round(self.info.fps / sample_fps)))
        if start_s is not None:
            start = int(round(start_s * self.info.fps))
            stop = None if stop is None else start + stop
        self.step, self.start, self.stop, self.prefetch = step, start, stop, prefetch
        self.error: str | None = None
        self.decoded = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def fps(self) -> float:
        """Frames per second (the container's, else FALLBACK_FPS)."""
        return self.info.fps

    def _frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        capture, index = self._capture, self.start
        if self.start:
            capture.set(cv2.CAP_PROP_POS_FRAMES, self.start)
        try:
            while not self._stop.is_set() and (self.stop is None or index < self.stop):
                if not capture.grab():
                    break
                if (index - self.start) % self.step == 0:
                    ok, bgr = capture.retrieve()
                    if not ok or bgr is None:
                        break
                    self.decoded += 1
                    yield index, index / self.info.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
            if self.stop is None and not self._stop.is_set():
                self.error = truncation_error(self.info, index if self.decoded else 0)
            elif self.decoded == 0:
                self.error = f"{self.info.path}: no frame could be decoded from frame {self.start} on"
        finally:
            capture.release()

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        if self.prefetch <= 0:
            yield from self._frames()
            return
        buffer: queue.Queue = queue.Queue(maxsize=self.prefetch)
        self._thread = threading.Thread(target=self._fill, args=(buffer,), daemon=True)
        self._thread.start()
        while (item := buffer.get()) is not _END:
            yield item

    def _fill(self, buffer: queue.Queue) -> None:
        try:
            for item in self._frames():
                self._put(buffer, item)
        finally:
            self._put(buffer, _END)

    def _put(self, buffer: queue.Queue, item) -> None:
        while True:
            try:
                buffer.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    return

    def close(self) -> None:
        """Stop decoding and release the file (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._capture.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_frames(path: str | Path, indices: list[int]) -> dict[int, np.ndarray]:
    """RGB frames (H, W, 3) at the given frame indices, by seeking (for a few frames only)."""
    capture, _ = open_video(path)
    out = {}
    try:
        for index in sorted(set(indices)):
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok:
                out[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    return out


#: open / read timeouts of network streams (ms): a dead stream is noticed within seconds
STREAM_TIMEOUT_MS = 5000


def open_live(source: str, kind: str) -> tuple[cv2.VideoCapture | None, float | None]:
    """Open a live source: ``kind`` "camera" (``0``, ``/dev/video0``), "stream" (RTSP/HTTP URL, with
    open/read timeouts) or "file". Returns (capture, container fps or None), or (None, None) when it
    does not open (the caller retries with backoff)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if kind == "camera":
        capture = cv2.VideoCapture(int(source[len("/dev/video"):]) if source.startswith("/dev/") else int(source))
    elif kind == "stream":
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                                            cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        return None, None
    fps = capture.get(cv2.CAP_PROP_FPS)
    return capture, (float(fps) if fps and 1 <= fps <= 240 else None)
