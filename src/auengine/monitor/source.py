"""Live frame sources: a capture thread that keeps only the newest frame.

A source is a camera (``0``, ``/dev/video0``), a stream URL OpenCV/FFmpeg opens (RTSP,
HTTP, MJPEG) or a video file. Files play at their own frame rate (``pace="realtime"``)
or as fast as the consumer takes them (``pace="fast"``, lossless, for tests and
benchmarks); ``loop`` replays a file forever. Live sources are never paced.

Back pressure: the capture thread holds one slot; a frame not taken before the next one
arrives is dropped and counted (``dropped``), so the consumer never falls behind real
time and memory stays flat. A stream that ends or fails is reopened with exponential
backoff (files end instead, unless looping); status changes go to ``notes``.
"""
from __future__ import annotations

import collections
import dataclasses
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..io.video import FALLBACK_FPS, STREAM_TIMEOUT_MS, open_live



@dataclass(frozen=True)
class Captured:
    """One frame: index since start, stream time (s), capture time (time.monotonic()), BGR (H, W, 3)."""

    index: int
    t_s: float
    captured_at: float
    bgr: np.ndarray

    def rgb(self) -> np.ndarray:
        """The frame as RGB uint8 (H, W, 3)."""
        return cv2.cvtColor(self.bgr, cv2.COLOR_BGR2RGB)


def source_kind(source: str) -> str:
    """"camera" (an integer or /dev/videoN), "stream" (a URL) or "file"."""
    if re.fullmatch(r"\d+", source) or re.fullmatch(r"/dev/video\d+", source):
        return "camera"
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source):
        return "stream"
    return "file"


class FrameSource:
    """The newest frame of a camera, stream or file; see the module doc.

    Parameters
    ----------
    source : str
        Camera index or device, stream URL, or video file path.
    pace : "realtime" or "fast"
        Files only: play at the file's frame rate, or hand over every frame (lossless).
    loop : bool
        Files only: start again at the end (stream time keeps increasing).
    backoff_s : (first, longest)
        Waits between reopening attempts, doubling from the first to the longest.
    """

    def __init__(self, source: str, pace: str = "realtime", loop: bool = False,
                 backoff_s: tuple[float, float] = (0.5, 8.0)) -> None:
        if pace not in ("realtime", "fast"):
            raise InputError(f"pace must be 'realtime' or 'fast', not {pace!r}")
        self.source, self.kind = str(source), source_kind(str(source))
        if self.kind == "file" and not Path(self.source).is_file():
            raise InputError(f"{self.source}: file not found (give a video file, a camera index or a stream URL)")
        self.pace = pace if self.kind == "file" else "realtime"
        self.loop = loop and self.kind == "file"
        self.backoff_s = backoff_s
        self.fps = FALLBACK_FPS
        self.dropped = 0
        self.captured = 0
        self.reconnects = 0
        self.connected = False
        self.ended = False
        #: (monotonic time, text) of status changes; the consumer pops them (bounded: oldest lost if never read)
        self.notes: collections.deque[tuple[float, str]] = collections.deque(maxlen=100)
        self._slot: Captured | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._capture = self._open()
        if self._capture is None and self.kind == "file":
            raise InputError(f"{self.source}: cannot open video (corrupt or unsupported codec)")
        if self._capture is None:
            self._note(f"{self.source}: cannot open; retrying (backoff {backoff_s[0]:g} s)")
        self._thread = threading.Thread(target=self._run, name="frame-source", daemon=True)
        self._thread.start()

    # -- consumer side -------------------------------------------------------------------------------
    def get(self, timeout: float = 0.5) -> Captured | None:
        """The newest frame not yet taken, or None after ``timeout`` s (or once ended)."""
        with self._cond:
            if self._slot is None and not self.ended:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
        if frame is not None and self.pace == "fast":
            # lossless replay: a frame is "captured" when the consumer is ready for it
            frame = dataclasses.replace(frame, captured_at=time.monotonic())
        return frame

    def close(self) -> None:
        """Stop capturing (safe to call twice)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=STREAM_TIMEOUT_MS / 1000 + 2)

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- capture thread ----------------------------------------------------------------------------
    def _open(self):
        capture, fps = open_live(self.source, self.kind)
        if capture is None:
            return None
        self.fps = fps or FALLBACK_FPS
        self.connected = True
        return capture

    def _note(self, text: str) -> None:
        self.notes.append((time.monotonic(), text))

    def _run(self) -> None:
        index, offset_s, started, wait = 0, 0.0, time.monotonic(), self.backoff_s[0]
        file_index = 0                                  # frame index within the current pass of a file
        capture = self._capture
        try:
            while not self._stop.is_set():
                if capture is None:
                    if self._stop.wait(wait):
                        break
                    wait = min(2 * wait, self.backoff_s[1])
                    capture = self._open()
                    if capture is not None:
                        self.reconnects += 1
                        wait = self.backoff_s[0]
                        self._note(f"reopened {self.source}")
                    continue
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    capture.release()
                    capture, self.connected = None, False
                    if self.kind == "file" and not self.loop:
                        break
                    if self.kind == "file":
                        offset_s += file_index / self.fps
                        file_index = 0
                        capture = self._open()
                        continue
                    self._note(f"{self.source}: stream ended or failed; reopening (backoff {wait:g} s)")
                    continue
                now = time.monotonic()
                if self.kind == "file":
                    t_s = offset_s + file_index / self.fps
                    if self.pace == "realtime" and self._stop.wait(max(0.0, started + t_s - now)):
                        break
                    now = time.monotonic() if self.pace == "realtime" else now
                else:
                    t_s = now - started
                file_index += 1
                self._hand_over(Captured(index, t_s, now, bgr))
                index += 1
        finally:
            if capture is not None:
                capture.release()
            with self._cond:
                self.ended, self.connected = True, False
                self._cond.notify_all()

    def _hand_over(self, frame: Captured) -> None:
        with self._cond:
            if self.pace == "fast":
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait(0.1)
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self.captured += 1
            self._cond.notify_all()
