"""Occlusion attribution per AU region: how much the true class's probability drops when a region is hidden.

For each image and each AU, the AU's region(s) (both sides of a bilateral AU together)
are replaced by a neutral fill (a given resting face, which engagement_methods.py takes from
the subject's least painful image, or a strong Gaussian blur of the same image) and the class
probability is measured again. Batched: one forward pass for the originals plus one per AU
for the whole batch (12 AUs -> 13 passes per batch), never one per pixel.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision.transforms.v2 import functional as tvf

from ..errors import InputError


def blur_fill(images: torch.Tensor, region_px: float) -> torch.Tensor:
    """A neutral fill: the images blurred with sigma = ``region_px`` (the region's texture gone, its tone kept).

    images (N, 3, S, S) normalised; returns the same shape.
    """
    sigma = max(float(region_px), 1.0)
    kernel = int(2 * round(3 * sigma) + 1)
    return tvf.gaussian_blur(images, kernel_size=[kernel, kernel], sigma=[sigma, sigma])


def check_region_masks(masks: np.ndarray, images: torch.Tensor) -> None:
    """InputError unless ``masks`` is (N, A, H, W) for ``images`` (N, 3, H, W)."""
    if masks.ndim != 4 or masks.shape[0] != len(images) or masks.shape[2:] != tuple(images.shape[2:]):
        raise InputError(f"masks must be (N, A, H, W) matching images {tuple(images.shape)}; got {masks.shape}")


@torch.inference_mode()
def occlusion_drops(model: nn.Module, images: torch.Tensor, masks: np.ndarray, *, fill: torch.Tensor,
                    targets=None) -> tuple[np.ndarray, np.ndarray]:
    """Probability drop of the target class per region.

    Parameters
    ----------
    model : nn.Module
        An image classifier (put in eval mode here).
    images : Tensor, shape (N, 3, S, S)
        Normalised inputs.
    masks : ndarray of bool, shape (N, A, S, S)
        Region masks per image and AU.
    fill : Tensor, shape (N, 3, S, S)
        What an occluded region shows instead (e.g. :func:`blur_fill`).
    targets : sequence of int, optional
        Class per image; default the predicted class.

    Returns
    -------
    drops : ndarray, shape (N, A)
        p(target | image) - p(target | image with region a filled); positive = the region mattered.
    logits : ndarray, shape (N, C)
        Logits of the unoccluded images.
    """
    model.eval()
    masks = np.asarray(masks, bool)
    check_region_masks(masks, images)
    logits = model(images).float()
    classes = logits.argmax(dim=1) if targets is None else torch.as_tensor(np.asarray(targets), dtype=torch.long)
    base = torch.softmax(logits, dim=1).gather(1, classes[:, None])[:, 0]
    drops = np.empty(masks.shape[:2])
    for a in range(masks.shape[1]):
        region = torch.from_numpy(masks[:, a])[:, None]                     # (N, 1, S, S)
        occluded = torch.where(region, fill, images)
        probability = torch.softmax(model(occluded).float(), dim=1).gather(1, classes[:, None])[:, 0]
        drops[:, a] = (base - probability).numpy()
    return drops, logits.numpy()
