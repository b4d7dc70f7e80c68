"""Pain scales (FLACC, NIPS, NFCS, DAN, binary, level) and their bins, read from data."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from .errors import InputError

SCALES_FILE = Path(__file__).parent / "resources" / "scales.yaml"


@dataclass(frozen=True)
class PainScale:
    """A pain scale: score range, bin edges and level names.

    ``level(score)`` = number of edges <= score, so FLACC 0-10 with edges
    (2.5, 5, 7.5) gives levels 0-3 for [0, 2.5), [2.5, 5), [5, 7.5), [7.5, 10].
    """

    name: str
    low: float
    high: float
    edges: tuple[float, ...]
    level_names: tuple[str, ...]
    description: str = ""

    @property
    def n_levels(self) -> int:
        """Number of levels (len(edges) + 1)."""
        return len(self.edges) + 1

    def in_range(self, score) -> np.ndarray:
        """Boolean array: finite scores inside [low, high]."""
        score = np.asarray(score, dtype=float)
        return np.isfinite(score) & (score >= self.low) & (score <= self.high)

    def level(self, score) -> np.ndarray:
        """Levels (int array) of scores; out-of-range scores raise InputError."""
        score = np.asarray(score, dtype=float)
        if not self.in_range(score).all():
            raise InputError(f"{self.name} scores must lie in [{self.low:g}, {self.high:g}]")
        return np.searchsorted(np.asarray(self.edges), score, side="right")


@lru_cache(maxsize=1)
def _scales() -> dict[str, PainScale]:
    data = yaml.safe_load(SCALES_FILE.read_text())
    out = {}
    for name, entry in data["scales"].items():
        low, high = map(float, entry["range"])
        edges = tuple(map(float, entry["edges"]))
        if len(entry["levels"]) != len(edges) + 1 or list(edges) != sorted(edges):
            raise InputError(f"{SCALES_FILE}: scales.{name}: needs sorted edges and one level name per bin")
        out[name] = PainScale(name, low, high, edges, tuple(entry["levels"]), entry.get("description", ""))
    return out


def scale_names() -> list[str]:
    """Names of the known scales."""
    return list(_scales())


def get_scale(name: str) -> PainScale:
    """The scale called ``name`` (case-insensitive); unknown names list the valid ones."""
    try:
        return _scales()[str(name).strip().lower()]
    except KeyError:
        raise InputError(f"unknown pain scale {name!r}; choose one of: {', '.join(scale_names())}") from None
