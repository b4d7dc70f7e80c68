"""BORIS event files from and to the annotation table.

Written: BORIS's *tabular events* export (BORIS 8 columns: ``Observation id``, ...,
``Subject``, ``Behavior``, ``Behavioral category``, ``Modifier #1..``, ``Behavior type``,
``Time``, ``Media file name``, ..., ``Comment``), one row per event: a span is a ``START``
and a ``STOP`` row (a state event), a point is a ``POINT`` row. Ours put the kind in
``Behavior`` (``observer score``, ``engine level``, ``engine intensity``, ``review``), the
scale in ``Modifier #1``, the score in ``Modifier #2``, the label in ``Comment`` and the
observer in an independent variable ``Observer`` (a column after ``FPS``).

Read: that layout (CSV or TSV, also BORIS 7's ``Status`` instead of ``Behavior type``) and
BORIS's *aggregated events* export (``Start (s)``, ``Stop (s)``). Events of other projects
count as observer scores when the behavior code names a pain scale (``FLACC``) and the score
is ``Modifier #1`` or a number after the code (``FLACC 4``); the observer is the ``Observer``
column, else the observation id. Other behaviors are skipped (``table.attrs["skipped"]``).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.tables import atomic_write_bytes
from ..scales import scale_names
from .annotations import ANNOTATION_COLUMNS, ENGINE, _read_csv, annotation_table, video_key
from .elan import format_number

BEHAVIOR_OF_KIND = {"observer": "observer score", "engine_level": "engine level",
                    "engine_intensity": "engine intensity", "review": "review"}
KIND_OF_BEHAVIOR = {v: k for k, v in BEHAVIOR_OF_KIND.items()}
CATEGORY = "auengine"
EVENT_COLUMNS = ["Observation id", "Observation date", "Description", "Observation duration", "Observation type",
                 "Source", "Time offset (s)", "Media duration (s)", "FPS", "Observer", "Subject", "Behavior",
                 "Behavioral category", "Modifier #1", "Modifier #2", "Behavior type", "Time", "Media file name",
                 "Image index", "Image file path", "Comment"]
_CODE_AND_SCORE = re.compile(r"^\s*(?P<code>[A-Za-z]+)\s*[ =:]\s*(?P<score>-?\d+(?:[.,]\d+)?)\s*$")


def write_boris_events(table: pd.DataFrame, path: str | Path, duration_s: float | None = None,
                       fps: float | None = None) -> Path:
    """Write annotations as a BORIS tabular-events file (``.csv``, or tab-separated ``.tsv``), atomically.

    One observation per video (its stem is the observation id); ``duration_s`` and ``fps`` fill
    BORIS's media columns when known.
    """
    table = annotation_table(table, str(path))
    events = []
    for row in table.itertuples(index=False):
        common = {"Observation id": video_key(row.video), "Observation date": "", "Description": "",
                  "Observation duration": _na(duration_s), "Observation type": "Media file(s)",
                  "Source": f"player #1:{row.video}", "Time offset (s)": "0.0", "Media duration (s)": _na(duration_s),
                  "FPS": _na(fps), "Observer": row.observer, "Subject": "", "Behavior": BEHAVIOR_OF_KIND[row.kind],
                  "Behavioral category": CATEGORY, "Modifier #1": row.scale,
                  "Modifier #2": "" if np.isnan(row.score) else format_number(row.score),
                  "Media file name": row.video, "Image index": "NA", "Image file path": "NA", "Comment": row.label}
        if row.end_s == row.start_s:
            events.append({**common, "Behavior type": "POINT", "Time": row.start_s})
        else:
            events += [{**common, "Behavior type": "START", "Time": row.start_s},
                       {**common, "Behavior type": "STOP", "Time": row.end_s}]
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS)
    frame = frame.sort_values(["Observation id", "Time"], kind="stable")
    frame["Time"] = frame["Time"].map(lambda t: f"{t:.3f}")
    separator = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    return atomic_write_bytes(path, frame.to_csv(index=False, sep=separator).encode())


def _na(value: float | None) -> str:
    return "NA" if value is None else f"{value:.3f}"


def read_boris(path: str | Path) -> pd.DataFrame:
    """Annotations of a BORIS tabular-events or aggregated-events export (CSV or TSV)."""
    path = Path(path)
    frame = _read_csv(path, text=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    if "Behavior" not in frame.columns:
        raise InputError(f"{path}: not a BORIS events export (no 'Behavior' column); export 'tabular events' "
                         "or 'aggregated events' from BORIS")
    frame = frame.assign(**_meanings(frame))
    skipped = sorted(set(frame.loc[frame["kind"] == "", "Behavior"].astype(str)))
    frame = frame[frame["kind"] != ""]
    if {"Start (s)", "Stop (s)"} <= set(frame.columns):
        spans = frame.assign(start_s=frame["Start (s)"], end_s=frame["Stop (s)"])
    else:
        spans = _pair_events(frame, path)
    table = annotation_table(spans[ANNOTATION_COLUMNS] if len(spans) else pd.DataFrame(columns=ANNOTATION_COLUMNS),
                             str(path))
    table.attrs["skipped"] = skipped
    return table


def _meanings(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Per event: kind, scale, score, label, observer, video (kind "" for behaviors we do not read)."""
    out = {k: [] for k in ("kind", "scale", "score", "label", "observer", "video")}
    known = scale_names()
    observers = next((frame[c] for c in frame.columns if c.lower() == "observer"), frame.get("Observation id"))
    for i, event in enumerate(frame.to_dict("records")):
        behavior = str(event["Behavior"]).strip()
        kind = KIND_OF_BEHAVIOR.get(behavior.lower(), "")
        scale, score = str(event.get("Modifier #1", "")).strip().lower(), event.get("Modifier #2", "")
        if not kind:
            match = _CODE_AND_SCORE.match(behavior)
            code = (match["code"] if match else behavior).lower()
            if code in known:
                kind, scale = "observer", code
                score = match["score"] if match else event.get("Modifier #1", "")
        media = re.sub(r"^player #\d+:", "", str(event.get("Media file name", "") or event.get("Media file path", "")))
        media = media.split(";")[0].replace("\\", "/").rsplit("/", 1)[-1]
        out["kind"].append(kind)
        out["scale"].append(scale if kind != "review" else "")
        out["score"].append(pd.to_numeric(str(score).replace(",", "."), errors="coerce") if kind != "review" else np.nan)
        out["label"].append(str(event.get("Comment", "")))
        who = str(observers.iloc[i]) if observers is not None else ""
        out["observer"].append(ENGINE if kind.startswith("engine") or kind == "review" else who)
        out["video"].append(media.strip() or str(event.get("Observation id", "")))
    return {k: pd.Series(v, index=frame.index) for k, v in out.items()}


