"""Engine vs "nurse" agreement on the phantom's procedure videos (issue 17); numbers for docs/agreement.md.

1. A phantom (default rule, FLACC 0-10): 14 subjects x 240 frames, each with a 12 s procedure video
   at 10 fps (baseline, rise, recovery) whose true score per frame is in the manifest.
2. A small bundle, as in tests/test_score.py: dlib landmarks -> geometry AUs of every 3rd image of the
   first 8 subjects -> AuE-IPA MLP on all 12 AUs with equal engagement (no CNN: minutes, not hours).
3. `auengine score` (library call) on the 6 held-out subjects' videos.
4. Observers: "truth" = the manifest's true score, averaged over each 2 s window (the "nurse"), and
   "truth-integer" = the same rounded to whole points, as a nurse would write it (so the
   observer-vs-observer rows show what integer scoring alone costs: a ceiling, not a human one).
5. `auengine agreement` (library call) in epoch and in frame units; prints the markdown tables.

Everything is synthetic. Usage: python scripts/validate_agreement.py [--work validation_agreement]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]
WINDOW_S = 2.0


def make_bundle(table: pd.DataFrame, subjects: list[str], backends, folder: Path) -> Path:
    from auengine.au.backends import GeometryBackend
    from auengine.au.rules import load_rules
    from auengine.bundle import save_bundle
    from auengine.estimators.aueipa import AuEIPARegressor
    from auengine.pipeline import Extractor, extract

    training = table[table["subject"].isin(subjects) & (np.arange(len(table)) % 3 == 0)]
    found = extract(list(training["abspath"]), Extractor(*backends), progress=False)
    aus = GeometryBackend().estimate(found.assign(subject=training["subject"].to_numpy()))
    ok = aus.notna().all(axis=1).to_numpy()
    engagement = pd.Series(1.0 / len(AUS), index=AUS)
    model = AuEIPARegressor(aus=AUS, engagement=engagement, weighted=False).fit(aus[ok], training["score"].to_numpy()[ok])
    return save_bundle(folder, model, rules=load_rules("infant"), engagement=engagement,
                       preprocessing={"au_backend": "geometry", "landmarks": "dlib"},
                       training_data={"synthetic": True, "rows": int(ok.sum()), "subjects": len(subjects)})


def observer_files(table: pd.DataFrame, videos: list[Path], work: Path) -> list[Path]:
    """truth.csv (2 s window means of the true score) and truth_integer.csv (the same, rounded)."""
    rows = []
    for video in videos:
        frames = table[table["sequence"] == video.stem].sort_values("frame")
        for start in np.arange(0, frames["time_s"].max() + 1e-9, WINDOW_S):
            inside = frames[(frames["time_s"] >= start) & (frames["time_s"] < start + WINDOW_S)]
            if len(inside):
                rows.append({"video": video.name, "start_s": start, "end_s": start + WINDOW_S, "scale": "flacc",
                             "score": float(inside["score"].mean())})
    truth = pd.DataFrame(rows)
    paths = [work / "truth.csv", work / "truth_integer.csv"]
    truth.assign(observer="truth").to_csv(paths[0], index=False)
    truth.assign(observer="truth-integer", score=truth["score"].round()).to_csv(paths[1], index=False)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="validation_agreement")
    args = parser.parse_args()
    from auengine.agreement import run_agreement
    from auengine.agreement.report import summary_rows
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate
    from auengine.pipeline import build_backends
    from auengine.report.markdown import markdown_table
    from auengine.scoring.video import ScoreOptions, score_video

    started = time.perf_counter()
    work = Path(args.work)
    table = read_manifest(generate(work / "phantom", n_subjects=14, frames_per_subject=240, seed=7, videos=True,
                                   progress=False))
    subjects = sorted(table["subject"].unique())
    backends = build_backends("auto", "dlib")
    bundle = make_bundle(table, subjects[:8], backends, work / "bundle")
    print(f"bundle: {time.perf_counter() - started:.0f} s")
    videos = [work / "phantom" / "videos" / f"{s}_seq0.mp4" for s in subjects[8:]]
    for video in videos:
        score_video(video, bundle, work / "scored", ScoreOptions(report=False), backends=backends)
    print(f"scored {len(videos)} videos: {time.perf_counter() - started:.0f} s")
    nurses = observer_files(table, videos, work)
    for unit in ("epochs", "frames"):
        result = run_agreement(work / "scored", nurses, work / f"agreement_{unit}", unit=unit)
        print(f"\n### Engine unit: {unit} ({len(videos)} held-out videos, {WINDOW_S:g} s observer windows)\n")
        print(markdown_table(summary_rows(result.pooled()).drop(columns=["video"])))
        if unit == "epochs":
            per_video = result.table[(result.table["scope"] == "recording") & (result.table["reference"] == "truth")
                                     & (result.table["rater"] == "engine")]
            print("\nPer recording (engine vs truth):\n")
            print(markdown_table(summary_rows(per_video)))
        for note in result.notes:
            print(f"- note: {note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; outputs in {work}/agreement_epochs, {work}/agreement_frames")


if __name__ == "__main__":
    main()
