"""Weights in and out of a module: ImageNet input statistics, state dicts from files (never unpickled)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsNotFoundError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_matching(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """Load the entries of ``state`` whose names and shapes match ``model``'s (head layers may differ)."""
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False)
    return model


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch file (never unpickling: weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)
