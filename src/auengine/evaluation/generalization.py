"""Map levels predicted on the training scale to a test data set's labels (paper Tables V-VI).

Default mapping (DESIGN.md "Pain scales"): the same number of levels maps one to one; a
binary test set (pain / no pain) counts predicted levels >= 1 as pain; otherwise level
i of n maps to round(i (m - 1) / (n - 1)) of m. Any other mapping is given as text,
"0:0,1:1,2:1,3:1" (training level : test level).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

PAIN_FROM_LEVEL = 1


def default_level_map(n_train: int, n_test: int, pain_from: int = PAIN_FROM_LEVEL) -> dict[int, int]:
    """Training level -> test level for ``n_train`` and ``n_test`` levels."""
    if n_train == n_test:
        return {i: i for i in range(n_train)}
    if n_test == 2:
        return {i: int(i >= pain_from) for i in range(n_train)}
    return {i: int(round(i * (n_test - 1) / max(n_train - 1, 1))) for i in range(n_train)}


def parse_level_map(text: str, n_train: int, n_test: int) -> dict[int, int]:
    """Parse "0:0,1:1,2:1,3:1"; every training level must be mapped to a valid test level."""
    try:
        pairs = dict(tuple(int(v) for v in item.split(":")) for item in text.split(",") if item.strip())
    except ValueError:
        raise InputError(f"level map {text!r}: write it as 'train:test' pairs, e.g. 0:0,1:1,2:1,3:1") from None
    missing = sorted(set(range(n_train)) - set(pairs))
    bad = sorted(v for v in pairs.values() if not 0 <= v < n_test)
    if missing or bad:
        raise InputError(f"level map {text!r}: map every training level 0-{n_train - 1} "
                         f"to a test level 0-{n_test - 1} (missing {missing or 'none'}, out of range {bad or 'none'})")
    return pairs


def map_levels(levels, mapping: dict[int, int]) -> np.ndarray:
    """Apply a level map to an integer array."""
    lookup = np.array([mapping[i] for i in range(max(mapping) + 1)])
    return lookup[np.asarray(levels, dtype=int)]


def describe_level_map(mapping: dict[int, int]) -> str:
    """'0->0, 1->1, 2->1, 3->1' for reports."""
    return ", ".join(f"{a}->{b}" for a, b in sorted(mapping.items()))
