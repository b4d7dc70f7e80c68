"""dlib's face-pretrained ResNet vs random initialisation on the same phantom folds (issue 15).

A reduced configuration of scripts/validate_transfer.py and of the end-to-end CNN
validation, sized for <= 20 min on a shared 2-core CPU: phantom (seed 5, default rule,
no videos), --subjects x --frames images; pain = FLACC level >= 2 for the transfer
methods; the same subject-wise GroupKFold folds everywhere.

  features  dlib-face descriptors (dlib's API, manifest landmarks -> dlib's alignment),
            the same network in torch on the engine's crops, pooled 256-D pre-fc features (dlib-face:avgpool, face and
            random weights), strain + LBP alone and mixed; ReliefF / SU + NB / kNN / SVM / RF
  fc-head   backbone dlib-face + Zhao et al.'s FC512 head, face weights vs random
  e2e       4-level end-to-end CNN (train-e2e's model) on dlib-face, face weights vs random

CNNs: --cnn-size px, --epochs epochs, lr 1e-4, fp32 (bf16 autocast is slower for this
network on this CPU). Writes OUT/results.csv, OUT/curves.csv, docs/figures/dlib_face_curves.png
and the marked dlib-face sections of docs/transfer.md and docs/models/e2e-cnn.md.

Usage: python scripts/validate_dlib_face.py [--out validation_dlib_face] [--subjects 8] [--frames 6]
       [--folds 3] [--epochs 2] [--cnn-size 150] [--docs-only]
"""
from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from auengine.evaluation.e2e import run_cv  # noqa: E402
from auengine.metrics import METRICS  # noqa: E402
from auengine.io.manifest import read_manifest  # noqa: E402
from auengine.models.train import TrainConfig  # noqa: E402
from auengine.phantom import generate  # noqa: E402
from auengine.transfer.classical import auc  # noqa: E402
from auengine.transfer.run import binary_table, run_cnn, run_features  # noqa: E402

PAIN_FROM = 2
INITS = {"face": "imagenet", "random": None}       # "imagenet" is dlib-face's pretrained (face) weights
START, END = "<!-- dlib-face validation: start -->", "<!-- dlib-face validation: end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation_dlib_face")
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cnn-size", type=int, default=150)
    parser.add_argument("--docs-only", action="store_true", help="rewrite the docs from OUT's saved results")
    args = parser.parse_args()
    if args.docs_only:
        return write_docs(Path(args.out), Path(args.docs))
    warnings.simplefilter("ignore", RuntimeWarning)
    start = time.perf_counter()
    out = Path(args.out)
    full = read_manifest(generate(out / "data", n_subjects=args.subjects, frames_per_subject=args.frames, seed=5,
                                  videos=False, progress=False))
    table = binary_table(full, PAIN_FROM)
    timings, parts, curves = {}, [], []

    tic = time.perf_counter()
    parts.append(run_features(table, out / "features" / "dlib", layers=["dlib-face"], handcrafted=["strain", "lbp"],
                              folds=args.folds, size=args.cnn_size))
    for init, weights in INITS.items():
        result = run_features(table, out / "features" / init, layers=["dlib-face:avgpool"], weights=weights,
                              folds=args.folds, size=args.cnn_size)
        parts.append(result.assign(method=f"features: dlib-face:avgpool (torch, engine crops, {init})"))
    timings["features"] = time.perf_counter() - tic

    config = TrainConfig(backbone="dlib-face", epochs=args.epochs, lr=1e-4, size=args.cnn_size, precision="fp32")
    for init, weights in INITS.items():
        tic = time.perf_counter()
        run = out / "fc-head" / init
        parts.append(run_cnn("fc-head", table, run, _with(config, weights), folds=args.folds, backbone="dlib-face",
                             stratified=False).assign(method=f"fc-head (dlib-face, {init})"))
        curves.append(_curves(run / "run", f"fc-head, {init}"))
        timings[f"fc-head {init}"] = time.perf_counter() - tic
    e2e_parts = []
    for init, weights in INITS.items():
        tic = time.perf_counter()
        run = out / "e2e" / init
        per_fold = run_cv(full, _with(config, weights), run, folds=args.folds)
        e2e_parts.append(per_fold.assign(method=f"e2e 4-level (dlib-face, {init})", AUC=_pain_aucs(run),
                                         init=_init(run)))
        curves.append(_curves(run, f"e2e 4-level, {init}"))
        timings[f"e2e {init}"] = time.perf_counter() - tic

    pd.concat(parts, ignore_index=True).to_csv(out / "results.csv", index=False)
    pd.concat(e2e_parts, ignore_index=True).to_csv(out / "e2e.csv", index=False)
    pd.concat(curves, ignore_index=True).to_csv(out / "curves.csv", index=False)
    run_info = {**vars(args), "minutes": (time.perf_counter() - start) / 60, "timings_s": timings}
    (out / "run.json").write_text(json.dumps(run_info, indent=1))
    write_docs(out, Path(args.docs))


