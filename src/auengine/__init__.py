"""auengine: AU-centric facial analysis of infant pain.

Importing the package has no side effects (no downloads, no environment changes);
heavy libraries are imported only by the backends that need them.
"""
from importlib import import_module

__version__ = "0.1.0"

#: lazy re-exports, name -> module: importing auengine stays light (no numpy / torch / pandas until used)
_LAZY = {
    "AURules": ".au.rules",
    "load_rules": ".au.rules",
    "au_from_landmarks": ".au.landmark_aus",
    "infant_probability": ".au.infant_check",
    "pspi": ".au.pspi",
    "read_au_table": ".io.au_tables",
    "gradcam": ".explain.gradcam",
    "au_engagement": ".engagement",
    "AuEIPARegressor": ".estimators.aueipa",
    "load_bundle": ".bundle",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'auengine' has no attribute {name!r}")
