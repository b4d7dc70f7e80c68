"""Score one recording into a fresh work folder: the task a worker runs in a thread or sends to Ray.

The task talks to its worker through two files in the work folder, so it behaves the
same in a local thread and on a Ray node sharing the data folder: it writes
``progress.json`` (frames done) a few times a second and stops with ``JobCancelled`` as
soon as a ``CANCEL`` file appears.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AuEngineError

PROGRESS = "progress.json"
CANCEL = "CANCEL"
CONTRIBUTIONS = "contributions.csv"
_BACKENDS: dict = {}


class JobCancelled(AuEngineError):
    """The job was cancelled while it ran."""


@dataclass(frozen=True)
class ScoringRequest:
    """What the task needs: paths (strings, so it pickles to Ray) and the few options the service sets."""

    video: str
    bundle: str
    work: str
    epochs_csv: str | None = None
    min_confidence: float = 0.35
    threads: int = 1


def count_frames(video: str | Path) -> int:
    """The container's frame count (0 when unknown or unreadable)."""
    from ..errors import InputError
    from ..io.video import probe

    try:
        return probe(video).n_frames
    except InputError:
        return 0


def read_progress(work: str | Path) -> int:
    """Frames done so far, as the task last wrote it (0 before the first write)."""
    try:
        return int(json.loads((Path(work) / PROGRESS).read_text())["frames_done"])
    except (OSError, ValueError, KeyError):
        return 0


def _progress_writer(work: Path, every_s: float = 0.25):
    last = [0.0]

    def progress(frames_done: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s:
            return
        last[0] = now
        if (work / CANCEL).exists():
            raise JobCancelled(f"{work}: cancelled")
        partial = work / (PROGRESS + ".tmp")
        partial.write_text(json.dumps({"frames_done": frames_done}))
        os.replace(partial, work / PROGRESS)

    return progress


def warm_up(detector: str = "auto", landmarks: str = "dlib"):
    """The face detector and landmark model of this process (built on first use, then reused)."""
    from ..pipeline import build_backends

    if (detector, landmarks) not in _BACKENDS:
        _BACKENDS[detector, landmarks] = build_backends(detector, landmarks)
    return _BACKENDS[detector, landmarks]


def run_scoring(request: ScoringRequest) -> dict:
    """Score the video into its folder under WORK (scoring.video.video_dir: frames.csv, epochs.csv, report, contributions.csv); its summary."""
    from threadpoolctl import threadpool_limits

    from ..scoring.timeline import ReviewRules
    from ..scoring.video import ScoreOptions, score_video, video_dir

    work = Path(request.work)
    options = ScoreOptions(epochs_csv=request.epochs_csv, review=ReviewRules(min_confidence=request.min_confidence))
    with threadpool_limits(limits=request.threads):
        summary = score_video(request.video, request.bundle, work, options,
                              backends=warm_up(options.detector, options.landmarks),
                              on_progress=_progress_writer(work))
    target = video_dir(work, Path(request.video))
    write_contributions(target, request.bundle)
    return summary


def frame_contributions(frames: pd.DataFrame, bundle) -> pd.DataFrame:
    """Per frame and AU: drop in predicted intensity when that AU is set to 0 (NaN without a face).

    Returns a table of shape (n_frames, 1 + n_aus): ``frame`` and one column per AU id.
    """
    from ..columns import au_column

    values = frames[[au_column(au) for au in bundle.aus]].to_numpy(float)
    ok = np.isfinite(values).all(axis=1)
    out = np.full(values.shape, np.nan)
    if ok.any():
        base = bundle.regressor.predict(values[ok])
        for i in range(values.shape[1]):
            changed = values[ok].copy()
            changed[:, i] = 0.0
            out[ok, i] = base - bundle.regressor.predict(changed)
    table = pd.DataFrame(np.round(out, 4), columns=bundle.aus)
    table.insert(0, "frame", frames["frame"].to_numpy())
    return table


def write_contributions(target: Path, bundle_dir: str) -> Path:
    from ..bundle import load_bundle
    from ..io.tables import write_table

    frames = pd.read_csv(target / "frames.csv")
    return write_table(frame_contributions(frames, load_bundle(bundle_dir)), target / CONTRIBUTIONS)
