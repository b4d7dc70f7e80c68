"""auengine: AU-centric facial analysis of infant pain.

Importing the package has no side effects (no downloads, no environment changes);
heavy libraries are imported only by the backends that need them.
"""
from .au.rules import AURules, load_rules

__version__ = "0.1.0"

__all__ = ["AURules", "load_rules", "__version__"]
