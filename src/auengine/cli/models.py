"""Commands that train or apply models: train-e2e, engagement, evaluate, fit, train-regressor, predict, transfer,
demo (thin layer)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engagement_names import MAPLESS_METHODS, METHODS
from ..errors import InputError
from . import options


def cmd_train_e2e(args: argparse.Namespace) -> int:
    """Subject-wise CV of an end-to-end pain CNN (paper Table III)."""
    from ..evaluation.e2e import run_cv
    from ..metrics import format_mean_std, summarize_folds
    from ..io.manifest import read_manifest

    table = read_manifest(args.manifest)
    per_fold = run_cv(table, options.train_config(args), args.out, folds=args.folds)
    shown = format_mean_std(summarize_folds(per_fold))
    print(f"auengine train-e2e: {args.backbone}, {len(per_fold)} fold(s): "
          + ", ".join(f"{k} {v}" for k, v in shown.items()) + f"; run: {args.out}", file=sys.stderr)
    return 0


def cmd_engagement(args: argparse.Namespace) -> int:
    """AU engagement ranking from a train-e2e run (a method of engagement_methods.py on held-out subjects)."""
    from ..evaluation.engagement_run import run_engagement
    from ..io.manifest import read_manifest

    result = run_engagement(args.run, read_manifest(args.manifest), args.out, rules=args.rules, n_boot=args.bootstrap,
                            target_layer=args.target_layer, method=args.method, deidentify=args.deidentify)
    print(result.round(4).to_string(), file=sys.stderr)
    tied = result.index[result["tied_with"] != ""]
    if len(tied):
        why = ("move together in the data with" if args.method == "surrogate"
               else f"sit closer than the {args.method} method's resolution to")
        print(f"auengine engagement: {', '.join(tied)} {why} the AUs in tied_with: their order is not meaningful",
              file=sys.stderr)
    for note in result.attrs.get("notes", []):
        print(f"auengine engagement: warning: {note}", file=sys.stderr)
    overlays = "" if args.method in MAPLESS_METHODS else ", overlays/"        # only the CAMs have a map to draw
    print(f"auengine engagement: {args.out}/engagement.csv, engagement_by_level.csv, engagement.png{overlays}",
          file=sys.stderr)
    return 0


def _evaluation_config(args: argparse.Namespace):
    from ..evaluation.experiment import EvaluationConfig

    backbones = () if args.backbones == ["none"] else tuple(args.backbones)
    return EvaluationConfig(backbones=backbones, e2e=options.train_config(args), folds=args.folds,
                            e2e_folds=args.e2e_folds, rules=args.rules, level_map=args.level_map, seed=args.seed,
                            k_rule=args.k_rule)


def _run(args: argparse.Namespace, tests: dict):
    from ..engagement import read_engagement
    from ..evaluation.experiment import evaluate, manifest_aus
    from ..io.manifest import read_manifest

    train = read_manifest(args.manifest)
    train_aus = manifest_aus(train, args.aus)
    engagement = read_engagement(args.engagement) if args.engagement else None
    return train, evaluate(train, tests, args.out, _evaluation_config(args), train_aus=train_aus,
                           engagement=engagement)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Paper Tables IV-VI on any manifest."""
    from ..io.manifest import read_manifest

    args.manifest = args.manifest or args.train
    if not args.manifest:
        raise InputError("give the training manifest: auengine evaluate --train MANIFEST [--test MANIFEST ...] --out DIR")
    tests = {_test_name(m): read_manifest(m) for m in args.test}
    train, result = _run(args, tests)
    out = Path(args.out)
    result.write(out)
    result.save_bundle(out / "bundle", train, rules=args.rules)
    print(result.markdown())
    print(f"auengine evaluate: {out}/results.csv, results.md, core_aus.png, bundle/", file=sys.stderr)
    return 0


def _test_name(manifest: str) -> str:
    """A test set's name in tables: its folder name (manifest.csv) or file stem."""
    path = Path(manifest)
    return path.parent.name if path.stem == "manifest" and path.parent.name else path.stem


