"""Commands on media and data sets: extract, aus, phantom, manifest, frames (thin layer)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import options


def report_problem(message: str) -> None:
    """One stderr line per problem input (above any progress bar)."""
    from tqdm import tqdm

    tqdm.write(f"auengine: skipped: {message}", file=sys.stderr)


def note_backends(line: str) -> None:
    print(f"auengine: {line}", file=sys.stderr)


def cmd_extract(args: argparse.Namespace) -> int:
    """Faces and 68 landmarks of images, folders and videos -> table (+ overlays)."""
    from ..io.tables import atomic_write_json, write_table
    from ..pipeline import Extractor, build_backends, extract, extraction_summary

    out = Path(args.out)
    detector, landmarker = build_backends(args.detector, args.landmarks, detector_weights=args.detector_weights,
                                          landmark_weights=args.landmark_weights)
    print(f"auengine: detector={detector.name} landmarks={landmarker.name}"
          + (f" ({landmarker.reason})" if landmarker.reason else ""), file=sys.stderr)
    extractor = Extractor(detector, landmarker, all_faces=args.all_faces,
                          overlay_dir=out / "overlays" if args.overlay else None, deidentify=args.deidentify)
    table = extract(args.inputs, extractor, every=args.every, fps=args.fps, on_problem=report_problem)
    from ..au.infant_check import infant_column

    table["infant_prob"] = infant_column(table)
    table_path = write_table(table, out / f"landmarks.{args.format}")
    summary = extraction_summary(table, extractor, table_path)
    atomic_write_json(out / "summary.json", summary)
    print(f"auengine: {summary['faces']} face(s) in {summary['frames']} frame(s) from {summary['inputs']} "
          f"input(s); {summary['problems']} problem(s). Table: {table_path}"
          + (f"; overlays: {out / 'overlays'}" if args.overlay else ""), file=sys.stderr)
    return 0 if summary["faces"] > 0 else 1


def _neutral_face(args: argparse.Namespace):
    """The geometry backend's neutral: a mode name, or the landmarks (K, 68, 2) of --neutral-image."""
    if not args.neutral_image:
        return args.neutral
    from ..columns import landmarks_of
    from ..errors import InputError
    from ..pipeline import Extractor, build_backends, extract

    detector, landmarker = build_backends(args.detector, args.landmarks)
    found = extract([args.neutral_image], Extractor(detector, landmarker))
    found = found[found["success"] == 1]
    if not len(found):
        raise InputError(f"{args.neutral_image}: no face found in the resting-face image (--neutral-image); "
                         "use a frontal photo of the same person at rest")
    return landmarks_of(found)


def cmd_aus(args: argparse.Namespace) -> int:
    """AU intensities (0-5) per face per frame, from media or a landmark table."""
    import warnings

    import pandas as pd

    from ..au.backends import AU_BACKENDS
    from ..au.infant_check import infant_column
    from ..io.frame_tables import is_table_file
    from ..io.tables import atomic_write_json, write_table

    backend_options = {"geometry": {"neutral": _neutral_face(args)},
                       "table": {"path": args.au_table, "source": args.au_table_source}}.get(args.backend, {})
    backend = AU_BACKENDS.create(args.backend, **backend_options)
    if args.backend == "table" and all(Path(p).is_file() and not is_table_file(p) for p in args.inputs):
        backend.require_sources(args.inputs)       # media: refused before any face is detected
    from ..pipeline import frame_table

    frames = frame_table(args.inputs, detector=args.detector, landmarks=args.landmarks, every=args.every, fps=args.fps,
                         on_problem=report_problem, on_backends=note_backends)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)    # the fallback is printed below, once
        aus = backend.estimate(frames)
    ids = [c for c in ("source", "subject", "frame", "time_s", "face_id", "success", "reason") if c in frames.columns]
    table = pd.concat([frames[ids].reset_index(drop=True), aus.reset_index(drop=True)], axis=1)
    table["infant_prob"] = infant_column(frames)
    out = write_table(table, args.out)
    atomic_write_json(Path(f"{out}.json"), {"backend": backend.name, **aus.attrs, "rows": len(table),
                                            "rows_with_aus": int(aus.notna().all(axis=1).sum()),
                                            "infant_share": _infant_share(table["infant_prob"])})
    for key, label in (("neutral_fallback", "neutral"), ("constant_zero", "constant 0")):
        if aus.attrs.get(key):
            detail = aus.attrs[key] if isinstance(aus.attrs[key], str) else \
                "; ".join(f"{c}: {why}" for c, why in aus.attrs[key].items())
            print(f"auengine aus: {label}: {detail}", file=sys.stderr)
    print(f"auengine aus: {int(aus.notna().all(axis=1).sum())} of {len(table)} rows with AUs "
          f"({backend.name}); table: {out}; notes: {out}.json", file=sys.stderr)
    return 0 if aus.notna().all(axis=1).any() else 1


def _infant_share(values) -> float | None:
    """Share of faces with infant_prob >= 0.5 (None without faces)."""
    import numpy as np

    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return round(float((values >= 0.5).mean()), 4) if len(values) else None


