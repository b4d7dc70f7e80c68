"""AU rules, AU-center geometry and (later) AU intensity backends."""
from .rules import AURules, load_rules

__all__ = ["AURules", "load_rules"]
