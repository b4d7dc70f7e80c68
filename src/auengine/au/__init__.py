"""AU rules (au_rules/*.yaml), AU region geometry, AU intensity backends (geometry, py-feat, table) and PSPI."""
from .rules import AURules, load_rules

__all__ = ["AURules", "load_rules"]
