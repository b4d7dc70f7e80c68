"""Validate the transfer classifiers beside AuE-IPA and PSPI on the phantom; write docs/transfer.md (issue 7).

Phantom, default (mouth-dominated) rule, binary pain = FLACC level >= 2. All methods use
the same subject-wise GroupKFold folds:
  - features: VGG16 FC7 (pre/post ReLU) and ResNet18 pooled features, alone and mixed
    with strain + LBP features; ReliefF / SU top 5/10/15; NB, kNN, SVM, RF (best per
    fold chosen by an inner subject-wise CV);
  - fc-head: ResNet50 + FC512 head, with the manual assessment branch curve;
  - vgg-finetune: VGG16, first 3 blocks frozen, GAP + dense 2048/1024, class weights,
    L1, early stopping on validation loss;
  - PSPI and AuE-IPA (engagement ranking from scripts/validate_engagement.py, k* by the
    core-AU sweep on the same folds), their predicted levels mapped to pain = level >= 2.
No pretrained weights can be downloaded here, so every CNN starts from random
initialisation; the CNNs run at --cnn-size px to fit the CPU budget. Synthetic data.

Usage: python scripts/validate_transfer.py [--out validation_transfer] [--subjects 24] [--frames 20]
       [--folds 3] [--epochs 8] [--cnn-size 112] [--engagement validation_out/default/engagement.csv]
"""
from __future__ import annotations

import argparse
import shutil
import time
import warnings
from pathlib import Path

import pandas as pd

from auengine.evaluation.e2e import splits
from auengine.evaluation.experiment import manifest_aus
from auengine.metrics import METRICS
from auengine.evaluation.regression import best_k, core_au_sweep, fold_metrics
from auengine.io.manifest import read_manifest
from auengine.models.train import TrainConfig
from auengine.phantom import generate
from auengine.report.markdown import markdown_table
from auengine.transfer.run import binary_table, run_cnn, run_features

