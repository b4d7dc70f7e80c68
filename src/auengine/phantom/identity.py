"""Phantom identities: the face shape, colours and hair of one synthetic infant.

The resting face shape is drawn from a shape model of real infants (:mod:`.shape_model`);
two populations draw from different distributions (skin tones, face shape, hair) so that
generalisation to unseen faces can be tested.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shape_model import draw_coefficients

# Skin tones from very light to very dark (RGB), interpolated by Identity.skin_tone in [0, 1].
SKIN_PALETTE = np.array([[255, 224, 206], [241, 194, 167], [224, 172, 132], [198, 134, 98],
                         [160, 102, 70], [120, 74, 50], [84, 52, 36]], dtype=np.float64)
HAIR_COLOURS = np.array([[240, 215, 150], [196, 150, 80], [150, 90, 45], [170, 70, 35],
                         [90, 60, 35], [40, 28, 22]], dtype=np.float64)
IRIS_COLOURS = np.array([[70, 45, 30], [40, 30, 25], [90, 110, 140], [100, 110, 100]], dtype=np.float64)
HAIR_STYLES = ("none", "fuzz", "strands", "tuft", "cap")

# Per population: (skin-tone beta a, b), hair-style probabilities (face shapes: shape_model.POPULATION_SHIFT).
POPULATIONS = {
    0: {"skin": (1.6, 2.6), "hair": (0.15, 0.3, 0.25, 0.15, 0.15)},
    1: {"skin": (2.6, 1.6), "hair": (0.1, 0.15, 0.15, 0.3, 0.3)},
}


@dataclass(frozen=True)
class Identity:
    """Resting face shape, colours and hair of one phantom infant.

    ``shape``: the shape model's coefficients (k,), units of its sd (face.neutral_landmarks
    turns them into landmarks); ``cranium`` and ``brow_thickness``: factors about 1.0 for
    what landmarks do not fix (skull height above the jaw, brow line width).
    """

    shape: tuple[float, ...]
    cranium: float
    brow_thickness: float
    skin_tone: float
    skin: tuple[float, float, float]
    hair_style: str
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    brow: tuple[float, float, float]
    lips: tuple[float, float, float]
    seed: int  # drives identity-fixed random details (hair strands)


def _blend(palette: np.ndarray, t: float) -> np.ndarray:
    position = np.clip(t, 0, 1) * (len(palette) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(palette) - 1)
    return palette[low] * (1 - (position - low)) + palette[high] * (position - low)


def sample_identity(rng: np.random.Generator, population: int = 0) -> Identity:
    """Draw one identity from ``population`` (0 or 1)."""
    spec = POPULATIONS[population % len(POPULATIONS)]
    tone = float(rng.beta(*spec["skin"]))
    skin = _blend(SKIN_PALETTE, tone) * rng.uniform(0.96, 1.04, 3)
    hair_style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=spec["hair"])]
    dark_hair = tone > 0.55
    hair = HAIR_COLOURS[rng.integers(3, 6) if dark_hair else rng.integers(0, 6)] * rng.uniform(0.85, 1.1)
    iris = IRIS_COLOURS[rng.integers(0, 2) if dark_hair else rng.integers(0, 4)]
    brow = hair * 0.8 + skin * 0.2
    lips = skin * np.array([0.92, 0.62, 0.62]) + np.array([12.0, 0.0, 8.0])

    def factor(spread: float, mean: float = 1.0) -> float:
        return float(np.clip(rng.normal(mean, spread), mean - 2.5 * spread, mean + 2.5 * spread))

    return Identity(
        shape=tuple(float(c) for c in draw_coefficients(rng, population)), cranium=factor(0.05),
        brow_thickness=factor(0.25), skin_tone=tone,
        skin=tuple(np.clip(skin, 0, 255)), hair_style=hair_style, hair=tuple(np.clip(hair, 0, 255)),
        iris=tuple(iris), brow=tuple(np.clip(brow, 0, 255)), lips=tuple(np.clip(lips, 0, 255)),
        seed=int(rng.integers(2**31)),
    )
