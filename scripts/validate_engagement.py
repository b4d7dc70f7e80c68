"""Validate the end-to-end CNN and the AU engagement ranking on the phantom (docs/engagement.md).

For each pain rule (default: mouth-dominated; upper-face: brows and eyes), on phantom
data at 224 px:
  1. generate a data set (--subjects x --frames, seed 11);
  2. train ResNet18 from random initialisation on one subject-wise train/validation
     split (`auengine train-e2e --folds 1`), --epochs epochs, paper hyper-parameters;
  3. compute the Grad-CAM engagement ranking on the validation subjects
     (correctly classified images only, 95 % bootstrap intervals by subject);
  4. check: validation WA >= 0.70 (default rule), and every zero-weight AU of the
     rule ranks below every AU with weight >= 1.5.
Writes OUT/<rule>/ (run, engagement.csv, engagement.png, overlays/, learning_curve.png)
and prints a summary. Everything here is computed on synthetic data.

Usage: python scripts/validate_engagement.py [--out validation_out] [--subjects 30] [--frames 30] [--epochs 10]
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

from auengine.evaluation.e2e import run_cv
from auengine.evaluation.engagement_run import run_engagement
from auengine.io.manifest import read_manifest
from auengine.models.train import TrainConfig
from auengine.phantom import generate, load_rule

TARGET_WA = 0.70
STRONG_WEIGHT = 1.5


def learning_curve(history: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=120)
    ax.plot(history["epoch"], history["loss"], "o-", label="training loss")
    ax.plot(history["epoch"], history["val_WA"], "s-", label="validation WA")
    ax.plot(history["epoch"], history["val_UA"], "^-", label="validation UA")
    ax.axhline(TARGET_WA, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def check_ranking(ranking: pd.Series, weights: dict[str, float]) -> tuple[bool, str]:
    strong = [au for au in ranking.index if weights.get(au, 0) >= STRONG_WEIGHT]
    zero = [au for au in ranking.index if weights.get(au, 0) == 0]
    worst_strong = min(ranking[au] for au in strong)
    best_zero = max(ranking[au] for au in zero)
    ok = worst_strong > best_zero
    return ok, (f"lowest weight>={STRONG_WEIGHT} AU: {min(strong, key=ranking.get)} {worst_strong:.4f}; "
                f"highest zero-weight AU: {max(zero, key=ranking.get)} {best_zero:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation_out")
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rules", nargs="+", default=["default", "upper-face"])
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)      # the random-initialisation notice, stated below
    start = time.perf_counter()
    lines = []
    for name in args.rules:
        rule = load_rule(name)
        out = Path(args.out) / name
        manifest = generate(out / "data", n_subjects=args.subjects, frames_per_subject=args.frames, pain_rule=rule,
                            seed=11, videos=False, progress=False)
        table = read_manifest(manifest)
        config = TrainConfig(epochs=args.epochs, weights=None, size=224)
        per_fold = run_cv(table, config, out / "run", folds=1)
        history = pd.read_csv(out / "run" / "fold0" / "history.csv")
        learning_curve(history, out / "learning_curve.png", f"ResNet18, random init, phantom rule '{name}'")
        result = run_engagement(out / "run", table, out, n_boot=1000)
        ranking = result["engagement"]
        ok_rank, detail = check_ranking(ranking, rule.weights)
        wa = float(per_fold["WA"].iloc[0])
        ok_wa = wa >= TARGET_WA if name == "default" else True
        lines.append(f"rule {name}: validation WA {wa:.3f} (UA {per_fold['UA'].iloc[0]:.3f}, F1 "
                     f"{per_fold['F1'].iloc[0]:.3f}){' [target >= 0.70: ' + ('met' if ok_wa else 'NOT met') + ']' if name == 'default' else ''}; "
                     f"ranking {' > '.join(ranking.index)}; zero-weight below weight>=1.5: "
                     f"{'yes' if ok_rank else 'NO'} ({detail})")
        print(lines[-1], flush=True)
    print(f"\nphantom images {args.subjects} x {args.frames} per rule, 224 px, {args.epochs} epochs; "
          f"total {time.perf_counter() - start:.0f} s on this machine")


if __name__ == "__main__":
    main()
