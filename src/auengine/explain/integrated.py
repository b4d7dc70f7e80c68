"""Integrated gradients per AU region against the subject's resting face (captum).

The attribution of pixel p is (x_p - x0_p) * mean of d log p(class) / d x_p along the straight
path from the baseline x0 to the image x; all pixels together add up to
log p(class | x) - log p(class | x0) (completeness). With x0 the subject's resting face
(aligned crops: the same place of the face), pixels that did not move since rest get no
attribution, so an AU's value is the evidence its own pixels carry, at pixel resolution; a
region's value is the sum of its pixels' attributions (channels summed).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .occlusion import check_region_masks

#: points on the path from the baseline to the image (Riemann, captum's default rule)
STEPS = 16


class _LogProbability(nn.Module):
    """log softmax of a classifier's logits: the attributed quantity, relative to the other classes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.model(images).float(), dim=1)


def region_attributions(model: nn.Module, images: torch.Tensor, masks: np.ndarray, *, baseline: torch.Tensor,
                        steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Integrated-gradient evidence for the predicted class per region.

    Parameters
    ----------
    images, baseline : Tensor, shape (N, 3, S, S)
        Normalised inputs and each one's baseline (resting face, or a blur).
    masks : ndarray of bool, shape (N, A, S, S)
        Region masks per image and AU.

    Returns
    -------
    values : ndarray, shape (N, A)
        Sum of attributions over each region (nats of log probability; positive = for the class).
    logits : ndarray, shape (N, C)
        Logits of the images.
    """
    from captum.attr import IntegratedGradients

    masks = np.asarray(masks, bool)
    check_region_masks(masks, images)
    model.eval()
    with torch.no_grad():
        logits = model(images).float()
    classes = logits.argmax(dim=1)
    attribution = IntegratedGradients(_LogProbability(model)).attribute(
        images, baselines=baseline, target=classes, n_steps=steps, internal_batch_size=len(images))
    pixel = attribution.detach().sum(dim=1).numpy()                                  # (N, S, S)
    values = np.einsum("nas,ns->na", masks.reshape(*masks.shape[:2], -1).astype(np.float32),
                       pixel.reshape(len(pixel), -1))
    return values, logits.numpy()
