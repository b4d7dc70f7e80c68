"""Data-set manifests: read, validate (every bad row at once), derive levels, split by subject.

A manifest is a CSV with one row per image (docs/data-format.md): ``path`` (relative
to the manifest), ``subject``, optional ``sequence``, ``frame``, ``time_s``,
``dataset``, ``scale``, ``score``, ``level``, landmark columns ``x_0..y_67`` and
ground truth ``gt_*``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..scales import get_scale, scale_names
from .tables import write_table

REQUIRED = ("path", "subject")
MAX_LISTED = 20  # bad rows listed in one error message


class ManifestError(InputError):
    """A manifest with bad rows; ``problems`` lists (line, message) for each."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {line}: {msg}" for line, msg in problems[:MAX_LISTED])
        more = f"; ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        super().__init__(f"{path}: {len(problems)} bad row(s): {shown}{more}")


def read_manifest(path: str | Path, *, check_files: bool = True) -> pd.DataFrame:
    """Read and validate a manifest; derive ``level`` from scale + score where absent.

    Returns the table with an added ``abspath`` column (absolute image paths).
    Line numbers in errors are CSV lines (the header is line 1).

    Raises
    ------
    InputError
        Missing file or columns.
    ManifestError
        Every bad row at once: missing file, unknown scale, score out of range,
        missing subject, duplicated path, missing score and level, a level that is not a
        whole number within the scale's levels.
    """
    path = Path(path)
    table = read_csv_file(path, "manifest", dtype={"path": str, "subject": str, "sequence": str})
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; a manifest needs at least "
                         f"path and subject, plus scale+score or level")
    if "level" not in table.columns and not {"scale", "score"} <= set(table.columns):
        raise InputError(f"{path}: add 'scale' and 'score' columns, or a 'level' column")
    table = table.copy()
    table["abspath"] = [str((path.parent / p).resolve()) if isinstance(p, str) else "" for p in table["path"]]
    problems = _problems(table, check_files)
    if problems:
        raise ManifestError(path, problems)
    table["level"] = derive_levels(table)
    return table


def read_csv_file(path: Path, kind: str, dtype: dict | None = None) -> pd.DataFrame:
    """A CSV file, or InputError in one line: "<kind> not found" or "not a readable CSV"."""
    if not path.is_file():
        raise InputError(f"{kind} not found: {path}")
    try:
        return pd.read_csv(path, dtype=dtype)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})".replace("\n", " ")) from None


def _problems(table: pd.DataFrame, check_files: bool) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    duplicated = table["path"].duplicated(keep="first")
    has_scale = "scale" in table.columns
    has_level = "level" in table.columns
    scores = pd.to_numeric(table["score"], errors="coerce") if "score" in table.columns else \
        pd.Series(np.nan, index=table.index)
    for i, row in enumerate(table.itertuples(index=False)):
        line = i + 2
        record = row._asdict()
        rel = record["path"]
        if not isinstance(rel, str) or not rel.strip():
            problems.append((line, "empty path"))
        elif duplicated.iloc[i]:
            problems.append((line, f"duplicated path {rel!r}"))
        elif check_files and not Path(record["abspath"]).is_file():
            problems.append((line, f"file not found: {rel}"))
        if not isinstance(record["subject"], str) or not record["subject"].strip():
            problems.append((line, "missing subject (needed for subject-wise splits)"))
        level = record.get("level") if has_level else None
        scale_name = record["scale"] if has_scale and isinstance(record["scale"], str) else None
        problem = scale_problem(scale_name, scores.iloc[i], level)
        if problem:
            problems.append((line, problem))
    return problems


def scale_problem(scale_name: str | None, score: float, level=None) -> str | None:
    """What is wrong with one row's scale, score and level (None when nothing is).

    The scale must be known; a score must lie in the scale's range; a level must be a
    whole number from 0 to the scale's last level (any level >= 0 without a scale);
    a row needs a score or a level.
    """
    has_level = level is not None and not pd.isna(level)
    scale = None
    if scale_name is not None:
        name = scale_name.strip().lower()
        if name not in scale_names():
            return f"unknown scale {scale_name!r} (use {', '.join(scale_names())})"
        scale = get_scale(name)
        if pd.isna(score):
            if not has_level:
                return f"missing score for scale {name}"
        elif not scale.in_range(score):
            return f"score {score:g} out of range [{scale.low:g}, {scale.high:g}] for {name}"
    elif not has_level:
        return "missing scale (and no level)"
    if has_level:
        value = pd.to_numeric(pd.Series([level]), errors="coerce").iloc[0]
        top = scale.n_levels - 1 if scale is not None else np.inf
        if pd.isna(value) or value != round(value) or not 0 <= value <= top:
            shown = f"{value:g}" if pd.notna(value) else repr(level)
            allowed = f"0-{top} on {scale.name}: {', '.join(scale.level_names)}" if scale else "a whole number >= 0"
            return f"level {shown} is not a level ({allowed})"
    return None


def derive_levels(table: pd.DataFrame) -> pd.Series:
    """Pain level per row: the given ``level`` where present, else the scale's bin of ``score``."""
    levels = pd.to_numeric(table["level"], errors="coerce") if "level" in table.columns else \
        pd.Series(np.nan, index=table.index)
    if "scale" in table.columns:
        for name, rows in table[levels.isna()].groupby(table["scale"].str.strip().str.lower()):
            levels.loc[rows.index] = get_scale(name).level(rows["score"].astype(float))
    return levels.astype(int)


def write_manifest(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest CSV atomically (without the derived ``abspath`` column)."""
    return write_table(table.drop(columns=["abspath"], errors="ignore"), path)


def subject_folds(table: pd.DataFrame, n_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold by subject: (train_index, test_index) pairs; no subject is in both."""
    from sklearn.model_selection import GroupKFold

    subjects = table["subject"].astype(str).to_numpy()
    n_subjects = len(set(subjects))
    if n_subjects < max(n_folds, 2):
        raise InputError(f"{n_folds} subject-wise folds need at least {max(n_folds, 2)} subjects, "
                         f"the manifest has {n_subjects}")
    return list(GroupKFold(n_splits=n_folds).split(np.zeros(len(table)), groups=subjects))


def subject_split(table: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One subject-wise train/test split: (train_index, test_index)."""
    from sklearn.model_selection import GroupShuffleSplit

    subjects = table["subject"].astype(str).to_numpy()
    if len(set(subjects)) < 2:
        raise InputError("a subject-wise split needs at least 2 subjects")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    return next(splitter.split(np.zeros(len(table)), groups=subjects))
