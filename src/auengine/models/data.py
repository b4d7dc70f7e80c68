"""Face images from a manifest as tensors, with the paper's 224 x 224 input and augmentation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from ..errors import InputError
from ..io.media import read_image
from .backbones import IMAGENET_MEAN, IMAGENET_STD


#: training augmentations by paper: AuE-IPA (flip, small rotation, colour), Zhao et al. (rotation 0-15 deg,
#: horizontal flip), the thesis (flip, +-30 deg, brightness 1.0-1.5)
AUGMENTATIONS = {
    "aueipa": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(10),
                       v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.1)],
    "zhao": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(15)],
    "thesis": lambda: [v2.RandomHorizontalFlip(), v2.RandomRotation(30), v2.ColorJitter(brightness=(1.0, 1.5))],
    "none": lambda: [],
}


def transforms(size: int, train: bool, augment: str = "aueipa") -> v2.Compose:
    """Resize to size x size, ImageNet normalisation; training adds the ``augment`` preset."""
    if augment not in AUGMENTATIONS:
        raise InputError(f"unknown augmentation {augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
    steps = [v2.ToImage(), v2.Resize((size, size), antialias=True)]
    if train:
        steps += AUGMENTATIONS[augment]()
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return v2.Compose(steps)


class ManifestImages(Dataset):
    """(image tensor (3, S, S), level) pairs for the rows of a validated manifest."""

    def __init__(self, table: pd.DataFrame, size: int = 224, train: bool = False, augment: str = "aueipa") -> None:
        self.paths = table["abspath"].tolist()
        self.levels = table["level"].to_numpy(dtype=np.int64)
        self.transform = transforms(size, train, augment)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        return self.transform(read_image(self.paths[index])), int(self.levels[index])
