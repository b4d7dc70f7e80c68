"""Startup time and memory of the `auengine` command (issue 13 item 22; target: < 1 s for --version and --help).

Runs ``python -m auengine.cli ARGS`` in fresh processes and prints the median wall time,
the peak resident memory and the ratio to the 1 s target. ``--src DIR`` measures another
checkout's src/ (e.g. the main branch's, for a before/after comparison).

    python scripts/bench_startup.py [--repeat 5] [--src /path/to/src]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

TARGET_S = 1.0
COMMANDS = (["--version"], ["--help"], ["score", "--help"], ["aus", "--help"])


def run_once(args: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh ``python -m auengine.cli ARGS``."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            f"subprocess.run([sys.executable, '-m', 'auengine.cli', *{args!r}], stdout=subprocess.DEVNULL, "
            "check=True); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    seconds, megabytes = map(float, out.split())
    return seconds, megabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": args.src}
    print(f"auengine startup from {args.src} ({args.repeat} runs each, median; target {TARGET_S:g} s)")
    for command in COMMANDS:
        runs = [run_once(command, env) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        megabytes = max(r[1] for r in runs)
        print(f"  auengine {' '.join(command):<14} {seconds:6.2f} s  {megabytes:6.0f} MB peak RSS  "
              f"{seconds / TARGET_S:5.2f} x target")


if __name__ == "__main__":
    main()
