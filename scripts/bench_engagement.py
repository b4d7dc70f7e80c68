"""Benchmark: run time of each engagement method relative to Grad-CAM, on a small phantom set, in one run.

Generates --subjects x --frames phantom images (seed 3), takes their aligned crops (the
input path of train-e2e/engagement), and times engagement_values for every method (maps,
occlusion drops or integrated gradients plus region values; for the surrogate a forward pass
plus landmark AU intensities against the subject's first image) on a random-initialised
ResNet18 (4 classes; the cost does not depend on the weights), batch 16. Prints images/s and the ratio to gradcam.

Usage: python scripts/bench_engagement.py [--subjects 2] [--frames 16] [--size 224] [--repeats 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torchvision

from auengine.au.rules import load_rules
from auengine.engagement_methods import METHODS, engagement_values
from auengine.evaluation.engagement_run import crop_landmarks
from auengine.io.manifest import read_manifest
from auengine.models.data import ManifestImages
from auengine.models.preprocess import Preprocessing
from auengine.phantom import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    rules = load_rules("infant")
    with tempfile.TemporaryDirectory() as folder:
        table = read_manifest(generate(folder, n_subjects=args.subjects, frames_per_subject=args.frames, size=args.size,
                                       seed=3, videos=False, progress=False))
        dataset = ManifestImages(table, prep=Preprocessing(size=args.size))
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        landmarks = crop_landmarks(dataset, range(len(dataset)))
    rest = landmarks[[args.frames * (i // args.frames) for i in range(len(landmarks))]]  # subject's first image
    model = torchvision.models.resnet18(num_classes=4).eval()
    rates = {}
    for method in METHODS:
        engagement_values(method, model, images[:2], landmarks[:2], rules, rest_landmarks=rest[:2])  # warm-up (ONNX)
        tic = time.perf_counter()
        for _ in range(args.repeats):
            for start in range(0, len(images), args.batch):
                part = slice(start, start + args.batch)
                engagement_values(method, model, images[part], landmarks[part], rules, rest_landmarks=rest[part])
        rates[method] = args.repeats * len(images) / (time.perf_counter() - tic)
    print(f"engagement methods, ResNet18, {args.size} px crops of {len(images)} phantom images, batch {args.batch}, "
          f"{torch.get_num_threads()} threads")
    for method, value in rates.items():
        print(f"  {method:10s} {value:8.1f} images/s   time / gradcam: {rates['gradcam'] / value:6.2f}x")


if __name__ == "__main__":
    main()
