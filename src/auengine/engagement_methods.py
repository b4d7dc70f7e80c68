"""Engagement methods: per-image AU values from a model, and the resolution below which AUs tie.

- ``gradcam``: the paper's Eq. 2 on the last conv block (ResNet layer4: 7 x 7 cells of 32 px at 224 px).
- ``fused``: LayerCAM (pytorch-grad-cam) on layer3 and layer4, averaged: layer3's 14 x 14 detail
  (16 px cells) gated by layer4's class evidence.
- ``occlusion``: the drop in the predicted (= true, on counted images) class's probability when
  an AU's region shows the subject's resting face instead (the same place of the subject's
  least painful image: crops are aligned, so it is the same part of the face), or a blur of the
  region where no resting face is known (explain/occlusion.py); resolution = the region side.
  Drops are averaged as they are, negative ones included (a region whose fill makes the class
  more likely): clipping them at 0 turned every zero-effect region's noise into engagement.
- ``integrated``: integrated gradients (captum) of the predicted class's log probability from
  the same resting face (or blur) to the image, summed over each AU's region
  (explain/integrated.py): pixels unchanged since rest get nothing; resolution = the region side.
- ``surrogate``: a ridge regression of the model's expected level on the AU intensities the
  geometry estimator reads from each image's landmarks against its subject's resting face
  (explain/au_surrogate.py), over every image; resolution = the AU itself, but AUs whose
  intensities move together in the data tie.

The region methods give values (N, n_AUs) that :class:`~auengine.engagement.EngagementAccumulator`
averages over correctly classified images and normalises to sum 1, with bootstrap intervals by
subject; ``surrogate`` gives intensities that :class:`~auengine.explain.au_surrogate.SurrogateAccumulator`
regresses on (:func:`accumulator_for` picks the right one).
:func:`method_ties` says which AUs a method cannot tell apart, so their order is not meaningful:
region centres closer than its resolution (:class:`CenterDistances`, :func:`tied_with`), or for
the surrogate, intensities that move together.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from .au.rules import AURules, load_rules
from .engagement import EngagementAccumulator, region_means
from .engagement_names import METHODS, REST_METHODS
from .errors import InputError
from .explain.au_surrogate import SurrogateAccumulator, au_intensities, expected_level


def check_method(method: str) -> str:
    """``method`` if known, else InputError listing the methods."""
    if method not in METHODS:
        raise InputError(f"unknown engagement method {method!r}; choose one of: {', '.join(METHODS)}")
    return method


def _feature_side(model: nn.Module, layer: nn.Module, size: int) -> int:
    """Spatial side of ``layer``'s output for an S x S input (one forward pass of a blank image)."""
    store = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("shape", tuple(out.shape)))
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, size, size))
    finally:
        handle.remove()
    return int(store["shape"][-1])


def fused_layers(model: nn.Module) -> list[nn.Module]:
    """The layers the fused CAM combines: ResNet layer3[-1] and layer4[-1]."""
    if not (hasattr(model, "layer3") and hasattr(model, "layer4")):
        raise InputError("the fused CAM needs a ResNet-style model (layer3 and layer4); use --method gradcam or occlusion")
    return [model.layer3[-1], model.layer4[-1]]


def resolution_px(method: str, model: nn.Module, size: int, rules: AURules, target_layer: nn.Module | None = None
                  ) -> float:
    """Smallest centre distance (crop pixels) at which the method can tell two AU regions apart.

    CAMs: one cell of the (finest) map, S / side; occlusion, integrated: the region side (closer
    regions overlap); surrogate: NaN (it reads AUs, not regions; its ties come from correlation).
    """
    from .explain.gradcam import default_target_layer

    if check_method(method) == "surrogate":
        return float("nan")
    if method in REST_METHODS:
        return rules.region_side(size)
    layers = fused_layers(model) if method == "fused" else [target_layer or default_target_layer(model)]
    return size / max(_feature_side(model, layer, size) for layer in layers)


