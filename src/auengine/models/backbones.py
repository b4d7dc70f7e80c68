"""torchvision classification backbones with an n-level head (all parameters trainable).

ImageNet weights come through torchvision's weights API, resolved like every other
weights file (explicit path > local cache, incl. torch hub's > download when allowed);
offline the model starts from random initialisation with a warning that says so.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..errors import InputError, WeightsNotFoundError
from ..weights import WeightsSpec, resolve_weights

BACKBONES = ["resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_spec(backbone: str) -> WeightsSpec:
    """Where torchvision's ImageNet weights of ``backbone`` live (URL, file name)."""
    weights = torchvision.models.get_model_weights(backbone).DEFAULT
    return WeightsSpec(name=f"torchvision {backbone} ImageNet", filename=Path(weights.url).name, url=weights.url,
                       torch_hub=True)


def replace_head(model: nn.Module, n_levels: int) -> nn.Module:
    """Swap the final linear layer for one with ``n_levels`` outputs."""
    if hasattr(model, "fc"):
        model.fc = nn.Linear(model.fc.in_features, n_levels)
    else:
        model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, n_levels)
    return model


def build_model(backbone: str = "resnet18", n_levels: int = 4, *, weights: str | None = "imagenet",
                download: bool | None = None) -> tuple[nn.Module, str]:
    """A backbone with an n-level head, and a note on how it was initialised.

    Parameters
    ----------
    backbone : str
        One of BACKBONES.
    weights : "imagenet", None, or a path
        "imagenet": torchvision's ImageNet weights when available (else random init with
        a warning); None: random init; a path: a state dict (.safetensors, or a .pth read
        with ``weights_only=True``) for the backbone (head layers are skipped when shapes differ).

    Returns
    -------
    (model, init) with init one of "imagenet", "random", "file:PATH", "random (imagenet weights unavailable)".
    """
    if backbone not in BACKBONES:
        raise InputError(f"unknown backbone {backbone!r}; choose one of: {', '.join(BACKBONES)}")
    model = torchvision.models.get_model(backbone, weights=None)
    init = "random"
    state = None
    if weights == "imagenet":
        try:
            state = load_state(resolve_weights(imagenet_spec(backbone), download=download))
            init = "imagenet"
        except WeightsNotFoundError as exc:
            warnings.warn(f"{exc}. Starting {backbone} from random initialisation.", RuntimeWarning, stacklevel=2)
            init = "random (imagenet weights unavailable)"
    elif weights is not None:
        state = load_state(Path(weights))
        init = f"file:{weights}"
    if state is not None:
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False)
    return replace_head(model, n_levels), init


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch file (never unpickling: weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)
