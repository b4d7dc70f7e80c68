"""Figures: AU engagement bars with intervals (paper Fig. 5 style) and CAM overlays."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..au.rules import AURules
from .overlay import ZONE_COLOURS, AU_ZONES, draw_au_regions


def engagement_chart(table: pd.DataFrame, path: str | Path, title: str = "AU engagement") -> Path:
    """Bar chart of normalised engagement (highest first) with 95 % interval whiskers; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = [np.array(ZONE_COLOURS.get(AU_ZONES.get(au, ""), (128, 128, 128))) / 255 for au in table.index]
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=120)
    ax.bar(table.index, table["engagement"], color=colours, edgecolor="black", linewidth=0.5)
    if {"low", "high"} <= set(table.columns):
        ax.errorbar(table.index, table["engagement"], yerr=[table["engagement"] - table["low"],
                                                            table["high"] - table["engagement"]],
                    fmt="none", ecolor="black", capsize=3, linewidth=0.8)
    ax.set_ylabel("engagement (sums to 1)")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def cam_overlay(image: np.ndarray, cam: np.ndarray, landmarks: np.ndarray, rules: AURules,
                alpha: float = 0.45) -> np.ndarray:
    """RGB image (S, S, 3) with the CAM (S, S) as a jet heat map and the AU regions drawn."""
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(cam, 0, 1)), cv2.COLORMAP_JET)[..., ::-1]
    blended = np.uint8((1 - alpha) * image + alpha * heat)
    return draw_au_regions(blended, landmarks, rules, label=image.shape[0] >= 200)
