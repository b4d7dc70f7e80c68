"""Subcommands for the AuE-IPA models: evaluate, fit, train-regressor, predict, demo (thin layer)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError


def _evaluation_config(args: argparse.Namespace):
    from ..evaluation.experiment import EvaluationConfig
    from ..models.train import TrainConfig

    weights = None if args.weights == "none" else args.weights
    e2e = TrainConfig(epochs=args.epochs, lr=args.lr, size=args.size, weights=weights, seed=args.seed)
    folds = args.folds if args.folds == "loso" else int(args.folds)
    e2e_folds = None if args.e2e_folds is None else (args.e2e_folds if args.e2e_folds == "loso" else int(args.e2e_folds))
    backbones = () if args.backbones == ["none"] else tuple(args.backbones)
    return EvaluationConfig(backbones=backbones, e2e=e2e, folds=folds, e2e_folds=e2e_folds, rules=args.rules,
                            level_map=args.level_map, seed=args.seed, k_rule=args.k_rule)


def _engagement(path: str | None):
    if path is None:
        return None
    import pandas as pd

    table = pd.read_csv(path)
    if not {"AU", "engagement"} <= set(table.columns):
        raise InputError(f"{path}: an engagement table needs columns AU and engagement (as written by "
                         "`auengine engagement`)")
    return table.set_index("AU")["engagement"]


def _run(args: argparse.Namespace, tests: dict):
    from ..evaluation.experiment import evaluate, manifest_aus
    from ..io.manifest import read_manifest

    train = read_manifest(args.manifest)
    train_aus = manifest_aus(train, args.aus)
    return train, evaluate(train, tests, args.out, _evaluation_config(args), train_aus=train_aus,
                           engagement=_engagement(args.engagement))


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Paper Tables IV-VI on any manifest."""
    from ..evaluation.experiment import results_markdown, save_aueipa_bundle
    from ..io.manifest import read_manifest
    from ..io.tables import atomic_write_bytes
    from ..report.figures import core_au_curve

    args.manifest = args.manifest or args.train
    if not args.manifest:
        raise InputError("give the training manifest: auengine evaluate --train MANIFEST [--test MANIFEST ...] --out DIR")
    tests = {_test_name(m): read_manifest(m) for m in args.test}
    train, result = _run(args, tests)
    out = Path(args.out)
    markdown = results_markdown(result["results"], result["k"], args.k_rule)
    atomic_write_bytes(out / "results.md", markdown.encode())
    core_au_curve(result["sweep"], result["k"], out / "core_aus.png")
    save_aueipa_bundle(out / "bundle", result, train, rules=args.rules)
    print(markdown)
    print(f"auengine evaluate: {out}/results.csv, results.md, core_aus.png, bundle/", file=sys.stderr)
    return 0


def _test_name(manifest: str) -> str:
    """A test set's name in tables: its folder name (manifest.csv) or file stem."""
    path = Path(manifest)
    return path.parent.name if path.stem == "manifest" and path.parent.name else path.stem


