"""Turn scored time points of videos into a frame manifest (the paper's 30 frames per time point).

Input: an annotations CSV with one row per scored time point:
``video`` (path relative to the CSV), ``subject``, ``time_s``, ``scale``, ``score``
(optional ``dataset``). Each time point becomes ``frames`` consecutive frames from
``time_s`` on, written as JPEG images, one manifest row each with the time point's
score. Bad rows (missing video, time past the end) are reported, the rest go on.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import pandas as pd

from ..errors import InputError
from .manifest import write_manifest
from .video import VideoReader

ANNOTATION_COLUMNS = ("video", "subject", "time_s", "scale", "score")


def frames_from_annotations(annotations: str | Path, out_dir: str | Path, *, frames: int = 30
                            ) -> tuple[Path, list[str]]:
    """Extract ``frames`` consecutive frames per scored time point; returns (manifest path, problems)."""
    annotations, out_dir = Path(annotations), Path(out_dir)
    table = pd.read_csv(annotations)
    missing = [c for c in ANNOTATION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{annotations}: missing column(s) {', '.join(missing)}; "
                         f"need {', '.join(ANNOTATION_COLUMNS)}")
    rows, problems = [], []
    for i, note in enumerate(table.itertuples(index=False)):
        line = i + 2
        video = annotations.parent / str(note.video)
        try:
            reader = VideoReader(video, start_s=float(note.time_s), stop=frames)
        except InputError as exc:
            problems.append(f"{annotations}: line {line}: {exc}")
            continue
        start, written = reader.start, 0
        with reader:
            for index, time_s, rgb in reader:
                rel = Path("frames") / f"{video.stem}_t{float(note.time_s):08.2f}_{index - start:03d}.jpg"
                (out_dir / rel.parent).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out_dir / rel), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                rows.append({"path": rel.as_posix(), "subject": note.subject, "sequence": f"{video.stem}@{note.time_s}",
                             "frame": index, "time_s": round(time_s, 4),
                             "dataset": getattr(note, "dataset", annotations.stem), "scale": note.scale,
                             "score": note.score})
                written += 1
        if written < frames:
            problems.append(f"{annotations}: line {line}: {note.video} has only {written} of {frames} "
                            f"frames from {note.time_s} s")
    if not rows:
        raise InputError(f"{annotations}: no frames could be extracted ({len(problems)} problem(s))")
    return write_manifest(pd.DataFrame(rows), out_dir / "manifest.csv"), problems
