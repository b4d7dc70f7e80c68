"""Find the trained CNN a user means: a model folder, a train-e2e run folder, or an `evaluate` output.

A model folder holds model.json + model.safetensors (train-e2e writes one per fold:
RUN/fold0, RUN/fold1, ...; `evaluate` and `demo` write runs under OUT/e2e/<backbone>/).
No torch here: folders are resolved before anything heavy is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

MODEL_JSON = "model.json"
#: how deep below the given folder model folders are looked for (OUT/e2e/<backbone>/fold0 is 3)
SEARCH_DEPTH = 3


@dataclass(frozen=True)
class ModelFolder:
    """The model folder used and, when it was not the folder given, a sentence saying which and why."""

    path: Path
    note: str = ""


def model_folders(folder: Path, depth: int = SEARCH_DEPTH) -> list[Path]:
    """Folders holding model.json at ``folder`` or up to ``depth`` levels below it, sorted."""
    found = []
    for level in range(depth + 1):
        found += [p.parent for p in folder.glob("/".join(["*"] * level + [MODEL_JSON]))]
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def resolve_model_folder(folder: str | Path) -> ModelFolder:
    """The model folder for ``folder``: itself, or the first fold of the one train-e2e run inside it.

    Raises
    ------
    InputError
        No model.json at or below ``folder``, or models of several runs (they are listed).
    """
    folder = Path(folder)
    if (folder / MODEL_JSON).is_file():
        return ModelFolder(folder)
    if not folder.is_dir():
        raise InputError(f"CNN model folder not found: {folder}")
    found = model_folders(folder)
    if not found:
        raise InputError(f"{folder}: no trained CNN here ({MODEL_JSON} at most {SEARCH_DEPTH} folders down); give "
                         "a train-e2e fold folder such as RUN/fold0")
    runs = sorted({p.parent for p in found})
    if len(runs) > 1:
        shown = ", ".join(str(p) for p in found[:6]) + (", ..." if len(found) > 6 else "")
        raise InputError(f"{folder}: holds CNNs of {len(runs)} runs; choose one model folder: {shown}")
    chosen = found[0]
    note = (f"{folder} is a train-e2e run with {len(found)} fold model(s); using {chosen} "
            "(give a fold folder to choose another)")
    return ModelFolder(chosen, note)
