"""Engine outputs as rater scores, and pairing two raters' scores over the same time spans.

A rater's scores are a table ``video, start_s, end_s, scale, score`` (video = recording key,
:func:`~auengine.interop.annotations.video_key`).

Overlap rule (:func:`pair_scores`): the *reference* (an observer) defines the items. For each
reference span [start, end) of a video, the *rater*'s value is the mean of its scores on the same
video and scale, each weighted by how many seconds of its own span overlap the reference span
(engine frames count as [t, t + 1/fps)). The item is kept when the rater's finite scores cover at
least ``min_coverage`` (default half) of the span. A point score (start == end) takes the rater's
span that contains that instant. Reference rows on another scale than the rater, or on a video
the rater has not scored, are left out and counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interop.annotations import video_key

SCORE_COLUMNS = ["video", "start_s", "end_s", "scale", "score"]
UNITS = ("epochs", "frames")


def engine_scores(path: str | Path, unit: str = "epochs") -> pd.DataFrame:
    """Scores of an ``auengine score`` output: one video's folder, or the batch folder (every scored video).

    Parameters
    ----------
    path : folder with summary.json + epochs.csv + frames.csv (a video), or folders of those
    unit : "epochs" (each epoch's mean smoothed intensity) or "frames" (each frame's smoothed intensity)

    Returns
    -------
    DataFrame ``video, start_s, end_s, scale, score`` (seconds; score on the bundle's scale, NaN without a face)
    """
    if unit not in UNITS:
        raise InputError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    return pd.concat([_video_scores(folder, unit) for folder in score_folders(path)], ignore_index=True)


def score_folders(path: str | Path) -> list[Path]:
    """The scored-video folders of an ``auengine score`` output: ``path`` itself, or its subfolders."""
    path = Path(path)

    def scored(folder: Path) -> bool:
        return (folder / "summary.json").is_file() and (folder / "epochs.csv").is_file()

    folders = [path] if scored(path) else sorted(p for p in path.iterdir() if scored(p)) if path.is_dir() else []
    if not folders:
        raise InputError(f"{path}: no auengine score output here (a video folder with summary.json and epochs.csv, "
                         "or the --out folder of auengine score)")
    return folders


def _video_scores(folder: Path, unit: str) -> pd.DataFrame:
    summary = json.loads((folder / "summary.json").read_text())
    key, scale = video_key(summary["video"]), summary["scale"]
    if unit == "epochs":
        epochs = pd.read_csv(folder / "epochs.csv", usecols=["start_s", "end_s", "intensity_mean"])
        return pd.DataFrame({"video": key, "start_s": epochs["start_s"], "end_s": epochs["end_s"], "scale": scale,
                             "score": epochs["intensity_mean"]})
    frames = pd.read_csv(folder / "frames.csv", usecols=["time_s", "intensity_smooth"])
    step = 1.0 / float(summary["fps"])
    return pd.DataFrame({"video": key, "start_s": frames["time_s"], "end_s": frames["time_s"] + step, "scale": scale,
                         "score": frames["intensity_smooth"]})


def observer_scores(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Observer rows of an annotation table, split by observer: {name: scores table}."""
    rows = table[table["kind"] == "observer"] if "kind" in table.columns else table
    return {str(name): part.assign(video=part["video"].map(video_key))[SCORE_COLUMNS].reset_index(drop=True)
            for name, part in rows.groupby("observer", sort=True)}


@dataclass
class Pairs:
    """Items two raters both scored: reference and rater values per item, and what was left out."""

    items: pd.DataFrame                       # video, start_s, end_s, scale, reference, rater, coverage
    left_out: dict[str, int] = field(default_factory=dict)   # reason -> number of reference rows


def pair_scores(rater: pd.DataFrame, reference: pd.DataFrame, min_coverage: float = 0.5) -> Pairs:
    """The rater's value on each reference span, by the overlap rule of the module docstring."""
    items, left_out = [], {}

    def leave(reason: str, n: int) -> None:
        left_out[reason] = left_out.get(reason, 0) + n

    reference = reference[np.isfinite(reference["score"].to_numpy(float))]
    for (video, scale), ref in reference.groupby(["video", "scale"], sort=True):
        mine = rater[(rater["video"] == video) & np.isfinite(rater["score"].to_numpy(float))]
        if not len(mine):
            leave("video not scored by the rater" if not (rater["video"] == video).any() else "no rater score", len(ref))
            continue
        same = mine[mine["scale"] == scale]
        if not len(same):
            leave(f"scale {scale} differs from the rater's ({', '.join(sorted(mine['scale'].unique()))})", len(ref))
            continue
        value, coverage = span_means(ref["start_s"].to_numpy(float), ref["end_s"].to_numpy(float),
                                     same["start_s"].to_numpy(float), same["end_s"].to_numpy(float),
                                     same["score"].to_numpy(float))
        keep = coverage >= min_coverage
        leave(f"rater covers < {min_coverage:.0%} of the span", int((~keep).sum()))
        items.append(pd.DataFrame({"video": video, "start_s": ref["start_s"].to_numpy(float)[keep],
                                   "end_s": ref["end_s"].to_numpy(float)[keep], "scale": scale,
                                   "reference": ref["score"].to_numpy(float)[keep], "rater": value[keep],
                                   "coverage": coverage[keep]}))
    table = pd.concat(items, ignore_index=True) if items else pd.DataFrame(
        columns=["video", "start_s", "end_s", "scale", "reference", "rater", "coverage"])
    return Pairs(table, {k: v for k, v in left_out.items() if v})


def span_means(start: np.ndarray, end: np.ndarray, rater_start: np.ndarray, rater_end: np.ndarray,
               rater_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlap-weighted mean of rater scores on each span, and the covered share of the span.

    Parameters
    ----------
    start, end : (n,) reference spans, seconds (end == start: a point)
    rater_start, rater_end, rater_score : (m,) the rater's spans and finite scores

    Returns
    -------
    value : (n,) weighted mean (NaN where nothing overlaps)
    coverage : (n,) overlapped seconds / span seconds, at most 1 (points: 1 when inside a rater span)
    """
    overlap = np.clip(np.minimum(end[:, None], rater_end[None, :]) - np.maximum(start[:, None], rater_start[None, :]),
                      0, None)
    point = end <= start
    inside = (rater_start[None, :] <= start[:, None]) & (start[:, None] < rater_end[None, :])
    weight = np.where(point[:, None], inside.astype(float), overlap)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (weight @ rater_score) / total
        coverage = np.where(point, (total > 0).astype(float), np.minimum(total / (end - start), 1.0))
    return np.where(total > 0, value, np.nan), coverage
