"""auengine: AU-centric facial analysis of infant pain.

Importing the package has no side effects (no downloads, no environment changes);
heavy libraries are imported only by the backends that need them.
"""
from .au.rules import AURules, load_rules

__version__ = "0.1.0"

__all__ = ["AURules", "au_from_landmarks", "load_rules", "pspi", "read_au_table", "__version__"]


def __getattr__(name: str):
    """Lazy re-exports: importing auengine stays light (no pandas / scikit-learn until used)."""
    if name == "au_from_landmarks":
        from .au.landmark_aus import au_from_landmarks

        return au_from_landmarks
    if name == "pspi":
        from .au.pspi import pspi

        return pspi
    if name == "read_au_table":
        from .io.au_tables import read_au_table

        return read_au_table
    raise AttributeError(f"module 'auengine' has no attribute {name!r}")
