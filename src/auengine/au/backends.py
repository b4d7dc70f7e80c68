"""AU intensity backends, chosen by name from ``AU_BACKENDS``.

Each backend implements ``estimate(frames) -> DataFrame``: AU intensities (AU01_r..)
for the rows of a frame table (an ``extract`` table or a manifest: identifiers and
landmark columns), in the same order; rows without a face get NaN.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import LANDMARK_COLUMNS, au_column, landmarks_of
from ..errors import BackendUnavailableError, InputError
from ..optional import import_pyfeat
from ..registries import AU_BACKENDS as _AU_BACKENDS
from ..registry import Registry
from ..weights import download_allowed
from .landmark_aus import MIN_AUTO_FRAMES, NEUTRAL_MODES, OUTPUT_AUS, au_from_landmarks, table_attrs


class AUBackend:
    """Base class: subclasses set ``name`` and implement :meth:`estimate`."""

    name = "base"

    def estimate(self, frames: pd.DataFrame) -> pd.DataFrame:
        """AU columns (AU01_r, ...) for each row of ``frames``."""
        raise NotImplementedError


AU_BACKENDS: Registry[AUBackend] = _AU_BACKENDS     # declared in auengine.registries


def _usable(frames: pd.DataFrame) -> np.ndarray:
    """Rows with a face and finite landmarks."""
    if not set(LANDMARK_COLUMNS) <= set(frames.columns):
        raise InputError("the frame table has no landmark columns x_0..x_67, y_0..y_67; run `auengine extract` first")
    ok = np.isfinite(frames[LANDMARK_COLUMNS].to_numpy(dtype=float)).all(axis=1)
    if "success" in frames.columns:
        ok &= frames["success"].fillna(0).to_numpy() == 1
    return ok


@AU_BACKENDS.register("geometry")
class GeometryBackend(AUBackend):
    """Landmark geometry (offline default).

    ``neutral``: "auto" calibrates per subject (or per source), falling back to the population
    reference of the face's age group for a group with too few frames; "infant" / "adult" use
    that reference face; "none" the uncalibrated one-face scale; or resting-face landmarks
    (K, 68, 2) of the person (e.g. from ``--neutral-image``). What was used, and why, is in the
    table's ``attrs`` (``neutral``, ``neutral_used``, ``constant_zero``); a fallback is also
    warned about once per call.
    """

    name = "geometry"

    def __init__(self, neutral="auto", population: str | None = None) -> None:
        if isinstance(neutral, str) and neutral not in NEUTRAL_MODES:
            raise InputError(f"neutral must be one of {', '.join(NEUTRAL_MODES)} or resting-face landmarks, "
                             f"not {neutral!r}")
        self.neutral, self.population = neutral, population

    def estimate(self, frames: pd.DataFrame) -> pd.DataFrame:
        ok = _usable(frames)
        usable = frames[ok]
        per_group = isinstance(self.neutral, str) and self.neutral == "auto"
        group = "subject" if "subject" in frames.columns else "source"
        parts, used = [], {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)        # summarised once below
            for key, rows in (usable.groupby(group, sort=False) if per_group and len(usable) else [(None, usable)]):
                if len(rows):
                    part = au_from_landmarks(landmarks_of(rows), neutral=self.neutral, population=self.population)
                    part.index = rows.index
                    parts.append(part)
                    used[str(key) if key is not None else "all"] = part.attrs["neutral"]
        columns = [au_column(au) for au in OUTPUT_AUS]
        out = (pd.concat(parts) if parts else pd.DataFrame(columns=columns, dtype=float)).reindex(frames.index)
        mode = self.neutral if isinstance(self.neutral, str) else "landmarks"
        out.attrs = {**table_attrs(), "neutral": mode, "neutral_group": group if per_group else None,
                     "neutral_used": used, "constant_zero": constant_zero_reasons(out.loc[ok], used)}
        fallback = fallback_note(used, group)
        if fallback:
            out.attrs["neutral_fallback"] = fallback
            warnings.warn(f"neutral='auto': {fallback}", UserWarning, stacklevel=2)
        return out


def fallback_note(used: dict, group: str) -> str | None:
    """One sentence on the groups whose "auto" neutral fell back to a population reference, or None."""
    fell = {key: u["reference"] for key, u in used.items() if "fallback" in u}
    if not fell:
        return None
    counts = pd.Series(list(fell.values())).value_counts()
    refs = ", ".join(f"the {ref} reference for {n}" for ref, n in counts.items())
    return (f"{len(fell)} of {len(used)} {group}(s) had fewer than {MIN_AUTO_FRAMES} frames to estimate a resting "
            f"face: used {refs} (e.g. {next(iter(fell))})")


def constant_zero_reasons(aus: pd.DataFrame, used: dict) -> dict:
    """For each AU column that is 0 on every face: why (which resting face it never moved past)."""
    if not len(aus):
        return {}
    references = sorted({u["reference"] for u in used.values()})
    return {column: f"never above the resting face used ({'; '.join(references)})"
            for column in aus.columns if (aus[column].fillna(0) == 0).all()}


@AU_BACKENDS.register("table")
class TableBackend(AUBackend):
    """Join a precomputed AU table (OpenFace, py-feat or auengine) to frames by source file stem and frame.

    ``source`` names the input (file name or stem) that a one-source AU table belongs to,
    for tables named otherwise (OpenFace names its rows after the CSV file). A join in
    which no frame's source is in the table is refused: frame numbers alone would join
    another clip's values.
    """

    name = "table"

    def __init__(self, path: str | None = None, source: str | None = None) -> None:
        if path is None:
            raise InputError("the table backend needs the AU table: --au-table PATH")
        from ..io.au_tables import au_columns, read_au_table

        self.table = read_au_table(path)
        self.columns = au_columns(self.table)
        self.path = path
        self.source = source
        stems = self.table["source"].map(_stem).unique()
        if source is not None and len(stems) > 1:
            raise InputError(f"{path}: --au-table-source names the input of a one-source AU table, but this one has "
                             f"{len(stems)} sources ({', '.join(map(str, stems[:3]))}, ...); it joins by source as is")

    def estimate(self, frames: pd.DataFrame) -> pd.DataFrame:
        source_column = "source" if "source" in frames.columns else "path"
        keys = pd.DataFrame({"stem": frames[source_column].map(_stem),
                             "frame": frames["frame"].fillna(0).astype(int).clip(lower=0)
                             if "frame" in frames.columns else 0})
        self.require_sources(keys["stem"])
        known = pd.DataFrame({"stem": self.table_stems(), "frame": self.table["frame"].astype(int)})
        known = pd.concat([known, self.table[self.columns]], axis=1)
        shared = set(keys["stem"]) & set(known["stem"])
        for side, sources, stems in (("the AU table", self.table["source"], known["stem"]),
                                     ("the frames", frames[source_column], keys["stem"])):
            if self.source is None or side == "the frames":
                _refuse_shared_stems(sources, stems, shared, f"{self.path}: {side}")
        on = ["stem", "frame"]
        merged = keys.merge(known.drop_duplicates(on)[on + self.columns], on=on, how="left")
        merged.index = frames.index
        out = merged[self.columns]
        out.attrs = {"backend": "table", "au_table": str(self.path), "format": self.table.attrs.get("format"),
                     "au_table_source": self.source, "joined_on": "source stem and frame"}
        return out

    def table_stems(self) -> pd.Series:
        """The join key of each AU-table row: its source's stem, or the ``source`` given."""
        return self.table["source"].map(_stem) if self.source is None else \
            pd.Series(_stem(self.source), index=self.table.index)

    def require_sources(self, sources) -> None:
        """Raise InputError unless at least one of ``sources`` (names or paths) is in the AU table."""
        mine = sorted({_stem(s) for s in sources})
        theirs = sorted(set(self.table_stems()))
        if mine and not set(mine) & set(theirs):
            given = " (--au-table-source)" if self.source is not None else ""
            raise InputError(f"{self.path}: the AU table is for {', '.join(theirs[:3])}{given}, not for "
                             f"{', '.join(mine[:3])}; if it belongs to this input, say so: --au-table-source {mine[0]}")


