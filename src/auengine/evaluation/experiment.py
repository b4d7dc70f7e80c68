"""The paper's experiments on any manifest: Table IV (subject-wise folds) and Tables V-VI (unseen sets).

``evaluate`` runs, on one training manifest: the end-to-end CNNs (train-e2e), the
Grad-CAM engagement ranking, the core-AU sweep (Fig. 6), PSPI and the AU MLPs on the
same subject-wise folds; then, for each test manifest, every method trained on the
training manifest and applied without fine-tuning. It returns an :class:`Evaluation`, whose ``write`` puts into OUT:

  results.csv          long table: experiment, dataset, method, fold, WA, UA, P, R, F1
  results.md           the tables in the paper's layout (mean ± std over folds)
  core_aus.csv/.png    the Fig. 6 sweep
and ``evaluate`` itself writes the training runs:

  engagement/          ranking, chart and overlays (from the first backbone)
  e2e/<backbone>/      the CNN runs

``Evaluation.save_bundle`` writes the AuE-IPA regressor trained on the whole training manifest.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..au.backends import GeometryBackend
from ..au.pspi import PSPIClassifier
from ..au.rules import load_rules
from ..columns import LANDMARK_COLUMNS
from ..errors import InputError
from ..io.au_tables import read_au_table
from ..io.tables import write_table
from ..models.train import TrainConfig, load_model, predict_proba
from ..progress import stage
from ..scales import get_scale
from .e2e import run_cv, splits
from .engagement_run import fold_dirs, run_engagement
from .generalization import default_level_map, describe_level_map, map_levels, parse_level_map
from ..metrics import METRICS, classification_metrics
from .regression import (au_methods, aueipa_method, best_k, core_au_sweep, fit_mlp, fold_metrics, require_aus,
                         training_scale)


@dataclass
class EvaluationConfig:
    """What ``evaluate`` runs; defaults are the paper's."""

    backbones: tuple[str, ...] = ("resnet18",)
    e2e: TrainConfig = TrainConfig()
    folds: int | str = 5                 # subject-wise folds for the AU methods (and the CNNs unless e2e_folds)
    e2e_folds: int | str | None = None   # e.g. 1 for one split when CNN training time is short
    rules: str = "infant"
    level_map: str | None = None         # "0:0,1:1,2:1,3:1"; default: see generalization.py
    mlp: dict | None = None              # AuEIPARegressor hyper-parameters (paper defaults otherwise)
    k_rule: str = "1se"                  # k* from the sweep: "1se" (fewest AUs within one SE) or "min" (paper)
    n_boot: int = 1000
    seed: int = 0


@dataclass
class Evaluation:
    """What :func:`evaluate` found: the tables, the ranking, k* and the models fitted on all training rows.

    Attributes
    ----------
    results : DataFrame
        Long table: experiment, dataset, method, fold, WA, UA, P, R, F1 (level_map for unseen sets).
    sweep : DataFrame
        The core-AU sweep (Fig. 6): k, aus, loss, loss_std.
    k : int
        k*, the number of core AUs chosen by ``k_rule``.
    ranking : Series
        AU -> engagement, highest first.
    models : dict
        Method name -> fitted estimator (PSPI and the AU MLPs), all with ``predict_level``.
    cnn_dirs : dict
        Backbone -> its train-e2e run folder.
    scale : str
        The training manifest's pain scale.
    """

    results: pd.DataFrame
    sweep: pd.DataFrame
    k: int
    k_rule: str
    ranking: pd.Series
    models: dict
    cnn_dirs: dict
    scale: str

    @property
    def aueipa(self):
        """The AuE-IPA regressor (k* AUs, engagement-weighted), fitted on the whole training set."""
        return self.models[aueipa_method(self.k)]

    @property
    def core_aus(self) -> list[str]:
        """The k* core AUs, highest engagement first."""
        return list(self.ranking.index[:self.k])

    def markdown(self) -> str:
        """The paper's tables (IV; V-VI per test set) as Markdown."""
        return results_markdown(self.results, self.k, self.k_rule)

    def write(self, out_dir: str | Path, *, sweep_title: str | None = None) -> dict[str, Path]:
        """Write results.csv, results.md, core_aus.csv and core_aus.png into ``out_dir``; returns their paths."""
        from ..io.tables import atomic_write_bytes
        from ..report.figures import core_au_curve

        out_dir = Path(out_dir)
        paths = {"results": write_table(self.results, out_dir / "results.csv"),
                 "markdown": atomic_write_bytes(out_dir / "results.md", self.markdown().encode()),
                 "sweep": write_table(self.sweep, out_dir / "core_aus.csv")}
        paths["sweep_figure"] = core_au_curve(self.sweep, self.k, out_dir / "core_aus.png",
                                              sweep_title or "Core-AU selection")
        return paths

    def save_bundle(self, folder: str | Path, train: pd.DataFrame, *, rules: str = "infant",
                    preprocessing: dict | None = None, synthetic: bool | None = None) -> Path:
        """Write the AuE-IPA model as a bundle (JSON + safetensors); ``synthetic`` defaults to "all rows are phantom"."""
        from ..bundle import save_bundle

        if synthetic is None:
            synthetic = bool("dataset" in train.columns and train["dataset"].astype(str).eq("phantom").all())
        summary = {"synthetic": synthetic, "rows": len(train), "subjects": int(train["subject"].nunique()),
                   "datasets": sorted(train["dataset"].dropna().astype(str).unique()) if "dataset" in train.columns
                   else [],
                   "levels": {str(k): int(v) for k, v in train["level"].value_counts().sort_index().items()}}
        steps = preprocessing or {"au_backend": "geometry", "neutral": "auto (per subject)"}
        return save_bundle(folder, self.aueipa, rules=load_rules(rules), engagement=self.ranking,
                           preprocessing=steps, training_data=summary,
                           extra={"core_au_sweep": self.sweep.to_dict("records")})


