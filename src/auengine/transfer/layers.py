"""Feature layers of pre-trained classifiers by name: the paper's presets or "MODEL:LAYER[:pool]".

No torch here: the CLI lists the presets without importing it (transfer/features.py uses them).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class FeatureLayer:
    """A model and the layer whose output is the feature vector; ``pool`` averages conv maps to (C,)."""

    model: str
    layer: str
    pool: bool = False


PRESETS = {
    "vgg16-fc7-prerelu": FeatureLayer("vgg16", "classifier.3"),
    "vgg16-fc7-postrelu": FeatureLayer("vgg16", "classifier.4"),
    "vgg16-conv5": FeatureLayer("vgg16", "features.29", pool=True),
    "resnet18-pool": FeatureLayer("resnet18", "avgpool"),
    "resnet50-pool": FeatureLayer("resnet50", "avgpool"),
}


def feature_layer(name: str) -> FeatureLayer:
    """A preset by name, or "MODEL:LAYER" (add ":pool" to average a conv map)."""
    if name in PRESETS:
        return PRESETS[name]
    parts = name.split(":")
    if len(parts) in (2, 3) and (len(parts) == 2 or parts[2] == "pool"):
        return FeatureLayer(parts[0], parts[1], pool=len(parts) == 3)
    raise InputError(f"unknown feature layer {name!r}; use a preset ({', '.join(PRESETS)}) or MODEL:LAYER[:pool]")