def _pair_events(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """START/STOP pairs -> spans, POINT -> points, per video, observer, behavior, scale and score."""
    status_column = "Behavior type" if "Behavior type" in frame.columns else "Status"
    if status_column not in frame.columns or "Time" not in frame.columns:
        raise InputError(f"{path}: a tabular events export needs 'Time' and 'Behavior type' (or 'Status') columns")
    frame = frame.assign(time=pd.to_numeric(frame["Time"], errors="coerce"),
                         status=frame[status_column].astype(str).str.upper().str.strip())
    rows = []
    keys = ["video", "observer", "kind", "scale", "score"]
    for key, events in frame.sort_values("time", kind="stable").groupby(keys, dropna=False, sort=False):
        start = None
        for event in events.itertuples(index=False):
            if event.status == "POINT":
                rows.append(dict(zip(keys, key), start_s=event.time, end_s=event.time, label=event.label))
            elif event.status == "START" and start is None:
                start = event
            elif event.status == "STOP" and start is not None:
                rows.append(dict(zip(keys, key), start_s=start.time, end_s=event.time, label=start.label or event.label))
                start = None
            else:
                raise InputError(f"{path}: {event.status} of '{key[2]}' at {event.time} s for {key[0]} without its "
                                 "pair (each START needs a STOP)")
        if start is not None:
            raise InputError(f"{path}: START of '{key[2]}' at {start.time} s for {key[0]} has no STOP")
    return pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)
