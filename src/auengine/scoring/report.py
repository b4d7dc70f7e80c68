"""Per-video figures and report.html: timeline with level bands and review marks, peak frames,
AU contributions at the peak, review thumbnails."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..au.infant_check import INFANT_SHARE
from ..au.rules import load_rules
from ..columns import au_column
from ..faces.crop import align_crop
from ..io.video import read_frames
from ..report.figures import _pyplot, save_figure
from ..report.html import HtmlReport
from ..report.overlay import draw_au_regions, write_png
from ..scales import PainScale


def level_colours(scale: PainScale) -> list[str]:
    """One colour per level of ``scale`` (green = no pain ... red = the top level), as hex strings."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    n = scale.n_levels
    return [to_hex(colormaps["RdYlGn_r"](0.1 + 0.8 * i / max(n - 1, 1))) for i in range(n)]


def level_legend(scale: PainScale) -> list[tuple[str, str]]:
    """(label, colour) per level: "mild (2.5-5)" etc."""
    bounds = [scale.low, *scale.edges, scale.high]
    return [(f"{name} ({low:g}-{high:g})", colour) for name, low, high, colour in
            zip(scale.level_names, bounds[:-1], bounds[1:], level_colours(scale))]


def timeline_figure(frames: pd.DataFrame, epochs: pd.DataFrame, scale: PainScale, threshold: float, path: Path,
                    title: str) -> Path:
    """Smoothed intensity over time on coloured level bands (with a legend), missing faces marked, and below it
    two lanes: each epoch's level and the epochs for review (so a mostly-flagged video stays readable)."""
    from matplotlib.patches import Patch

    plt = _pyplot()
    fig, (ax, lanes) = plt.subplots(2, 1, figsize=(10, 4.2), dpi=110, sharex=True,
                                    gridspec_kw={"height_ratios": [4, 1.1]})
    bounds = [scale.low, *scale.edges, scale.high]
    colours = level_colours(scale)
    for colour, low, high in zip(colours, bounds[:-1], bounds[1:]):
        ax.axhspan(low, high, color=colour, alpha=0.18, linewidth=0)
    t = frames["time_s"].to_numpy()
    ax.plot(t, frames["intensity"], color="tab:blue", alpha=0.3, linewidth=0.6, label="per frame")
    ax.plot(t, frames["intensity_smooth"], color="tab:blue", linewidth=1.8, label="smoothed")
    ax.axhline(threshold, color="black", linestyle=":", linewidth=0.8, label=f"threshold {threshold:g}")
    missing = ~frames["face_found"].to_numpy(bool)
    if missing.any():
        ax.plot(t[missing], np.full(missing.sum(), scale.low), "|", color="grey", markersize=10, label="no face")
    ax.set_ylim(scale.low, scale.high)
    ax.set_ylabel(f"intensity ({scale.name.upper()})")
    ax.set_title(title, fontsize=10)
    levels = [Patch(color=c, alpha=0.5, label=label) for label, c in level_legend(scale)]
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *levels], fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    for epoch in epochs.itertuples():
        span = [(epoch.start_s, epoch.end_s - epoch.start_s)]
        level_colour = colours[int(epoch.level)] if epoch.level >= 0 else "white"
        lanes.broken_barh(span, (1.1, 0.8), facecolors=level_colour, edgecolor="grey", linewidth=0.5,
                          hatch="" if epoch.level >= 0 else "///")
        if epoch.review:
            lanes.broken_barh(span, (0.1, 0.8), facecolors="tab:red", edgecolor="white", linewidth=0.5)
    lanes.set_ylim(0, 2)
    lanes.set_yticks([0.5, 1.5], ["review", "epoch level"], fontsize=8)
    lanes.set_xlabel("time (s)")
    lanes.legend(handles=[Patch(facecolor="tab:red", label="epoch for review"),
                          Patch(facecolor="white", edgecolor="grey", hatch="///", label="no score")],
                 fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.2), frameon=False)
    return save_figure(fig, path)


def contributions(frames: pd.DataFrame, bundle, row: int) -> pd.Series:
    """Per AU: drop in predicted intensity when that AU is set to 0 at frame ``row`` (occlusion attribution)."""
    values = frames.loc[[row], [au_column(au) for au in bundle.aus]].to_numpy(float)
    base = bundle.regressor.predict(values)[0]
    out = {}
    for i, au in enumerate(bundle.aus):
        changed = values.copy()
        changed[0, i] = 0.0
        out[au] = base - bundle.regressor.predict(changed)[0]
    return pd.Series(out).sort_values(ascending=False)


