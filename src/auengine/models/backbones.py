"""torchvision classification backbones with an n-level head (all parameters trainable).

ImageNet weights come through torchvision's weights API, resolved like every other
weights file (explicit path > local cache, incl. torch hub's > download when allowed);
offline the model starts from random initialisation with a warning that says so.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torchvision
from torch import nn

from ..errors import InputError, WeightsNotFoundError
from ..registries import BACKBONES as _BACKBONES
from ..weights import WeightsSpec, resolve_weights
from .state import IMAGENET_MEAN, IMAGENET_STD, load_matching, load_state  # noqa: F401 - re-exported

BACKBONES = _BACKBONES       # names in auengine.registries (the CLI lists them without importing torch)


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


HEADS = ("linear", "fc512", "gap2048")


def fc512_head(in_features: int, n_out: int) -> nn.Sequential:
    """Zhao et al.'s pain classifier: FC512-ReLU-Dropout(0.5)-BN-FC128-ReLU-Dropout(0.5)-BN-FC(n_out)."""
    return nn.Sequential(nn.Linear(in_features, 512), nn.ReLU(), nn.Dropout(0.5), nn.BatchNorm1d(512),
                         nn.Linear(512, 128), nn.ReLU(), nn.Dropout(0.5), nn.BatchNorm1d(128), nn.Linear(128, n_out))


def gap2048_head(in_features: int, n_out: int) -> nn.Sequential:
    """The thesis's head after global average pooling: dense 2048 and 1024 with ReLU and dropout 0.5, then n_out."""
    return nn.Sequential(nn.Linear(in_features, 2048), nn.ReLU(), nn.Dropout(0.5), nn.Linear(2048, 1024), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(1024, n_out))


def attach_head(model: nn.Module, n_out: int, head: str = "linear") -> nn.Module:
    """Replace the classifier: "linear" (last layer only), "fc512" (Zhao et al.), "gap2048" (thesis).

    For VGGs, "fc512" reads the flattened 7 x 7 x 512 conv output (Keras include_top=False
    + Flatten) and "gap2048" the globally average-pooled 512 channels; ResNets already pool.
    """
    if head == "linear":
        return replace_head(model, n_out)
    if head not in HEADS:
        raise InputError(f"unknown head {head!r}; choose one of: {', '.join(HEADS)}")
    build = fc512_head if head == "fc512" else gap2048_head
    if hasattr(model, "fc"):
        model.fc = build(model.fc.in_features, n_out)
    else:
        channels = model.features[-3].out_channels
        if head == "gap2048":
            model.avgpool = nn.AdaptiveAvgPool2d(1)
        model.classifier = build(channels * (1 if head == "gap2048" else 49), n_out)
    return model


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's stages in order: VGG conv blocks (ending at each max-pool), ResNet stem + layer1-4."""
    if hasattr(model, "layer1"):
        stem = nn.ModuleList([model.conv1, model.bn1])
        return [stem, model.layer1, model.layer2, model.layer3, model.layer4]
    blocks, current = [], []
    for layer in model.features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(nn.ModuleList(current))
            current = []
    return blocks


def freeze_blocks(model: nn.Module, n_blocks: int) -> nn.Module:
    """Stop gradients in the first ``n_blocks`` backbone stages (the thesis freezes early VGG blocks)."""
    blocks = backbone_blocks(model)
    if not 0 <= n_blocks <= len(blocks):
        raise InputError(f"cannot freeze {n_blocks} blocks: the backbone has {len(blocks)}")
    for block in blocks[:n_blocks]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    return model


def build_model(backbone: str = "resnet18", n_levels: int = 4, *, weights: str | None = "imagenet",
                download: bool | None = None, head: str = "linear") -> tuple[nn.Module, str]:
    """A backbone with an n-level head, and a note on how it was initialised.

    Parameters
    ----------
    backbone : str
        One of BACKBONES ("dlib-face": dlib's face-recognition ResNet, whose "imagenet" weights
        are its face-recognition weights; see :func:`auengine.models.dlib_face.dlib_face_backbone`).
    head : "linear" (paper: last layer replaced), "fc512" or "gap2048" (see :func:`attach_head`)
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
    if backbone == "dlib-face":             # dlib's face-recognition ResNet (models/dlib_face.py)
        from .dlib_face import dlib_face_backbone

        model, init = dlib_face_backbone(weights)
        return attach_head(model, n_levels, head), init
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
        load_matching(model, state)
    return attach_head(model, n_levels, head), init
