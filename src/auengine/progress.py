"""Progress for long work: tqdm bars and one line per stage, one switch for all of them.

``progress=None`` (the default everywhere) means: bars when stderr is a terminal, none
otherwise, and none at all after :func:`set_quiet`; ``True``/``False`` force them on/off.
Stage lines (:func:`stage`) are printed unless quiet, so a log without a terminal still
shows one line per stage.
"""
from __future__ import annotations

import sys

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence bars and stage lines process-wide (the CLI's ``--quiet``)."""
    global _QUIET
    _QUIET = bool(quiet)


def bars_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` argument (None: tqdm decides from whether stderr is a TTY)."""
    if progress is not None:
        return not progress
    return True if _QUIET else None


def bar(iterable=None, *, desc: str, progress: bool | None = None, **kwargs):
    """A tqdm progress bar that follows the switch (``kwargs`` go to tqdm: total, unit, leave, ...)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=bars_disabled(progress), **kwargs)


def stage(message: str) -> None:
    """One line on stderr for a stage of long work (unless quiet)."""
    if not _QUIET:
        from tqdm import tqdm

        tqdm.write(f"auengine: {message}", file=sys.stderr)
