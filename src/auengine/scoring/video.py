"""Score one video with a bundle: frames -> faces -> AUs -> intensity -> epochs -> review -> outputs.

Frames stream through (decoded in a thread, faces tracked between detections); only the
per-frame numbers are kept (68 landmarks as float32, a few scores), so memory grows by
about 600 bytes per frame, not by images. AUs are computed once at the end because the
geometry backend's neutral is per video (each AU's least active 10 % of frames).
Outputs go to OUT/<stem>-<hash>/ (one folder per input, see ``io.media.output_name``),
written atomically; summary.json is written last and marks the video as done with the
bundle hash and options it records.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..au.backends import GeometryBackend
from ..au.infant_check import infant_probability
from ..bundle import load_bundle, sha256
from ..columns import LANDMARK_COLUMNS
from ..errors import InputError, NoFaceError
from ..io.media import output_name
from ..io.tables import atomic_write_json, write_table
from ..progress import bar
from ..io.video import VideoReader
from .stream import FaceTracker
from .timeline import ReviewRules, confidence, epoch_table, fixed_epochs, read_epochs_csv, smooth

SUMMARY = "summary.json"


@dataclass(frozen=True)
class ScoreOptions:
    """How videos are scored (everything but the bundle and the paths)."""

    detect_every: int = 30                # frames between detector runs (tracking in between)
    detector: str = "auto"
    landmarks: str = "auto"
    epoch_s: float = 1.0
    epochs_csv: str | None = None
    threshold: float | None = None        # "time above" threshold; default: the scale's first pain edge
    smooth_s: float = 0.5
    cnn: str | None = None                # a train-e2e fold folder (or a run folder: its first fold)
    cnn_batch: int = 16
    review: ReviewRules = field(default_factory=ReviewRules)
    thumbnails: bool = True
    report: bool = True
    deidentify: str | None = None         # blur | mask | phantom: faces in thumbnails and report images


def video_dir(out: Path, video: Path) -> Path:
    """The output folder of one video: OUT/<stem>-<8 hex of its absolute path> (unique, stable)."""
    return Path(out) / output_name(video)


def run_fingerprint(bundle, options: ScoreOptions) -> dict:
    """What a video's outputs were made with: the bundle's manifest hash and the scoring options."""
    return {"bundle_sha256": sha256(bundle.path / "manifest.json"), "options": _jsonable(asdict(options))}


def is_done(out: Path, video: Path, fingerprint: dict | None = None) -> bool:
    """Whether a previous run finished this video (summary.json exists) with the same bundle and options."""
    path = video_dir(out, video) / SUMMARY
    if not path.is_file():
        return False
    if fingerprint is None:
        return True
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return all(summary.get(key) == value for key, value in fingerprint.items())


def track_video(path: Path, tracker: FaceTracker, on_frame=None, progress: bool | None = False
                ) -> tuple[pd.DataFrame, np.ndarray, float, str | None]:
    """Faces of every frame: (table of time/face/box, landmarks (N, 68, 2) float32 with NaN rows, fps, error)."""
    times, found, boxes, points = [], [], [], []
    empty = np.full((68, 2), np.nan, np.float32)
    with VideoReader(path, prefetch=32) as reader, \
            bar(desc=Path(path).name, total=reader.info.n_frames or None, unit="frame", leave=False,
                progress=progress) as frames_bar:
        for index, time_s, image in reader:
            result = tracker.step(image)
            times.append(time_s)
            found.append(result.landmarks is not None)
            boxes.append((result.box.x0, result.box.y0, result.box.x1, result.box.y1) if result.box else (np.nan,) * 4)
            points.append(result.landmarks.astype(np.float32) if result.landmarks is not None else empty)
            if on_frame is not None:
                on_frame(index, image, result)
            frames_bar.update()
        fps, error = reader.fps, reader.error
    table = pd.DataFrame({"frame": np.arange(len(times)), "time_s": times, "face_found": found})
    table[["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1"]] = np.array(boxes, dtype=float).reshape(-1, 4)
    return table, np.array(points, dtype=np.float32).reshape(-1, 68, 2), fps, error


def au_table(source: str, frames: pd.DataFrame, landmarks: np.ndarray) -> pd.DataFrame:
    """Geometry AU intensities for tracked frames (NaN where no face); per-video neutral."""
    columns = pd.DataFrame(np.concatenate([landmarks[:, :, 0], landmarks[:, :, 1]], axis=1), columns=LANDMARK_COLUMNS,
                           index=frames.index)
    table = pd.concat([frames[["frame"]].assign(source=source, success=frames["face_found"].astype(int)), columns],
                      axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # a neutral fallback is kept in attrs: the summary says it
        return GeometryBackend(neutral="auto").estimate(table)


@dataclass
class FrameScores:
    """Per-frame results of one video: the table (time, face, box, AUs, intensity, level, confidence,
    smoothed intensity), landmarks (N, 68, 2) float32 with NaN rows, frame rate (frames/s), the
    reader's warning (truncation), the number of detector runs and, when the video had too few face
    frames for its own resting face, which population reference the AUs were read against."""

    frames: pd.DataFrame
    landmarks: np.ndarray
    fps: float
    warning: str | None
    detections: int
    neutral_note: str | None = None


def frame_scores(video: str | Path, bundle, options: ScoreOptions = ScoreOptions(), backends=None, on_frame=None,
                 progress: bool | None = False) -> FrameScores:
    """The per-frame path every command uses on a video (``score``, ``predict``): faces, AUs, bundle intensity.

    Raises InputError when nothing can be decoded and NoFaceError when no frame has a face.
    """
    from ..pipeline import build_backends

    video = Path(video)
    detector, landmarker = backends or build_backends(options.detector, options.landmarks)
    tracker = FaceTracker(detector, landmarker, detect_every=options.detect_every)
    frames, landmarks, fps, error = track_video(video, tracker, on_frame, progress)
    if not len(frames):
        raise InputError(error or f"{video}: no frames")
    if not frames["face_found"].any():
        raise NoFaceError(f"{video}: no face found in any of its {len(frames)} frames")
    aus = au_table(str(video), frames, landmarks)
    scored = bundle.predict(aus, str(video))
    frames = pd.concat([frames, aus.reset_index(drop=True), scored.reset_index(drop=True)], axis=1)
    frames["confidence"] = confidence(frames["intensity"].to_numpy(), bundle.scale)
    frames["intensity_smooth"] = smooth(frames["intensity"].to_numpy(), fps, options.smooth_s)
    found = frames["face_found"].to_numpy(bool)
    frames["infant_prob"] = np.nan
    frames.loc[found, "infant_prob"] = infant_probability(landmarks[found])
    frames["infant_face"] = frames["infant_prob"] >= 0.5          # False: not scored as an infant's pain
    fallback = aus.attrs.get("neutral_fallback")
    note = f"AUs read against a population reference face: {fallback}" if fallback else None
    return FrameScores(frames, landmarks, fps, error, tracker.detections, note)


def score_video(video: str | Path, bundle_dir: str | Path, out: str | Path, options: ScoreOptions = ScoreOptions(),
                backends=None, progress: bool | None = False,
                on_progress: Callable[[int], None] | None = None) -> dict:
    """Score one video; returns its summary (also written to OUT/<name>/summary.json, last).

    ``progress``: a frame bar (see auengine.progress); ``on_progress(frames_done)`` is called
    after each frame (it may raise to abort the video).
    """
    started = time.perf_counter()
    video = Path(video)
    target = video_dir(Path(out), video)
    bundle = load_bundle(bundle_dir)
    scale = bundle.scale
    cnn = CnnScorer(options.cnn, options.cnn_batch) if options.cnn else None

    def on_frame(index, image, tracked):
        if cnn is not None:
            cnn.add(index, image, tracked)
        if on_progress is not None:
            on_progress(index + 1)

    result = frame_scores(video, bundle, options, backends, on_frame if cnn or on_progress else None, progress)
    frames, landmarks, fps = result.frames, result.landmarks, result.fps
    if cnn is not None:
        frames["cnn_level"], frames["cnn_confidence"] = cnn.finish(len(frames))
    threshold = options.threshold if options.threshold is not None else scale.edges[0]
    epochs, epoch_note = video_epochs(options, str(video), len(frames) / fps)
    epochs = epoch_table(frames, epochs, scale, threshold, fps, options.review)
    review = epochs[epochs["review"] != ""]
    points = pd.DataFrame(np.concatenate([landmarks[:, :, 0], landmarks[:, :, 1]], axis=1), columns=LANDMARK_COLUMNS)
    write_table(pd.concat([frames, points], axis=1), target / "frames.csv")
    write_table(epochs, target / "epochs.csv")
    write_table(review, target / "review.csv")
    from .report import write_video_report

    extras = write_video_report(video, target, frames, landmarks, epochs, review, scale, threshold, options, bundle,
                                cnn.model if cnn else None, warning=result.warning)
    summary = {"video": str(video), "output": str(target), "frames": len(frames), "fps": fps,
               "duration_s": len(frames) / fps, "face_found_share": float(frames["face_found"].mean()),
               "detections": result.detections,
               "intensity_max": float(np.nanmax(frames["intensity_smooth"])) if frames["face_found"].any() else None,
               "epochs": len(epochs), "epochs_source": epoch_note, "review_epochs": len(review), "scale": scale.name,
               "threshold": threshold, "bundle": str(bundle_dir), "bundle_synthetic": bundle.synthetic,
               "warning": result.warning, "seconds": time.perf_counter() - started, **run_fingerprint(bundle, options),
               "cnn_model": str(cnn.folder) if cnn else None,
               **extras}
    summary.update(trust_notes(frames, bundle))
    summary["neutral"] = result.neutral_note or "the video's own resting face (its least active frames)"
    if result.neutral_note:
        summary["notes"].append(result.neutral_note)
    atomic_write_json(target / SUMMARY, summary)
    return summary


def trust_notes(frames: pd.DataFrame, bundle) -> dict:
    """Summary fields on what the scores are not: a synthetic bundle, a face that is not an infant's."""
    from .report import INFANT_SHARE, SYNTHETIC_NOTE, infant_share

    share = infant_share(frames)
    notes = [f"bundle {SYNTHETIC_NOTE}"] if bundle.synthetic else []
    if share is not None and share < INFANT_SHARE:
        notes.append(f"most frames do not look like an infant's face ({share:.0%} do): not infant pain scores")
    return {"infant_share": share, "looks_like_infant": None if share is None else share >= INFANT_SHARE,
            "notes": notes}