PAIN_FROM = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation_transfer")
    parser.add_argument("--docs", default="docs/transfer.md")
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--cnn-size", type=int, default=112)
    parser.add_argument("--engagement", default="validation_out/default/engagement.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)        # random-initialisation notices, stated in the docs
    engagement_file = Path(args.engagement)
    if not engagement_file.is_file():
        raise SystemExit(f"{engagement_file} not found: run `python scripts/validate_engagement.py` first "
                         "(or pass --engagement)")
    ranking = pd.read_csv(engagement_file).set_index("AU")["engagement"].sort_values(ascending=False)
    start = time.perf_counter()
    out = Path(args.out)
    full = read_manifest(generate(out / "data", n_subjects=args.subjects, frames_per_subject=args.frames, seed=5,
                                  videos=False, progress=False))
    table = binary_table(full, PAIN_FROM)
    folds = splits(table, args.folds)
    timings, parts = {}, []

    tic = time.perf_counter()
    aus = manifest_aus(full)
    sweep = core_au_sweep(aus, full, folds, ranking)
    k = best_k(sweep)
    level_map = {level: int(level >= PAIN_FROM) for level in range(4)}
    au_rows = fold_metrics(aus, full, folds, ranking, k, level_map=level_map)
    keep = au_rows["method"].isin(["PSPI", f"{k} AU with weight (AuE-IPA)"])
    parts.append(au_rows[keep].assign(init="(AU intensities)", AUC=float("nan")))
    timings["PSPI + AuE-IPA"] = time.perf_counter() - tic

    tic = time.perf_counter()
    parts.append(run_features(table, out / "features", layers=["vgg16-fc7-prerelu", "vgg16-fc7-postrelu", "resnet18-pool"],
                              handcrafted=["strain", "lbp"], weights="imagenet", folds=args.folds))
    timings["features"] = time.perf_counter() - tic
    config = TrainConfig(epochs=args.epochs, lr=1e-4, size=args.cnn_size, weights="imagenet")
    for method in ("fc-head", "vgg-finetune"):
        tic = time.perf_counter()
        parts.append(run_cnn(method, table, out / method, config, folds=args.folds, stratified=False))
        timings[method] = time.perf_counter() - tic

    results = pd.concat(parts, ignore_index=True)
    results.to_csv(out / "results.csv", index=False)
    deferral = pd.read_csv(out / "fc-head" / "deferral.csv")
    minutes = (time.perf_counter() - start) / 60
    write_docs(Path(args.docs), out, results, deferral, k, timings, minutes, args)
    print(summary_table(results))
    print(f"total {minutes:.1f} min; wrote {args.docs}")


def summary_table(results: pd.DataFrame) -> str:
    columns = [*METRICS, "AUC"]
    lines = ["| Method | initialisation | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for method, rows in results.groupby("method", sort=False):
        cells = ["n/a" if rows[c].isna().all() else f"{rows[c].mean():.3f} ± {rows[c].std(ddof=0):.3f}"
                 for c in columns]
        lines.append(f"| {method} | {rows['init'].iloc[0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(docs: Path, out: Path, results: pd.DataFrame, deferral: pd.DataFrame, k: int, timings: dict,
               minutes: float, args) -> None:
    figures = docs.parent / "figures"
    shutil.copyfile(out / "fc-head" / "deferral.png", figures / "transfer_deferral.png")
    configs = (out / "features" / "results.md").read_text().split("\n\n", 1)[-1]
    text = f"""# Transfer classifiers (Zamzmi et al., Zhao et al., thesis) beside AuE-IPA and PSPI

`auengine transfer METHOD MANIFEST --out DIR` with METHOD one of:

- `features`: deep features of a pre-trained CNN layer (`--layers`: presets vgg16-fc7-prerelu,
  vgg16-fc7-postrelu, vgg16-conv5 (pooled to 512), resnet18-pool, resnet50-pool, or MODEL:LAYER[:pool]),
  optionally with handcrafted features (`--handcrafted strain lbp hog`, alone and mixed with each
  deep set); ReliefF or Symmetric Uncertainty keep the top 5/10/15 features; Naive Bayes, kNN,
  SVM or Random Forest classify. Scaling, selection and classifier are fitted on training folds
  only (a test checks that a feature informative only in the test rows is never picked). The
  configuration reported per fold is chosen by an inner subject-wise CV on its training fold;
  `configurations.csv` has every configuration's test accuracy and AUC (the papers' Tables 5-7).
- `fc-head`: a backbone (resnet50 default, `--backbone vgg16`) with Zhao et al.'s head
  FC512-ReLU-Dropout(0.5)-BN-FC128-ReLU-Dropout(0.5)-BN-FC2, rotation 0-15° and flips; the
  manual assessment branch defers a frame when its max softmax < tau: `deferral.csv/.png` for
  tau = 0.50..0.95. The threshold (0.55) is stored in each model's `model.json` (`defer_below`).
- `vgg-finetune`: VGG16 with its first 3 conv blocks frozen, global average pooling + dense
  2048 and 1024 (ReLU, dropout 0.5) + 2-way softmax; class weights, L1 penalty 1e-5 on the
  head, early stopping on validation loss (patience 15), StratifiedGroupKFold with a validation
  split inside the training folds; flips, ±30° rotation, brightness 1.0-1.5.

Labels are pain / no pain from the manifest: pain = level >= `--pain-from-level` (default 1 for
two-level scales, otherwise half the levels: FLACC level >= 2). All methods write `results.csv`
and `results.md` in the `auengine evaluate` format, plus AUC. Pretrained weights follow the
project's resolution (explicit file, cache, download with AUENGINE_DOWNLOAD=1); offline they
start from random initialisation with a warning, and the tables say which was used.

## Validation on the phantom

`python scripts/validate_transfer.py` ({args.subjects} subjects x {args.frames} frames, default rule,
pain = level >= 2, {args.folds} subject-wise folds shared by all methods; CNNs at {args.cnn_size} px,
{args.epochs} epochs, lr 1e-4; run time {minutes:.0f} min on this 2-core machine). **Synthetic data**;
**every CNN here starts from random initialisation** (no pretrained weights offline), so the
deep features are random projections and the fine-tuned models learn from {args.subjects * args.frames}
images only: this shows what random initialisation costs, not what the papers' pretrained models reach.
AuE-IPA: k* = {k} core AUs from the engagement ranking of scripts/validate_engagement.py.

{summary_table(results)}

Time per method (s): {", ".join(f"{m} {t:.0f}" for m, t in timings.items())}.

### Feature pipelines per configuration

{configs}
### Manual assessment branch (fc-head)

![deferral](figures/transfer_deferral.png)

{markdown_table(deferral)}

Overall accuracy counts deferred frames as correctly judged by a nurse, as in Zhao et al.
"""
    docs.write_text(text)


if __name__ == "__main__":
    main()