def _refuse_shared_stems(sources: pd.Series, stems: pd.Series, used: set, where: str) -> None:
    """InputError when two different sources with one file stem take part in a join (their rows would mix)."""
    per_stem = sources.astype(str).groupby(stems.to_numpy()).unique()
    for stem, names in per_stem.items():
        if stem in used and len(names) > 1:
            raise InputError(f"{where}: {names[0]} and {names[1]} share the file stem {stem!r}, the join key; "
                             "use unique file names (or one AU table and one run per folder)")


def _stem(source) -> str:
    """A source's file stem: the join key of AU tables ("a/b/clip.mp4" -> "clip")."""
    return Path(str(source)).stem


@contextmanager
def _pyfeat_guard(download: bool | None = None):
    """Around py-feat calls: Hugging Face Hub fails fast (no retries) unless downloads are
    allowed, and torch's global grad mode is restored (py-feat's RetinaFace constructor
    switches gradients off for the whole process)."""
    import huggingface_hub.constants as hub
    import torch

    previous, grad_mode = hub.HF_HUB_OFFLINE, torch.is_grad_enabled()
    hub.HF_HUB_OFFLINE = previous or not download_allowed(download)
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = previous
        torch.set_grad_enabled(grad_mode)


@AU_BACKENDS.register("pyfeat")
class PyFeatBackend(AUBackend):
    """py-feat's AU model (Detectorv1, xgb AUs) on the frames' images; needs py-feat's weights.

    Weights come from the Hugging Face cache; they are downloaded only when allowed
    (AUENGINE_DOWNLOAD=1). py-feat reports occurrence probabilities, scaled x5 here.
    """

    name = "pyfeat"

    def __init__(self, download: bool | None = None) -> None:
        feat = import_pyfeat()
        try:
            with _pyfeat_guard(download):
                self._detector = feat.Detectorv1(device="cpu")
        except Exception as exc:  # py-feat raises hub errors of several kinds
            raise BackendUnavailableError(
                "py-feat's models are not in the local Hugging Face cache "
                f"({type(exc).__name__}); on a connected machine run "
                "`python -c 'from feat import Detectorv1; Detectorv1()'` and copy ~/.cache/huggingface here, "
                "or allow downloading with AUENGINE_DOWNLOAD=1") from None

    def estimate(self, frames: pd.DataFrame) -> pd.DataFrame:
        from ..io.au_tables import from_pyfeat, au_columns

        source_column = "source" if "source" in frames.columns else "abspath"
        parts = []
        for source in frames[source_column].unique():
            with _pyfeat_guard():
                fex = self._detector.detect([str(source)], data_type="image")
            table = from_pyfeat(pd.DataFrame(fex), Path(str(source)))
            parts.append(table.assign(source=str(source)))
        found = pd.concat(parts).drop_duplicates("source")
        columns = au_columns(found)
        merged = frames[[source_column]].merge(found[["source"] + columns], left_on=source_column,
                                               right_on="source", how="left")
        merged.index = frames.index
        out = merged[columns]
        out.attrs = {"backend": "pyfeat", "note": "py-feat AU probabilities (0-1) multiplied by 5"}
        return out