def au_label(au: str, names: dict[str, str]) -> str:
    """"AU4 brow lowerer": the AU id and its name from the rule set (the id alone when unnamed)."""
    return f"{au} {names.get(au, '').lower()}".strip()


def contribution_figure(series: pd.Series, names: dict[str, str], scale: PainScale, path: Path, title: str) -> Path:
    """Horizontal bars, largest on top, labelled "AU4 brow lowerer"."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.34 * len(series) + 1.3), dpi=110)
    labels = [au_label(au, names) for au in series.index]
    values = series.to_numpy()
    ax.barh(labels[::-1], values[::-1], color=["tab:red" if v > 0 else "tab:blue" for v in values[::-1]])
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel(f"how much the AU adds to the intensity ({scale.name.upper()} points; AU set to 0)")
    ax.tick_params(axis="y", labelsize=9)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def middle_frames(frames: pd.DataFrame, epochs: pd.DataFrame) -> list[int]:
    """The middle frame index of each epoch that has frames."""
    out = []
    for epoch in epochs.itertuples():
        inside = frames.index[(frames["time_s"] >= epoch.start_s) & (frames["time_s"] < epoch.end_s)]
        if len(inside):
            out.append(int(inside[len(inside) // 2]))
    return out


SYNTHETIC_NOTE = "trained on synthetic faces; not a clinical score"
SYNTHETIC_BANNER = (f"Model bundle {SYNTHETIC_NOTE}. It learnt from auengine's phantom, not from real infants: "
                    "its scores test the software; they are not a pain assessment and must not guide care.")
NOT_INFANT_BANNER = ("Most frames ({share:.0%} look like an infant's) do not show an infant's face: the intensities "
                     "below are not infant pain scores (frames marked infant_face = False in frames.csv).")
NO_VALUE = "\u2014"          # an em dash in cells without a value


def _number(value: float, digits: int = 1) -> str:
    return NO_VALUE if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def readable_epochs(epochs: pd.DataFrame, scale: PainScale, threshold: float) -> pd.DataFrame:
    """The epoch table for people: level names instead of 0-3 / -1, times as spans, no NaN cells."""
    names = list(scale.level_names)
    table = pd.DataFrame({
        "epoch": epochs["epoch"].astype(int),
        "time": [f"{a:.1f}-{b:.1f}\u00a0s" for a, b in zip(epochs["start_s"], epochs["end_s"])],
        "label": epochs["label"].fillna("").astype(str),
        "level": [names[int(v)] if 0 <= v < len(names) else "no score" for v in epochs["level"]],
        "mean intensity": [_number(v) for v in epochs["intensity_mean"]],
        "peak": [_number(v) for v in epochs["intensity_max"]],
        f"time above {threshold:g} (s)": [_number(v) if np.isfinite(m) else NO_VALUE
                                          for v, m in zip(epochs["seconds_above"], epochs["intensity_mean"])],
        "face found": [f"{v:.0%}" if n else NO_VALUE for v, n in zip(epochs["face_share"], epochs["frames"])],
        "confidence": [_number(v, 2) for v in epochs["confidence"]],
    })
    if "disagreement" in epochs.columns:
        table["CNN disagrees"] = [f"{v:.0%}" if np.isfinite(v) else NO_VALUE for v in epochs["disagreement"]]
    table["review"] = [r if r else NO_VALUE for r in epochs["review"].fillna("")]
    if not table["label"].astype(bool).any():
        table = table.drop(columns=["label"])
    return table


def infant_share(frames: pd.DataFrame) -> float | None:
    """Share of frames with a face whose ``infant_prob`` is >= 0.5 (None without faces)."""
    values = frames.loc[frames["face_found"], "infant_prob"].to_numpy(float) if "infant_prob" in frames else []
    return float((values >= 0.5).mean()) if len(values) else None


def write_video_report(video: Path, target: Path, frames: pd.DataFrame, landmarks: np.ndarray, epochs: pd.DataFrame,
                       review: pd.DataFrame, scale: PainScale, threshold: float, options, bundle, cnn_model,
                       warning: str | None = None) -> dict:
    """timeline.png, thumbnails/, peak overlays and report.html (``warning``: a banner, e.g. a truncated video)."""
    timeline = timeline_figure(frames, epochs, scale, threshold, target / "timeline.png", video.name)
    if not options.report:
        return {"report": None}
    rules = load_rules("infant")
    scored = frames["intensity_smooth"].notna()
    peak = int(frames.loc[scored, "intensity_smooth"].idxmax()) if scored.any() else None
    middles = middle_frames(frames, review) if options.thumbnails else []
    images = read_frames(video, middles + ([peak] if peak is not None else []))
    shown = {i: shareable_image(image, landmarks[i], frames.loc[i], options.deidentify) for i, image in images.items()}
    thumbs = []
    for index in middles:
        if index in images:
            small = cv2.resize(shown[index], (160, int(160 * images[index].shape[0] / images[index].shape[1])))
            path = target / "thumbnails" / f"frame{index:06d}.png"
            write_png(path, small)
            thumbs.append(path)
    report = HtmlReport(f"auengine score: {video.name}")
    if warning:
        report.text(f"Warning: {warning}. Scores cover only the frames that could be read.", "banner")
    if bundle.synthetic:
        report.text(SYNTHETIC_BANNER, "banner")
    share = infant_share(frames)
    if share is not None and share < INFANT_SHARE:
        report.text(NOT_INFANT_BANNER.format(share=share), "banner")
    names = list(scale.level_names)
    levels = epochs.loc[epochs["level"] >= 0, "level"]
    highest = f"highest epoch level: {names[int(levels.max())]}" if len(levels) else "no epoch could be scored"
    report.text(f"{len(frames)} frames ({frames['time_s'].max():.1f} s); face found in "
                f"{frames['face_found'].mean():.0%} of frames; {highest}; {len(review)} of {len(epochs)} epochs need a human look. Intensity on the "
                f"{scale.name.upper()} scale ({scale.low:g}-{scale.high:g})."
                + (f" Faces in the images: de-identified ({options.deidentify})." if options.deidentify else ""))
    report.legend(level_legend(scale), f"Pain levels ({scale.name.upper()} intensity):")
    report.figure(timeline, "Top: smoothed intensity on the level bands; grey ticks: frames without a face. "
                            "Bottom: the level of each epoch, and the epochs for review in red.")
    if peak is not None and peak in images:
        crop = align_crop(images[peak], landmarks[peak], 224)
        background = align_crop(shown[peak], landmarks[peak], 224).image      # what may be shown of the face
        panel = draw_au_regions(background, crop.landmarks, rules)
        paths = [write_png_path(target / "peak_regions.png", panel)]
        if cnn_model is not None:
            paths.append(_cam_panel(cnn_model, crop, rules, target / "peak_cam.png", background))
        value = float(frames.loc[peak, "intensity_smooth"])
        peak_level = names[int(scale.level(np.clip(value, scale.low, scale.high)))]
        report.heading(f"Peak: {peak_level} ({value:.1f} of {scale.high:g}) at {frames.loc[peak, 'time_s']:.2f} s "
                       f"(frame {peak})")
        report.figures_row(paths, "Aligned face with its AU regions" + (", and the CNN's Grad-CAM" if cnn_model else
                                                                          "") + ".")
        chart = contribution_figure(contributions(frames, bundle, peak), rules.names, scale,
                                    target / "peak_contributions.png", "What drives the score at the peak")
        report.figure(chart, "Each facial action unit (AU) in the model: how much lower the intensity would be "
                             "without it.")
    report.heading("Epochs for review")
    if len(review):
        report.table(readable_epochs(review, scale, threshold), css="text")
        if thumbs:
            report.figures_row(thumbs, "Middle frame of each epoch for review.")
    else:
        report.text("None: every epoch has a face, a confident score" + (" and CNN agreement." if cnn_model else "."))
    report.heading("All epochs")
    report.table(readable_epochs(epochs, scale, threshold), css="text")
    report.write(target / "report.html")
    return {"report": "report.html", "peak_frame": peak}


def write_png_path(path: Path, image: np.ndarray) -> Path:
    write_png(path, image)
    return path


def shareable_image(image: np.ndarray, landmarks: np.ndarray, frame: pd.Series, mode: str | None) -> np.ndarray:
    """The frame as it may leave the engine: de-identified with ``mode`` (the frame's AUs for "phantom")."""
    if not mode:
        return image
    from ..deidentify import deidentify

    return deidentify(image, landmarks, mode, intensities=frame.filter(regex=r"^AU\d+_r$").to_dict())


def _cam_panel(model, crop, rules, path: Path, background: np.ndarray | None = None) -> Path:
    import torch

    from ..explain.gradcam import gradcam
    from ..models.state import IMAGENET_MEAN, IMAGENET_STD
    from ..report.figures import cam_overlay

    image = (crop.image.astype(np.float32) / 255 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    cam = gradcam(model, torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None])[0]
    shown = crop.image if background is None else background      # CAM of the real crop, drawn on what may be shown
    return write_png_path(path, cam_overlay(shown, cam, crop.landmarks, rules))
