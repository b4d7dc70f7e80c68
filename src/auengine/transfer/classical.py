"""Feature selection + classical classifiers on subject-wise folds (Zamzmi et al., Tables 5-7).

A configuration is (selector, k, classifier): ReliefF or Symmetric Uncertainty keeping
the top 5, 10 or 15 features, then Naive Bayes, kNN, SVM or Random Forest. Every
fitted step (scaling, selection, classifier) sees the training fold only. Per outer
fold, the configuration reported as "best" is chosen by an inner subject-wise CV on
that training fold; the per-configuration table (accuracy and AUC on the test folds)
is reported too, as in the paper's tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from .selection import ReliefFSelector, SymmetricUncertaintySelector
from ..progress import bar

CLASSIFIERS = {
    "NB": GaussianNB(),
    "kNN": KNeighborsClassifier(n_neighbors=5),
    "SVM": SVC(kernel="rbf", C=1.0, gamma="scale"),
    "RF": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
}
#: selectors rank all features; k only cuts the ranking
SELECTORS = {"ReliefF": ReliefFSelector(n_samples=300), "SU": SymmetricUncertaintySelector()}
TOP_K = (5, 10, 15)


@dataclass(frozen=True)
class Configuration:
    selector: str
    k: int
    classifier: str

    @property
    def name(self) -> str:
        return f"{self.selector}({self.k}) + {self.classifier}"


def configurations(selectors=tuple(SELECTORS), top_k=TOP_K, classifiers=tuple(CLASSIFIERS)) -> list[Configuration]:
    """Every (selector, k, classifier) combination."""
    return [Configuration(s, k, c) for s in selectors for k in top_k for c in classifiers]


def pipeline(config: Configuration) -> Pipeline:
    """Scaler -> selector (top k) -> classifier, unfitted."""
    selector = clone(SELECTORS[config.selector]).set_params(k=config.k)
    return Pipeline([("scale", StandardScaler()), ("select", selector), ("classify", clone(CLASSIFIERS[config.classifier]))])


def pain_score(model: Pipeline, X: np.ndarray) -> np.ndarray:
    """A score that orders frames by pain (for AUC): P(pain) or the SVM's decision value."""
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        return proba[:, list(model.classes_).index(1)] if 1 in model.classes_ else np.zeros(len(X))
    return model.decision_function(X)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, NaN when the fold has one class only."""
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def fit_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                configs: list[Configuration]) -> dict[Configuration, tuple[np.ndarray, np.ndarray]]:
    """Predicted labels and pain scores on ``X_test`` for every configuration, fitted on the training rows only.

    Equivalent to fitting :func:`pipeline` per configuration, but the scaler and each
    selector's ranking are fitted once and shared by all k and classifiers.
    """
    scaler = StandardScaler().fit(X_train)
    train, test = scaler.transform(X_train), scaler.transform(X_test)
    rankings = {name: clone(SELECTORS[name]).fit(train, y_train).ranking_ for name in {c.selector for c in configs}}
    out = {}
    for config in configs:
        columns = rankings[config.selector][: config.k]
        model = clone(CLASSIFIERS[config.classifier]).fit(train[:, columns], y_train)
        out[config] = (model.predict(test[:, columns]), pain_score(model, test[:, columns]))
    return out


def evaluate_configurations(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds, configs: list[Configuration],
                            inner_folds: int = 3, progress: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-configuration test accuracy/AUC per fold, and the configuration an inner CV picks per fold.

    Returns (table: config, fold, accuracy, auc; best: the same columns for the chosen
    configuration plus inner_accuracy, test_index and predicted).
    """
    rows, best_rows = [], []
    for fold, (train, test) in enumerate(bar(folds, desc="folds", progress=progress)):
        inner = _inner_accuracy(X[train], y[train], groups[train], configs, inner_folds)
        chosen = max(configs, key=lambda c: inner[c])
        for config, (predicted, score) in fit_predict(X[train], y[train], X[test], configs).items():
            row = {"config": config.name, "fold": fold, "accuracy": float((predicted == y[test]).mean()),
                   "auc": auc(y[test], score)}
            rows.append(row)
            if config == chosen:
                best_rows.append({**row, "inner_accuracy": inner[config], "test_index": test, "predicted": predicted})
    return pd.DataFrame(rows), pd.DataFrame(best_rows)


def _inner_accuracy(X, y, groups, configs, n_folds) -> dict[Configuration, float]:
    """Mean inner-CV accuracy per configuration on one training fold (subject-wise)."""
    n_folds = min(n_folds, len(np.unique(groups)))
    scores = {c: [] for c in configs}
    for train, test in GroupKFold(n_folds).split(X, y, groups):
        for config, (predicted, _) in fit_predict(X[train], y[train], X[test], configs).items():
            scores[config].append(float((predicted == y[test]).mean()))
    return {c: float(np.mean(v)) for c, v in scores.items()}