def manifest_aus(table: pd.DataFrame, au_table: str | Path | None = None) -> pd.DataFrame:
    """AU intensities aligned with the manifest rows: from ``au_table`` (joined by path) or from its landmarks."""
    if au_table is not None:
        aus = read_au_table(au_table)
        key = "path" if "path" in aus.columns else "source"
        if key not in aus.columns:
            raise InputError(f"{au_table}: needs a `path` (or `source`) column matching the manifest's `path`")
        joined = table[["path"]].merge(aus.drop_duplicates(key), how="left", left_on="path", right_on=key)
        joined.index = table.index
        return joined
    if not set(LANDMARK_COLUMNS) <= set(table.columns):
        raise InputError("the manifest has no landmark columns x_0..y_67 for the geometry AUs; "
                         "add them (auengine extract) or pass an AU table (--aus)")
    return GeometryBackend(neutral="auto").estimate(table)


def rows_with_aus(table: pd.DataFrame, aus: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop rows whose AUs could not be computed (no landmarks), saying how many; refuse when none are left."""
    columns = [c for c in aus.columns if c.endswith("_r")]
    ok = aus[columns].notna().all(axis=1).to_numpy() if columns else np.zeros(len(aus), bool)
    if not ok.any():
        raise InputError(f"{name}: no row has AU intensities; check the landmark columns or the --aus table")
    if not ok.all():
        warnings.warn(f"{name}: {int((~ok).sum())} of {len(ok)} rows have no AU intensities and are left out",
                      RuntimeWarning, stacklevel=3)
    return table[ok], aus[ok]


def evaluate(train: pd.DataFrame, tests: dict[str, pd.DataFrame], out_dir: str | Path,
             config: EvaluationConfig = EvaluationConfig(), *, train_aus: pd.DataFrame | None = None,
             test_aus: dict[str, pd.DataFrame] | None = None, engagement: pd.Series | None = None,
             progress: bool | None = None) -> Evaluation:
    """Run the experiments (CNN runs and engagement are written under ``out_dir``); see :class:`Evaluation`."""
    out_dir = Path(out_dir)
    train_aus = manifest_aus(train) if train_aus is None else train_aus
    train, train_aus = rows_with_aus(train, train_aus, "training manifest")
    scale = training_scale(train)
    folds = splits(train, config.folds, config.seed)
    rows = []
    cnn_dirs = {}
    for backbone in config.backbones:
        run = out_dir / "e2e" / backbone
        e2e_folds = config.e2e_folds if config.e2e_folds is not None else config.folds
        per_fold = run_cv(train, replace(config.e2e, backbone=backbone, seed=config.seed), run, folds=e2e_folds,
                          progress=progress)
        rows += [{"method": backbone, **r} for r in per_fold.to_dict("records")]
        cnn_dirs[backbone] = run
    if engagement is None:
        if not cnn_dirs:
            raise InputError("no CNN to compute the engagement ranking from: give a backbone or an engagement.csv")
        first = next(iter(cnn_dirs.values()))
        engagement = run_engagement(first, train, out_dir / "engagement", rules=config.rules,
                                    n_boot=config.n_boot, progress=progress)["engagement"]
    ranking = engagement.sort_values(ascending=False)
    require_aus(train_aus, ranking.index)
    stage(f"core-AU sweep: the MLP on the top 1..{len(ranking)} AUs, {len(folds)} subject-wise folds")
    sweep = core_au_sweep(train_aus, train, folds, ranking, params=config.mlp, progress=progress)
    k = best_k(sweep, config.k_rule)
    stage(f"k* = {k}; PSPI and the AU MLPs on the same {len(folds)} folds")
    rows += fold_metrics(train_aus, train, folds, ranking, k, params=config.mlp, progress=progress).to_dict("records")
    results = pd.DataFrame(rows).assign(experiment="cross-validation", dataset="train")

    everything = np.arange(len(train))
    models = {"PSPI": PSPIClassifier(scale=scale).fit(train_aus, train["score"].to_numpy(float))}
    for name, (chosen, weighted) in au_methods(ranking, k).items():
        models[name] = fit_mlp(train_aus, train, everything, chosen, ranking if weighted else None, scale, config.mlp)
    if tests:
        stage(f"generalization to {len(tests)} unseen set(s) without fine-tuning")
    generalization = [generalize(name, test, (test_aus or {}).get(name), models, cnn_dirs, scale, config)
                      for name, test in tests.items()]
    results = pd.concat([results, *generalization], ignore_index=True)
    return Evaluation(results, sweep, k, config.k_rule, ranking, models, cnn_dirs, scale)


def level_map_for(train_scale: str, test: pd.DataFrame, config: EvaluationConfig) -> dict[int, int]:
    """Training level -> test level for one test manifest."""
    n_train = get_scale(train_scale).n_levels
    n_test = int(test["level"].max()) + 1
    if "scale" in test.columns and test["scale"].notna().any():
        n_test = max(n_test, get_scale(str(test["scale"].dropna().iloc[0])).n_levels)
    if config.level_map:
        return parse_level_map(config.level_map, n_train, n_test)
    return default_level_map(n_train, n_test)


def generalize(name: str, test: pd.DataFrame, aus: pd.DataFrame | None, models: dict, cnn_dirs: dict,
               train_scale: str, config: EvaluationConfig) -> pd.DataFrame:
    """Every method trained on the training manifest, applied to ``test`` without fine-tuning (Tables V-VI).

    The CNNs are the models of their first fold (trained on that fold's training subjects).
    """
    aus = manifest_aus(test) if aus is None else aus
    test, aus = rows_with_aus(test, aus, name)
    mapping = level_map_for(train_scale, test, config)
    levels = test["level"].to_numpy(int)
    labels = np.arange(max(mapping.values()) + 1)
    predicted = {}
    for backbone, run in cnn_dirs.items():
        model, train_config = load_model(fold_dirs(run)[0])
        predicted[backbone] = predict_proba(model, test, train_config).argmax(axis=1)
    for method, model in models.items():
        predicted[method] = model.predict_level(aus)
    rows = [{"method": method, "fold": 0, **classification_metrics(levels, map_levels(p, mapping), labels)}
            for method, p in predicted.items()]
    return pd.DataFrame(rows).assign(experiment="generalization", dataset=name,
                                     level_map=describe_level_map(mapping))


def results_markdown(results: pd.DataFrame, k: int, k_rule: str = "1se") -> str:
    """The paper's tables (IV; V-VI per test set) as Markdown, mean ± std over folds."""
    parts = []
    for (experiment, dataset), part in results.groupby(["experiment", "dataset"], sort=False):
        title = ("Table IV-style: subject-wise cross-validation on the training set" if experiment == "cross-validation"
                 else f"Tables V-VI-style: trained on the training set, tested on {dataset} without fine-tuning")
        parts.append(f"### {title}\n")
        if "level_map" in part.columns and part["level_map"].notna().any():
            parts.append(f"Predicted training levels mapped to {dataset}'s labels: {part['level_map'].dropna().iloc[0]}\n")
        parts.append("| Method | folds | " + " | ".join(METRICS) + " |")
        parts.append("|---|---|" + "---|" * len(METRICS))
        for method, rows in part.groupby("method", sort=False):
            cells = [f"{rows[m].mean():.3f} ± {rows[m].std(ddof=0):.3f}" if len(rows) > 1 else f"{rows[m].mean():.3f}"
                     for m in METRICS]
            parts.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
        parts.append("")
    how = ("the fewest AUs whose mean test loss is within one standard error of the lowest" if k_rule == "1se"
           else "the lowest mean test loss in the sweep")
    parts.append(f"k* = {k} core AUs ({how}).")
    return "\n".join(parts) + "\n"
