"""Validate AU engagement methods on the phantom over many pain rules (docs/engagement.md).

For each rule -- `default` (mouth), `upper-face` (brows and eyes) and --random-rules random
rules (3-6 AUs with random weights summing to 10 FLACC points, drawn with --seed) -- on
phantom data at --size px:
  1. generate a data set (--subjects x --frames, seed 11);
  2. train the CNN once (`train-e2e --folds 1`, --epochs, lr --lr; --restarts: again with the next
     seed while the validation WA is below 0.70);
  3. run every engagement method (--methods: gradcam, fused, occlusion, integrated, surrogate) on the validation
     subjects (correctly classified images; the surrogate every image; bootstrap by subject) and time it;
  4. score each ranking against the rule's true weights:
     - pair accuracy: share of (weighted AU, zero-weight AU) pairs with the weighted AU ranked
       higher, leaving out pairs whose Table I regions coincide (AU7/AU43 share the eye
       centre, AU25/AU27 the mouth centre: no region method can tell them apart; left out for
       every method, so that the columns compare like with like);
     - Spearman correlation of engagement with the weights over all AUs.
Writes OUT/results.csv (rule x method), OUT/summary.md (tables, mean and worst over the
random rules), OUT/pair_accuracy.png, and per rule OUT/<rule>/ (run[_seed<k>], <method>/engagement.csv).
Everything here is computed on synthetic data.

A re-run into the same --out reuses each rule's trained model (training resumes from its
finished checkpoint) and recomputes the engagement only.

Usage: python scripts/validate_engagement.py [--out validation_out] [--subjects 30] [--frames 30]
       [--epochs 7] [--random-rules 8] [--restarts 0] [--methods gradcam fused occlusion integrated surrogate]
       [--backbone resnet18 | dlib-face --size 150]
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from auengine.au.rules import load_rules
from auengine.columns import landmarks_of
from auengine.engagement_methods import METHODS, CenterDistances
from auengine.errors import InputError
from auengine.evaluation.e2e import run_cv
from auengine.evaluation.engagement_run import run_engagement
from auengine.io.manifest import read_manifest
from auengine.models.train import TrainConfig
from auengine.phantom import generate, load_rule
from auengine.phantom.face import PHANTOM_AUS
from auengine.phantom.rule import PainRule

TARGET_WA = 0.70


def random_rules(n: int, seed: int) -> list[PainRule]:
    """``n`` rules of 3-6 random phantom AUs with random weights (0.5-3 before scaling) summing to 10."""
    rng = np.random.default_rng(seed)
    rules = []
    for k in range(n):
        aus = rng.choice(PHANTOM_AUS, size=int(rng.integers(3, 7)), replace=False)
        raw = rng.uniform(0.5, 3.0, len(aus))
        weights = {str(au): round(float(w), 2) for au, w in zip(aus, 10 * raw / raw.sum())}
        rules.append(PainRule(weights=weights, name=f"random{k}"))
    return rules


def center_distances(table: pd.DataFrame) -> pd.DataFrame:
    """AU x AU mean smallest region-centre distance (image pixels) over the data's faces (first 200)."""
    rules = load_rules("infant")
    distances = CenterDistances(rules)
    distances.add(landmarks_of(table.iloc[:200]))
    return pd.DataFrame(distances.mean(), index=rules.aus, columns=rules.aus)


def coinciding_pairs(table: pd.DataFrame, distances: pd.DataFrame) -> set[frozenset]:
    """AU pairs whose Table I regions coincide: centres closer than half a region side."""
    from PIL import Image

    tolerance = 0.5 * load_rules("infant").region_side(Image.open(table["abspath"].iloc[0]).size[0])
    aus = list(distances.index)
    return {frozenset((a, b)) for i, a in enumerate(aus) for b in aus[i + 1:] if distances.loc[a, b] < tolerance}


def nearest_zero_weight(distances: pd.DataFrame, weights: dict[str, float], excluded: set[frozenset]) -> float:
    """Smallest centre distance (px) between a weighted and a zero-weight AU (pairs in the metric only)."""
    gaps = [distances.loc[w, z] for w in distances.index if weights.get(w, 0) > 0
            for z in distances.index if weights.get(z, 0) == 0 and frozenset((w, z)) not in excluded]
    return float(min(gaps)) if gaps else float("nan")


