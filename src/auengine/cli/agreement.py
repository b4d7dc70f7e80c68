"""`auengine agreement`: engine scores against observer scores (and observers against each other)."""
from __future__ import annotations

import argparse
import sys


def cmd_agreement(args: argparse.Namespace) -> int:
    """Pair a score output with observer files and write agreement.csv/json/md and bland_altman.png."""
    from ..agreement import run_agreement

    result = run_agreement(args.engine, args.observers, args.out, unit=args.unit, min_coverage=args.min_coverage,
                           threshold=args.threshold)
    for row in result.pooled().itertuples():
        print(f"{row.rater} vs {row.reference} ({row.scale}, n={int(row.n)}): ICC(2,1) {row.icc2_1:.3f}, "
              f"ICC(3,1) {row.icc3_1:.3f}, kappa {row.kappa_quadratic:.3f}, r {row.pearson_r:.3f}, "
              f"bias {row.bias:.3f} [{row.loa_low:.3f}, {row.loa_high:.3f}]")
    for note in result.notes:
        print(f"auengine agreement: note: {note}", file=sys.stderr)
    print(f"auengine agreement: {args.out}/agreement.md, agreement.csv, agreement.json, pairs.csv, bland_altman.png",
          file=sys.stderr)
    return 0


def cmd_export_annotations(args: argparse.Namespace) -> int:
    """Scored recordings -> ELAN .eaf / BORIS events / observer CSV, with observer scores attached."""
    import pandas as pd

    from ..agreement.pairing import score_folders
    from ..interop import export_scored, read_observer_scores

    observers = pd.concat([read_observer_scores(p) for p in args.observers]) if args.observers else None
    written = [path for folder in score_folders(args.scored) for path in
               export_scored(folder, args.out, observers, tuple(args.formats))]
    print("\n".join(map(str, written)))
    print(f"auengine export-annotations: {len(written)} file(s) in {args.out}", file=sys.stderr)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register `agreement` and `export-annotations` on the subcommand parser."""
    ag = sub.add_parser("agreement", parents=[common],
                        help="engine vs observer scores (ICC, kappa, Bland-Altman, sens/spec/AUC)")
    ag.add_argument("engine", metavar="ENGINE", help="auengine score output: a video's folder or the --out folder")
    ag.add_argument("observers", nargs="+", metavar="NURSE",
                    help="observer scores: CSV (video,start_s,end_s,scale,score,observer), ELAN .eaf or BORIS export")
    ag.add_argument("--out", required=True, help="output folder")
    ag.add_argument("--unit", choices=["epochs", "frames"], default="epochs",
                    help="engine scores per epoch (default) or per frame, averaged over each observer span")
    ag.add_argument("--min-coverage", type=float, default=0.5,
                    help="share of an observer span the engine must cover to pair it (default 0.5)")
    ag.add_argument("--threshold", type=float, help="pain threshold (default: the scale's first level edge)")
    ag.set_defaults(func=cmd_agreement)

    ex = sub.add_parser("export-annotations", parents=[common],
                        help="scored recordings -> ELAN .eaf / BORIS events (engine level, intensity, review, observers)")
    ex.add_argument("scored", metavar="SCORED", help="auengine score output: a video's folder or the --out folder")
    ex.add_argument("--out", required=True, help="output folder (<stem>.eaf, <stem>.boris.csv, <stem>.observers.csv)")
    ex.add_argument("--observers", nargs="*", default=[], metavar="FILE",
                    help="observer scores to attach (CSV, .eaf or BORIS export)")
    ex.add_argument("--formats", nargs="+", choices=["eaf", "boris", "csv"], default=["eaf", "boris"])
    ex.set_defaults(func=cmd_export_annotations)
