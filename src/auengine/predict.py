"""One input scored by a bundle: per-row pain intensity and level (what `auengine predict` writes).

The input is an AU table, a landmark table / manifest (geometry AUs), images, or a video; a video
goes through the same per-frame path as `auengine score` (scoring/video.py), so both commands
give the same numbers on the same frames.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from .bundle import Bundle
from .errors import InputError

ID_COLUMNS = ("path", "source", "subject", "frame", "time_s", "face_id")


def predict_input(bundle: Bundle, source: str | Path, *, detector: str = "auto", landmarks: str = "auto",
                  on_problem: Callable[[str], None] | None = None,
                  on_backends: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Identifier columns (those of ID_COLUMNS present) plus ``intensity`` and ``level``, one row per face/frame."""
    from .au.backends import GeometryBackend
    from .io.au_tables import read_au_table
    from .io.video import VIDEO_EXTENSIONS
    from .pipeline import frame_table

    source = Path(source)
    if source.suffix.lower() in VIDEO_EXTENSIONS:
        from .scoring.video import ScoreOptions, frame_scores

        frames = frame_scores(source, bundle, ScoreOptions(detector=detector, landmarks=landmarks)).frames
        table, scored = frames.assign(source=str(source)), frames[["intensity", "level"]]
    else:
        table = None
        if source.suffix.lower() in (".csv", ".parquet") and source.is_file():
            try:
                table = read_au_table(source)
            except InputError:          # no AU columns: a landmark table or manifest
                table = None
        if table is None:               # images, or landmarks: geometry AUs
            frames = frame_table([source], detector=detector, landmarks=landmarks, on_problem=on_problem,
                                 on_backends=on_backends)
            table = pd.concat([frames, GeometryBackend().estimate(frames)], axis=1)
        scored = bundle.predict(table, str(source))
    ids = [c for c in ID_COLUMNS if c in table.columns]
    return pd.concat([table[ids], scored], axis=1)
