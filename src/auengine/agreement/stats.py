"""Agreement statistics of paired scores, from well-kept implementations.

- ICC(2,1) (two-way random, absolute agreement, single rater) and ICC(3,1) (two-way mixed,
  consistency, single rater) with 95 % intervals: pingouin ``intraclass_corr`` (Shrout & Fleiss
  1979; McGraw & Wong 1996 intervals), unrounded;
- quadratic-weighted Cohen's kappa on the scale's levels: scikit-learn ``cohen_kappa_score``;
- Pearson and Spearman r: scipy.stats (Pearson with its Fisher-z 95 % interval);
- Bland-Altman (rater - reference): bias, SD of the differences, limits of agreement
  bias +/- 1.96 SD, and the bias's 95 % t interval;
- sensitivity, specificity at the scale's pain threshold (its first level edge; reference >= threshold
  is pain) and the AUC of the rater's continuous score: scikit-learn ``confusion_matrix``, ``roc_auc_score``.

A statistic that is undefined on the data (fewer than 3 items, no variance, one class only) is
NaN and the reason is listed in ``notes``: never a made-up number.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..scales import PainScale

MIN_ITEMS = 3
LOA_Z = 1.96


def icc(ratings: np.ndarray) -> dict[str, float]:
    """ICC(2,1) and ICC(3,1) with 95 % intervals of an (n_items, k_raters) matrix (no missing values).

    Returns keys ``icc2_1, icc2_1_low, icc2_1_high, icc3_1, icc3_1_low, icc3_1_high``.
    """
    import pingouin

    ratings = np.asarray(ratings, dtype=float)
    n, k = ratings.shape
    long = pd.DataFrame({"item": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "score": ratings.ravel()})
    saved = pingouin.options.copy()
    pingouin.options.update({key: None for key in list(pingouin.options) if key.startswith("round")})
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="The inplace keyword")     # pingouin on pandas 3
            table = pingouin.intraclass_corr(long, targets="item", raters="rater", ratings="score").set_index("Type")
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)
    out = {}
    for name, row in (("icc2_1", "ICC(A,1)"), ("icc3_1", "ICC(C,1)")):
        low, high = table.at[row, "CI95"]
        out.update({name: float(table.at[row, "ICC"]), f"{name}_low": float(low), f"{name}_high": float(high)})
    return out


def agreement_stats(rater: np.ndarray, reference: np.ndarray, scale: PainScale,
                    threshold: float | None = None) -> tuple[dict[str, float], list[str]]:
    """All statistics of one rater against a reference on the same items.

    Parameters
    ----------
    rater, reference : (n,) scores on ``scale`` (rater: e.g. the engine's mean intensity; reference: an observer)
    threshold : pain threshold (default: the scale's first edge)

    Returns
    -------
    stats : dict of floats (n, ICCs with intervals, kappa, r's, Bland-Altman, sensitivity, specificity, AUC)
    notes : why some statistics are NaN
    """
    from scipy import stats
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score

    x, y = np.asarray(rater, dtype=float), np.asarray(reference, dtype=float)
    threshold = scale.edges[0] if threshold is None else threshold
    n = len(x)
    out: dict[str, float] = dict.fromkeys(STAT_NAMES, np.nan)
    out.update(n=n, threshold=threshold)
    notes: list[str] = []
    if n < MIN_ITEMS:
        return out, [f"only {n} paired item(s); statistics need at least {MIN_ITEMS}"]
    differences = x - y
    sd = float(np.std(differences, ddof=1))
    t = stats.t.ppf(0.975, n - 1)
    out.update(bias=float(differences.mean()), sd_diff=sd, loa_low=float(differences.mean() - LOA_Z * sd),
               loa_high=float(differences.mean() + LOA_Z * sd), bias_low=float(differences.mean() - t * sd / np.sqrt(n)),
               bias_high=float(differences.mean() + t * sd / np.sqrt(n)),
               mean_rater=float(x.mean()), mean_reference=float(y.mean()))
    both = np.column_stack([x, y])
    if np.ptp(both) == 0:
        notes.append("all scores are equal: ICC undefined")
    else:
        out.update(icc(both))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        notes.append("one rater's scores do not vary: correlations undefined")
    else:
        pearson = stats.pearsonr(x, y)
        interval = pearson.confidence_interval(0.95)
        out.update(pearson_r=float(pearson.statistic), pearson_low=float(interval.low),
                   pearson_high=float(interval.high), pearson_p=float(pearson.pvalue),
                   spearman_r=float(stats.spearmanr(x, y).statistic))
    levels_x = scale.level(np.clip(x, scale.low, scale.high))
    levels_y = scale.level(np.clip(y, scale.low, scale.high))
    if len(np.union1d(levels_x, levels_y)) < 2:
        notes.append("every item has the same level: kappa undefined")
    else:
        out["kappa_quadratic"] = float(cohen_kappa_score(levels_x, levels_y, weights="quadratic",
                                                         labels=np.arange(scale.n_levels)))
    truth, called = y >= threshold, x >= threshold
    tn, fp, fn, tp = confusion_matrix(truth, called, labels=[False, True]).ravel()
    out.update(positives=int(tp + fn), negatives=int(tn + fp))
    if tp + fn:
        out["sensitivity"] = tp / (tp + fn)
    if tn + fp:
        out["specificity"] = tn / (tn + fp)
    if tp + fn and tn + fp:
        out["auc"] = float(roc_auc_score(truth, x))
    else:
        notes.append(f"the reference has only {'pain' if tp + fn else 'no-pain'} items at threshold {threshold:g}: "
                     "AUC and one of sensitivity/specificity undefined")
    return out, notes


STAT_NAMES = ["n", "icc2_1", "icc2_1_low", "icc2_1_high", "icc3_1", "icc3_1_low", "icc3_1_high", "kappa_quadratic",
              "pearson_r", "pearson_low", "pearson_high", "pearson_p", "spearman_r", "bias", "bias_low", "bias_high",
              "sd_diff", "loa_low", "loa_high", "mean_rater", "mean_reference", "threshold", "positives", "negatives",
              "sensitivity", "specificity", "auc"]
