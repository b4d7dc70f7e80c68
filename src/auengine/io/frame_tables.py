"""Landmark tables as frames to estimate AUs on: an `extract` table, a manifest, or an OpenFace / py-feat CSV.

The header handling is :func:`~auengine.io.au_tables.read_au_table`'s (OpenFace's
leading spaces stripped, its 1-based frames made 0-based), so a file read here and the
same file read as an AU table give the same ``source`` and ``frame`` keys.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..columns import LANDMARK_COLUMNS
from ..errors import InputError
from .au_tables import known_format, read_raw_table

#: file suffixes read as tables rather than media
TABLE_SUFFIXES = (".csv", ".parquet")


def read_frame_table(path: str | os.PathLike) -> pd.DataFrame:
    """Frames with 68 landmarks (``x_0..x_67, y_0..y_67``) and a ``source`` column, from a table file.

    ``source`` is the table's own (``source``, py-feat ``input``), else a manifest's
    ``path``, else the file's stem (as for AU tables).

    Raises
    ------
    InputError
        Missing or unreadable file, or no landmark columns.
    """
    path = Path(path)
    table = known_format(read_raw_table(path), path)
    if not set(LANDMARK_COLUMNS) <= set(table.columns):
        raise InputError(f"{path}: no landmark columns x_0..x_67, y_0..y_67; give images/videos, an `extract` "
                         "table, a manifest with landmarks or an OpenFace 2.x CSV with 2D landmarks")
    if "source" not in table.columns:
        source = table["path"].rename("source") if "path" in table.columns else \
            pd.Series(path.stem, index=table.index, name="source")
        table = pd.concat([source, table], axis=1)
    return table


def is_table_file(path: str | os.PathLike) -> bool:
    """Whether a command input names a table (by suffix) rather than media."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES
