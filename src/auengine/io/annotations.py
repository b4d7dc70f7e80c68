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

from pathlib import Path

import cv2
import pandas as pd

from ..errors import InputError
from .manifest import ManifestError, read_csv_file, scale_problem, write_manifest
from .video import VideoInfo, VideoReader, probe

ANNOTATION_COLUMNS = ("video", "subject", "time_s", "scale", "score")

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
        written = _extract(video, float(note.time_s), frames, out_dir)
        if len(written) < frames:
            for path, _, _ in written:
                (out_dir / path).unlink(missing_ok=True)
            problems.append(f"{annotations}: line {i + 2}: skipped: {note.video} decoded only {len(written)} of "
                            f"{frames} frames from {float(note.time_s):g} s (its header says "
                            f"{videos[str(note.video)].n_frames}); nothing was written for this time point")
            continue
        for rel, index, time_s in written:
            rows.append({"path": rel.as_posix(), "subject": note.subject, "sequence": f"{video.stem}@{note.time_s}",
                         "frame": index, "time_s": round(time_s, 4),
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
    """What the container says about a video (None when it is missing or cannot be opened)."""
    try:
        return probe(path)
    except InputError:
        return None


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
        elif info is not None and info.n_frames:
            start = int(round(time_s * info.fps))
            if start + frames > info.n_frames:
                problems.append((line, f"time_s {time_s:g} is too late for {frames} frames: {name} has "
                                       f"{info.n_frames} frames ({info.duration_s:.2f} s at "
                                       f"{info.fps:g} fps), so the last usable start is "
                                       f"{max(info.n_frames - frames, 0) / info.fps:.2f} s"))
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


def _extract(video: Path, time_s: float, frames: int, out_dir: Path) -> list[tuple[Path, int, float]]:
    """Write up to ``frames`` consecutive frames from ``time_s`` on; (path relative to ``out_dir``, frame index,
    time in s) of each."""
    written: list[tuple[Path, int, float]] = []
    with VideoReader(video, start_s=time_s, stop=frames) as reader:
        for index, frame_time_s, rgb in reader:
            rel = Path("frames") / _frame_name(video, time_s, index - reader.start)
            (out_dir / rel.parent).mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(out_dir / rel), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise InputError(f"cannot write {out_dir / rel}; check that the output folder is writable")
            written.append((rel, index, frame_time_s))
    return written