def write_docs(out: Path, docs: Path) -> None:
    """The marked sections of docs/transfer.md and docs/models/e2e-cnn.md, and the curves figure, from OUT's files."""
    info = json.loads((out / "run.json").read_text())
    results, e2e = pd.read_csv(out / "results.csv"), pd.read_csv(out / "e2e.csv")
    plot_curves(pd.read_csv(out / "curves.csv"), docs / "figures" / "dlib_face_curves.png")
    setup = (f"`python scripts/validate_dlib_face.py --subjects {info['subjects']} --frames {info['frames']} "
             f"--folds {info['folds']} --epochs {info['epochs']} --cnn-size {info['cnn_size']}`: phantom (synthetic "
             f"faces, seed 5, default rule), {info['subjects']} subjects x {info['frames']} frames, {info['folds']} "
             f"subject-wise folds shared by all rows; CNNs at {info['cnn_size']} px, {info['epochs']} epochs, lr 1e-4, "
             f"fp32, batch 8; run time {info['minutes']:.0f} min on the shared 2-core machine "
             f"({', '.join(f'{k} {v:.0f} s' for k, v in info['timings_s'].items())}). \"face\": dlib's "
             "face-recognition weights; \"random\": the same architecture from random initialisation.")
    caveat = ("Synthetic drawn faces, a few dozen images and a CNN budget of a few optimizer steps per fold: "
              "this compares initialisations under one small, fixed budget, not what the network reaches with "
              "real data and full training. The phantom is smaller than other validations': compare rows "
              "within this table only.")
    transfer_md = summary_table(results, "pain = FLACC level >= 2")
    e2e_md = summary_table(e2e, "4 levels; AUC: pain (level >= 2) from p2 + p3")
    figure = "![dlib-face training curves](figures/dlib_face_curves.png)"
    replace_section(docs / "transfer.md", f"## dlib-face: face-pretrained vs random (issue 15)\n\n{setup}\n\n"
                    f"{transfer_md}\n\n{differences(results)}\n\n{caveat}\n\n{figure}\n")
    replace_section(docs / "models" / "e2e-cnn.md", f"## dlib-face backbone: face-pretrained vs random\n\n{setup}\n\n"
                    f"{e2e_md}\n\n{differences(e2e)}\n\n{caveat}\n\n{figure.replace('figures/', '../figures/')}\n")
    print(transfer_md, e2e_md, f"total {info['minutes']:.1f} min", sep="\n\n")


def differences(results: pd.DataFrame) -> str:
    """Face minus random, per method with both, in mean WA / UA / AUC over the shared folds."""
    means = results.groupby("method", sort=False)[["WA", "UA", "AUC"]].mean()
    lines = []
    for method in means.index:
        if method.endswith("face)") and method[:-5] + "random)" in means.index:
            delta = means.loc[method] - means.loc[method[:-5] + "random)"]
            lines.append(f"{method[:-5].rstrip(', ')}): " + ", ".join(f"{k} {v:+.3f}" for k, v in delta.items()))
    return "Face-pretrained minus random, same folds: " + "; ".join(lines) + "." if lines else ""


def _with(config: TrainConfig, weights: str | None) -> TrainConfig:
    from dataclasses import replace

    return replace(config, weights=weights)


def _init(run: Path) -> str:
    import json

    return ", ".join(sorted({json.loads(p.read_text())["init"] for p in run.glob("fold*/model.json")}))


def _pain_aucs(run: Path) -> list[float]:
    """Per fold: AUC of pain (level >= 2) scored by the predicted probability of levels >= 2."""
    out = []
    for path in sorted(run.glob("fold*/predictions.csv"), key=lambda p: int(p.parent.name[4:])):
        frame = pd.read_csv(path)
        pain = frame[[c for c in frame.columns if c.startswith("p") and c[1:].isdigit() and int(c[1:]) >= PAIN_FROM]]
        out.append(auc((frame["level"] >= PAIN_FROM).to_numpy(int), pain.sum(axis=1).to_numpy()))
    return out


def _curves(run: Path, label: str) -> pd.DataFrame:
    """Per-epoch training loss and validation metrics of every fold (history.csv)."""
    return pd.concat([pd.read_csv(p).assign(fold=p.parent.name, run=label) for p in sorted(run.glob("fold*/history.csv"))],
                     ignore_index=True)


def plot_curves(curves: pd.DataFrame, path: Path) -> None:
    """Training loss and validation WA per epoch, mean over folds, one line per run."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, rows in curves.groupby("run", sort=False):
        mean = rows.groupby("epoch")[["loss", "val_WA"]].mean()
        style = "-" if label.endswith("face") else "--"
        axes[0].plot(mean.index, mean["loss"], style, marker="o", label=label)
        axes[1].plot(mean.index, mean["val_WA"], style, marker="o", label=label)
    axes[0].set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="training loss, mean over folds")
    axes[1].set(xlabel="epoch", ylabel="validation WA", title="inner-validation WA, mean over folds", ylim=(0, 1))
    axes[1].legend(fontsize=8)
    for axis in axes:
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def summary_table(results: pd.DataFrame, labels: str) -> str:
    columns = [*METRICS, "AUC"]
    lines = [f"| Method ({labels}) | initialisation | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for method, rows in results.groupby("method", sort=False):
        cells = ["n/a" if rows[c].isna().all() else f"{rows[c].mean():.3f} ± {rows[c].std(ddof=0):.3f}"
                 for c in columns]
        lines.append(f"| {method} | {rows['init'].iloc[0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_section(path: Path, body: str) -> None:
    """Put ``body`` between the dlib-face markers of ``path`` (appended at the end the first time)."""
    text = path.read_text()
    block = f"{START}\n{body}{END}\n"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


if __name__ == "__main__":
    main()
