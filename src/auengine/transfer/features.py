"""Deep features from a named layer of a pre-trained torchvision classifier (Zamzmi et al.).

Presets follow the paper: VGG16's FC7 before and after ReLU (4096-d), its last conv
block (conv5_3 after ReLU, global-average-pooled to 512-d here; the paper keeps all
100,352 values, which ReliefF cannot rank in reasonable time on a CPU), and ResNet's
pooled features. Any other model and layer name works too (``layer`` is a name from
``model.named_modules()``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from ..errors import InputError
from ..models.backbones import build_model
from ..models.data import ManifestImages
from ..progress import bar
from .layers import PRESETS, FeatureLayer, feature_layer  # noqa: F401  (re-exported)


def feature_model(spec: FeatureLayer, weights: str | None = "imagenet") -> tuple[nn.Module, str]:
    """The model (eval mode) with the weights resolved as everywhere in auengine, and how it was initialised."""
    model, init = build_model(spec.model, 1000, weights=weights)
    modules = dict(model.named_modules())
    if spec.layer not in modules:
        raise InputError(f"{spec.model} has no layer {spec.layer!r}; e.g. "
                         + ", ".join(n for n in list(modules)[-8:] if n))
    return model.eval(), init


@torch.no_grad()
def deep_features(model: nn.Module, spec: FeatureLayer, table: pd.DataFrame, *, size: int = 224,
                  batch_size: int = 16, progress: bool | None = None) -> np.ndarray:
    """Features (N, D) of the manifest rows' images at ``spec.layer`` (one forward pass per batch)."""
    captured = {}
    layer = dict(model.named_modules())[spec.layer]
    # clone: VGG's ReLU after FC7 works in place and would overwrite the pre-ReLU output
    handle = layer.register_forward_hook(lambda _m, _i, output: captured.__setitem__("x", output.detach().clone()))
    dataset = ManifestImages(table, size, train=False)
    out = []
    try:
        batches = range(0, len(table), batch_size)
        for start in bar(batches, desc=f"features {spec.model}:{spec.layer}", progress=progress):
            images = torch.stack([dataset[i][0] for i in range(start, min(start + batch_size, len(table)))])
            model(images)
            value = captured["x"]
            if spec.pool and value.ndim == 4:
                value = value.mean(dim=(2, 3))
            out.append(value.flatten(1).float().numpy())
    finally:
        handle.remove()
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
