"""Grad-CAM maps of an image classifier, at the input resolution, in [0, 1].

Two paths that agree (tested within 1e-4):

- ``reference``: pytorch-grad-cam's GradCAM on the target layer (one forward and one
  backward pass).
- ``fast``: for a global-average-pool + linear head (torchvision ResNets), the
  gradient of class c's logit with respect to the last feature map A (C, h, w) is
  W[c] / (h w) at every position, so Grad-CAM's channel weights are W[c] / (h w) and
  the map needs one forward pass and no backward.

Both then do what pytorch-grad-cam does: ReLU, per-image min-max (with 1e-7), bilinear
resize to the input size (OpenCV), ReLU and min-max again.

The fast path needs no autograd, so for torchvision ResNets it runs the forward pass in
ONNX Runtime (explain/onnx_engine.py) when it is installed: exported once per model and
weight state, about 2x faster than PyTorch's eager forward on this CPU. Set
AUENGINE_CAM_ENGINE=torch to use PyTorch for it.
"""
from __future__ import annotations

from contextlib import contextmanager

import cv2
import numpy as np
import torch
from torch import nn

from ..errors import InputError

EPS = 1e-7


def default_target_layer(model: nn.Module) -> nn.Module:
    """The last conv block: ResNet ``layer4[-1]``, VGG's last conv layer."""
    if hasattr(model, "layer4"):
        return model.layer4[-1]
    if hasattr(model, "features"):
        convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
        if convs:
            return convs[-1]
    raise InputError("cannot guess the target layer of this model; pass target_layer=")


def linear_head(model: nn.Module, target_layer: nn.Module) -> nn.Linear | None:
    """The model's final Linear when the head is global-average-pool + linear after ``target_layer``."""
    if (hasattr(model, "layer4") and target_layer is model.layer4[-1] and isinstance(model.avgpool, nn.AdaptiveAvgPool2d)
            and tuple(np.atleast_1d(model.avgpool.output_size)) in {(1,), (1, 1)} and isinstance(model.fc, nn.Linear)):
        return model.fc
    return None


@contextmanager
def capture_activations(layer: nn.Module):
    """Record ``layer``'s output during forward passes; the hook is always removed."""
    store: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: store.__setitem__("value", output.detach()))
    try:
        yield store
    finally:
        handle.remove()


def postprocess(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam's scaling: ReLU, min-max, resize to (H, W), ReLU, min-max. cams: (N, h, w)."""
    height, width = size
    out = np.empty((len(cams), height, width), np.float32)
    for i, cam in enumerate(np.maximum(cams, 0)):
        cam = cam - cam.min()
        cam = cam / (EPS + cam.max())
        out[i] = cv2.resize(np.float32(cam), (width, height))
    out = np.maximum(out, 0)
    out -= out.min(axis=(1, 2), keepdims=True)
    out /= EPS + out.max(axis=(1, 2), keepdims=True)
    return out


def gradcam(model: nn.Module, images: torch.Tensor, *, target_layer: nn.Module | None = None,
            targets=None, method: str = "auto", return_logits: bool = False):
    """Grad-CAM maps.

    Parameters
    ----------
    model : nn.Module
        An image classifier (put in eval mode here).
    images : Tensor, shape (N, 3, H, W)
        Normalised input batch.
    target_layer : nn.Module, optional
        Default: the last conv block (:func:`default_target_layer`).
    targets : sequence of int, optional
        Class per image; default the predicted class.
    method : "auto" | "fast" | "reference"
        "auto" takes the fast path when the head allows it.

    Returns
    -------
    ndarray, shape (N, H, W), float32 in [0, 1]
        (and the logits (N, n_classes) when ``return_logits``)
    """
    if method not in ("auto", "fast", "reference"):
        raise InputError(f"method must be 'auto', 'fast' or 'reference', not {method!r}")
    model.eval()
    layer = target_layer if target_layer is not None else default_target_layer(model)
    head = linear_head(model, layer)
    if method == "fast" and head is None:
        raise InputError("the fast Grad-CAM path needs a global-average-pool + linear head after the target layer")
    size = tuple(images.shape[-2:])
    if method == "reference" or head is None:
        cams, logits = _reference(model, images, layer, targets)
    else:
        activations, logits = forward_with_activations(model, layer, images)        # (N, C, h, w), (N, n_classes)
        classes = _classes(targets, logits)
        weights = head.weight[classes] / (activations.shape[-2] * activations.shape[-1])   # (N, C)
        cams = torch.einsum("nc,nchw->nhw", weights.detach(), activations).numpy()
    maps = postprocess(cams, size)
    return (maps, logits.detach().numpy()) if return_logits else maps


def forward_with_activations(model: nn.Module, layer: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Target-layer activations and logits from one forward pass (ONNX Runtime when available)."""
    from .onnx_engine import onnx_forward

    result = onnx_forward(model, images)
    if result is not None:
        return result
    with capture_activations(layer) as store, torch.inference_mode():
        logits = model(images.contiguous(memory_format=torch.channels_last))   # oneDNN's fast layout
    return store["value"].contiguous(), logits


def _classes(targets, logits: torch.Tensor) -> torch.Tensor:
    if targets is None:
        return logits.argmax(dim=1)
    classes = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    if classes.shape != (len(logits),):
        raise InputError(f"targets must give one class per image ({len(logits)}), got shape {tuple(classes.shape)}")
    return classes


def _reference(model: nn.Module, images: torch.Tensor, layer: nn.Module, targets) -> tuple[np.ndarray, torch.Tensor]:
    """Raw (pre-scaling) Grad-CAM via pytorch-grad-cam's ActivationsAndGradients."""
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients

    hooks = ActivationsAndGradients(model, [layer], reshape_transform=None)
    try:
        logits = hooks(images)
        classes = _classes(targets, logits)
        model.zero_grad()
        logits.gather(1, classes[:, None]).sum().backward()
        activations = hooks.activations[0].numpy()
        gradients = hooks.gradients[0].numpy()
    finally:
        hooks.release()
    weights = gradients.mean(axis=(2, 3))                               # GradCAM.get_cam_weights
    return np.einsum("nc,nchw->nhw", weights, activations), logits


def reference_gradcam(model: nn.Module, images: torch.Tensor, target_layer: nn.Module | None = None,
                      targets=None) -> np.ndarray:
    """pytorch-grad-cam's own GradCAM class end to end (for equality tests and benchmarks)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model.eval()
    layer = target_layer if target_layer is not None else default_target_layer(model)
    wrapped = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=images, targets=wrapped)
