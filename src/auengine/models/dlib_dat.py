"""Read a dlib DNN file (``dlib::serialize(net)``) into a flat list of layers, without dlib.

dlib writes a network from the loss layer inwards, each wrapper first writing a version
int and then its subnetwork, so the file is: the loss layer (version, details), a run of
version ints (one per wrapper: 2 for ``add_layer``, 1 for ``add_tag_layer`` /
``add_skip_layer``), the input layer, and then, from the input outwards, each
``add_layer``'s details followed by its trailer (three bools and three tensors). Tags
and skips write nothing after their subnetwork. Encodings (dlib/serialize.h,
dlib/float_details.h, dlib/cuda/tensor.h):

- integer: one control byte (low nibble = byte count, 0x80 = negative), then the
  magnitude little-endian;
- float / double: two integers, mantissa and exponent (value = mantissa * 2**exponent);
- bool: the character '0' or '1';  string: integer length, then the bytes;
- tensor: version 2, num_samples, k, nr, nc, then float32 little-endian values;
- alias_tensor (a view into ``params``): version 1 and the four sizes.

Layer details follow dlib/dnn/layers.h (``con_4..6``, ``affine_``/``affine_2``, ``relu_``/
``relu_2``, ``max_pool_2``, ``avg_pool_2``, ``add_prev_``, ``fc_2``/``fc_3``) and
dlib/dnn/input.h (``input_rgb_image_sized``), dlib/dnn/loss.h (``loss_metric_``/``_2``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError


class DlibFormatError(InputError):
    """The file is not a dlib network this reader understands."""


@dataclass
class DlibLayer:
    """One layer: dlib's version string (e.g. "con_5"), integer/float settings and weight arrays."""

    kind: str
    settings: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNet:
    """A parsed network: loss, input normalisation, layers from the input outwards, wrapper versions."""

    loss: str
    input: DlibLayer
    layers: list[DlibLayer]
    wrapper_versions: list[int]
    sha256: str


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.pos, self.name = data, 0, name

    def fail(self, what: str):
        raise DlibFormatError(f"{self.name}: byte {self.pos}: {what}; is this a dlib DNN .dat file?")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            self.fail("unexpected end of file")
        self.pos += 1
        return self.data[self.pos - 1]

    def int(self) -> int:
        control = self.byte()
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.fail(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.fail("unexpected end of file")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:                 # float_details: is_inf, is_ninf, is_nan
            return {32000: np.inf, 32001: -np.inf}.get(exponent, np.nan)
        return float(np.ldexp(float(mantissa), exponent))

    def bool(self) -> bool:
        char = self.byte()
        if char not in (ord("0"), ord("1")):
            self.fail(f"expected a bool ('0'/'1'), found {char:#x}")
        return char == ord("1")

    def string(self) -> str:
        return self.take(self.int()).decode("latin-1")

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            self.fail("unexpected tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            self.fail("unexpected alias_tensor version")
        return tuple(self.int() for _ in range(4))


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Consecutive views of a flat parameter tensor with the alias tensors' shapes."""
    flat, out, offset = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[offset:offset + size].reshape(shape))
        offset += size
    return out


def _con(r: _Reader, kind: str) -> DlibLayer:
    params = r.tensor()
    s = dict(num_filters=r.int(), nr=r.int(), nc=r.int(), stride_y=r.int(), stride_x=r.int(),
             padding_y=r.int(), padding_x=r.int())
    filters, biases = r.alias(), r.alias()
    for _ in range(4):                # learning-rate and weight-decay multipliers (weights, bias)
        r.float()
    s["use_bias"] = r.bool() if kind in ("con_5", "con_6") else True
    if kind == "con_6":
        s["use_relu"] = r.bool()
    weight, bias = _split(params, filters, (int(np.prod(biases)),) if s["use_bias"] else (0,))
    return DlibLayer(kind, s, {"weight": weight, "bias": bias})


def _affine(r: _Reader, kind: str) -> DlibLayer:
    if kind.startswith("bn_"):
        r.fail(f"{kind} (batch norm in training form) is not supported; save the net with affine layers")
    params = r.tensor()
    gamma, beta = r.alias(), r.alias()
    s = {"mode": r.int(), "disabled": r.bool() if kind == "affine_2" else False}
    g, b = _split(params, gamma, beta)
    return DlibLayer(kind, s, {"gamma": g.reshape(-1), "beta": b.reshape(-1)})


def _pool(r: _Reader, kind: str) -> DlibLayer:
    return DlibLayer(kind, dict(nr=r.int(), nc=r.int(), stride_y=r.int(), stride_x=r.int(),
                                padding_y=r.int(), padding_x=r.int()))


def _fc(r: _Reader, kind: str) -> DlibLayer:
    s = dict(num_outputs=r.int(), num_inputs=r.int())
    params = r.tensor()
    weights, biases = r.alias(), r.alias()
    s["bias_mode"] = r.int()
    for _ in range(4):                # learning-rate and weight-decay multipliers (weights, bias)
        r.float()
    s["use_bias"] = (r.bool() if kind == "fc_3" else True) and s["bias_mode"] == 0
    weight, bias = _split(params, weights, biases if s["use_bias"] else (0,))
    return DlibLayer(kind, s, {"weight": weight.reshape(s["num_inputs"], s["num_outputs"]), "bias": bias.reshape(-1)})


def _relu(r: _Reader, kind: str) -> DlibLayer:
    return DlibLayer(kind, {"disabled": r.bool() if kind == "relu_2" else False})


DETAILS = {"con_4": _con, "con_5": _con, "con_6": _con, "affine_": _affine, "affine_2": _affine,
           "bn_con2": _affine, "bn_fc2": _affine, "relu_": _relu, "relu_2": _relu,
           "max_pool_2": _pool, "avg_pool_2": _pool, "fc_2": _fc, "fc_3": _fc,
           "add_prev_": lambda r, kind: DlibLayer(kind)}


def _details(r: _Reader) -> DlibLayer:
    kind = r.string()
    if kind not in DETAILS:
        r.fail(f"layer type {kind!r} is not supported (known: {', '.join(DETAILS)})")
    return DETAILS[kind](r, kind)


def _trailer(r: _Reader, version: int) -> None:
    """add_layer's state after the details: 3 bools, x_grad, cached_output, params_grad / grad_final."""
    for _ in range(3):
        r.bool()
    for _ in range(3 if version >= 2 else 2):
        r.tensor()


def read_dlib_net(path: str | Path) -> DlibNet:
    """Parse a dlib DNN file (loss_metric / fc / conv / affine / relu / pooling / add_prev layers).

    Raises
    ------
    DlibFormatError
        On anything unexpected, naming the byte offset.
    """
    path = Path(path)
    data = path.read_bytes()
    r = _Reader(data, str(path))
    if r.int() != 1:
        r.fail("expected add_loss_layer version 1")
    loss = r.string()
    if loss == "loss_metric_2":
        r.float(), r.float()
    elif loss != "loss_metric_":
        r.fail(f"loss {loss!r} is not supported (loss_metric_ only)")
    versions = []
    while True:                       # wrapper versions (1-3) until the input layer's name (a longer string)
        start = r.pos
        value = r.int()
        if value > 3:
            r.pos = start
            break
        versions.append(value)
    name = r.string()
    if not name.startswith("input_rgb_image"):
        r.fail(f"input layer {name!r} is not supported (input_rgb_image only)")
    inputs = DlibLayer(name, {"mean_rgb": (r.float(), r.float(), r.float())})
    if name == "input_rgb_image_sized":
        inputs.settings["size"] = (r.int(), r.int())
    inner = versions.pop()            # the add_layer holding the input layer: details + trailer
    layers = [_details(r)]
    _trailer(r, 2)                    # the input add_layer keeps grad_final where others keep params_grad
    if inner >= 3:
        r.int()                       # _sample_expansion_factor
    for version in reversed(versions):
        if version == 2:
            layers.append(_details(r))
            _trailer(r, version)
    if r.pos != len(data):
        r.fail(f"{len(data) - r.pos} bytes left after the network")
    return DlibNet(loss, inputs, layers, versions + [inner], hashlib.sha256(data).hexdigest())