def video_epochs(options: ScoreOptions, video: str, duration_s: float) -> tuple[pd.DataFrame, str]:
    """The video's epochs and where they come from: the epochs CSV's rows for it, else fixed windows (said so)."""
    fixed = f"fixed {options.epoch_s:g} s windows"
    if not options.epochs_csv:
        return fixed_epochs(duration_s, options.epoch_s), fixed
    epochs = read_epochs_csv(options.epochs_csv, video)
    if len(epochs):
        return epochs, f"{options.epochs_csv}"
    return fixed_epochs(duration_s, options.epoch_s), f"{fixed} ({options.epochs_csv} has no rows for this video)"


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)


class CnnScorer:
    """The end-to-end CNN on aligned face crops, batched, run while frames stream (level and confidence per frame)."""

    def __init__(self, folder: str | Path, batch_size: int = 16) -> None:
        from ..models.folders import resolve_model_folder
        from ..models.train import load_model

        resolved = resolve_model_folder(folder)
        self.folder, self.note = resolved.path, resolved.note
        self.model, self.config = load_model(self.folder)
        self.batch_size = batch_size
        self._pending: list[tuple[int, np.ndarray]] = []
        self.levels: dict[int, int] = {}
        self.confidences: dict[int, float] = {}

    def input_tensor(self, image, landmarks: np.ndarray):
        """The network input (3, S, S) for one frame: the same aligned crop and normalisation training fed."""
        from ..models.preprocess import face_crop, to_tensor

        prep = self.config.preprocessing
        return to_tensor(face_crop(image, landmarks, prep).image, prep)

    def add(self, index: int, image: np.ndarray, result) -> None:
        """Queue this frame's aligned crop (when a face was found); runs a batch when full."""
        if result.landmarks is None:
            return
        self._pending.append((index, self.input_tensor(image, result.landmarks)))
        if len(self._pending) >= self.batch_size:
            self._run()

    def _run(self) -> None:
        import torch

        from ..explain.gradcam import default_target_layer, forward_with_activations

        if not self._pending:
            return
        images = torch.stack([t for _, t in self._pending])
        _, logits = forward_with_activations(self.model, default_target_layer(self.model), images)
        probabilities = torch.softmax(logits.float(), dim=1).numpy()
        for (index, _), p in zip(self._pending, probabilities):
            self.levels[index], self.confidences[index] = int(p.argmax()), float(p.max())
        self._pending = []

    def finish(self, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """CNN level and max softmax per frame (NaN without a face)."""
        self._run()
        levels, conf = np.full(n_frames, np.nan), np.full(n_frames, np.nan)
        for index, level in self.levels.items():
            levels[index], conf[index] = level, self.confidences[index]
        return levels, conf