def cmd_fit(args: argparse.Namespace) -> int:
    """The whole chain (e2e -> engagement -> core-AU selection -> regressor) into a bundle."""
    train, result = _run(args, {})
    result.write(args.out)
    bundle = result.save_bundle(Path(args.out) / "bundle", train, rules=args.rules)
    print(f"auengine fit: k* = {result.k} ({', '.join(result.core_aus)}); bundle: {bundle}",
          file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Per-frame pain intensity and level from a bundle, for an AU table, a manifest or media."""
    from ..bundle import load_bundle
    from ..io.tables import atomic_write_json, write_table
    from ..predict import predict_input
    from ..scoring.report import SYNTHETIC_NOTE
    from .media import note_backends, report_problem

    bundle = load_bundle(args.bundle)
    scored = predict_input(bundle, args.input, detector=args.detector, landmarks=args.landmarks,
                           on_problem=report_problem, on_backends=note_backends)
    out = write_table(scored, args.out)
    n_scored = int(scored["intensity"].notna().sum())
    note = f"bundle {SYNTHETIC_NOTE}" if bundle.synthetic else None
    atomic_write_json(Path(f"{out}.json"), {"bundle": str(args.bundle), "bundle_synthetic": bundle.synthetic,
                                            "note": note, "rows": len(scored), "rows_scored": n_scored})
    if note:
        print(f"auengine predict: {note}", file=sys.stderr)
    print(f"auengine predict: {n_scored} of {len(scored)} rows scored ({bundle.scale.name}); {out}; notes: {out}.json",
          file=sys.stderr)
    return 0 if n_scored else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded phantom: report.html and a bundle."""
    from ..demo import run_demo

    report = run_demo(args.out, size=args.size)
    print(f"auengine demo: open {report.resolve()}")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    """Frame-level pain / no-pain transfer classifiers (Zamzmi et al., Zhao et al., thesis)."""
    from ..io.manifest import read_manifest
    from ..transfer.run import binary_table, run_cnn, run_features

    table = binary_table(read_manifest(args.manifest), args.pain_from_level)
    if args.method == "features":
        results = run_features(table, args.out, layers=args.layers, handcrafted=args.handcrafted, weights=args.weights,
                               folds=args.folds, size=args.size, seed=args.seed)
    else:
        config = options.train_config(args, exclude=("backbone",))
        results = run_cnn(args.method, table, args.out, config, folds=args.folds, backbone=args.backbone)
    print((Path(args.out) / "results.md").read_text())
    print(f"auengine transfer: {args.method}: {len(results)} rows; {args.out}/results.csv, results.md", file=sys.stderr)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register train-e2e, engagement, evaluate, fit, train-regressor, predict, transfer and demo."""
    from ..registries import BACKBONES

    tr = sub.add_parser("train-e2e", parents=[common], help="subject-wise CV of an end-to-end pain CNN (paper Table III)")
    tr.add_argument("manifest")
    tr.add_argument("--out", required=True, help="run folder")
    tr.add_argument("--backbone", default="resnet18", choices=BACKBONES)
    tr.add_argument("--folds", type=options.folds, default=5,
                    help="number of subject-wise folds, 1 (one train/validation split) or loso")
    options.add_training_options(tr)
    tr.add_argument("--batch-size", type=int, default=8)
    tr.add_argument("--class-weights", action="store_true", help="weight the loss by inverse class frequency")
    tr.set_defaults(func=cmd_train_e2e)

    en = sub.add_parser("engagement", parents=[common], help="AU engagement ranking from a train-e2e run")
    en.add_argument("run", help="train-e2e run folder")
    en.add_argument("manifest", help="the manifest the run was trained on (with landmarks)")
    en.add_argument("--out", required=True)
    en.add_argument("--rules", default="infant", help="AU rule set name or file")
    en.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of subjects for the 95%% CI")
    en.add_argument("--target-layer", help="with --method gradcam: Grad-CAM layer by module name (default: the last "
                                           "conv block, ResNet layer4; layer3 gives 14 x 14 maps at 224 px)")
    en.add_argument("--method", choices=METHODS, default="surrogate",
                    help="surrogate (default, chosen by docs/engagement.md's multi-rule validation): the model's "
                         "expected level regressed on the AU intensities the landmarks show; occlusion: probability "
                         "drop when each AU region is replaced by the subject's resting face; integrated: integrated "
                         "gradients from the resting face, summed per region; fused: LayerCAM on layer3 + layer4; "
                         "gradcam: the paper's Eq. 2 on the last conv block (to reproduce it)")
    en.add_argument("--deidentify", choices=["blur", "mask", "phantom"],
                    help="faces under the CAM overlays blurred, masked or replaced by a phantom infant")
    en.set_defaults(func=cmd_engagement)

    def experiment_options(parser: argparse.ArgumentParser, manifest_optional: bool = False) -> None:
        parser.add_argument("manifest", nargs="?" if manifest_optional else None, help="training manifest (CSV)")

        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--backbones", nargs="+", default=["resnet18"], metavar="NAME",
                            help=f"end-to-end CNNs ({', '.join(BACKBONES)}) or 'none' (default resnet18)")
        options.add_training_options(parser, lr_help="CNN learning rate (the paper's; use 1e-4 from random init)")
        parser.add_argument("--folds", type=options.folds, default=5, help="subject-wise folds: N or loso (default 5)")
        parser.add_argument("--e2e-folds", type=options.folds, default=None,
                            help="folds for the CNNs when different (e.g. 1)")
        parser.add_argument("--engagement", metavar="CSV", help="use this engagement.csv instead of a CNN's")
        parser.add_argument("--aus", metavar="TABLE", help="AU table for the manifest rows (default: geometry "
                                                           "AUs from the manifest's landmarks)")
        parser.add_argument("--rules", default="infant", help="AU rule set (default infant)")
        parser.add_argument("--level-map", help="training level -> test level, e.g. 0:0,1:1,2:1,3:1")
        parser.add_argument("--k-rule", choices=["1se", "min"], default="1se",
                            help="k* from the core-AU sweep: fewest AUs within one standard error of the lowest "
                                 "loss (default) or the lowest loss (the paper)")

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
    options.add_face_options(pr)
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
                    help=f"features: presets ({', '.join(PRESETS)}), dlib-face (dlib's 128-D face "
                         "descriptor) or MODEL:LAYER[:pool]")
    tf.add_argument("--handcrafted", nargs="*", default=[], choices=["strain", "lbp", "hog"],
                    help="features: handcrafted features alone and mixed with each deep set")
    options.add_training_options(tf, lr=1e-5, lr_help="CNN methods: learning rate (Zhao et al.)")
    tf.add_argument("--folds", type=options.folds, default=5, help="subject-wise folds: N or loso (default 5)")
    tf.add_argument("--backbone", help="CNN methods: backbone (default resnet50 for fc-head, vgg16 for vgg-finetune)")
    tf.add_argument("--batch-size", type=int, default=8)
    tf.set_defaults(func=cmd_transfer)

    demo = sub.add_parser("demo", parents=[common], help="the whole AuE-IPA chain on the phantom -> report.html")
    demo.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    demo.add_argument("--size", choices=["full", "smoke"], default="full",
                      help="full (<= 15 min on 2 cores) or smoke (about a minute, for tests)")
    demo.set_defaults(func=cmd_demo)
