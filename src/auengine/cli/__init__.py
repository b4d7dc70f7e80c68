"""The ``auengine`` command: a thin layer over the library, one module per command group.

Errors are one clear line on stderr (a traceback only with --debug).
"""
from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from .. import __version__
from ..errors import AuEngineError
from ..progress import set_quiet
from .options import check_writable


#: command groups, one module each; each has ``add_commands(sub, common)``
COMMAND_GROUPS = ("media", "models", "score", "agreement", "app", "monitor")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="auengine", description="AU-centric facial analysis of infant pain.")
    parser.add_argument("--version", action="version", version=f"auengine {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    sub = parser.add_subparsers(dest="command", required=True)
    # --debug also after the subcommand; SUPPRESS keeps a subparser from resetting `auengine --debug ...`
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars or stage lines")

    for group in COMMAND_GROUPS:
        import_module(f".{group}", __name__).add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``auengine`` console script."""
    args = build_parser().parse_args(argv)
    set_quiet(args.quiet)
    if args.debug:                    # FFmpeg's decoder messages (io/video.py silences them otherwise)
        os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "32"
    try:
        if getattr(args, "out", None):
            check_writable(args.out)
        return args.func(args)
    except KeyboardInterrupt:
        print("auengine: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line; traceback only with --debug
        if args.debug:
            raise
        kind = "error" if isinstance(exc, AuEngineError) else f"unexpected {type(exc).__name__}"
        print(f"auengine: {kind}: {exc} (run with --debug for a traceback)", file=sys.stderr)
        return 2

