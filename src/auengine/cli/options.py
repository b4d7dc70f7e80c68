"""Argument converters and option groups shared by the command modules (no heavy imports)."""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import fields
from pathlib import Path

from ..errors import InputError

#: an --out ending in one of these is a file (its folder must be writable); anything else is a folder
FILE_OUTPUTS = {".csv", ".parquet", ".json"}


def folds(text: str) -> int | str:
    """``--folds``: a number of subject-wise folds (1 = one train/validation split) or ``loso``."""
    if text.lower() == "loso":
        return "loso"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of folds >= 1, or loso")
    return value


def weights(text: str) -> str | None:
    """``--weights``: ``imagenet``, a weights file, or ``none`` (random initialisation) -> None."""
    return None if text.lower() == "none" else text


def train_config(args: argparse.Namespace, *, exclude: tuple[str, ...] = (), **fixed):
    """A :class:`auengine.models.train.TrainConfig` from the parsed options that name its fields."""
    from ..models.train import TrainConfig

    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
             if hasattr(args, f.name) and f.name not in exclude}
    return TrainConfig(**{**given, **fixed})


def add_training_options(parser: argparse.ArgumentParser, *, epochs: int = 25, lr: float = 1e-3,
                         lr_help: str = "CNN learning rate") -> None:
    """--epochs, --lr, --size, --weights, --seed: the CNN training options every training command has."""
    parser.add_argument("--epochs", type=int, default=epochs, help=f"CNN epochs (default {epochs})")
    parser.add_argument("--lr", type=float, default=lr, help=f"{lr_help} (default {lr:g})")
    parser.add_argument("--size", type=int, default=224, help="CNN input side in pixels (default 224)")
    parser.add_argument("--weights", type=weights, default="imagenet",
                        help="'imagenet' (when available; for dlib-face: its face weights), 'none' (random "
                             "initialisation) or a weights file")
    parser.add_argument("--seed", type=int, default=0)


def add_face_options(parser: argparse.ArgumentParser) -> None:
    """--detector and --landmarks, with the same defaults in every command (auto)."""
    from ..registries import DETECTORS, LANDMARKERS     # names only: no torch / cv2 at parse time

    parser.add_argument("--detector", default="auto", choices=DETECTORS.names(),
                        help="face detector (default: auto = mtcnn)")
    parser.add_argument("--landmarks", default="auto", choices=LANDMARKERS.names(),
                        help="landmark backend (auto: face-alignment if its weights are local, else dlib)")


def check_writable(out: str | Path) -> None:
    """Refuse an --out that cannot be written, before any work (creates nothing).

    Tries to create a temporary file in the nearest existing folder of ``out``.
    """
    path = Path(out).expanduser()
    folder = path.parent if path.suffix.lower() in FILE_OUTPUTS else path
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc}); choose a writable folder") from None
