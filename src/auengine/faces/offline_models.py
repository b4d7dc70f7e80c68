"""Locate model files shipped inside PyPI packages (usable offline)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import BackendUnavailableError


def dlib_model_path(filename: str) -> Path:
    """Path of a model file from the face-recognition-models package.

    Found with importlib.util.find_spec, without importing the package (its
    ``__init__`` imports pkg_resources, which may be absent).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "face-recognition-models is not installed; run `make install` or "
            "`pip install face-recognition-models`")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise BackendUnavailableError(f"{path} is missing; reinstall face-recognition-models")
    return path