def cmd_phantom(args: argparse.Namespace) -> int:
    """Generate a phantom data set (synthetic infant faces with known AU ground truth)."""
    from ..phantom import PhantomConfig, generate, load_rule

    rule = load_rule(args.rule)
    config = PhantomConfig(occluder_p=args.pacifier, fps=args.fps)
    manifest = generate(args.out, n_subjects=args.subjects, frames_per_subject=args.frames, size=args.size,
                        pain_rule=rule, population=args.population, seed=args.seed, videos=not args.no_videos,
                        workers=args.workers, config=config)
    print(f"auengine phantom: {args.subjects} subjects x {args.frames} frames, rule {rule.name!r} "
          f"(scale {rule.scale}); manifest: {manifest}", file=sys.stderr)
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    """Validate a data-set manifest and summarise it."""
    from ..io.manifest import read_manifest

    table = read_manifest(args.manifest, check_files=not args.no_file_check)
    levels = table["level"].value_counts().sort_index()
    print(f"{args.manifest}: {len(table)} rows, {table['subject'].nunique()} subjects; levels: "
          + ", ".join(f"{level}: {count}" for level, count in levels.items()))
    return 0


def cmd_frames(args: argparse.Namespace) -> int:
    """Scored video time points -> consecutive frames + manifest."""
    from ..io.annotations import frames_from_annotations

    manifest, problems = frames_from_annotations(args.annotations, args.out, frames=args.frames)
    for problem in problems:
        report_problem(problem)
    print(f"auengine frames: manifest {manifest} ({len(problems)} problem(s))", file=sys.stderr)
    return 0



def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register extract, phantom, manifest, aus, frames on the subcommand parser."""
    from ..registries import AU_BACKENDS

    ext = sub.add_parser("extract", parents=[common], help="faces and 68 landmarks from images, folders and videos")
    ext.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or videos")
    ext.add_argument("--out", required=True, help="output folder")
    options.add_face_options(ext)
    ext.add_argument("--detector-weights", metavar="PATH", help="weights file for --detector face-alignment")
    ext.add_argument("--landmark-weights", metavar="PATH", help="weights file for the landmark backend")
    sampling = ext.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, default=1, metavar="N", help="keep every Nth video frame")
    sampling.add_argument("--fps", type=float, metavar="F", help="sample videos at about F frames per second")
    ext.add_argument("--all-faces", action="store_true", help="keep every face (default: the largest only)")
    ext.add_argument("--overlay", action="store_true", help="write PNGs with landmarks and AU regions")
    ext.add_argument("--deidentify", choices=["blur", "mask", "phantom"],
                     help="faces in the overlays blurred, masked or replaced by a phantom infant")
    ext.add_argument("--format", choices=["csv", "parquet"], default="csv", help="table format")
    ext.set_defaults(func=cmd_extract)

    ph = sub.add_parser("phantom", parents=[common], help="generate synthetic infant faces with known AU ground truth")
    ph.add_argument("--out", required=True, help="output folder")
    ph.add_argument("--subjects", type=int, default=60, help="number of subjects (default 60)")
    ph.add_argument("--frames", type=int, default=40, help="frames per subject (default 40)")
    ph.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    ph.add_argument("--rule", default="default",
                    help="pain rule: a preset (default, upper-face) or a YAML/JSON file")
    ph.add_argument("--population", type=int, default=0, choices=[0, 1], help="identity distribution")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--pacifier", type=float, default=0.08, metavar="P", help="probability of a pacifier")
    ph.add_argument("--fps", type=float, default=10.0, help="frame rate of the sequences")
    ph.add_argument("--no-videos", action="store_true", help="do not write MP4s of the sequences")
    ph.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    ph.set_defaults(func=cmd_phantom)

    man = sub.add_parser("manifest", parents=[common], help="validate a data-set manifest (every bad row at once)")
    man.add_argument("manifest")
    man.add_argument("--no-file-check", action="store_true", help="do not check that image files exist")
    man.set_defaults(func=cmd_manifest)

    aus = sub.add_parser("aus", parents=[common], help="AU intensities (0-5) from images, videos or a landmark table")
    aus.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="images, folders, videos, or one extract table / manifest with landmarks")
    aus.add_argument("--out", required=True, help="output table (.csv or .parquet)")
    aus.add_argument("--backend", default="geometry", choices=AU_BACKENDS.names(), help="AU estimator")
    aus.add_argument("--neutral", default="auto", choices=["auto", "infant", "adult", "none"],
                     help="geometry: the resting face AUs are read against. auto (default): per subject/video from "
                          "its least active frames, or the reference face of its age group when it has too few "
                          "frames (said on stderr and in the notes); infant / adult: that population's reference "
                          "face (real annotations); none: uncalibrated")
    aus.add_argument("--neutral-image", metavar="IMAGE",
                     help="geometry: a photo of the same person at rest, used as the resting face")
    aus.add_argument("--au-table", metavar="PATH", help="table backend: a precomputed OpenFace/py-feat table, "
                                                        "joined by source (file stem) and frame")
    aus.add_argument("--au-table-source", metavar="NAME",
                     help="table backend: the input (file name or stem) a one-source AU table belongs to, when its "
                          "own name differs (an OpenFace CSV is named after its CSV file)")
    options.add_face_options(aus)
    aus_sampling = aus.add_mutually_exclusive_group()
    aus_sampling.add_argument("--every", type=int, default=1, metavar="N")
    aus_sampling.add_argument("--fps", type=float, metavar="F")
    aus.set_defaults(func=cmd_aus)

    fr = sub.add_parser("frames", parents=[common], help="scored video time points -> consecutive frames and a manifest")
    fr.add_argument("annotations", help="CSV: video, subject, time_s, scale, score")
    fr.add_argument("--out", required=True, help="output folder (frames/ and manifest.csv)")
    fr.add_argument("--frames", type=int, default=30, help="consecutive frames per time point (default 30)")
    fr.set_defaults(func=cmd_frames)

