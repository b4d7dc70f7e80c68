"""Run a transfer classifier on a manifest, subject-wise, into the `auengine evaluate` table format.

Methods (frame-level pain / no pain; pain = level >= ``pain_from``):
  features      deep features (+ handcrafted) -> selection -> NB / kNN / SVM / RF (Zamzmi et al.)
  fc-head       backbone + FC512-...-FC2 head, manual assessment branch (Zhao et al.)
  vgg-finetune  VGG16, frozen early blocks, GAP + dense 2048/1024 head, class weights, L1,
                early stopping on validation loss, StratifiedGroupKFold (thesis)

Each writes OUT/results.csv (method, fold, WA, UA, P, R, F1, AUC) and OUT/results.md.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..evaluation.e2e import run_cv, splits
from ..metrics import METRICS, classification_metrics
from ..io.media import read_image
from ..io.tables import atomic_write_bytes, write_table
from ..models.train import TrainConfig
from .classical import Configuration, auc, configurations, evaluate_configurations
from .deferral import TAUS, deferral_curve, deferral_table
from .features import deep_features, feature_layer, feature_model
from .handcrafted import PEAK_STATS, REGIONS, hog_features, lbp_histogram, strain_features, strain_names

METHODS = ("features", "fc-head", "vgg-finetune")
#: the papers' settings as TrainConfig changes (epochs, lr and size stay the caller's)
CNN_PRESETS = {
    "fc-head": dict(backbone="resnet50", head="fc512", augment="zhao", defer_below=0.55),
    "vgg-finetune": dict(backbone="vgg16", head="gap2048", augment="thesis", freeze=3, class_weights=True,
                         l1=1e-5, patience=15, metric="loss"),
}
STRAIN_WINDOW = 5      # frames on each side of a frame whose strain features describe it


def binary_table(table: pd.DataFrame, pain_from: int | None = None) -> pd.DataFrame:
    """The manifest with ``level`` replaced by pain (1) / no pain (0); the original kept as ``level_full``."""
    n_levels = int(table["level"].max()) + 1
    threshold = pain_from if pain_from is not None else (1 if n_levels <= 2 else -(-n_levels // 2))
    if not 1 <= threshold < max(n_levels, 2):
        raise InputError(f"--pain-from-level {threshold} leaves one class only (levels 0-{n_levels - 1})")
    return table.assign(level_full=table["level"], level=(table["level"] >= threshold).astype(int))


def handcrafted_matrix(table: pd.DataFrame, kinds: list[str], size: int = 112) -> tuple[np.ndarray, list[str]]:
    """Per-row handcrafted features: "strain" (window of the row's sequence; zeros for stills), "lbp", "hog"."""
    unknown = set(kinds) - {"strain", "lbp", "hog"}
    if unknown:
        raise InputError(f"unknown handcrafted features {sorted(unknown)}; use strain, lbp, hog")
    greys = [_grey(path, size) for path in table["abspath"]]
    parts, names = [], []
    if "strain" in kinds:
        parts.append(_strain_per_row(table, greys))
        names += strain_names()
    for kind, function in (("lbp", lbp_histogram), ("hog", hog_features)):
        if kind in kinds:
            parts.append(np.array([function(g) for g in greys]))
            names += [f"{kind}_{i}" for i in range(parts[-1].shape[1])]
    return np.concatenate(parts, axis=1), names


def _grey(path: str, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(cv2.cvtColor(read_image(path), cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA)


def _strain_per_row(table: pd.DataFrame, greys: list[np.ndarray]) -> np.ndarray:
    out = np.zeros((len(table), len(REGIONS) * len(PEAK_STATS)))
    sequences = table["sequence"].fillna("").astype(str) if "sequence" in table.columns else pd.Series("", table.index)
    frames = table["frame"].to_numpy() if "frame" in table.columns else np.zeros(len(table))
    for name in sequences.unique():
        if not name:
            continue
        members = np.flatnonzero(sequences.to_numpy() == name)
        members = members[np.argsort(frames[members], kind="stable")]
        for position, row in enumerate(members):
            window = members[max(0, position - STRAIN_WINDOW): position + STRAIN_WINDOW + 1]
            out[row] = strain_features([greys[i] for i in window])
    return out


def run_features(table: pd.DataFrame, out_dir: str | Path, *, layers=("vgg16-fc7-postrelu",), handcrafted=(),
                 weights: str | None = "imagenet", folds: int | str = 5, size: int = 224, seed: int = 0,
                 configs: list[Configuration] | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Zamzmi et al.'s pipeline for each feature set; per-configuration and best-configuration tables."""
    out_dir = Path(out_dir)
    y = table["level"].to_numpy(int)
    groups = table["subject"].astype(str).to_numpy()
    fold_pairs = splits(table, folds, seed)
    configs = configs or configurations()
    sets, notes = {}, {}
    for name in layers:
        spec = feature_layer(name)
        model, init = feature_model(spec, weights)
        sets[name] = deep_features(model, spec, table, size=size, progress=progress)
        notes[name] = init
    if handcrafted:
        label = "+".join(handcrafted)
        sets[label], _ = handcrafted_matrix(table, list(handcrafted))
        notes[label] = "handcrafted"
        for name in layers:
            sets[f"{name} + {label}"] = np.concatenate([sets[name], sets[label]], axis=1)
            notes[f"{name} + {label}"] = notes[name]
    per_config, results = [], []
    for name, X in sets.items():
        table_configs, best = evaluate_configurations(X, y, groups, fold_pairs, configs, progress=progress)
        per_config.append(table_configs.assign(features=name, init=notes[name]))
        for _, row in best.iterrows():
            test = row["test_index"]
            results.append({"method": f"features: {name}", "fold": int(row["fold"]), "config": row["config"],
                            **classification_metrics(y[test], row["predicted"], labels=[0, 1]), "AUC": row["auc"],
                            "init": notes[name]})
    configs_table = pd.concat(per_config, ignore_index=True)
    write_table(configs_table, out_dir / "configurations.csv")
    return _finish(pd.DataFrame(results), out_dir, configs_table)


def run_cnn(method: str, table: pd.DataFrame, out_dir: str | Path, config: TrainConfig, *, folds: int | str = 5,
            backbone: str | None = None, stratified: bool | None = None, taus=TAUS,
            progress: bool | None = None) -> pd.DataFrame:
    """Zhao et al.'s FC-head classifier or the thesis's fine-tuned VGG16, subject-wise; deferral for fc-head.

    ``config`` gives epochs, lr, size, weights and seed; the method's preset sets the rest
    (``backbone`` overrides the preset's: resnet50 / vgg16). ``stratified`` None: the
    thesis's StratifiedGroupKFold for vgg-finetune, GroupKFold for fc-head; False shares
    GroupKFold folds with the other methods.
    """
    if method not in CNN_PRESETS:
        raise InputError(f"unknown CNN method {method!r}; choose one of: {', '.join(CNN_PRESETS)}")
    out_dir = Path(out_dir)
    config = replace(config, n_levels=2, **CNN_PRESETS[method])
    if backbone:
        config = replace(config, backbone=backbone)
    per_fold = run_cv(table, config, out_dir / "run", folds=folds, progress=progress,
                      stratified=method == "vgg-finetune" if stratified is None else stratified)
    predictions = pd.concat([pd.read_csv(p).assign(fold=int(p.parent.name[4:]))
                             for p in sorted((out_dir / "run").glob("fold*/predictions.csv"))], ignore_index=True)
    aucs = predictions.groupby("fold").apply(lambda f: auc(f["level"].to_numpy(), f["p1"].to_numpy()),
                                             include_groups=False)
    init = _init_note(out_dir / "run")
    results = per_fold.assign(method=method, AUC=per_fold["fold"].map(aucs), init=init)
    if method == "fc-head":
        deferral = deferral_table(predictions[["p0", "p1"]].to_numpy(), predictions["level"].to_numpy(), taus)
        write_table(deferral, out_dir / "deferral.csv")
        deferral_curve(deferral, out_dir / "deferral.png", f"Manual assessment branch ({config.backbone}, {init})")
    return _finish(results, out_dir)


def _init_note(run: Path) -> str:
    import json

    notes = {json.loads(p.read_text()).get("init", "?") for p in run.glob("fold*/model.json")}
    return ", ".join(sorted(notes))


def _finish(results: pd.DataFrame, out_dir: Path, configs_table: pd.DataFrame | None = None) -> pd.DataFrame:
    results = results.assign(experiment="cross-validation", dataset="train")
    write_table(results, out_dir / "results.csv")
    atomic_write_bytes(out_dir / "results.md", results_markdown(results, configs_table).encode())
    return results


def results_markdown(results: pd.DataFrame, configs_table: pd.DataFrame | None = None) -> str:
    """Mean ± std per method (the evaluate layout plus AUC) and, for feature pipelines, the per-config table."""
    columns = [*METRICS, "AUC"]
    lines = ["| Method | init | folds | " + " | ".join(columns) + " |", "|---|---|---|" + "---|" * len(columns)]
    for method, rows in results.groupby("method", sort=False):
        cells = [f"{rows[c].mean():.3f} ± {rows[c].std(ddof=0):.3f}" for c in columns]
        lines.append(f"| {method} | {rows['init'].iloc[0]} | {len(rows)} | " + " | ".join(cells) + " |")
    if configs_table is not None:
        lines += ["", "Per configuration (Zamzmi et al. Tables 5-7 layout: accuracy / AUC, mean over test folds; "
                      "best by test accuracy shown first):", "",
                  "| Features | best configurations |", "|---|---|"]
        for name, part in configs_table.groupby("features", sort=False):
            means = part.groupby("config")[["accuracy", "auc"]].mean().sort_values("accuracy", ascending=False)
            top = "; ".join(f"{c}: {r.accuracy:.3f} / {r.auc:.3f}" for c, r in means.head(3).iterrows())
            lines.append(f"| {name} | {top} |")
    return "\n".join(lines) + "\n"
