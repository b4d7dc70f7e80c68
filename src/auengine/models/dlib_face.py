"""dlib's face-recognition ResNet in PyTorch, with the weights read from the shipped .dat file.

The network (dlib/examples/dnn_face_recognition_ex.cpp, ``anet_type``): a 7 x 7 / 2 conv
(no padding) + affine + ReLU + 3 x 3 / 2 max-pool stem, 14 residual blocks in 4 stages of
32, 64, 128 and 256 channels (the 256 stage has two down-sampling blocks), global
average pooling and a 128-unit fc without bias. dlib's conventions kept here:

- input: RGB 0-255, ``(x - mean_rgb) / 256`` with mean (122.782, 117.001, 104.298)
  (dlib/dnn/input.h, ``input_rgb_image``);
- conv padding is 0 for strided convs and k // 2 otherwise (read from the file);
- ``affine`` is a per-channel ``gamma * x + beta`` (batch norm folded at training's end);
- a down-sampling block adds its stride-2 conv path to a 2 x 2 / 2 average pool of its
  input; ``add_prev`` adds tensors of different sizes by zero-padding the smaller one at
  the end of each axis (channels, rows, columns; dlib/cuda/cpu_dlib.cpp ``add``).

Names follow torchvision's ResNet (conv1, bn1, layer1-4, avgpool, fc) so the engine's
freezing, heads and Grad-CAM paths apply unchanged.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .dlib_dat import DlibLayer, DlibNet, read_dlib_net

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
#: sha256 of the file shipped in face-recognition-models 0.3.0 (the one checked against dlib's descriptors)
MODEL_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
#: smallest input side the unpadded strided convs accept; the last block's map is 1 x 1 up to 134 px, 2 x 2 to 198
MIN_INPUT = 103
#: stages as torchvision names them: (channels, number of blocks, first block down-samples)
STAGES = (("layer1", 32, 3, False), ("layer2", 64, 4, True), ("layer3", 128, 3, True), ("layer4", 256, 4, True))
#: within layer4, dlib's alevel0 (a second down-sampling block) comes last
DOWN_AT = {"layer4": (0, 3)}


class Affine(nn.Module):
    """dlib's affine layer: ``gamma[c] * x + beta[c]`` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum over the larger size, the smaller tensor zero-padded at the end (N, C, H, W)."""
    if a.shape == b.shape:
        return a + b
    size = [max(p, q) for p, q in zip(a.shape[1:], b.shape[1:])]

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

    return grow(a) + grow(b)


class DlibBlock(nn.Module):
    """conv-affine-ReLU-conv-affine, plus the input (average-pooled when down-sampling), then ReLU."""

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        stride = 2 if down else 1
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=0 if down else 1)
        self.bn1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = Affine(channels)
        self.skip = nn.AvgPool2d(2, 2) if down else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(add_padded(main, self.skip(x)))


class DlibFaceResNet(nn.Module):
    """dlib's face-recognition ResNet: input (N, 3, H, W) RGB 0-255 (150 x 150 chips), output (N, 128).

    With ``imagenet_input`` the input is instead ImageNet-normalised RGB (what the
    engine's training pipeline feeds every backbone); it is mapped back to 0-255 first.
    """

    def __init__(self, imagenet_input: bool = False, mean_rgb=(122.782, 117.001, 104.298)) -> None:
        super().__init__()
        from .state import IMAGENET_MEAN, IMAGENET_STD

        scale, shift = torch.ones(3), torch.zeros(3)
        if imagenet_input:              # x_255 = 255 (x * std + mean)
            scale, shift = 255 * torch.tensor(IMAGENET_STD), 255 * torch.tensor(IMAGENET_MEAN)
        self.imagenet_input = imagenet_input
        # dlib: (x_255 - mean_rgb) / 256
        self.register_buffer("in_scale", (scale / 256)[None, :, None, None], persistent=False)
        self.register_buffer("in_shift", ((shift - torch.tensor(mean_rgb)) / 256)[None, :, None, None],
                             persistent=False)
        self.conv1 = nn.Conv2d(3, 32, 7, stride=2)
        self.bn1 = Affine(32)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2)
        channels = 32
        for name, width, count, down_first in STAGES:
            downs = DOWN_AT.get(name, (0,) if down_first else ())
            blocks = [DlibBlock(channels if i == 0 else width, width, i in downs) for i in range(count)]
            setattr(self, name, nn.Sequential(*blocks))
            channels = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, 128, bias=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """dlib's input normalisation of the (N, 3, H, W) input."""
        return x * self.in_scale + self.in_shift

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv block's output (N, 256, h, w) (2 x 2 for 150 x 150 chips, 3 x 3 at 224)."""
        if min(x.shape[-2:]) < MIN_INPUT:
            raise InputError(f"dlib-face needs inputs of at least {MIN_INPUT} px, got {tuple(x.shape[-2:])}; "
                             "use --size 150 (dlib's chip size)")
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.normalise(x)))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def _expect(layer: DlibLayer, kind: str, where: str) -> DlibLayer:
    if not layer.kind.startswith(kind):
        raise InputError(f"{where}: expected a {kind} layer in the dlib file, found {layer.kind}; "
                         "the file is not dlib_face_recognition_resnet_model_v1")
    return layer


