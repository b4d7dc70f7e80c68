"""AU surrogate engagement: which landmark-measured AU intensities a model's output follows.

Per image, the model's expected pain level y = sum_k softmax(logits)_k * k (levels 0..C-1) and
the AU intensities x (0-5, N x n_AUs) that the geometry estimator (au/landmark_aus.py) reads from
the image's landmarks against its subject's resting face. A ridge regression on standardised
intensities, over every image (right or wrong: it describes the model's output, not the labels),

    b = (R + alpha I)^-1 r,   R = corr(x, x) (n_AUs x n_AUs),   r = cov(x, y) / sd(x)  (n_AUs,)

gives b_AU in levels per standard deviation of the AU, the other AUs held fixed (exactly so at
alpha = 0; a larger alpha shrinks b toward each AU's separate effect, which spreads credit to AUs
that merely correlate with the ones the model uses). alpha is picked from ALPHAS by
leave-one-subject-out prediction error of y with the one-standard-error rule (the largest alpha
predicting within one SE of the best), so it is small when the data can tell the AUs apart and
larger when they cannot. Engagement = max(b, 0) / sum. Its resolution is the AU, not an image
region; what it cannot separate is AUs whose intensities move together in the data
(|corr| >= TIE_CORRELATION: :meth:`SurrogateAccumulator.tied_with`). The unpenalised fit's R^2
says how much of the model's output the AUs explain (:meth:`notes`).

Sufficient statistics are kept per (subject, level), so intervals resample subjects like the
region methods' (engagement.py; alpha fixed at the full data's choice) and memory does not grow
with the data set.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..au.rules import AURules
from ..columns import au_column
from ..errors import InputError

#: ridge penalties on the AUs' correlation matrix that leave-one-subject-out error chooses from
ALPHAS = (0.001, 0.01, 0.1, 1.0, 10.0)
#: the penalty with fewer than 3 subjects (no cross-validation)
DEFAULT_ALPHA = 1.0
#: AUs whose intensities correlate at least this much over the counted images tie
TIE_CORRELATION = 0.9
#: below this R^2 the AU intensities explain too little of the model's output to rank by
MIN_R2 = 0.3


def expected_level(logits: np.ndarray) -> np.ndarray:
    """Expected level (N,) under the softmax of ``logits`` (N, C): sum_k p_k * k."""
    z = np.asarray(logits, np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ np.arange(z.shape[1])


def au_intensities(landmarks: np.ndarray, rest_landmarks: np.ndarray, aus: list[str]) -> np.ndarray:
    """Geometry-estimator intensities (N, n_AUs), 0-5, of each face against its resting face.

    landmarks, rest_landmarks: (N, 68, 2) in the same pixels per row (faces sharing a resting
    face are measured together). InputError for an AU the estimator does not read.
    """
    from ..au.landmark_aus import OUTPUT_AUS, au_from_landmarks

    points, rest = np.asarray(landmarks, np.float64), np.asarray(rest_landmarks, np.float64)
    if points.shape != rest.shape or points.shape[1:] != (68, 2):
        raise InputError(f"landmarks and resting landmarks must both be (N, 68, 2); got {points.shape}, {rest.shape}")
    unread = [au for au in aus if au not in OUTPUT_AUS]
    if unread:
        raise InputError(f"the surrogate method reads AUs from landmarks, and the geometry estimator has no "
                         f"{', '.join(unread)}: use a rule set of its AUs ({', '.join(OUTPUT_AUS)}) or a region method")
    out = np.full((len(points), len(aus)), np.nan)
    _, group = np.unique(rest.reshape(len(rest), -1), axis=0, return_inverse=True)
    for g in np.unique(group):
        rows = np.flatnonzero(group.ravel() == g)
        table = au_from_landmarks(points[rows], neutral=rest[rows[0]])
        out[rows] = table[[au_column(au) for au in aus]].to_numpy()
    return out


def _moments(stats: np.ndarray):
    """Means, covariances and sds of summed statistics: (n, mean (k,), y_mean, cov (k, k), cov_y (k,), var_y, sd)."""
    k = _width(len(stats))
    n, sx, sy, sxx, sxy, syy = _unpack(stats, k)
    mean, y_mean = sx / n, sy / n
    cov = sxx / n - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    return n, mean, y_mean, cov, sxy / n - mean * y_mean, syy / n - y_mean ** 2, sd


def _fit(stats: np.ndarray, alpha: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Ridge coefficients b (k,) per SD, the unpenalised fit's R^2, and the AU correlation matrix (k, k).

    ``stats`` (3 + 2k + k*k,): n, sum x (k), sum y, sum x x^T (k*k), sum x y (k), sum y^2.
    AUs that do not vary get b = 0; R^2 is NaN when y does not vary.
    """
    _, mean, _, _, cov_y, var_y, sd = _moments(stats)
    corr, live = _correlation(stats)
    b = np.zeros(len(mean))
    if not live.any() or var_y <= 1e-12:
        return b, float("nan"), corr
    block, r = corr[np.ix_(live, live)], cov_y[live] / sd[live]
    b[live] = np.linalg.solve(block + alpha * np.eye(live.sum()), r)
    exact = np.linalg.pinv(block) @ r
    return b, float(min(1.0, exact @ r / var_y)), corr


