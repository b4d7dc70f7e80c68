"""Face images from a manifest as tensors: aligned face crops (models/preprocess.py) and augmentation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from ..errors import InputError
from ..io.media import read_image
from .preprocess import Preprocessing, face_crop, manifest_landmarks, to_tensor


#: training augmentations by paper: AuE-IPA (flip, small rotation, colour), Zhao et al. (rotation 0-15 deg,
#: horizontal flip), the thesis (flip, +-30 deg, brightness 1.0-1.5)
AUGMENTATIONS = {
    "aueipa": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(10),
                       v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.1)],
    "zhao": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(15)],
    "thesis": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(30), v2.ColorJitter(brightness=(1.0, 1.5))],
    "none": lambda: [],
}


def augmentation(augment: str) -> v2.Compose:
    """The training augmentation preset on uint8 (3, S, S) crops."""
    if augment not in AUGMENTATIONS:
        raise InputError(f"unknown augmentation {augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
    return v2.Compose(AUGMENTATIONS[augment]())


class ManifestImages(Dataset):
    """(image tensor (3, S, S), level) pairs for the rows of a validated manifest: aligned face crops.

    Parameters
    ----------
    table : DataFrame
        Manifest rows (abspath, level; landmark columns x_0..y_67 where known).
    size : int
        Crop side S (used when ``prep`` is not given).
    train : bool
        Apply the ``augment`` preset (after cropping, before normalising).
    landmarks : ndarray, shape (N, 68, 2), optional
        Image landmarks; default :func:`manifest_landmarks` (columns, else detected and cached).
    prep : Preprocessing, optional
        The input path (default ``Preprocessing(size=size)``).
    """

    def __init__(self, table: pd.DataFrame, size: int = 224, train: bool = False, augment: str = "aueipa",
                 landmarks: np.ndarray | None = None, prep: Preprocessing | None = None) -> None:
        self.paths = table["abspath"].tolist()
        self.levels = table["level"].to_numpy(dtype=np.int64)
        self.prep = prep or Preprocessing(size=size)
        self.landmarks = manifest_landmarks(table) if landmarks is None else np.asarray(landmarks, float)
        self.augment = augmentation(augment) if train else None

    def __len__(self) -> int:
        return len(self.paths)

    def crop(self, index: int):
        """The aligned crop of row ``index`` (faces.crop.Crop: image, landmarks in crop pixels, affine)."""
        return face_crop(read_image(self.paths[index]), self.landmarks[index], self.prep)

    def __getitem__(self, index: int):
        crop = torch.from_numpy(np.ascontiguousarray(self.crop(index).image.transpose(2, 0, 1)))
        if self.augment is not None:
            crop = self.augment(crop)
        return to_tensor(crop, self.prep), int(self.levels[index])
