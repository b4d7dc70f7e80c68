"""Figures for docs/phantom.md: AU contact sheet and nuisance samples.

- docs/figures/phantom_contact_sheet.png: one row per Table I AU at intensities 0..5,
  on two different subjects (left six columns: subject A, right six: subject B).
- docs/figures/phantom_nuisance.png: random draws of pose, lighting, blur, noise,
  JPEG, background clutter and occluders (pacifier, hand, blanket), with the
  ground-truth landmarks of the last row drawn.

Usage: python scripts/make_phantom_figures.py [--size 128]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from auengine.phantom import PHANTOM_AUS, render, render_example, sample_identity
from auengine.phantom.render import Nuisance, sample_nuisance, sample_pose
from auengine.report.overlay import write_png

LABEL_WIDTH = 70


def _label(tile_height: int, text: str) -> np.ndarray:
    panel = np.full((tile_height, LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(panel, text, (6, tile_height // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def contact_sheet(size: int) -> np.ndarray:
    subjects = [sample_identity(np.random.default_rng(11), 0), sample_identity(np.random.default_rng(4), 1)]
    header = np.full((24, LABEL_WIDTH + 12 * size, 3), 255, np.uint8)
    for k in range(12):
        cv2.putText(header, f"{k % 6}", (LABEL_WIDTH + k * size + size // 2 - 4, 17), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for au in PHANTOM_AUS:
        tiles = [render_example(identity, {au: float(level)}, size)[0] for identity in subjects for level in range(6)]
        rows.append(np.hstack([_label(size, au), *tiles]))
    return np.vstack(rows)


def nuisance_samples(size: int, n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(3)
    tiles = []
    occluders = ["none", "pacifier", "hand", "blanket"]
    for i in range(n):
        identity = sample_identity(rng, i % 2)
        intensities = dict(zip(PHANTOM_AUS, rng.uniform(0, 5, 12) * (rng.uniform(size=12) < 0.5)))
        nuisance = sample_nuisance(rng)
        if i < 8:
            nuisance = Nuisance(**{**nuisance.__dict__, "occluder": occluders[i % 4]})
        image, landmarks = render(identity, intensities, sample_pose(rng, size), nuisance, size, rng)
        if i >= 12:
            for x, y in landmarks:
                cv2.circle(image, (int(round(x)), int(round(y))), 1, (0, 255, 0), -1)
        tiles.append(image)
    return np.vstack([np.hstack(tiles[r * 8:(r + 1) * 8]) for r in range(n // 8)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    write_png("docs/figures/phantom_contact_sheet.png", contact_sheet(args.size))
    write_png("docs/figures/phantom_nuisance.png", nuisance_samples(args.size))
    print("wrote docs/figures/phantom_contact_sheet.png and docs/figures/phantom_nuisance.png")


if __name__ == "__main__":
    main()
