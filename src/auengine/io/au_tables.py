"""AU tables: read OpenFace 2.x / py-feat / auengine tables, write CSV or Parquet, export to py-feat.

An AU table (DESIGN.md) has one row per face per frame: identifiers (source, frame,
time_s, face_id) then intensities 0-5 in ``AU01_r``-style columns and occurrence in
``AU01_c`` where known. ``table.attrs["format"]`` records where it came from.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..optional import import_pyfeat
from .tables import write_table

AU_INTENSITY = re.compile(r"^AU(\d{2})_r$")
PYFEAT_AU = re.compile(r"^AU(\d{2})$")
#: py-feat's AU models output occurrence probabilities in [0, 1]; scaled to 0-5 here
PYFEAT_SCALE = 5.0


def au_columns(table: pd.DataFrame) -> list[str]:
    """The ``AUxx_r`` columns of a table, in AU order."""
    return sorted((c for c in table.columns if AU_INTENSITY.match(str(c))), key=lambda c: int(c[2:4]))


def read_au_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read an AU table, detecting the format: OpenFace 2.x CSV, py-feat CSV, or auengine CSV/Parquet.

    Raises
    ------
    InputError
        Missing file, unreadable CSV, or no AU columns in any known naming.
    """
    path = Path(path)
    table = known_format(read_raw_table(path, "AU table"), path)
    if not au_columns(table):
        raise InputError(f"{path}: no AU columns found (expected OpenFace 'AU01_r', py-feat 'AU01', or auengine "
                         "'AU01_r')")
    return table


def read_raw_table(path: Path, kind: str = "table") -> pd.DataFrame:
    """A CSV or Parquet file as it is, with header names stripped (OpenFace writes ' frame', ' AU01_r')."""
    if not path.is_file():
        raise InputError(f"{kind} not found: {path}")
    try:
        table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path, skipinitialspace=True)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the table ({exc})".replace("\n", " ")) from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


def known_format(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """OpenFace 2.x and py-feat tables in auengine naming (source, 0-based frame, ...); others as they are.

    ``attrs["format"]`` is "openface", "pyfeat" or "auengine".
    """
    if {"frame", "timestamp", "confidence", "success"} <= set(table.columns):
        return _from_openface(table, path)
    if any(PYFEAT_AU.match(c) for c in table.columns):
        return from_pyfeat(table, path)
    table.attrs["format"] = "auengine"
    return table


def _from_openface(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """OpenFace 2.x: ' frame', ' timestamp', ' success', AUxx_r/AUxx_c (leading spaces already stripped)."""
    out = pd.DataFrame({
        "source": table["input"] if "input" in table.columns else path.stem,
        "frame": table["frame"].astype(int) - 1,        # OpenFace counts frames from 1
        "time_s": table["timestamp"].astype(float),
        "face_id": table["face_id"].astype(int) if "face_id" in table.columns else 0,
        "success": table["success"].astype(int),
        "confidence": table["confidence"].astype(float),
    })
    keep = [c for c in table.columns if re.match(r"^AU\d{2}_[rc]$", c) or re.match(r"^[xy]_\d+$", c)]
    out = pd.concat([out, table[keep]], axis=1)
    out.attrs["format"] = "openface"
    return out


def from_pyfeat(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """py-feat Fex CSV: AU01.. occurrence probabilities, 'input', 'frame', FaceRect*."""
    out = pd.DataFrame({
        "source": table["input"] if "input" in table.columns else path.stem,
        "frame": table["frame"].astype(int) if "frame" in table.columns else 0,
        "time_s": 0.0, "face_id": 0,
    })
    aus = {c: f"{c}_r" for c in table.columns if PYFEAT_AU.match(c)}
    landmarks = [c for c in table.columns if re.match(r"^[xy]_\d+$", c)]
    out = pd.concat([out, (table[list(aus)] * PYFEAT_SCALE).rename(columns=aus), table[landmarks]], axis=1)
    out.attrs["format"] = "pyfeat"
    out.attrs["note"] = "py-feat AU probabilities (0-1) multiplied by 5"
    return out


def write_au_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write an AU table as CSV or Parquet (by suffix), atomically."""
    return write_table(table, path)


def to_fex(table: pd.DataFrame):
    """Export to a py-feat ``Fex`` (AU columns as AU01.. with values / 5, landmark columns kept).

    py-feat is imported here, lazily (:func:`auengine.optional.import_pyfeat`).
    """
    Fex = import_pyfeat().Fex
    aus = {c: c[:-2] for c in au_columns(table)}
    landmarks = [c for c in table.columns if re.match(r"^[xy]_\d+$", c)]
    data = pd.concat([table[list(aus)].rename(columns=aus) / PYFEAT_SCALE, table[landmarks]], axis=1)
    return Fex(data, au_columns=list(aus.values()), landmark_columns=landmarks or None)
