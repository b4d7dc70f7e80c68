"""Annotation files in and out: ELAN (.eaf), BORIS event exports and plain observer-score CSVs.

Everything goes through one table (:mod:`.annotations`); :func:`read_annotations` picks
the reader by file type.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .annotations import (ANNOTATION_COLUMNS, annotation_table, read_observer_csv, scored_annotations,
                          video_key, write_observer_csv)
from .boris import read_boris, write_boris_events
from .elan import read_eaf, write_eaf

__all__ = ["ANNOTATION_COLUMNS", "annotation_table", "export_scored", "read_annotations", "read_boris", "read_eaf",
           "read_observer_csv", "read_observer_scores", "scored_annotations", "video_key", "write_boris_events",
           "write_eaf", "write_observer_csv"]


def read_annotations(path: str | Path) -> pd.DataFrame:
    """Annotations of an .eaf, a BORIS events export (CSV/TSV with a ``Behavior`` column) or a plain CSV."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.suffix.lower() == ".eaf":
        return read_eaf(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return read_boris(path) if "Behavior" in header else read_observer_csv(path)


def read_observer_scores(path: str | Path) -> pd.DataFrame:
    """Only the observer scores of any supported file (what agreement and the review queue import)."""
    table = read_annotations(path)
    return table[table["kind"] == "observer"].reset_index(drop=True)


EXPORT_FORMATS = ("eaf", "boris", "csv")


def export_scored(folder: str | Path, out_dir: str | Path, observers: pd.DataFrame | None = None,
                  formats: tuple[str, ...] = ("eaf", "boris")) -> list[Path]:
    """Write one scored recording (OUT/<stem>/ of ``auengine score``) as OUT_DIR/<stem>.eaf, <stem>.boris.csv
    and/or <stem>.observers.csv (observer scores only), with ``observers``' scores of that video attached."""
    unknown = set(formats) - set(EXPORT_FORMATS)
    if unknown:
        raise InputError(f"unknown export format(s) {', '.join(sorted(unknown))}; use {', '.join(EXPORT_FORMATS)}")
    table = scored_annotations(folder, observers)
    stem, out_dir = Path(folder).name, Path(out_dir)
    writers = {"eaf": (write_eaf, ".eaf"), "boris": (write_boris_events, ".boris.csv"),
               "csv": (write_observer_csv, ".observers.csv")}
    return [writers[f][0](table, out_dir / f"{stem}{writers[f][1]}") for f in formats]
