"""Zhao et al.'s manual assessment branch: defer a frame to a nurse when max softmax < tau.

For each tau: accuracy on the frames the model decides; overall accuracy when the
deferred frames are taken as correctly judged by the human; number and share deferred.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TAUS = tuple(np.round(np.arange(0.50, 0.951, 0.05), 2))


def deferral_table(probabilities: np.ndarray, labels: np.ndarray, taus=TAUS) -> pd.DataFrame:
    """One row per tau for softmax outputs (N, n_classes) and true labels (N,)."""
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels, dtype=int)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    rows = []
    for tau in taus:
        deferred = confidence < tau
        decided = ~deferred
        rows.append({"tau": float(tau), "n_decided": int(decided.sum()),
                     "accuracy_decided": float(correct[decided].mean()) if decided.any() else float("nan"),
                     "overall_accuracy": float((correct | deferred).mean()) if len(labels) else float("nan"),
                     "n_deferred": int(deferred.sum()),
                     "share_deferred": float(deferred.mean()) if len(labels) else float("nan")})
    return pd.DataFrame(rows)


def deferral_curve(table: pd.DataFrame, path: str | Path, title: str = "Manual assessment branch") -> Path:
    """Accuracy (decided, overall) and share deferred against tau, as a PNG."""
    from ..report.figures import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=120)
    ax.plot(table["tau"], table["accuracy_decided"], "o-", label="accuracy on decided frames")
    ax.plot(table["tau"], table["overall_accuracy"], "s-", label="overall (deferred judged by a nurse)")
    ax.plot(table["tau"], table["share_deferred"], "^--", color="grey", label="share deferred")
    ax.set_xlabel("threshold tau on max softmax")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return save_figure(fig, path)
