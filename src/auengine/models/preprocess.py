"""The one CNN input path: image + 68 landmarks -> aligned face crop -> normalised tensor.

Training (``train-e2e``), engagement, transfer features and ``score --cnn`` all call
:func:`face_crop` / :func:`to_tensor` with the same :class:`Preprocessing`, so a frame
gives the same tensor everywhere. Landmarks come from the manifest's x_0..y_67 columns;
rows without them are detected once (:func:`manifest_landmarks`) and cached per file
(path + size + mtime), so a second run does not detect again.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..columns import LANDMARK_COLUMNS
from ..errors import BundleError, InputError
from ..faces.crop import CROP_ZOOM, Crop, align_crop
from .state import IMAGENET_MEAN, IMAGENET_STD

#: version of the input path recorded in model.json; bump when face_crop/to_tensor change
INPUT_PATH = "aligned-crop-v1"


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes a CNN input (recorded in model.json, checked on load).

    Attributes
    ----------
    size : int
        Crop side S in pixels.
    zoom : float
        Crop side relative to the larger landmark extent (faces/crop.py).
    align : bool
        Eyes levelled.
    mean, std : tuple of float
        Per-channel normalisation of [0, 1] RGB (ImageNet's).
    """

    size: int = 224
    zoom: float = CROP_ZOOM
    align: bool = True
    mean: tuple = tuple(IMAGENET_MEAN)
    std: tuple = tuple(IMAGENET_STD)
    input_path: str = INPUT_PATH

    def to_dict(self) -> dict:
        """JSON-ready record."""
        out = asdict(self)
        out["mean"], out["std"] = [float(v) for v in self.mean], [float(v) for v in self.std]
        return out


def check_preprocessing(recorded: dict | None, expected: Preprocessing, where: str | Path) -> None:
    """Raise BundleError when a model was trained with another input path than this code feeds it."""
    if recorded is None:
        raise BundleError(f"{where}: model.json records no preprocessing (trained before aligned face crops, on "
                          "whole resized images); retrain it with `auengine train-e2e`")
    mismatched = [k for k, v in expected.to_dict().items() if not _same(recorded.get(k), v)]
    if mismatched:
        raise BundleError(f"{where}: trained with preprocessing {recorded}, this version feeds "
                          f"{expected.to_dict()} (differs in {', '.join(mismatched)}); retrain the model")


def _same(recorded, expected) -> bool:
    if isinstance(expected, (str, bool)):
        return recorded == expected
    try:
        return bool(np.allclose(np.asarray(recorded, float), np.asarray(expected, float)))
    except (TypeError, ValueError):
        return False


def face_crop(image: np.ndarray, landmarks: np.ndarray, prep: Preprocessing) -> Crop:
    """The aligned S x S crop (uint8 RGB), its landmarks and the image -> crop affine."""
    return align_crop(image, landmarks, prep.size, align=prep.align, zoom=prep.zoom)


def to_tensor(crop: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 RGB crop, (S, S, 3) array or (3, S, S) tensor -> normalised float32 tensor (3, S, S)."""
    if isinstance(crop, np.ndarray):
        crop = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
    values = crop.to(torch.float32) / 255.0
    mean = torch.tensor(prep.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(prep.std, dtype=torch.float32)[:, None, None]
    return (values - mean) / std


def cache_dir() -> Path:
    """Where detected landmarks are cached: $AUENGINE_CACHE/landmarks, else ~/.cache/auengine/landmarks."""
    root = os.environ.get("AUENGINE_CACHE") or Path.home() / ".cache" / "auengine"
    return Path(root) / "landmarks"


def _cache_file(path: str, folder: Path) -> Path:
    stat = os.stat(path)
    key = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
    return folder / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"


def manifest_landmarks(table: pd.DataFrame, *, backends=None, cache: str | Path | None = None) -> np.ndarray:
    """Landmarks (N, 68, 2) of the manifest rows: the x_0..y_67 columns, detected where absent (cached).

    ``backends`` is a (detector, landmarker) pair (default ``pipeline.build_backends()``,
    made only when a row needs detection). Raises InputError naming the files where no
    face was found.
    """
    n = len(table)
    points = np.full((n, 68, 2), np.nan)
    if set(LANDMARK_COLUMNS) <= set(table.columns):
        values = table[LANDMARK_COLUMNS].to_numpy(dtype=float)
        points = np.stack([values[:, :68], values[:, 68:]], axis=-1)
    missing = np.flatnonzero(np.isnan(points).any(axis=(1, 2)))
    if not len(missing):
        return points
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    for i in missing:
        path = str(table["abspath"].iloc[i])
        target = _cache_file(path, folder)
        if target.is_file():
            found = np.load(target, allow_pickle=False)
        else:
            if backends is None:
                from ..pipeline import build_backends

                backends = build_backends()
            found = _detect(path, backends)
            tmp = target.with_suffix(".tmp.npy")
            np.save(tmp, found, allow_pickle=False)
            tmp.replace(target)
        if np.isnan(found).any():
            failed.append(path)
        points[i] = found
    if failed:
        raise InputError(f"no face found in {len(failed)} manifest image(s), e.g. {failed[0]}; add landmark columns "
                         "(auengine extract) or drop these rows")
    return points


def _detect(path: str, backends) -> np.ndarray:
    """Landmarks (68, 2) of the largest face in an image file, NaN when there is none."""
    from ..faces.detect import largest_first
    from ..io.media import read_image

    detector, landmarker = backends
    image = read_image(path)
    boxes = largest_first(detector.detect(image))[:1]
    if not boxes:
        return np.full((68, 2), np.nan)
    return np.asarray(landmarker.predict(image, boxes)[0], dtype=float).reshape(68, 2)
