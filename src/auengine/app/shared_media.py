"""What researcher accounts receive: de-identified result images (blur by default), never the original faces.

A review thumbnail (``thumbnails/frameNNNNNN.png``, the frame scaled to the thumbnail's width) is
blurred over the face region from that frame's landmarks in frames.csv; any other image with a
face (peak frame overlays), or a thumbnail whose landmarks are unknown, is blurred as a whole (``mask`` / ``phantom`` with `auengine serve --researcher-media`).
Copies are cached in the result folder (``deidentified/<mode>/``), so they go when the recording does.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: result images without any face in them (charts): served as they are
FACELESS = {"timeline.png"}
DEFAULT_MODE = "blur"
CACHE = "deidentified"
THUMBNAIL = re.compile(r"thumbnails/frame(\d+)\.png")


def deidentified_png(result: Path, name: str, path: Path, video: Path | None, mode: str = DEFAULT_MODE) -> Path:
    """The file a researcher may receive for result image ``name`` (``path`` inside ``result``)."""
    if name in FACELESS:
        return path
    target = result / CACHE / mode / name
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    from ..deidentify import deidentify
    from ..io.media import read_image
    from ..io.tables import atomic_write_bytes
    import cv2

    image = read_image(path)[..., :3]
    match = THUMBNAIL.fullmatch(name)
    landmarks = _thumbnail_landmarks(result, int(match.group(1)), image.shape[1], video) if match else None
    shown = deidentify(image, landmarks, mode)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))
    atomic_write_bytes(target, encoded.tobytes())
    return target


def _thumbnail_landmarks(result: Path, frame: int, width: int, video: Path | None) -> np.ndarray | None:
    """(68, 2) landmarks of ``frame`` scaled to a thumbnail ``width`` px wide, or None (unknown)."""
    import pandas as pd

    from ..columns import LANDMARK_COLUMNS
    from ..errors import InputError
    from ..io.video import probe

    frames_csv = result / "frames.csv"
    if video is None or not frames_csv.is_file():
        return None
    table = pd.read_csv(frames_csv, usecols=lambda c: c in set(LANDMARK_COLUMNS))
    try:
        video_width = probe(video).width
    except InputError:
        return None
    if frame >= len(table) or list(table.columns) != LANDMARK_COLUMNS or not video_width:
        return None
    values = table.iloc[frame].to_numpy(float)
    points = np.stack([values[:68], values[68:]], axis=1) * (width / video_width)
    return points if np.isfinite(points).all() else None