def _correlation(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AU correlation matrix (k, k) of summed statistics (0 for AUs that do not vary) and which vary (k,)."""
    _, mean, _, cov, _, _, sd = _moments(stats)
    live = sd > 1e-6 * np.maximum(1.0, np.abs(mean))
    corr = np.zeros((len(mean), len(mean)))
    corr[np.ix_(live, live)] = np.clip(cov[np.ix_(live, live)] / np.outer(sd[live], sd[live]), -1, 1)
    return corr, live


def _held_out_errors(per_subject: np.ndarray, alpha: float) -> np.ndarray:
    """Leave-one-subject-out squared error of y per subject (S,), from per-subject statistics (S, length)."""
    total, errors = per_subject.sum(axis=0), np.empty(len(per_subject))
    k = _width(per_subject.shape[1])
    for s, stats in enumerate(per_subject):
        rest = total - stats
        b, _, _ = _fit(rest, alpha)
        _, mean, y_mean, _, _, _, sd = _moments(rest)
        slope = np.divide(b, sd, out=np.zeros_like(b), where=sd > 0)       # levels per intensity unit
        intercept = y_mean - mean @ slope
        n, sx, sy, sxx, sxy, syy = _unpack(stats, k)
        errors[s] = (syy - 2 * intercept * sy - 2 * slope @ sxy + n * intercept ** 2 + 2 * intercept * slope @ sx
                     + slope @ sxx @ slope)
    return errors


def choose_alpha(per_subject: np.ndarray) -> float:
    """The largest ALPHAS entry whose leave-one-subject-out error is within one standard error of the
    lowest (the one-standard-error rule, as for the core-AU k); DEFAULT_ALPHA with < 3 subjects."""
    if len(per_subject) < 3:
        return DEFAULT_ALPHA
    errors = np.array([_held_out_errors(per_subject, alpha) for alpha in ALPHAS])     # (alphas, subjects)
    totals = errors.sum(axis=1)
    best = int(np.argmin(totals))
    bar = totals[best] + np.sqrt(len(per_subject)) * errors[best].std(ddof=1)         # SE of the summed error
    return float(max(a for a, t in zip(ALPHAS, totals) if t <= bar))


def _width(length: int) -> int:
    """Number of AUs k from the statistics' length 3 + 2k + k^2."""
    return int(round(np.sqrt(length - 2) - 1))


def _unpack(stats: np.ndarray, k: int):
    n, sx, sy = stats[0], stats[1:1 + k], stats[1 + k]
    sxx = stats[2 + k:2 + k + k * k].reshape(k, k)
    sxy, syy = stats[2 + k + k * k:2 + 2 * k + k * k], stats[-1]
    return n, sx, sy, sxx, sxy, syy


class SurrogateAccumulator:
    """Running regression statistics of the model's expected level on AU intensities, by subject and level.

    Same reading interface as :class:`~auengine.engagement.EngagementAccumulator`
    (``engagement``, ``bootstrap``, ``n_images``, ``n_subjects``) plus ``tied_with`` and ``notes``.
    ``alpha``: a fixed ridge penalty instead of the cross-validated one (choose_alpha).
    """

    #: which images count, for messages ("counted images": every image does)
    counted = "counted"

    def __init__(self, rules: AURules, alpha: float | None = None) -> None:
        self.rules = rules
        self.aus = rules.aus
        self._stats: dict[tuple[str, int], np.ndarray] = {}
        self.fixed_alpha = alpha
        self._alpha: float | None = alpha

    def add(self, values: np.ndarray, *, outputs: np.ndarray, subjects=None, levels=None, correct=None) -> None:
        """Add intensities ``values`` (N, n_AUs) and the model's expected levels ``outputs`` (N,).

        Every image counts (``correct`` is accepted for the shared interface and ignored); rows
        with a NaN are skipped.
        """
        x = np.asarray(values, np.float64)
        y = np.asarray(outputs, np.float64)
        n = len(x)
        subjects = np.full(n, "all", object) if subjects is None else np.asarray(subjects, object)
        levels = np.full(n, -1) if levels is None else np.asarray(levels, int)
        for i in np.flatnonzero(~np.isnan(x).any(axis=1) & ~np.isnan(y)):
            row = np.concatenate([[1.0], x[i], [y[i]], np.outer(x[i], x[i]).ravel(), x[i] * y[i], [y[i] ** 2]])
            key = (str(subjects[i]), int(levels[i]))
            self._stats[key] = self._stats.get(key, 0) + row
        self._alpha = self.fixed_alpha

    @property
    def n_images(self) -> int:
        """Images counted so far."""
        return int(sum(s[0] for s in self._stats.values()))

    @property
    def n_subjects(self) -> int:
        """Subjects with at least one counted image (the bootstrap resamples these)."""
        return len({subject for subject, _ in self._stats})

    def _by_subject(self, level: int | None) -> np.ndarray:
        """Per-subject summed statistics (S, length)."""
        totals: dict[str, np.ndarray] = {}
        for (subject, lv), stats in self._stats.items():
            if level is None or lv == level:
                totals[subject] = totals.get(subject, 0) + stats
        if not totals:
            raise InputError("no image counted (no landmarks inside the crops, or no images)")
        return np.array([totals[s] for s in sorted(totals)])

    def alpha(self) -> float:
        """The ridge penalty: the fixed one, or chosen once on all counted images (choose_alpha)."""
        if self._alpha is None:
            self._alpha = choose_alpha(self._by_subject(None))
        return self._alpha

    def fit(self, level: int | None = None) -> tuple[pd.Series, float]:
        """Ridge coefficients b per AU (levels per SD of intensity, shrunk by alpha) and the unpenalised R^2."""
        b, r2, _ = _fit(self._by_subject(level).sum(axis=0), self.alpha())
        return pd.Series(b, index=self.aus), r2

    def engagement(self, level: int | None = None) -> pd.Series:
        """max(b, 0) normalised to sum 1, sorted high to low; all NaN when no AU raises the output."""
        b, _ = self.fit(level)
        positive = b.clip(lower=0)
        total = positive.sum()
        values = positive / total if total > 0 else positive * np.nan
        return values.rename("engagement").sort_values(ascending=False, kind="stable")

    def bootstrap(self, n_boot: int = 1000, seed: int = 0, level: int | None = None) -> pd.DataFrame:
        """Engagement with 95 % intervals from refitting on subjects resampled with replacement."""
        per_subject = self._by_subject(level)
        point = self.engagement(level)
        if point.isna().all():
            if not (_moments(per_subject.sum(axis=0))[-1] > 0).any():
                raise InputError("no ranking: no AU intensity varies (does each subject have several images, one "
                                 "of them at rest? the surrogate reads every image against its subject's least "
                                 "painful one)")
            raise InputError("no ranking: no AU intensity raises the model's expected level (all coefficients "
                             "<= 0); the model has probably not learned the levels: check its validation WA")
        rng = np.random.default_rng(seed)
        draws = np.empty((n_boot, len(self.aus)))
        for b in range(n_boot):
            pick = rng.integers(0, len(per_subject), len(per_subject))
            coef = _fit(per_subject[pick].sum(axis=0), self.alpha())[0].clip(0)
            draws[b] = coef / coef.sum() if coef.sum() > 0 else np.nan
        defined = pd.DataFrame(draws, columns=self.aus).dropna()
        return pd.DataFrame({"engagement": point, "low": defined.quantile(0.025)[point.index],
                             "high": defined.quantile(0.975)[point.index], "rank": np.arange(1, len(point) + 1)})

    def tied_with(self) -> pd.Series:
        """Per AU, the AUs whose intensities correlate (|r|) >= TIE_CORRELATION with it (";"-joined; pairs only)."""
        corr = _correlation(self._by_subject(None).sum(axis=0))[0]
        close = (np.abs(corr) >= TIE_CORRELATION) & ~np.eye(len(self.aus), dtype=bool)
        return pd.Series([";".join(self.aus[j] for j in np.flatnonzero(row)) for row in close],
                         index=self.aus, name="tied_with")

    def notes(self) -> list[tuple[str, str]]:
        """(headline, advice) when the AUs explain little of the model's output (R^2 < MIN_R2)."""
        _, r2 = self.fit()
        if np.isnan(r2) or r2 < MIN_R2:
            share = "none" if np.isnan(r2) else f"{max(r2, 0):.0%}"
            return [(f"the AU intensities explain {share} of the model's output (R^2 < {MIN_R2:.0%})",
                     "the model follows something the landmarks do not measure (texture, pose, light); "
                     "the ranking describes little of it")]
        return []