def cmd_fit(args: argparse.Namespace) -> int:
    """The whole chain (e2e -> engagement -> core-AU selection -> regressor) into a bundle."""
    from ..evaluation.experiment import save_aueipa_bundle

    train, result = _run(args, {})
    bundle = save_aueipa_bundle(Path(args.out) / "bundle", result, train, rules=args.rules)
    print(f"auengine fit: k* = {result['k']} ({', '.join(result['ranking'].index[:result['k']])}); bundle: {bundle}",
          file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Per-frame pain intensity and level from a bundle, for an AU table, a manifest or media."""
    import pandas as pd

    from ..au.backends import GeometryBackend
    from ..bundle import load_bundle
    from ..io.au_tables import read_au_table
    from ..io.tables import write_table

    bundle = load_bundle(args.bundle)
    source = Path(args.input)
    table = None
    if source.suffix.lower() in (".csv", ".parquet") and source.is_file():
        try:
            table = read_au_table(source)
        except InputError:          # no AU columns: a landmark table or manifest
            table = None
    if table is None:               # media, or landmarks: geometry AUs
        from .media import _frame_table

        frames = _frame_table(argparse.Namespace(inputs=[args.input], detector="auto", landmarks="auto",
                                                 every=1, fps=None))
        table = pd.concat([frames, GeometryBackend().estimate(frames)], axis=1)
    scored = bundle.predict(table, str(source))
    ids = [c for c in ("path", "source", "subject", "frame", "time_s", "face_id") if c in table.columns]
    out = write_table(pd.concat([table[ids], scored], axis=1), args.out)
    print(f"auengine predict: {int(scored['intensity'].notna().sum())} of {len(scored)} rows scored "
          f"({bundle.manifest['scale']}); {out}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded phantom: report.html and a bundle."""
    from ..demo import run_demo

    report = run_demo(args.out, size=args.size)
    print(f"auengine demo: open {report.resolve()}")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    """Frame-level pain / no-pain transfer classifiers (Zamzmi et al., Zhao et al., thesis)."""
    from ..io.manifest import read_manifest
    from ..models.train import TrainConfig
    from ..transfer.run import binary_table, run_cnn, run_features

    table = binary_table(read_manifest(args.manifest), args.pain_from_level)
    folds = args.folds if args.folds == "loso" else int(args.folds)
    weights = None if args.weights == "none" else args.weights
    if args.method == "features":
        results = run_features(table, args.out, layers=args.layers, handcrafted=args.handcrafted, weights=weights,
                               folds=folds, size=args.size, seed=args.seed)
    else:
        config = TrainConfig(epochs=args.epochs, lr=args.lr, size=args.size, weights=weights, seed=args.seed,
                             batch_size=args.batch_size)
        results = run_cnn(args.method, table, args.out, config, folds=folds, backbone=args.backbone)
    print((Path(args.out) / "results.md").read_text())
    print(f"auengine transfer: {args.method}: {len(results)} rows; {args.out}/results.csv, results.md", file=sys.stderr)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register evaluate, fit, train-regressor, predict and demo on the subcommand parser."""
    from ..registries import BACKBONES

    def experiment_options(parser: argparse.ArgumentParser, manifest_optional: bool = False) -> None:
        parser.add_argument("manifest", nargs="?" if manifest_optional else None, help="training manifest (CSV)")

        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--backbones", nargs="+", default=["resnet18"], metavar="NAME",
                            help=f"end-to-end CNNs ({', '.join(BACKBONES)}) or 'none' (default resnet18)")
        parser.add_argument("--epochs", type=int, default=25, help="CNN epochs (default 25)")
        parser.add_argument("--lr", type=float, default=1e-3,
                            help="CNN learning rate (default 1e-3, the paper's; use 1e-4 from random init)")
        parser.add_argument("--size", type=int, default=224, help="CNN input side (default 224)")
        parser.add_argument("--weights", default="imagenet", help="'imagenet', 'none' or a weights file")
        parser.add_argument("--folds", default="5", help="subject-wise folds: N or loso (default 5)")
        parser.add_argument("--e2e-folds", default=None, help="folds for the CNNs when different (e.g. 1)")
        parser.add_argument("--engagement", metavar="CSV", help="use this engagement.csv instead of a CNN's")
        parser.add_argument("--aus", metavar="TABLE", help="AU table for the manifest rows (default: geometry "
                                                           "AUs from the manifest's landmarks)")
        parser.add_argument("--rules", default="infant", help="AU rule set (default infant)")
        parser.add_argument("--level-map", help="training level -> test level, e.g. 0:0,1:1,2:1,3:1")
        parser.add_argument("--k-rule", choices=["1se", "min"], default="1se",
                            help="k* from the core-AU sweep: fewest AUs within one standard error of the lowest "
                                 "loss (default) or the lowest loss (the paper)")
        parser.add_argument("--seed", type=int, default=0)

    ev = sub.add_parser("evaluate", parents=[common], help="paper Tables IV-VI: all methods, subject-wise folds")
    experiment_options(ev, manifest_optional=True)
    ev.add_argument("--train", dest="train", metavar="MANIFEST", help="training manifest (or give it positionally)")
    ev.add_argument("--test", nargs="*", default=[], metavar="MANIFEST",
                    help="unseen test manifests (no fine-tuning; Tables V-VI)")
    ev.set_defaults(func=cmd_evaluate)

    fit = sub.add_parser("fit", parents=[common], help="e2e -> engagement -> core AUs -> regressor, into a bundle")
    experiment_options(fit)
    fit.set_defaults(func=cmd_fit)

    tr = sub.add_parser("train-regressor", parents=[common],
                        help="AuE-IPA regressor from a manifest and an engagement.csv, into a bundle")
    experiment_options(tr)
    tr.set_defaults(func=cmd_fit, backbones=["none"])

    pr = sub.add_parser("predict", parents=[common], help="per-frame pain intensity and level from a bundle")
    pr.add_argument("bundle", help="bundle folder")
    pr.add_argument("input", help="AU table, landmark table / manifest (CSV), image, folder or video")
    pr.add_argument("--out", required=True, help="output table (.csv or .parquet)")
    pr.set_defaults(func=cmd_predict)

    from ..transfer.layers import PRESETS

    tf = sub.add_parser("transfer", parents=[common], help="frame-level pain / no-pain transfer classifiers")
    tf.add_argument("method", choices=["features", "fc-head", "vgg-finetune"],
                    help="features: deep features + selection + NB/kNN/SVM/RF (Zamzmi et al.); fc-head: FC head "
                         "with a manual assessment branch (Zhao et al.); vgg-finetune: fine-tuned VGG16 (thesis)")
    tf.add_argument("manifest", help="manifest (CSV)")
    tf.add_argument("--out", required=True, help="output folder")
    tf.add_argument("--pain-from-level", type=int, default=None,
                    help="pain = level >= this (default: 1 for two-level scales, else half the levels, FLACC: 2)")
    tf.add_argument("--layers", nargs="+", default=["vgg16-fc7-postrelu"], metavar="LAYER",
                    help=f"features: presets ({', '.join(PRESETS)}) or MODEL:LAYER[:pool]")
    tf.add_argument("--handcrafted", nargs="*", default=[], choices=["strain", "lbp", "hog"],
                    help="features: handcrafted features alone and mixed with each deep set")
    tf.add_argument("--weights", default="imagenet", help="'imagenet', 'none' or a weights file")
    tf.add_argument("--folds", default="5", help="subject-wise folds: N or loso (default 5)")
    tf.add_argument("--backbone", help="CNN methods: backbone (default resnet50 for fc-head, vgg16 for vgg-finetune)")
    tf.add_argument("--epochs", type=int, default=25, help="CNN methods: epochs (default 25)")
    tf.add_argument("--lr", type=float, default=1e-5, help="CNN methods: learning rate (default 1e-5, Zhao et al.)")
    tf.add_argument("--batch-size", type=int, default=8)
    tf.add_argument("--size", type=int, default=224, help="input side in pixels (default 224)")
    tf.add_argument("--seed", type=int, default=0)
    tf.set_defaults(func=cmd_transfer)

    demo = sub.add_parser("demo", parents=[common], help="the whole AuE-IPA chain on the phantom -> report.html")
    demo.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    demo.add_argument("--size", choices=["full", "smoke"], default="full",
                      help="full (<= 15 min on 2 cores) or smoke (about a minute, for tests)")
    demo.set_defaults(func=cmd_demo)
