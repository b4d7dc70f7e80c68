"""Per-video figures and report.html: timeline with level bands and review marks, peak frames,
AU contributions at the peak, review thumbnails."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..au.rules import load_rules
from ..columns import au_column
from ..faces.crop import align_crop
from ..io.video import read_frames
from ..report.figures import _pyplot, save_figure
from ..report.html import HtmlReport
from ..report.overlay import draw_au_regions, write_png
from ..scales import PainScale


def timeline_figure(frames: pd.DataFrame, epochs: pd.DataFrame, scale: PainScale, threshold: float, path: Path,
                    title: str) -> Path:
    """Smoothed intensity over time, level bands, the threshold, review epochs shaded, missing faces marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3), dpi=110)
    bounds = [scale.low, *scale.edges, scale.high]
    for i, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
        ax.axhspan(low, high, color=plt.cm.RdYlGn_r(i / max(len(bounds) - 2, 1)), alpha=0.12, linewidth=0)
    t = frames["time_s"].to_numpy()
    ax.plot(t, frames["intensity"], color="tab:blue", alpha=0.25, linewidth=0.6, label="per frame")
    ax.plot(t, frames["intensity_smooth"], color="tab:blue", linewidth=1.5, label="smoothed")
    ax.axhline(threshold, color="black", linestyle=":", linewidth=0.8, label=f"threshold {threshold:g}")
    for epoch in epochs[epochs["review"] != ""].itertuples():
        ax.axvspan(epoch.start_s, epoch.end_s, color="red", alpha=0.12, linewidth=0)
    missing = ~frames["face_found"].to_numpy(bool)
    if missing.any():
        ax.plot(t[missing], np.full(missing.sum(), scale.low), "|", color="grey", label="no face")
    ax.set_ylim(scale.low, scale.high)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"intensity ({scale.name.upper()})")
    ax.set_title(title + " (red: epochs for review)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right", ncol=4)
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


def contribution_figure(series: pd.Series, path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 2.8), dpi=110)
    ax.bar(series.index, series.to_numpy(), color=["tab:red" if v > 0 else "tab:blue" for v in series])
    ax.set_ylabel("intensity drop if AU = 0")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45)
    return save_figure(fig, path)


def middle_frames(frames: pd.DataFrame, epochs: pd.DataFrame) -> list[int]:
    """The middle frame index of each epoch that has frames."""
    out = []
    for epoch in epochs.itertuples():
        inside = frames.index[(frames["time_s"] >= epoch.start_s) & (frames["time_s"] < epoch.end_s)]
        if len(inside):
            out.append(int(inside[len(inside) // 2]))
    return out


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
    report.text(f"{len(frames)} frames; face found in {frames['face_found'].mean():.0%}; {len(review)} of "
                f"{len(epochs)} epochs for review. Intensity on the bundle's {scale.name.upper()} scale "
                f"({scale.low:g}-{scale.high:g})." + (f" Faces in the images: de-identified ({options.deidentify})."
                                                      if options.deidentify else ""))
    report.figure(timeline, "Smoothed intensity with level bands; red: epochs for review; grey ticks: no face.")
    if peak is not None and peak in images:
        crop = align_crop(images[peak], landmarks[peak], 224)
        background = align_crop(shown[peak], landmarks[peak], 224).image      # what may be shown of the face
        panel = draw_au_regions(background, crop.landmarks, rules)
        paths = [write_png_path(target / "peak_regions.png", panel)]
        if cnn_model is not None:
            paths.append(_cam_panel(cnn_model, crop, rules, target / "peak_cam.png", background))
        paths.append(contribution_figure(contributions(frames, bundle, peak), target / "peak_contributions.png",
                                         "AU contributions at the peak"))
        report.heading(f"Peak: frame {peak} at {frames.loc[peak, 'time_s']:.2f} s, "
                       f"intensity {frames.loc[peak, 'intensity_smooth']:.2f}")
        report.figures_row(paths, "Aligned face with AU regions" + (", Grad-CAM of the CNN" if cnn_model else "")
                           + ", and how much each AU adds to the intensity (set to 0).")
    report.heading("Epochs for review")
    if len(review):
        report.table(review[["epoch", "label", "start_s", "end_s", "intensity_mean", "level", "confidence", "review"]])
        if thumbs:
            report.figures_row(thumbs, "Middle frame of each epoch for review.")
    else:
        report.text("None: every epoch has a face, a confident score" + (" and CNN agreement." if cnn_model else "."))
    report.heading("All epochs")
    report.table(epochs.drop(columns=["review"]))
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
    from ..models.backbones import IMAGENET_MEAN, IMAGENET_STD
    from ..report.figures import cam_overlay

    image = (crop.image.astype(np.float32) / 255 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    cam = gradcam(model, torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None])[0]
    shown = crop.image if background is None else background      # CAM of the real crop, drawn on what may be shown
    return write_png_path(path, cam_overlay(shown, cam, crop.landmarks, rules))
