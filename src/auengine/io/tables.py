"""Write tables atomically (CSV or Parquet) and name landmark columns."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from ..columns import LANDMARK_COLUMNS, au_column  # noqa: F401 (re-exported)
from ..errors import InputError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
    return path


def atomic_write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV (``.csv``) or Parquet (``.parquet``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write_bytes(path, table.to_csv(index=False).encode())
    if suffix == ".parquet":
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            pass
        table.to_parquet(tmp.name, index=False)
        os.replace(tmp.name, path)
        return path
    raise InputError(f"{path}: unknown table format {suffix!r}; use .csv or .parquet")

