"""Classification metrics in the paper's Table III columns.

WA: weighted accuracy = overall accuracy; UA: unweighted accuracy = mean per-class
recall; P, R, F1: support-weighted precision, recall and F1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

METRICS = ["WA", "UA", "P", "R", "F1"]


def classification_metrics(y_true, y_pred, labels=None) -> dict[str, float]:
    """WA, UA, weighted P/R/F1 for one fold. Classes absent from y_true do not enter UA."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    support = matrix.sum(axis=1)
    recalls = np.diag(matrix)[support > 0] / support[support > 0]
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted",
                                                               zero_division=0)
    return {"WA": float((y_true == y_pred).mean()), "UA": float(recalls.mean()), "P": float(precision),
            "R": float(recall), "F1": float(f1)}


def summarize_folds(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over folds of each metric column (rows: mean, std)."""
    columns = [c for c in METRICS if c in per_fold.columns]
    return pd.DataFrame({"mean": per_fold[columns].mean(), "std": per_fold[columns].std(ddof=0)}).T


def format_mean_std(summary: pd.DataFrame, digits: int = 3) -> dict[str, str]:
    """'0.712 ± 0.031' strings per metric from :func:`summarize_folds`."""
    return {c: f"{summary.loc['mean', c]:.{digits}f} ± {summary.loc['std', c]:.{digits}f}" for c in summary.columns}
