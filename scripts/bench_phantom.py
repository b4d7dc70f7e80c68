"""Benchmark: phantom images per second at 224 x 224 on this machine.

Prints, measured in this run:
  - render only, one process (identity + AUs + pose + nuisance -> RGB array);
  - generate() end to end (render + JPEG files + MP4s + manifest) with 1 and with 2 processes;
  - the ratio of the 2-process rate to the 200 images/s target.

Usage: python scripts/bench_phantom.py [--subjects 40] [--frames 20]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from auengine.phantom import PHANTOM_AUS, generate, render, sample_identity
from auengine.phantom.render import sample_nuisance, sample_pose

TARGET = 200.0


def render_rate(n: int = 400, size: int = 224) -> float:
    rng = np.random.default_rng(0)
    identities = [sample_identity(rng) for _ in range(20)]
    render(identities[0], {}, sample_pose(rng, size), sample_nuisance(rng), size, rng)  # warm caches
    start = time.perf_counter()
    for i in range(n):
        intensities = dict(zip(PHANTOM_AUS, rng.uniform(0, 5, len(PHANTOM_AUS))))
        render(identities[i % 20], intensities, sample_pose(rng, size), sample_nuisance(rng), size, rng)
    return n / (time.perf_counter() - start)


def generate_rate(subjects: int, frames: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        generate(folder, n_subjects=subjects, frames_per_subject=frames, workers=workers, progress=False)
        return subjects * frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    rendered = render_rate()
    one = generate_rate(args.subjects, args.frames, 1)
    two = generate_rate(args.subjects, args.frames, 2)
    n = args.subjects * args.frames
    print(f"render only, 1 process:             {rendered:7.1f} images/s")
    print(f"generate ({n} images), 1 process:  {one:7.1f} images/s")
    print(f"generate ({n} images), 2 processes: {two:7.1f} images/s")
    print(f"2-process generate / target {TARGET:.0f} images/s: {two / TARGET:.2f}x")


if __name__ == "__main__":
    main()
