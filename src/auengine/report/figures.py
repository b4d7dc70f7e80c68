"""Figures: AU engagement bars (paper Fig. 5), core-AU sweep (Fig. 6), intensity timelines, CAM overlays."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..au.rules import AURules
from .overlay import ZONE_COLOURS, AU_ZONES, draw_au_regions


def engagement_chart(table: pd.DataFrame, path: str | Path, title: str = "AU engagement") -> Path:
    """Bar chart of normalised engagement (highest first) with 95 % interval whiskers; writes a PNG."""
    plt = _pyplot()
    colours = [np.array(ZONE_COLOURS.get(AU_ZONES.get(au, ""), (128, 128, 128))) / 255 for au in table.index]
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=120)
    ax.bar(table.index, table["engagement"], color=colours, edgecolor="black", linewidth=0.5)
    if {"low", "high"} <= set(table.columns):
        # bootstrap intervals of a normalised ratio need not contain the point (occlusion values can be < 0)
        below = np.clip(table["engagement"] - table["low"], 0, None)
        above = np.clip(table["high"] - table["engagement"], 0, None)
        ax.errorbar(table.index, table["engagement"], yerr=[below, above], fmt="none", ecolor="black", capsize=3,
                    linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("engagement (sums to 1)")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelrotation=45)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically (temporary file, then rename) and close it."""
    import io

    import matplotlib.pyplot as plt

    from ..io.tables import atomic_write_bytes

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def core_au_curve(sweep: pd.DataFrame, k: int, path: str | Path, title: str = "Core-AU selection") -> Path:
    """Paper Fig. 6: mean test loss (± std over folds) against the number of top-ranked AUs used."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=120)
    ax.errorbar(sweep["k"], sweep["loss"], yerr=sweep["loss_std"], fmt="o-", capsize=3, linewidth=1)
    best = sweep.loc[sweep["k"] == k]
    ax.plot(best["k"], best["loss"], "r*", markersize=14, label=f"k* = {k}")
    labels = [a.split(",")[-1] for a in sweep["aus"]]
    ax.set_xticks(sweep["k"], [f"{n}\n+{au}" for n, au in zip(sweep["k"], labels)], fontsize=7)
    ax.set_xlabel("number of top-ranked AUs (AU added at each step)")
    ax.set_ylabel("test SmoothL1 loss")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def intensity_timeline(time_s: np.ndarray, predicted: np.ndarray, path: str | Path, *, truth: np.ndarray | None = None,
                       edges=(), scale_name: str = "", title: str = "Pain intensity") -> Path:
    """Predicted intensity (and ground truth when known) over time, with level bands at ``edges``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.8), dpi=120)
    bounds = [0.0, *edges, float(np.nanmax([np.nanmax(predicted), *(edges or [0]), 1.0])) * 1.05]
    for i, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
        ax.axhspan(low, high, color=plt.cm.RdYlGn_r(i / max(len(bounds) - 2, 1)), alpha=0.12, linewidth=0)
    if truth is not None:
        ax.plot(time_s, truth, color="black", linewidth=1, linestyle="--", label="ground truth")
    ax.plot(time_s, predicted, color="tab:blue", linewidth=1.4, label="predicted")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"intensity ({scale_name})" if scale_name else "intensity")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return save_figure(fig, path)


def cam_overlay(image: np.ndarray, cam: np.ndarray, landmarks: np.ndarray, rules: AURules,
                alpha: float = 0.45) -> np.ndarray:
    """RGB image (S, S, 3) with the CAM (S, S) as a jet heat map and the AU regions drawn."""
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(cam, 0, 1)), cv2.COLORMAP_JET)[..., ::-1]
    blended = np.uint8((1 - alpha) * image + alpha * heat)
    return draw_au_regions(blended, landmarks, rules, label=image.shape[0] >= 200)
