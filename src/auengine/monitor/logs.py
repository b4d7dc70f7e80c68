"""Append-only, rotated log files: DIR/events.jsonl and DIR/timeline.csv stay bounded on disk.

Each line is written and flushed at once (a crash loses at most the line being written).
When the current file exceeds ``max_bytes`` or is older than ``max_age_s``, it is renamed
to ``NAME.1`` (older ones shift to ``.2`` ...) and a new file is started (with the CSV
header again); files beyond ``keep`` are deleted, so at most ``keep + 1`` files of about
``max_bytes`` each exist.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path


class RotatingLog:
    """Lines appended to ``path`` with size/age rotation; ``header`` starts every file (CSV)."""

    def __init__(self, path: str | Path, max_bytes: int = 5_000_000, keep: int = 5, max_age_s: float | None = None,
                 header: str | None = None) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("max_bytes must be >= 1 and keep >= 0")
        self.path = Path(path)
        self.max_bytes, self.keep, self.max_age_s, self.header = max_bytes, keep, max_age_s, header
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rotations = 0
        self._file = None
        self._start()

    def _start(self) -> None:
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        self._file = open(self.path, "a", encoding="utf-8")
        self._opened = time.monotonic()
        self._size = self.path.stat().st_size
        if fresh and self.header is not None:
            self._write(self.header)

    def _write(self, line: str) -> None:
        text = line.rstrip("\n") + "\n"
        self._file.write(text)
        self._file.flush()
        self._size += len(text.encode())

    def write(self, line: str) -> None:
        """Append one line (rotating first when the file is full or old)."""
        too_old = self.max_age_s is not None and time.monotonic() - self._opened >= self.max_age_s
        if self._size >= self.max_bytes or (too_old and self._size > len(self.header or "") + 1):
            self.rotate()
        self._write(line)

    def rotate(self) -> None:
        """Close the current file, shift NAME.i -> NAME.i+1 (dropping beyond ``keep``), start anew."""
        self._file.close()
        for i in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                if i == self.keep:
                    older.unlink()
                else:
                    os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.keep:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()
        self.rotations += 1
        self._start()

    def files(self) -> list[Path]:
        """The current file and its rotated predecessors, newest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.keep + 1)]
        return [self.path] + [p for p in rotated if p.exists()]

    def close(self) -> None:
        """Flush and close (safe to call twice)."""
        if self._file is not None and not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


class JsonLines(RotatingLog):
    """A rotated JSON-lines log."""

    def log(self, record: dict) -> str:
        """Append ``record`` as one JSON line (NaN becomes null); returns the line."""
        line = json.dumps({k: _finite(v) for k, v in record.items()})
        self.write(line)
        return line


class CsvLog(RotatingLog):
    """A rotated CSV log with fixed ``columns``."""

    def __init__(self, path: str | Path, columns: list[str], **kwargs) -> None:
        self.columns = list(columns)
        super().__init__(path, header=",".join(self.columns), **kwargs)

    def log(self, row: dict) -> None:
        """Append one row (missing columns empty, NaN empty)."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(["" if _finite(row.get(c)) is None else row.get(c)
                                                        for c in self.columns])
        self.write(buffer.getvalue())


def _finite(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value
