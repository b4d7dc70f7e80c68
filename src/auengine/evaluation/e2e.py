"""Subject-wise cross-validation of an end-to-end pain CNN (paper Table III).

RUN/fold{k}/ holds the fold's model (safetensors + JSON), its split (subjects) and its
test predictions; RUN/metrics.csv the per-fold metrics, RUN/summary.csv mean ± std,
RUN/confusion.csv the summed confusion matrix.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from ..errors import InputError
from ..io.manifest import subject_folds, subject_split
from ..io.tables import atomic_write_json, write_table
from ..models.train import TrainConfig, predict_proba, train_model
from ..metrics import classification_metrics, summarize_folds
from ..progress import stage

INNER_VALIDATION = 0.15   # share of a training fold's subjects held out to pick the best epoch


def splits(table: pd.DataFrame, folds: int | str, seed: int = 0,
           stratified: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-wise (train, test) index pairs: k-fold, "loso", or 1 = one train/validation split.

    ``stratified``: StratifiedGroupKFold on the levels (shuffled with ``seed``) instead of GroupKFold.
    """
    if folds == "loso":
        return list(LeaveOneGroupOut().split(np.zeros(len(table)), groups=table["subject"].astype(str)))
    folds = int(folds)
    if folds == 1:
        return [subject_split(table, 0.2, seed)]
    if stratified:
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(table)), table["level"], groups=table["subject"].astype(str)))
    return subject_folds(table, folds)


def run_cv(table: pd.DataFrame, config: TrainConfig, out_dir: str | Path, folds: int | str = 5,
           progress: bool | None = None, stratified: bool = False) -> pd.DataFrame:
    """Train and test one model per subject-wise fold; returns per-fold metrics (WA, UA, P, R, F1)."""
    out_dir = Path(out_dir)
    n_levels = int(table["level"].max()) + 1
    if n_levels < 2:
        raise InputError("the manifest has a single pain level; nothing to classify")
    config = replace(config, n_levels=max(config.n_levels, n_levels))
    rows, matrices = [], []
    fold_splits = splits(table, folds, config.seed, stratified)
    for k, (train_idx, test_idx) in enumerate(fold_splits):
        fold_dir = out_dir / f"fold{k}"
        train, test = table.iloc[train_idx], table.iloc[test_idx]
        stage(f"{config.backbone} fold {k + 1}/{len(fold_splits)}: {len(train)} training, {len(test)} test images")
        if folds in (1, "1"):
            inner_train, inner_val = train, test          # one split: the validation subjects pick the epoch
        else:
            a, b = subject_split(train, INNER_VALIDATION, config.seed + k)
            inner_train, inner_val = train.iloc[a], train.iloc[b]
        model, history = train_model(inner_train, inner_val, config, fold_dir, progress)
        probabilities = predict_proba(model, test, config, progress)
        predicted = probabilities.argmax(axis=1)
        write_table(history, fold_dir / "history.csv")
        write_table(pd.DataFrame({"path": test["path"].to_numpy(), "subject": test["subject"].to_numpy(),
                                  "level": test["level"].to_numpy(), "predicted": predicted,
                                  **{f"p{c}": probabilities[:, c] for c in range(config.n_levels)}}),
                    fold_dir / "predictions.csv")
        atomic_write_json(fold_dir / "split.json", {"train_subjects": sorted(set(train["subject"].astype(str))),
                                                    "test_subjects": sorted(set(test["subject"].astype(str)))})
        rows.append({"fold": k, **classification_metrics(test["level"], predicted, labels=range(config.n_levels)),
                     "n_test": len(test)})
        matrices.append(confusion_matrix(test["level"], predicted, labels=range(config.n_levels)))
    per_fold = pd.DataFrame(rows)
    write_table(per_fold, out_dir / "metrics.csv")
    write_table(summarize_folds(per_fold).reset_index(names="stat"), out_dir / "summary.csv")
    confusion = pd.DataFrame(np.sum(matrices, axis=0), index=[f"true_{c}" for c in range(config.n_levels)],
                             columns=[f"pred_{c}" for c in range(config.n_levels)])
    write_table(confusion.reset_index(names="level"), out_dir / "confusion.csv")
    return per_fold
