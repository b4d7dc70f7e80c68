"""Turn scored time points of videos into a frame manifest (the paper's 30 frames per time point).

Input: an annotations CSV with one row per scored time point:
``video`` (path relative to the CSV), ``subject``, ``time_s``, ``scale``, ``score``
(optional ``dataset``). Each time point becomes ``frames`` consecutive frames from
``time_s`` on, written as JPEG images, one manifest row each with the time point's
score.

The whole file is checked before anything is written, and every bad row is reported
at once (:class:`~auengine.io.manifest.ManifestError`): missing or unreadable video,
time point negative or too close to the end for ``frames`` frames, missing subject,
unknown scale, score outside the scale's range, the same time point twice. A time point
that still decodes fewer frames than asked (a video whose header over-states its
length) is skipped whole: its images are removed and it has no manifest row.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import pandas as pd

from ..errors import InputError
from .manifest import ManifestError, read_csv_file, scale_problem, write_manifest

ANNOTATION_COLUMNS = ("video", "subject", "time_s", "scale", "score")


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says: frames per second and frame count (0 when unknown)."""

    fps: float
    frame_count: int


def frames_from_annotations(annotations: str | Path, out_dir: str | Path, *, frames: int = 30
                            ) -> tuple[Path, list[str]]:
    """Extract ``frames`` consecutive frames per scored time point; returns (manifest path, problems).

    Raises
    ------
    InputError
        Unreadable CSV or missing columns.
    ManifestError
        Every bad row at once (nothing is written then).
    """
    annotations, out_dir = Path(annotations), Path(out_dir)
    if frames < 1:
        raise InputError(f"--frames must be at least 1, not {frames}")
    table = _read(annotations)
    videos = {name: _probe(annotations.parent / name) for name in table["video"].dropna().astype(str).unique()}
    bad = annotation_problems(table, videos, frames)
    if bad:
        raise ManifestError(annotations, bad)
    rows, problems = [], []
    for i, note in enumerate(table.itertuples(index=False)):
        video = annotations.parent / str(note.video)
        written = _extract(video, float(note.time_s), videos[str(note.video)].fps, frames, out_dir)
        if len(written) < frames:
            for path in written:
                (out_dir / path).unlink(missing_ok=True)
            problems.append(f"{annotations}: line {i + 2}: skipped: {note.video} decoded only {len(written)} of "
                            f"{frames} frames from {float(note.time_s):g} s (its header says "
                            f"{videos[str(note.video)].frame_count}); nothing was written for this time point")
            continue
        fps = videos[str(note.video)].fps
        start = int(round(float(note.time_s) * fps))
        for k, rel in enumerate(written):
            rows.append({"path": rel.as_posix(), "subject": note.subject, "sequence": f"{video.stem}@{note.time_s}",
                         "frame": start + k, "time_s": round((start + k) / fps, 4),
                         "dataset": getattr(note, "dataset", annotations.stem), "scale": note.scale,
                         "score": note.score})
    if not rows:
        raise InputError(f"{annotations}: no frames could be extracted ({len(problems)} problem(s))")
    return write_manifest(pd.DataFrame(rows), out_dir / "manifest.csv"), problems


def _read(annotations: Path) -> pd.DataFrame:
    table = read_csv_file(annotations, "annotations file", dtype={"video": str, "subject": str})
    missing = [c for c in ANNOTATION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{annotations}: missing column(s) {', '.join(missing)}; "
                         f"need {', '.join(ANNOTATION_COLUMNS)}")
    return table


def _probe(path: Path) -> VideoInfo | None:
    """Frame rate and frame count of a video (None when it cannot be opened)."""
    if not path.is_file():
        return None
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        return VideoInfo(capture.get(cv2.CAP_PROP_FPS) or 30.0, max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0))
    finally:
        capture.release()


def annotation_problems(table: pd.DataFrame, videos: dict[str, VideoInfo | None], frames: int
                        ) -> list[tuple[int, str]]:
    """(CSV line, message) for every bad row of an annotations table."""
    problems = []
    times = pd.to_numeric(table["time_s"], errors="coerce")
    scores = pd.to_numeric(table["score"], errors="coerce")
    seen: dict[str, int] = {}
    for i, note in enumerate(table.itertuples(index=False)):
        line, name, time_s = i + 2, note.video, times.iloc[i]
        info = videos.get(str(name)) if isinstance(name, str) else None
        if not isinstance(name, str) or not name.strip():
            problems.append((line, "empty video"))
        elif info is None:
            problems.append((line, f"video not found or not readable: {name}"))
        if not isinstance(note.subject, str) or not note.subject.strip():
            problems.append((line, "missing subject"))
        if pd.isna(time_s):
            problems.append((line, f"time_s {note.time_s!r} is not a number of seconds"))
        elif time_s < 0:
            problems.append((line, f"time_s {time_s:g} is negative"))
        elif info is not None and info.frame_count:
            start = int(round(time_s * info.fps))
            if start + frames > info.frame_count:
                problems.append((line, f"time_s {time_s:g} is too late for {frames} frames: {name} has "
                                       f"{info.frame_count} frames ({info.frame_count / info.fps:.2f} s at "
                                       f"{info.fps:g} fps), so the last usable start is "
                                       f"{max(info.frame_count - frames, 0) / info.fps:.2f} s"))
        scale = note.scale if isinstance(note.scale, str) else None
        problem = scale_problem(scale, scores.iloc[i]) if scale else "missing scale"
        if problem:
            problems.append((line, problem))
        if isinstance(name, str) and pd.notna(time_s):      # frames of all videos share one folder
            key = _frame_name(Path(name), time_s, 0)
            if key in seen:
                problems.append((line, f"would write the same frames as line {seen[key]} ({key[:-8]}*)"))
            seen.setdefault(key, line)
    return problems


def _frame_name(video: Path, time_s: float, k: int) -> str:
    return f"{video.stem}_t{time_s:08.2f}_{k:03d}.jpg"


def _extract(video: Path, time_s: float, fps: float, frames: int, out_dir: Path) -> list[Path]:
    """Write up to ``frames`` consecutive frames from ``time_s`` on; returns their paths relative to ``out_dir``."""
    written: list[Path] = []
    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(round(time_s * fps)))
        for k in range(frames):
            ok, bgr = capture.read()
            if not ok:
                break
            rel = Path("frames") / _frame_name(video, time_s, k)
            (out_dir / rel.parent).mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(out_dir / rel), bgr):
                raise InputError(f"cannot write {out_dir / rel}; check that the output folder is writable")
            written.append(rel)
    finally:
        capture.release()
    return written
