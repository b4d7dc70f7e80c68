"""The backend registries, declared with lazy factories: their names are known without importing
the backends (torch, cv2, pandas), so `auengine --help` and the CLI's choices stay fast.

The modules named here register the factories (``@DETECTORS.register("mtcnn")``) and re-export
the registries; the names below must match what they register (checked on registration).
"""
from __future__ import annotations

from .registry import Registry

DETECTORS = Registry("face detector", lazy={
    "mtcnn": "auengine.faces.detect:MTCNNDetector",
    "dlib": "auengine.faces.detect:DlibHOGDetector",
    "face-alignment": "auengine.faces.detect:SFDDetector",
    "auto": "auengine.faces.detect:auto_detector",
})
LANDMARKERS = Registry("landmark backend", lazy={
    "dlib": "auengine.faces.landmarks:DlibLandmarks",
    "face-alignment": "auengine.faces.landmarks:FANLandmarks",
    "auto": "auengine.faces.landmarks:auto_landmarks",
})
AU_BACKENDS = Registry("AU backend", lazy={
    "geometry": "auengine.au.backends:GeometryBackend",
    "table": "auengine.au.backends:TableBackend",
    "pyfeat": "auengine.au.backends:PyFeatBackend",
})

#: backbones that models/backbones.py builds (names only): torchvision classifiers and dlib's face ResNet
BACKBONES = ["resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
             "dlib-face"]
