"""Per-frame scores -> confidence, smoothed curve, epochs and the review list.

frames table columns used: time_s, face_found, intensity, level (and cnn_level with --cnn).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..scales import PainScale


@dataclass(frozen=True)
class ReviewRules:
    """When an epoch goes to review."""

    min_confidence: float = 0.35       # mean confidence below this: borderline
    min_face_share: float = 0.5        # face found in fewer frames than this share
    max_disagreement: float = 0.5      # share of frames where the AU-MLP and CNN levels differ


def confidence(intensity: np.ndarray, scale: PainScale) -> np.ndarray:
    """0-1: distance to the nearest level edge in half-bin widths (1 = mid-bin or beyond); NaN without a score.

    A frame whose intensity sits on a bin edge could as well be the next level.
    """
    intensity = np.asarray(intensity, dtype=float)
    edges = np.asarray(scale.edges, dtype=float)
    bounds = np.concatenate([[scale.low], edges, [scale.high]])
    half_bin = np.diff(bounds).min() / 2
    gap = np.abs(intensity[:, None] - edges[None, :]).min(axis=1) if len(edges) else np.full(len(intensity), half_bin)
    return np.where(np.isfinite(intensity), np.clip(gap / half_bin, 0, 1), np.nan)


def smooth(values: np.ndarray, fps: float, window_s: float = 0.5) -> np.ndarray:
    """Centred moving average over ``window_s`` seconds of the frames with a score; NaN stays NaN (a frame
    without a face gets no score from its neighbours)."""
    window = max(1, int(round(window_s * fps)))
    series = pd.Series(values, dtype=float)
    return series.rolling(window, center=True, min_periods=1).mean().where(series.notna()).to_numpy()


def fixed_epochs(duration_s: float, epoch_s: float) -> pd.DataFrame:
    """Consecutive windows [start, start + epoch_s) covering [0, duration_s) (at least one)."""
    if epoch_s <= 0:
        raise InputError("--epoch must be > 0 seconds")
    starts = np.arange(max(1, int(np.ceil(duration_s / epoch_s - 1e-9)))) * epoch_s
    return pd.DataFrame({"epoch": np.arange(len(starts)), "start_s": starts, "end_s": starts + epoch_s, "label": ""})


def read_epochs_csv(path: str | Path, video: str | None = None) -> pd.DataFrame:
    """User epochs from a CSV: start_s, end_s, optional label, optional video (name or stem) to filter by.

    The delimiter (comma, semicolon, tab) is detected. ``video=None`` returns every row (to
    validate the file before any work). Raises InputError naming the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"epochs CSV not found: {path} (check --epochs-csv)")
    try:
        table = pd.read_csv(path, sep=None, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the epochs CSV ({exc}); write it with a header row "
                         "start_s,end_s[,label][,video]") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = {"start_s", "end_s"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: epochs CSV needs columns start_s and end_s (missing {', '.join(sorted(missing))}; "
                         f"found {', '.join(map(str, table.columns))})")
    bad = table.index[~(pd.to_numeric(table["end_s"], errors="coerce") > pd.to_numeric(table["start_s"], errors="coerce"))]
    if len(bad):
        raise InputError(f"{path}: row {int(bad[0]) + 2}: end_s must be a number greater than start_s")
    if "video" in table.columns and video is not None:
        name = Path(video)
        table = table[table["video"].astype(str).isin([name.name, name.stem, str(video)])]
    label = table["label"].astype(str) if "label" in table.columns else ""
    return pd.DataFrame({"epoch": np.arange(len(table)), "start_s": table["start_s"].astype(float).to_numpy(),
                         "end_s": table["end_s"].astype(float).to_numpy(), "label": label})


def epoch_table(frames: pd.DataFrame, epochs: pd.DataFrame, scale: PainScale, threshold: float, fps: float,
                rules: ReviewRules = ReviewRules()) -> pd.DataFrame:
    """Per epoch: frames, face share, max/mean smoothed intensity, seconds above ``threshold``, level,
    mean confidence, CNN disagreement, and review reasons (';'-joined, empty when none)."""
    time_s = frames["time_s"].to_numpy()
    rows = []
    for epoch in epochs.itertuples(index=False):
        inside = (time_s >= epoch.start_s) & (time_s < epoch.end_s)
        part = frames[inside]
        curve = part["intensity_smooth"].to_numpy(float)
        scored = np.isfinite(curve)
        mean = float(np.nanmean(curve)) if scored.any() else float("nan")
        row = {"epoch": epoch.epoch, "label": epoch.label, "start_s": epoch.start_s, "end_s": epoch.end_s,
               "frames": int(inside.sum()), "face_share": float(part["face_found"].mean()) if len(part) else 0.0,
               "intensity_max": float(np.nanmax(curve)) if scored.any() else float("nan"), "intensity_mean": mean,
               "seconds_above": min(float((curve[scored] >= threshold).sum() / fps), epoch.end_s - epoch.start_s),
               "level": int(scale.level(np.clip(mean, scale.low, scale.high))) if scored.any() else -1,
               "confidence": float(np.nanmean(part["confidence"])) if part["confidence"].notna().any() else float("nan")}
        if "cnn_level" in part.columns:
            both = part["level"].notna() & part["cnn_level"].notna()
            row["disagreement"] = float((part.loc[both, "level"] != part.loc[both, "cnn_level"]).mean()) \
                if both.any() else float("nan")
        row["review"] = "; ".join(review_reasons(row, rules))
        rows.append(row)
    return pd.DataFrame(rows)


def review_reasons(row: dict, rules: ReviewRules) -> list[str]:
    """Why an epoch needs a human look (empty: it does not)."""
    reasons = []
    if not row["frames"]:
        reasons.append("no frames (the epoch lies outside the video)")
    elif row["face_share"] < rules.min_face_share:
        reasons.append(f"face missing in {1 - row['face_share']:.0%} of frames")
    if np.isfinite(row["confidence"]) and row["confidence"] < rules.min_confidence:
        reasons.append(f"low confidence ({row['confidence']:.2f}: intensity near a level boundary)")
    if np.isfinite(row.get("disagreement", np.nan)) and row["disagreement"] > rules.max_disagreement:
        reasons.append(f"AU-MLP and CNN disagree on {row['disagreement']:.0%} of frames")
    return reasons
