"""AU engagement (AuE-IPA Eq. 2): mean Grad-CAM value inside each AU's regions.

E_AU = (1 / |N|) sum_{n in N} (1 / S) sum_{(x, y) in R_AU(n)} CAM_n(x, y)

over the correctly classified images N, with R_AU the AU's region(s) (bilateral
regions together, S their pixel count) from the landmarks on the CAM's own grid. The
ranking is normalised to sum 1 (paper Fig. 5). :class:`EngagementAccumulator`
streams over batches (memory does not grow with the data set) and keeps sums per
subject and per level, for bootstrap intervals by subject and per-level rankings.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from .au.rules import AURules, load_rules
from .errors import InputError


class EngagementAccumulator:
    """Running sums of per-image AU region means, by subject and level.

    Parameters
    ----------
    rules : AURules or str
        The AU rule set (default "infant").
    """

    #: which images count, for messages
    counted = "correctly classified"

    def __init__(self, rules: AURules | str = "infant") -> None:
        self.rules = rules if isinstance(rules, AURules) else load_rules(rules)
        self.aus = self.rules.aus
        self._sums: dict[tuple[str, int], np.ndarray] = defaultdict(lambda: np.zeros(len(self.aus)))
        self._counts: dict[tuple[str, int], int] = defaultdict(int)

    def update(self, cams: np.ndarray, landmarks: np.ndarray, *, correct=None, subjects=None, levels=None) -> None:
        """Add a batch: cams (N, H, W) in [0, 1], landmarks (N, 68, 2) on the CAM grid.

        ``correct`` (N,) bool keeps only correctly classified images (paper: N is the
        set of correct ones); ``subjects`` and ``levels`` (N,) group the sums.
        """
        self.add(region_means(cams, landmarks, self.rules), correct=correct, subjects=subjects, levels=levels)

    def add(self, values: np.ndarray, *, correct=None, subjects=None, levels=None, outputs=None) -> None:
        """Add per-image AU values (N, n_AUs) in ``aus`` order (a CAM's region means, or occlusion drops).

        Rows with a NaN (a region outside the image) are skipped; ``correct``, ``subjects``
        and ``levels`` as in :meth:`update`. ``outputs`` (the surrogate's) is ignored.
        """
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        keep = np.ones(n, bool) if correct is None else np.asarray(correct, bool)
        subjects = np.full(n, "all", object) if subjects is None else np.asarray(subjects, object)
        levels = np.full(n, -1) if levels is None else np.asarray(levels, int)
        for i in np.flatnonzero(keep & ~np.isnan(values).any(axis=1)):
            key = (str(subjects[i]), int(levels[i]))
            self._sums[key] += values[i]
            self._counts[key] += 1

    @property
    def n_images(self) -> int:
        """Images counted so far."""
        return sum(self._counts.values())

    @property
    def n_subjects(self) -> int:
        """Subjects with at least one counted image (the bootstrap resamples these)."""
        return len({subject for subject, _ in self._counts})

    def notes(self) -> list[tuple[str, str]]:
        """(headline, advice) pairs about the ranking's reliability: none for region means."""
        return []

    def _by_subject(self, level: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Per-subject region sums (S, n_AUs) and image counts (S,), optionally for one level."""
        totals: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for (subject, lv), count in self._counts.items():
            if level is None or lv == level:
                totals[subject] = totals.get(subject, 0) + self._sums[(subject, lv)]
                counts[subject] = counts.get(subject, 0) + count
        if not counts:
            raise InputError("no image counted (none correctly classified, or no regions inside the CAMs)")
        subjects = sorted(counts)
        return np.array([totals[s] for s in subjects]), np.array([counts[s] for s in subjects])

    def engagement(self, level: int | None = None) -> pd.Series:
        """Eq. 2 per AU, normalised to sum 1, sorted high to low (optionally one level only).

        All NaN when the AUs' values sum to <= 0 (possible for occlusion, whose drops may be
        negative): no region adds evidence for the class on average, so there is no ranking.
        """
        sums, counts = self._by_subject(level)
        return _ranking(sums.sum(axis=0) / counts.sum(), self.aus)

    def bootstrap(self, n_boot: int = 1000, seed: int = 0, level: int | None = None) -> pd.DataFrame:
        """Normalised engagement with 95 % intervals from resampling subjects (with replacement)."""
        sums, counts = self._by_subject(level)
        rng = np.random.default_rng(seed)
        draws = np.empty((n_boot, len(self.aus)))
        for b in range(n_boot):
            pick = rng.integers(0, len(counts), len(counts))
            draws[b] = _normalised(sums[pick].sum(axis=0) / counts[pick].sum())
        point = self.engagement(level)
        if point.isna().all():
            raise InputError("no ranking: the AUs' engagement sums to <= 0 (hiding no region lowers the model's "
                             "evidence for the true class on average); the model has probably not learned the "
                             "levels: check its validation WA, or try --method gradcam")
        defined = draws[~np.isnan(draws).any(axis=1)]      # resamples whose total is <= 0 have no ranking
        low = pd.Series(np.percentile(defined, 2.5, axis=0), index=self.aus)
        high = pd.Series(np.percentile(defined, 97.5, axis=0), index=self.aus)
        return pd.DataFrame({"engagement": point, "low": low[point.index], "high": high[point.index],
                             "rank": np.arange(1, len(point) + 1)})


def region_means(cams: np.ndarray, landmarks: np.ndarray, rules: AURules) -> np.ndarray:
    """Mean map value inside each AU's region(s): (N, n_AUs), NaN where a region falls outside the map.

    cams (N, H, W); landmarks (N, 68, 2) on the same grid.
    """
    cams = np.asarray(cams, dtype=np.float64)
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if cams.ndim != 3 or landmarks.shape != (len(cams), 68, 2):
        raise InputError(f"cams must be (N, H, W) and landmarks (N, 68, 2); got {cams.shape} and {landmarks.shape}")
    out = np.full((len(cams), len(rules.aus)), np.nan)
    for i in range(len(cams)):
        masks = rules.masks(landmarks[i], cams[i].shape)
        out[i] = [cams[i][masks[au]].mean() if masks[au].any() else np.nan for au in rules.aus]
    return out


def _normalised(values: np.ndarray) -> np.ndarray:
    """``values`` / their sum; all NaN when the sum is <= 0 (no ranking)."""
    total = values.sum()
    return values / total if total > 0 else np.full(len(values), np.nan)


def _ranking(values: np.ndarray, aus: list[str]) -> pd.Series:
    return pd.Series(_normalised(values), index=aus, name="engagement").sort_values(ascending=False, kind="stable")


def au_engagement(cams: np.ndarray, landmarks: np.ndarray, *, correct=None, rules: AURules | str = "infant"
                  ) -> pd.Series:
    """AU engagement ranking (Eq. 2), normalised to sum 1, indexed by AU id, highest first.

    Parameters
    ----------
    cams : ndarray, shape (N, H, W)
        Grad-CAM maps (of the true = predicted class) at crop resolution, in [0, 1].
    landmarks : ndarray, shape (N, 68, 2)
        Landmarks in the same pixel grid as the CAMs.
    correct : array of bool, shape (N,), optional
        Which images were classified correctly (only these count); default all.
    rules : AURules or name
        AU rule set (default "infant").
    """
    accumulator = EngagementAccumulator(rules)
    accumulator.update(cams, landmarks, correct=correct)
    return accumulator.engagement()


def read_engagement(path: str | Path) -> pd.Series:
    """AU -> engagement from an engagement.csv written by ``auengine engagement`` (columns AU, engagement)."""
    table = pd.read_csv(path)
    if not {"AU", "engagement"} <= set(table.columns):
        raise InputError(f"{path}: an engagement table needs columns AU and engagement (as written by "
                         "`auengine engagement`)")
    return table.set_index("AU")["engagement"]
