"""Phantom data sets: subjects -> procedure sequences (videos) and stills, with a manifest."""
from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from .. import __version__
from ..io.manifest import write_manifest
from ..io.tables import LANDMARK_COLUMNS, atomic_write_json
from .face import PHANTOM_AUS
from .rule import PainRule, load_rule
from .sampling import BOX_COLUMNS, GT_AU_COLUMNS, PhantomConfig, subject_rows, worker_init
from ..progress import bar as progress_bar


def generate(out_dir: str | Path, *, n_subjects: int, frames_per_subject: int, size: int = 224,
             pain_rule: PainRule | str | Path | dict | None = None, population: int = 0, seed: int = 0,
             videos: bool = True, workers: int | None = None, config: PhantomConfig | None = None,
             progress: bool | None = None) -> Path:
    """Write a phantom data set and return the path of its manifest.csv.

    Parameters
    ----------
    out_dir : path
        Output folder (created); holds manifest.csv, phantom.json, images/, videos/.
    n_subjects, frames_per_subject : int
        Data-set size. Each subject gets one procedure sequence (``sequence_fraction``
        of its frames, also written as an MP4 when ``videos``) and independent stills.
    size : int
        Image side in pixels.
    pain_rule : PainRule, preset name, YAML/JSON path or dict
        AU -> score mapping (default: the mouth-dominated infant rule).
    population : int
        Identity distribution (0 or 1); use another for an unseen test population.
    seed : int
        Everything is deterministic for a given seed, population and size.
    workers : int
        Processes (default: up to 2). Results do not depend on it.
    """
    if n_subjects < 1 or frames_per_subject < 1:
        raise ValueError("n_subjects and frames_per_subject must be at least 1")
    rule = load_rule(pain_rule)
    config = replace(config or PhantomConfig(), size=size)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence([seed, population]).spawn(n_subjects)
    tasks = [(str(out_dir), f"p{population}s{i:03d}", seeds[i], frames_per_subject, population, rule, config,
              videos) for i in range(n_subjects)]
    workers = min(workers or min(2, multiprocessing.cpu_count()), n_subjects)
    rows: list[dict] = []
    with progress_bar(total=n_subjects * frames_per_subject, unit="img", desc="phantom", progress=progress) as bar:
        if workers > 1:
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=worker_init) as executor:
                    for rows_of_subject in executor.map(subject_rows, tasks):
                        rows.extend(rows_of_subject)
                        bar.update(len(rows_of_subject))
            except BrokenProcessPool as exc:
                warnings.warn(f"phantom worker processes failed ({exc}); generating in this process "
                              "(scripts that call generate() need an `if __name__ == '__main__':` guard)",
                              RuntimeWarning, stacklevel=2)
                rows, workers = [], 1
                bar.reset()
        if workers <= 1:
            for rows_of_subject in map(subject_rows, tasks):
                rows.extend(rows_of_subject)
                bar.update(len(rows_of_subject))
    table = pd.DataFrame(rows)
    table["scale"] = rule.scale
    table["level"] = rule.pain_scale.level(table["score"])
    columns = ["path", "subject", "sequence", "frame", "time_s", "dataset", "scale", "score", "level",
               "population", "occluder", *BOX_COLUMNS, *LANDMARK_COLUMNS, *GT_AU_COLUMNS]
    manifest = write_manifest(table[columns], out_dir / "manifest.csv")
    atomic_write_json(out_dir / "phantom.json", {
        "synthetic": True, "auengine_version": __version__, "n_subjects": n_subjects,
        "frames_per_subject": frames_per_subject, "size": size, "population": population, "seed": seed,
        "videos": videos, "rule": rule.to_dict(), "config": config.__dict__, "aus": list(PHANTOM_AUS),
        "levels": table["level"].value_counts().sort_index().to_dict(),
    })
    return manifest
