"""`auengine score`: videos -> per-frame scores, epochs, review list and reports (thin layer)."""
from __future__ import annotations

import argparse
import json
import sys

from . import options


def cmd_score(args: argparse.Namespace) -> int:
    """Score videos or folders of videos with a bundle."""
    from ..deidentify import check_mode
    from ..models.folders import resolve_model_folder
    from ..scoring.batch import score_many
    from ..scoring.timeline import ReviewRules
    from ..scoring.video import ScoreOptions

    if args.cnn:                       # a run folder is accepted (its first fold), anything else refused up front
        cnn = resolve_model_folder(args.cnn)
        if cnn.note:
            print(f"auengine score: --cnn {cnn.note}", file=sys.stderr)
        args.cnn = str(cnn.path)
    score_options = ScoreOptions(detect_every=args.detect_every, detector=args.detector, landmarks=args.landmarks,
                                 epoch_s=args.epoch, epochs_csv=args.epochs_csv, threshold=args.threshold,
                                 smooth_s=args.smooth, cnn=args.cnn,
                                 review=ReviewRules(min_confidence=args.min_confidence), report=not args.no_report,
                                 deidentify=check_mode(args.deidentify))
    summary = score_many(args.inputs, args.bundle, args.out, score_options, backend=args.backend,
                         workers=args.workers, address=args.address, force=args.force, show_tracebacks=args.debug)
    print(json.dumps({k: summary[k] for k in ("scored", "skipped", "failed", "warnings", "outputs")}, indent=1))
    print(f"auengine score: {len(summary['scored'])} scored ({len(summary['warnings'])} with a warning), "
          f"{len(summary['skipped'])} skipped (done before with the same bundle and options; --force redoes), "
          f"{len(summary['failed'])} failed; {args.out}/summary.json", file=sys.stderr)
    return 0 if summary["scored"] or summary["skipped"] else 1


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register `score` on the subcommand parser."""
    sc = sub.add_parser("score", parents=[common], help="score videos for pain: timelines, epochs, review list")
    sc.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR", help="video files or folders of videos")
    sc.add_argument("--bundle", required=True, help="model bundle folder (auengine fit / demo)")
    sc.add_argument("--out", required=True, help="output folder (one subfolder per video)")
    sc.add_argument("--epoch", type=float, default=1.0, help="epoch length in seconds (default 1)")
    sc.add_argument("--epochs-csv", help="CSV of epochs (start_s, end_s[, label][, video]) instead of fixed ones")
    sc.add_argument("--threshold", type=float, help="intensity for 'time above' (default: the scale's first edge)")
    sc.add_argument("--smooth", type=float, default=0.5, help="smoothing window in seconds (default 0.5)")
    sc.add_argument("--min-confidence", type=float, default=0.35, help="epochs below this mean confidence go to review")
    sc.add_argument("--cnn", metavar="RUN", help="also run this train-e2e model: CAM overlays, disagreement review")
    sc.add_argument("--detect-every", type=int, default=30,
                    help="run the face detector every N frames, tracking in between (default 30)")
    options.add_face_options(sc)
    sc.add_argument("--backend", choices=["local", "ray"], default="local", help="process pool or Ray cluster")
    sc.add_argument("--address", help="Ray cluster address (default: a local Ray)")
    sc.add_argument("--workers", type=int, help="parallel videos (default: CPU count)")
    sc.add_argument("--force", action="store_true", help="re-score videos that are already done")
    sc.add_argument("--no-report", action="store_true", help="skip report.html (faster for big batches)")
    sc.add_argument("--deidentify", choices=["blur", "mask", "phantom"],
                    help="faces in thumbnails and report images blurred, masked or replaced by a phantom infant")
    sc.set_defaults(func=cmd_score)
