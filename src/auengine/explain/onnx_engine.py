"""ONNX Runtime forward pass for the fast Grad-CAM path of torchvision ResNets (and dlib-face).

A ResNet is exported once (in memory) as x -> (layer4 activations, logits) and run by
ONNX Runtime's CPU provider with torch's thread count. The session is cached per model
and rebuilt when any parameter or buffer changes: new tensors (load_state_dict into a
new model, `.to()`) or in-place updates (optimizer steps, load_state_dict, edits under
torch.no_grad()), which bump PyTorch's version counters. Edits through `tensor.data`
bypass those counters and are not seen: use torch.no_grad() instead, or
AUENGINE_CAM_ENGINE=torch. (A checksum of the weights would catch them but costs a third
of a batch-1 forward pass.) dlib's face ResNet (models/dlib_face.py) goes the same way,
exported once per input size. Without onnx/onnxruntime, with a non-standard ResNet,
or with AUENGINE_CAM_ENGINE=torch, :func:`onnx_forward` returns None and the caller
uses PyTorch.
"""
from __future__ import annotations

import io
import os
import warnings
import weakref

import numpy as np
import torch
from torch import nn

_SESSIONS: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


class _ResNetCam(nn.Module):
    """torchvision ResNet.forward split to also return the layer4 output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        m = self.model
        if _is_dlib_face(m):
            activations = m.features(x)
        else:
            x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            activations = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return activations, m.fc(torch.flatten(m.avgpool(activations), 1))


def _is_dlib_face(model: nn.Module) -> bool:
    """dlib-face (models/dlib_face.py): its zero padding depends on the input size, so it is exported per size."""
    from ..models.dlib_face import DlibFaceResNet

    return isinstance(model, DlibFaceResNet) and type(model).forward is DlibFaceResNet.forward


def _state_key(model: nn.Module) -> tuple:
    """Changes when weights change: each tensor's storage and in-place version counter."""
    tensors = list(model.parameters()) + list(model.buffers())
    return tuple((t.data_ptr(), t._version) for t in tensors) + (torch.get_num_threads(),)


def _usable(model: nn.Module) -> bool:
    import torchvision

    standard = isinstance(model, torchvision.models.ResNet) and type(model).forward is torchvision.models.ResNet.forward
    return os.environ.get("AUENGINE_CAM_ENGINE", "onnx") != "torch" and (standard or _is_dlib_face(model))


def _session(model: nn.Module, sample: torch.Tensor):
    import onnxruntime

    buffer = io.BytesIO()
    spatial = not _is_dlib_face(model)          # dlib-face: one graph per input size (see _is_dlib_face)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_ResNetCam(model).eval(), sample[:1], buffer, dynamo=False, input_names=["images"],
                          output_names=["activations", "logits"],
                          dynamic_axes={"images": {0: "n", **({2: "height", 3: "width"} if spatial else {})},
                                        "activations": {0: "n", **({2: "h", 3: "w"} if spatial else {})},
                                        "logits": {0: "n"}})
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


def onnx_forward(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(activations (N, C, h, w), logits (N, K)) from ONNX Runtime, or None when it cannot be used."""
    if not _usable(model):
        return None
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    key = _state_key(model) + ((tuple(images.shape[2:]),) if _is_dlib_face(model) else ())
    cached = _SESSIONS.get(model)
    if cached is None or cached[0] != key:
        _SESSIONS[model] = cached = (key, _session(model, images))
    activations, logits = cached[1].run(None, {"images": np.ascontiguousarray(images.detach().numpy(), np.float32)})
    return torch.from_numpy(activations), torch.from_numpy(logits)
