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


def _csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV text of a table: pyarrow's writer (several times faster), pandas for mixed-type columns."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return table.to_csv(index=False).encode()
    names = [str(c) for c in table.columns]
    if any(ch in name for name in names for ch in ',"\n'):
        return table.to_csv(index=False).encode()
    buffer = pa.BufferOutputStream()
    pa_csv.write_csv(arrow, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return (",".join(names) + "\n").encode() + buffer.getvalue().to_pybytes()


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV (``.csv``) or Parquet (``.parquet``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write_bytes(path, _csv_bytes(table))
    if suffix == ".parquet":
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            pass
        table.to_parquet(tmp.name, index=False)
        os.replace(tmp.name, path)
        return path
    raise InputError(f"{path}: unknown table format {suffix!r}; use .csv or .parquet")

