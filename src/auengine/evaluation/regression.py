"""AU-based methods on subject-wise folds: core-AU selection (paper Fig. 6) and Table IV rows.

All functions take an AU table aligned with the manifest rows (AU01_r... columns, one
row per manifest row), the manifest (subject, score, level, scale) and the fold index
pairs of :func:`auengine.evaluation.e2e.splits`, so every method sees the same folds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from ..au.pspi import PSPIClassifier
from ..columns import au_column
from ..errors import InputError
from ..estimators.aueipa import AuEIPARegressor, smooth_l1
from ..metrics import classification_metrics
from ..progress import bar

Folds = list[tuple[np.ndarray, np.ndarray]]


def training_scale(table: pd.DataFrame) -> str:
    """The one pain scale of a manifest (AU regressors learn its scores)."""
    scales = table["scale"].dropna().astype(str).str.lower().unique() if "scale" in table.columns else []
    if len(scales) != 1 or "score" not in table.columns:
        raise InputError("the AU regressor needs one `scale` and a `score` per row in the training manifest "
                         f"(found scales: {', '.join(map(str, scales)) or 'none'})")
    return str(scales[0])


def core_au_sweep(aus: pd.DataFrame, table: pd.DataFrame, folds: Folds, ranking: pd.Series, *,
                  params: dict | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Test loss of the unweighted MLP on the top-k AUs of ``ranking`` for k = 1..len(ranking).

    Returns one row per k: k, aus (comma-joined), loss (mean over folds), loss_std, n_folds.
    """
    scale = training_scale(table)
    rows = []
    for k in bar(range(1, len(ranking) + 1), desc="core-AU sweep", progress=progress):
        chosen = list(ranking.index[:k])
        losses = [float(smooth_l1(fit_mlp(aus, table, train, chosen, None, scale, params).predict(aus.iloc[test])
                                  - table["score"].to_numpy(float)[test]).mean()) for train, test in folds]
        rows.append({"k": k, "aus": ",".join(chosen), "loss": float(np.mean(losses)), "loss_std": float(np.std(losses)),
                     "n_folds": len(losses)})
    return pd.DataFrame(rows)


def best_k(sweep: pd.DataFrame, rule: str = "1se", n_folds: int | None = None) -> int:
    """k* from a sweep.

    "min": the k with the lowest mean test loss (the paper's choice, Fig. 6).
    "1se": the smallest k whose mean loss is within one standard error (std over folds /
    sqrt(n_folds)) of the lowest, the one-standard-error rule (Breiman et al. 1984;
    Hastie et al., ESL 7.10): fewer AUs when more do not help beyond fold-to-fold noise.
    """
    best = sweep.loc[sweep["loss"].idxmin()]
    if rule == "min":
        return int(best["k"])
    if rule != "1se":
        raise InputError(f"unknown k* rule {rule!r}; use 'min' or '1se'")
    if n_folds is None:
        n_folds = int(sweep["n_folds"].iloc[0]) if "n_folds" in sweep.columns else 1
    threshold = best["loss"] + best["loss_std"] / np.sqrt(max(n_folds, 1))
    return int(sweep.loc[sweep["loss"] <= threshold, "k"].min())


def fit_mlp(aus: pd.DataFrame, table: pd.DataFrame, rows: np.ndarray, chosen: list[str], engagement,
            scale: str, params: dict | None = None) -> AuEIPARegressor:
    """An AuE-IPA regressor on ``chosen`` AUs, fitted on ``rows``; ``engagement`` None = unweighted."""
    model = AuEIPARegressor(aus=chosen, engagement=None if engagement is None else engagement[chosen],
                            weighted=engagement is not None, scale=scale, **(params or {}))
    return model.fit(aus.iloc[rows], table["score"].to_numpy(float)[rows])


def aueipa_method(k: int) -> str:
    """The name of AuE-IPA's row in Table IV (the k* AUs, engagement-weighted)."""
    return f"{k} AU with weight (AuE-IPA)"


def au_methods(ranking: pd.Series, k: int) -> dict[str, tuple[list[str], bool]]:
    """The AU rows of Table IV: name -> (AUs, weighted); the last one is AuE-IPA (:func:`aueipa_method`)."""
    top = list(ranking.index[:k])
    everything = list(ranking.index)
    return {f"{len(everything)} AU": (everything, False), f"{k} AU": (top, False), aueipa_method(k): (top, True)}


def fold_metrics(aus: pd.DataFrame, table: pd.DataFrame, folds: Folds, ranking: pd.Series, k: int, *,
                 params: dict | None = None, level_map: dict[int, int] | None = None,
                 progress: bool | None = None) -> pd.DataFrame:
    """Per-fold WA/UA/P/R/F1 of PSPI and the three AU MLPs (long format: method, fold, metrics).

    ``level_map`` (e.g. {0: 0, 1: 0, 2: 1, 3: 1} for pain = level >= 2) maps the true and
    the predicted levels before scoring, to compare with binary classifiers.
    """
    scale = training_scale(table)
    lookup = (lambda v: np.asarray(v, int)) if level_map is None else \
        (lambda v: np.array([level_map[int(x)] for x in v], dtype=int))
    levels = lookup(table["level"].to_numpy(int))
    labels = np.arange(int(levels.max()) + 1)
    rows = []
    for fold, (train, test) in enumerate(bar(folds, desc="AU methods", leave=False, progress=progress)):
        pspi_model = PSPIClassifier(scale=scale).fit(aus.iloc[train], table["score"].to_numpy(float)[train])
        predictions = {"PSPI": pspi_model.predict_level(aus.iloc[test])}
        for name, (chosen, weighted) in au_methods(ranking, k).items():
            model = fit_mlp(aus, table, train, chosen, ranking if weighted else None, scale, params)
            predictions[name] = model.predict_level(aus.iloc[test])
        for name, predicted in predictions.items():
            rows.append({"method": name, "fold": fold, **classification_metrics(levels[test], lookup(predicted), labels)})
    return pd.DataFrame(rows)


def require_aus(aus: pd.DataFrame, wanted) -> None:
    """Refuse an AU table that lacks the wanted AUs, naming them."""
    missing = [au for au in wanted if au_column(au) not in aus.columns]
    if missing:
        raise InputError(f"the AU table lacks {', '.join(missing)}; compute AUs for the manifest with `auengine aus`")