def _load_conv(conv: nn.Conv2d, layer: DlibLayer, where: str) -> None:
    _expect(layer, "con_", where)
    s = layer.settings
    if (tuple(conv.stride), tuple(conv.padding)) != ((s["stride_y"], s["stride_x"]), (s["padding_y"], s["padding_x"])):
        raise InputError(f"{where}: stride/padding {s} differ from the architecture's")
    conv.weight.copy_(torch.from_numpy(layer.arrays["weight"].reshape(conv.weight.shape)))
    conv.bias.copy_(torch.from_numpy(layer.arrays["bias"]))


def _load_affine(affine: Affine, layer: DlibLayer, where: str) -> None:
    _expect(layer, "affine", where)
    affine.weight.copy_(torch.from_numpy(layer.arrays["gamma"]))
    affine.bias.copy_(torch.from_numpy(layer.arrays["beta"]))


@torch.no_grad()
def load_dlib_net(model: DlibFaceResNet, net: DlibNet) -> DlibFaceResNet:
    """Copy a parsed dlib net's weights into ``model``, checking each layer's type, order and shape."""
    layers = iter(net.layers)
    _load_conv(model.conv1, next(layers), "stem")
    _load_affine(model.bn1, next(layers), "stem")
    _expect(next(layers), "relu", "stem"), _expect(next(layers), "max_pool", "stem")
    for name, *_ in STAGES:
        for i, block in enumerate(getattr(model, name)):
            where = f"{name}[{i}]"
            _load_conv(block.conv1, next(layers), where)
            _load_affine(block.bn1, next(layers), where)
            _expect(next(layers), "relu", where)
            _load_conv(block.conv2, next(layers), where)
            _load_affine(block.bn2, next(layers), where)
            if isinstance(block.skip, nn.AvgPool2d):
                _expect(next(layers), "avg_pool", where)
            _expect(next(layers), "add_prev", where), _expect(next(layers), "relu", where)
    pool = _expect(next(layers), "avg_pool", "head")
    if pool.settings["nr"] != 0:
        raise InputError("head: expected dlib's avg_pool_everything before the fc layer")
    fc = _expect(next(layers), "fc", "head")
    model.fc.weight.copy_(torch.from_numpy(fc.arrays["weight"].T.copy()))
    if next(layers, None) is not None:
        raise InputError("the dlib file has more layers than dlib_face_recognition_resnet_model_v1")
    return model


def default_model_file() -> Path:
    """The .dat file shipped in face-recognition-models."""
    from ..faces.offline_models import dlib_model_path

    return dlib_model_path(MODEL_FILE)


@lru_cache(maxsize=2)
def _parsed(path: str) -> DlibNet:
    return read_dlib_net(path)


def dlib_face_resnet(path: str | Path | None = None, *, imagenet_input: bool = False) -> DlibFaceResNet:
    """dlib's face-recognition ResNet with its trained weights (eval mode), read from the .dat file.

    Parameters
    ----------
    path : optional
        The .dat file (default: face-recognition-models' copy).
    imagenet_input : bool
        Take ImageNet-normalised input instead of RGB 0-255 (see :class:`DlibFaceResNet`).

    Returns
    -------
    DlibFaceResNet
        Input (N, 3, 150, 150) float RGB 0-255 (dlib's face chips), output (N, 128): dlib's
        face descriptor. ``model.source`` names the file and its sha256.
    """
    path = Path(path) if path is not None else default_model_file()
    net = _parsed(str(path.resolve()))
    if path.name == MODEL_FILE and net.sha256 != MODEL_SHA256:
        warnings.warn(f"{path}: sha256 {net.sha256[:12]}... differs from the file this port was checked against "
                      f"({MODEL_SHA256[:12]}...)", RuntimeWarning, stacklevel=2)
    model = load_dlib_net(DlibFaceResNet(imagenet_input, net.input.settings["mean_rgb"]), net)
    model.source = f"{path.name} (sha256 {net.sha256[:12]})"
    return model.eval()


BACKBONE = "dlib-face"
PRETRAINED = ("imagenet", "pretrained", BACKBONE)     # "imagenet" is every backbone's default: here, the face weights


def dlib_face_backbone(weights: str | None = "imagenet") -> tuple[DlibFaceResNet, str]:
    """The network for the engine's training pipeline (ImageNet-normalised input), and how it was initialised.

    ``weights``: "imagenet" / "pretrained" / "dlib-face": dlib's face-recognition weights;
    None: random initialisation (PyTorch's defaults; affine layers start as identity);
    a path: a state dict (.safetensors, or .pth read with weights_only) whose matching entries are loaded.
    """
    from .state import load_matching, load_state

    if weights in PRETRAINED:
        model = dlib_face_resnet(imagenet_input=True)
        return model.train(), f"dlib-face ({model.source})"
    model = DlibFaceResNet(imagenet_input=True)
    if weights is None:
        return model, "random"
    return load_matching(model, load_state(Path(weights))), f"file:{weights}"
