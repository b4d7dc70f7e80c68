"""Agreement from files: observer files and a scored folder in, results (and report files) out."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .compute import AgreementResult, compute_agreement
from .pairing import engine_scores, observer_scores
from .report import write_agreement


def run_agreement(engine_path: str | Path | None, observer_paths: list[str | Path], out: str | Path | None = None, *,
                  unit: str = "epochs", min_coverage: float = 0.5, threshold: float | None = None) -> AgreementResult:
    """Files in, results (and, with ``out``, agreement.csv/json/md, pairs.csv, bland_altman.png) out.

    Observer files: plain CSV, ELAN .eaf or BORIS export (:func:`auengine.interop.read_observer_scores`);
    an observer name found in two files is kept apart as ``name (file stem)``.
    """
    from ..interop import read_observer_scores

    observers: dict[str, pd.DataFrame] = {}
    for path in map(Path, observer_paths):
        found = observer_scores(read_observer_scores(path))
        if not found:
            raise InputError(f"{path}: no observer scores in this file")
        for name, scores in found.items():
            observers[f"{name} ({path.stem})" if name in observers else name] = scores
    engine = engine_scores(engine_path, unit) if engine_path is not None else None
    result = compute_agreement(engine, observers, min_coverage=min_coverage, threshold=threshold)
    result.settings.update(unit=unit, engine_path=str(engine_path), observer_files=[str(p) for p in observer_paths])
    if out is not None:
        write_agreement(result, out)
    return result