def fused_cam(model: nn.Module, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """LayerCAM maps (N, S, S) in [0, 1] of the predicted class on layer3 + layer4, and logits (N, C)."""
    from pytorch_grad_cam import LayerCAM

    model.eval()
    with LayerCAM(model=model, target_layers=fused_layers(model)) as cam:
        maps = cam(input_tensor=images, targets=None)
        logits = cam.outputs.detach().float().numpy()
    return maps, logits


def accumulator_for(method: str, rules: AURules):
    """The accumulator that turns the method's per-image values into a ranking."""
    return SurrogateAccumulator(rules) if check_method(method) == "surrogate" else EngagementAccumulator(rules)


def engagement_values(method: str, model: nn.Module, images: torch.Tensor, landmarks: np.ndarray, rules: AURules, *,
                      target_layer: nn.Module | None = None, rest_images: torch.Tensor | None = None,
                      rest_landmarks: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-image AU values of one batch.

    Parameters
    ----------
    images : Tensor, shape (N, 3, S, S)
        Normalised aligned crops.
    landmarks : ndarray, shape (N, 68, 2)
        Landmarks in crop pixels.
    rest_images : Tensor, shape (N, 3, S, S), optional
        Occlusion's fill and integrated gradients' baseline: each image's subject at rest
        (normalised aligned crops); default a blur.
    rest_landmarks : ndarray, shape (N, 68, 2), optional
        Surrogate: each image's subject's resting landmarks (crop pixels); required.

    Returns
    -------
    values : ndarray, shape (N, n_AUs)
        CAM region means, occlusion probability drops or integrated-gradient sums (both may be
        negative), for the predicted class; surrogate: AU intensities 0-5.
    logits : ndarray, shape (N, C)
    maps : ndarray, shape (N, S, S) or None
        The CAMs (for overlays); None for the map-less methods.
    """
    from .explain.gradcam import gradcam
    from .explain.integrated import region_attributions
    from .explain.occlusion import blur_fill, occlusion_drops

    check_method(method)
    if method == "gradcam":
        maps, logits = gradcam(model, images, target_layer=target_layer, return_logits=True)
        return region_means(maps, landmarks, rules), logits, maps
    if method == "fused":
        maps, logits = fused_cam(model, images)
        return region_means(maps, landmarks, rules), logits, maps
    if method == "surrogate":
        if rest_landmarks is None:
            raise InputError("the surrogate method needs each image's resting landmarks (rest_landmarks)")
        model.eval()
        with torch.inference_mode():
            logits = model(images).float().numpy()
        return au_intensities(landmarks, rest_landmarks, rules.aus), logits, None
    size = images.shape[-2:]
    masks = np.stack([np.stack([m for m in rules.masks(points, size).values()]) for points in landmarks])
    fill = rest_images if rest_images is not None else blur_fill(images, rules.region_side(size[1]))
    if method == "occlusion":
        values, logits = occlusion_drops(model, images, masks, fill=fill)
    else:
        values, logits = region_attributions(model, images, masks, baseline=fill)
    values[~masks.any(axis=(2, 3))] = np.nan                  # a region outside the crop: the image is skipped
    return values, logits, None


class CenterDistances:
    """Running mean over images of the smallest distance between two AUs' region centres (crop pixels)."""

    def __init__(self, rules: AURules) -> None:
        self.rules = rules
        self._sum = np.zeros((len(rules.aus), len(rules.aus)))
        self._count = 0

    def add(self, landmarks: np.ndarray, keep=None) -> None:
        """Add the images' landmarks (N, 68, 2) (``keep``: the counted ones)."""
        points = np.asarray(landmarks, float)
        if keep is not None:
            points = points[np.asarray(keep, bool)]
        if not len(points):
            return
        centers = self.rules.centers(points)                                     # AU -> (N, k, 2)
        for a, first in enumerate(self.rules.aus):
            for b, second in enumerate(self.rules.aus):
                gaps = np.linalg.norm(centers[first][:, :, None] - centers[second][:, None], axis=-1)
                self._sum[a, b] += gaps.min(axis=(1, 2)).sum()
        self._count += len(points)

    def mean(self) -> np.ndarray:
        """(n_AUs, n_AUs) mean smallest centre distance."""
        if not self._count:
            raise InputError("no landmarks counted")
        return self._sum / self._count


def tied_with(distances: np.ndarray, resolution: float, aus: list[str]) -> pd.Series:
    """Per AU, the other AUs closer than ``resolution`` (";"-joined, "" when none): their order is not meaningful."""
    close = (np.asarray(distances) < resolution) & ~np.eye(len(aus), dtype=bool)
    return pd.Series([";".join(aus[j] for j in np.flatnonzero(row)) for row in close], index=aus, name="tied_with")


def model_engagement(model: nn.Module, images: torch.Tensor, landmarks: np.ndarray, levels, *,
                     method: str = "gradcam", rules: AURules | str = "infant", subjects=None, n_boot: int = 1000,
                     batch_size: int = 16, rest_images: torch.Tensor | None = None,
                     rest_landmarks: np.ndarray | None = None) -> pd.DataFrame:
    """AU engagement of a model on labelled crops with a method: bootstrap table plus ``tied_with``.

    Parameters
    ----------
    images : Tensor, shape (N, 3, S, S)
        Normalised aligned crops (models/preprocess.py).
    landmarks : ndarray, shape (N, 68, 2)
        Landmarks in crop pixels.
    levels : array of int, shape (N,)
        True levels; only correctly classified images count (surrogate: every image).
    subjects : array, shape (N,), optional
        Subject ids for the bootstrap (default: each image its own subject; the surrogate then
        needs ``rest_landmarks``).
    rest_images : Tensor, shape (N, 3, S, S), optional
        Occlusion and integrated: each image's subject at rest (see :func:`engagement_values`).
    rest_landmarks : ndarray, shape (N, 68, 2), optional
        Surrogate: each image's subject's resting landmarks; default the landmarks of the
        subject's lowest-level image.
    """
    rule_set = rules if isinstance(rules, AURules) else load_rules(rules)
    levels = np.asarray(levels, int)
    subjects = np.arange(len(levels)).astype(str) if subjects is None else np.asarray(subjects).astype(str)
    if method == "surrogate" and rest_landmarks is None:
        if len(np.unique(subjects)) == len(subjects):
            raise InputError("the surrogate method compares each image with its subject's resting face: give "
                             "subjects (several images each) or rest_landmarks")
        rest_of = {s: np.flatnonzero(subjects == s)[np.argmin(levels[subjects == s])] for s in np.unique(subjects)}
        rest_landmarks = np.asarray(landmarks)[[rest_of[s] for s in subjects]]
    accumulator, distances = accumulator_for(method, rule_set), CenterDistances(rule_set)
    for start in range(0, len(levels), batch_size):
        part = slice(start, start + batch_size)
        rest = rest_images[part] if rest_images is not None else None
        rest_points = rest_landmarks[part] if rest_landmarks is not None else None
        values, logits, _ = engagement_values(method, model, images[part], landmarks[part], rule_set, rest_images=rest,
                                              rest_landmarks=rest_points)
        correct = logits.argmax(axis=1) == levels[part]
        accumulator.add(values, correct=correct, subjects=subjects[part], levels=levels[part],
                        outputs=expected_level(logits))
        distances.add(landmarks[part], correct)
    result = accumulator.bootstrap(n_boot=n_boot)
    resolution = resolution_px(method, model, images.shape[-1], rule_set)
    return result.assign(tied_with=method_ties(accumulator, distances, resolution)[result.index])


def method_ties(accumulator, distances: CenterDistances, resolution: float) -> pd.Series:
    """``tied_with`` per AU: AUs closer than the method's ``resolution_px``, or (surrogate) moving together."""
    if isinstance(accumulator, SurrogateAccumulator):
        return accumulator.tied_with()
    return tied_with(distances.mean(), resolution, accumulator.rules.aus)
