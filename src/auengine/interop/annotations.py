"""The one annotation table that ELAN, BORIS and plain-CSV files are read into and written from.

Columns (``ANNOTATION_COLUMNS``), one row per annotation:

- ``video``: the recording's name (matched to engine outputs by its stem, :func:`video_key`);
- ``kind``: ``observer`` (a human score), ``engine_level``, ``engine_intensity`` or ``review``;
- ``start_s``, ``end_s``: the time span in seconds (``end_s == start_s``: a point);
- ``scale``: the pain scale (scales.yaml) of ``score``; empty for review flags;
- ``score``: the score on that scale (level number for ``engine_level``); NaN for review flags;
- ``label``: text (level name, review reason, or an observer's comment);
- ``observer``: who scored it (``engine`` for the engine's rows).

Times are kept to ``TIME_DECIMALS`` decimals (1 ms: ELAN stores integer milliseconds and BORIS
three decimals), scores to ``SCORE_DECIMALS`` decimals; :func:`annotation_table` applies both,
so a table that went through it survives every round trip unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..scales import get_scale

ANNOTATION_COLUMNS = ["video", "kind", "start_s", "end_s", "scale", "score", "label", "observer"]
KINDS = ("observer", "engine_level", "engine_intensity", "review")
OBSERVER_CSV_COLUMNS = ["video", "start_s", "end_s", "scale", "score", "observer"]
TIME_DECIMALS = 3                     # 1 ms
SCORE_DECIMALS = 6
ENGINE = "engine"


def video_key(name: str) -> str:
    """The key recordings are matched by: the file stem (``/data/a.mp4``, ``a.mp4`` and ``a`` -> ``a``)."""
    return Path(str(name).replace("\\", "/")).stem if str(name) else ""


def annotation_table(rows: pd.DataFrame | list[dict], source: str = "annotations") -> pd.DataFrame:
    """Normalise annotations: all columns, types, 1 ms times, rounded scores, sorted; checks every row.

    Raises InputError naming ``source`` and the first bad rows (unknown kind or scale, end before
    start, observer score missing or outside its scale's range).
    """
    table = pd.DataFrame(rows).copy()
    for column, default in (("kind", "observer"), ("label", ""), ("observer", ""), ("scale", ""),
                            ("score", np.nan), ("end_s", None)):
        if column not in table.columns:
            table[column] = table["start_s"] if column == "end_s" and "start_s" in table else default
    missing = [c for c in ("video", "start_s") if c not in table.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}")
    table["kind"] = table["kind"].fillna("observer")
    for column in ("video", "kind", "scale", "label", "observer"):
        table[column] = table[column].fillna("").astype(str).str.strip()
    table["scale"] = table["scale"].str.lower()
    for column in ("start_s", "end_s"):
        seconds = pd.to_numeric(table[column], errors="coerce").astype(float)
        table[column] = np.round(seconds, TIME_DECIMALS)
    table["end_s"] = table["end_s"].fillna(table["start_s"])
    table["score"] = np.round(pd.to_numeric(table["score"], errors="coerce").astype(float), SCORE_DECIMALS)
    _check_rows(table, source)
    table = table[ANNOTATION_COLUMNS].sort_values(["video", "kind", "observer", "scale", "start_s", "end_s"],
                                                  kind="stable")
    return table.reset_index(drop=True)


def _check_rows(table: pd.DataFrame, source: str) -> None:
    problems = []
    for i, row in enumerate(table.itertuples(index=False)):
        where = f"{source}: row {i + 1}"
        if row.kind not in KINDS:
            problems.append(f"{where}: unknown kind {row.kind!r} (one of {', '.join(KINDS)})")
        elif not (np.isfinite(row.start_s) and np.isfinite(row.end_s) and row.end_s >= row.start_s):
            problems.append(f"{where}: start_s/end_s must be numbers with end_s >= start_s")
        elif not row.video:
            problems.append(f"{where}: no video name")
        elif row.kind != "review":
            if not row.scale:
                problems.append(f"{where}: no scale (one of the scales in scales.yaml, e.g. flacc)")
                continue
            try:
                scale = get_scale(row.scale)
            except InputError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if row.kind == "observer" and not row.observer:
                problems.append(f"{where}: observer score without an observer name")
            elif not scale.in_range(row.score):
                problems.append(f"{where}: score {row.score} outside {scale.name} {scale.low:g}-{scale.high:g}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError("; ".join(problems[:3]) + more)


def read_observer_csv(path: str | Path) -> pd.DataFrame:
    """Observer scores from a plain CSV ``video, start_s, end_s, scale, score, observer`` (+ optional ``label``).

    ``end_s`` may be left out (point scores). Returns an annotation table of kind ``observer``.
    """
    path = Path(path)
    table = _read_csv(path)
    needed = [c for c in OBSERVER_CSV_COLUMNS if c != "end_s"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; an observer-score CSV has "
                         f"{', '.join(OBSERVER_CSV_COLUMNS)}")
    return annotation_table(table.assign(kind="observer"), str(path))


def write_observer_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the observer rows of an annotation table as the plain CSV, atomically."""
    from ..io.tables import write_table

    rows = table[table["kind"] == "observer"]
    return write_table(rows[[*OBSERVER_CSV_COLUMNS, "label"]], path)


def _read_csv(path: Path, text: bool = False) -> pd.DataFrame:
    """A CSV or TSV (separator sniffed); ``text``: every cell as a string, empty cells as ""."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        if text:
            return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
        return pd.read_csv(path, sep=None, engine="python", dtype={"video": str, "observer": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None


def scored_annotations(folder: str | Path, observers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annotations of one ``auengine score`` output folder: engine level, intensity epochs, review flags.

    Parameters
    ----------
    folder : path
        OUT/<video stem>/ of ``auengine score`` (epochs.csv and summary.json).
    observers : annotation table, optional
        Observer scores to add (rows of other videos are dropped).
    """
    folder = Path(folder)
    summary_path, epochs_path = folder / "summary.json", folder / "epochs.csv"
    if not summary_path.is_file() or not epochs_path.is_file():
        raise InputError(f"{folder}: not a scored video folder (needs summary.json and epochs.csv from auengine score)")
    summary = json.loads(summary_path.read_text())
    video, scale = Path(summary["video"]).name, get_scale(summary["scale"])
    epochs = pd.read_csv(epochs_path, keep_default_na=False, na_values=[""])
    rows = []
    for epoch in epochs.itertuples(index=False):
        span = {"video": video, "start_s": epoch.start_s, "end_s": epoch.end_s, "observer": ENGINE}
        if int(epoch.level) >= 0:
            rows.append({**span, "kind": "engine_level", "scale": scale.name, "score": int(epoch.level),
                         "label": scale.level_names[int(epoch.level)]})
        if np.isfinite(epoch.intensity_mean):
            rows.append({**span, "kind": "engine_intensity", "scale": scale.name,
                         "score": float(epoch.intensity_mean)})
        if isinstance(epoch.review, str) and epoch.review:
            rows.append({**span, "kind": "review", "label": epoch.review})
    table = pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)
    if observers is not None and len(observers):
        mine = observers[(observers["kind"] == "observer") & (observers["video"].map(video_key) == video_key(video))]
        table = pd.concat([table, mine.assign(video=video)], ignore_index=True)
    return annotation_table(table, str(folder))