def pair_accuracy(engagement: pd.Series, weights: dict[str, float], excluded: set[frozenset]) -> tuple[float, int]:
    """Share of (weighted, zero-weight) AU pairs ordered right (ties count half), and the number of pairs."""
    weighted = [au for au in engagement.index if weights.get(au, 0) > 0]
    zero = [au for au in engagement.index if weights.get(au, 0) == 0]
    pairs = [(w, z) for w in weighted for z in zero if frozenset((w, z)) not in excluded]
    if not pairs:
        return float("nan"), 0
    scores = [1.0 if engagement[w] > engagement[z] else 0.5 if engagement[w] == engagement[z] else 0.0 for w, z in pairs]
    return float(np.mean(scores)), len(pairs)


def learning_curve(history: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=120)
    ax.plot(history["epoch"], history["loss"], "o-", label="training loss")
    ax.plot(history["epoch"], history["val_WA"], "s-", label="validation WA")
    ax.axhline(TARGET_WA, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def accuracy_figure(results: pd.DataFrame, path: Path) -> None:
    """Grouped bars: pair accuracy per rule (x) and method (colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = results.pivot(index="rule", columns="method", values="pair_accuracy").reindex(
        index=results["rule"].unique(), columns=results["method"].unique())
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(table) + 3), 3.2), dpi=120)
    width = 0.8 / max(1, table.shape[1])
    for k, method in enumerate(table.columns):
        ax.bar(np.arange(len(table)) + k * width, table[method].fillna(0), width, label=method)
    ax.set_xticks(np.arange(len(table)) + width * (table.shape[1] - 1) / 2, table.index, rotation=30, fontsize=7)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pair accuracy")
    ax.set_title("Engagement pair accuracy by rule and method (phantom)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))      # outside: bars reach 1.0
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def summary_markdown(results: pd.DataFrame, note: str) -> str:
    """Tables rules x methods (pair accuracy, Spearman) with mean and worst over the random rules."""
    left_out = sorted({pair for text in results["left_out"] for pair in text.split(", ") if pair})
    lines = [f"Phantom engagement validation ({note}); synthetic data.", "",
             "Pairs left out (coinciding Table I regions, on any rule's faces): " + (", ".join(left_out) or "none"), ""]
    for value in ("pair_accuracy", "spearman"):
        table = results.pivot(index="rule", columns="method", values=value).reindex(
            index=results["rule"].unique(), columns=results["method"].unique())
        randoms = table[[r.startswith("random") for r in table.index]]
        if len(randoms):
            table.loc["mean (random rules)"] = randoms.mean()
            table.loc["worst (random rules)"] = randoms.min()
        lines += [f"### {value}", "", table.round(3).to_markdown(), ""]
    per_rule = results.drop_duplicates("rule").set_index("rule")[["val_WA", "seed", "nearest_zero_px", "weights"]]
    lines += ["### per rule: validation WA, training seed, nearest (weighted, zero-weight) region centres in px, "
              "weights", "",
              per_rule.round(3).to_markdown(), ""]
    timing = results.groupby("method")["seconds"].sum()
    if "gradcam" in timing:
        lines += ["Run time relative to gradcam (all rules): "
                  + ", ".join(f"{m} {timing[m] / timing['gradcam']:.1f}x" for m in timing.index), ""]
    return "\n".join(lines)


def train_rule(table: pd.DataFrame, out: Path, args: argparse.Namespace) -> tuple[Path, float, int]:
    """Train one model (seed 0); while its validation WA is below TARGET_WA, retrain with the next seed
    (a new initialisation, batch order and 80/20 subject split), up to --restarts times.

    Returns the run folder, its WA and its seed: the first run that reaches the target, else the best.
    Runs are out/run (seed 0) and out/run_seed<k>; a re-run reuses them.
    """
    tried = []
    for seed in range(args.restarts + 1):
        config = TrainConfig(backbone=args.backbone, epochs=args.epochs, size=args.size, lr=args.lr, seed=seed,
                             weights=None if args.backbone == "resnet18" else "imagenet")
        run = out / ("run" if seed == 0 else f"run_seed{seed}")
        wa = float(run_cv(table, config, run, folds=1)["WA"].iloc[0])
        history = pd.read_csv(run / "fold0" / "history.csv")
        init = "random init" if args.backbone == "resnet18" else "face weights"
        learning_curve(history, run / "learning_curve.png",
                       f"{args.backbone}, {init}, phantom rule '{out.name}', seed {seed}")
        tried.append((wa, -seed, run))
        if wa >= TARGET_WA:
            break
        if seed < args.restarts:
            print(f"rule {out.name}: validation WA {wa:.3f} < {TARGET_WA} with seed {seed}; retraining with seed "
                  f"{seed + 1}", flush=True)
    wa, negative_seed, run = max(tried)                  # the one that reached the target, else the best
    return run, wa, -negative_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation_out")
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--lr", type=float, default=1e-4,
                        help="learning rate (default 1e-4: from random initialisation the paper's 1e-3 stalls)")
    parser.add_argument("--rules", nargs="*", default=["default", "upper-face"], help="named rules")
    parser.add_argument("--random-rules", type=int, default=8, help="random rules (3-6 AUs, random weights)")
    parser.add_argument("--seed", type=int, default=19, help="seed of the random rules")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=0,
                        help="retrain a rule with the next seed while its validation WA is below 0.70, up to this "
                             "many times (a CNN sometimes stays at a constant prediction for all its epochs)")
    parser.add_argument("--backbone", default="resnet18", choices=["resnet18", "dlib-face"],
                        help="resnet18 from random initialisation (default; no ImageNet weights offline) or dlib's "
                             "face-recognition ResNet with its face weights (use --size 150, its chip size)")
    args = parser.parse_args()
    if args.restarts < 0:
        parser.error("--restarts must be >= 0")
    warnings.simplefilter("ignore", RuntimeWarning)      # the random-initialisation notice, stated below
    start = time.perf_counter()
    rules = [load_rule(name) for name in args.rules] + random_rules(args.random_rules, args.seed)
    out_root = Path(args.out)
    rows = []
    for rule in rules:
        out = out_root / rule.name
        manifest = generate(out / "data", n_subjects=args.subjects, frames_per_subject=args.frames, size=args.size,
                            pain_rule=rule, seed=11, videos=False, progress=False)
        table = read_manifest(manifest)
        distances = center_distances(table)
        excluded = coinciding_pairs(table, distances)
        nearest = nearest_zero_weight(distances, rule.weights, excluded)
        run, wa, seed = train_rule(table, out, args)
        for method in args.methods:
            tic = time.perf_counter()
            try:
                engagement = run_engagement(run, table, out / method, method=method,
                                            n_boot=args.bootstrap)["engagement"]
            except InputError as exc:                  # e.g. nothing classified correctly after a tiny run
                print(f"rule {rule.name}, {method}: no ranking ({exc})", flush=True)
                engagement = None
            seconds = time.perf_counter() - tic
            accuracy, n_pairs = (pair_accuracy(engagement, rule.weights, excluded) if engagement is not None
                                 else (float("nan"), 0))
            truth = [rule.weights.get(au, 0.0) for au in engagement.index] if engagement is not None else []
            rho = float(spearmanr(engagement.to_numpy(), truth).statistic) if engagement is not None else float("nan")
            rows.append({"rule": rule.name, "weights": str(rule.weights), "method": method, "val_WA": wa, "seed": seed,
                         "left_out": ", ".join("/".join(sorted(p)) for p in sorted(excluded, key=sorted)),
                         "pair_accuracy": accuracy, "pairs": n_pairs,
                         "nearest_zero_px": nearest, "spearman": rho, "seconds": seconds,
                         "ranking": " > ".join(engagement.index) if engagement is not None else ""})
            print(f"rule {rule.name} (WA {wa:.3f}), {method}: pair accuracy {accuracy:.3f} over {n_pairs} pairs, "
                  f"Spearman {rho:.3f}, {seconds:.0f} s", flush=True)
    results = pd.DataFrame(rows)
    out_root.mkdir(parents=True, exist_ok=True)
    results.to_csv(out_root / "results.csv", index=False)
    accuracy_figure(results, out_root / "pair_accuracy.png")
    note = (f"{args.backbone} ({'random initialisation' if args.backbone == 'resnet18' else 'dlib face weights'}), "
            f"{args.subjects} subjects x {args.frames} frames per rule, {args.size} px, {args.epochs} epochs, lr "
            f"{args.lr:g}, up to {args.restarts} restart(s) below WA {TARGET_WA}, random-rule seed {args.seed}; total {time.perf_counter() - start:.0f} s on this machine")
    text = summary_markdown(results, note)
    (out_root / "summary.md").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
