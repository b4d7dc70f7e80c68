"""Score many videos: a local process pool (default) or a Ray cluster, the same task either way.

Each task scores one video into its own folder (OUT/<stem>-<hash>/) and returns its
summary or its error; the batch goes on past bad videos and OUT/summary.json maps every
input to its folder and lists what was scored, skipped (done before with the same bundle
and options; ``force`` redoes it), failed and warned about, with reasons.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from ..bundle import load_bundle
from ..errors import AuEngineError, BackendUnavailableError, InputError
from ..io.media import IMAGE_EXTENSIONS, expand_inputs
from ..io.tables import atomic_write_json
from ..io.video import VIDEO_EXTENSIONS
from ..progress import bar
from .timeline import read_epochs_csv
from .video import ScoreOptions, is_done, run_fingerprint, score_video, video_dir


def _die_with_parent() -> None:
    """Worker initializer: on Linux, get SIGTERM when the parent dies (even by SIGKILL), so no worker outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:                     # the parent died before the call
            os._exit(1)


def score_task(video: str, bundle: str, out: str, options: ScoreOptions, threads: int | None = None,
               progress: bool | None = False) -> dict:
    """Score one video; never raises: returns {"video", "status": "scored" | "failed", "summary" | "error"}."""
    from threadpoolctl import threadpool_limits

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        # the same BLAS thread count in every backend (Ray sets OMP_NUM_THREADS=1 in its workers),
        # so sums run in the same order and local and Ray results are identical
        with threadpool_limits(limits=threads):
            summary = score_video(video, bundle, out, options, progress=progress)
            return {"video": video, "status": "scored", "summary": summary}
    except AuEngineError as exc:
        return {"video": video, "status": "failed", "error": str(exc)}
    except Exception as exc:                      # a bug or a library error: report it, keep the batch going
        return {"video": video, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}


def plan_inputs(inputs: list[str | Path]) -> tuple[list[Path], list[dict]]:
    """Videos to score (folders expanded recursively, each file once) and refused inputs (images: use predict)."""
    videos, refused, seen = [], [], set()
    for path in expand_inputs(inputs, VIDEO_EXTENSIONS):
        key = path.expanduser().resolve()
        if key in seen:
            continue
        seen.add(key)
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            refused.append({"video": str(path), "error": f"{path}: is an image; `score` takes videos. Score images "
                                                         "with `auengine predict BUNDLE IMAGE --out TABLE`"})
        else:
            videos.append(path)
    return videos, refused


def score_many(inputs: list[str | Path], bundle: str | Path, out: str | Path, options: ScoreOptions = ScoreOptions(), *,
               backend: str = "local", workers: int | None = None, address: str | None = None, force: bool = False,
               progress: bool | None = None, show_tracebacks: bool = False) -> dict:
    """Score videos in parallel; returns (and writes) the batch summary.

    The summary lists what was scored, skipped (done before with the same bundle and
    options), failed (with reasons), warned about (e.g. truncated videos, scored on the
    frames that decode) and, for every input, its output folder. SIGINT / SIGTERM stop the
    batch: pending videos are cancelled, the summary is written with them as "interrupted",
    and KeyboardInterrupt is raised.
    """
    loaded = load_bundle(bundle)                  # refuse a bad bundle once, before any work
    if options.epochs_csv:
        read_epochs_csv(options.epochs_csv)       # refuse a missing or malformed epochs CSV before any work
    out = Path(out)
    videos, refused = plan_inputs(inputs)
    if not videos and not refused:
        raise InputError("no videos given (files, or folders with " + " ".join(sorted(VIDEO_EXTENSIONS)) + ")")
    fingerprint = run_fingerprint(loaded, options)
    skipped = [str(v) for v in videos if not force and is_done(out, v, fingerprint)]
    todo = [str(v) for v in videos if force or not is_done(out, v, fingerprint)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    results: list[dict] = []
    summary = {"outputs": {str(v): str(video_dir(out, v)) for v in videos}, "backend": backend, "workers": workers}
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None
    try:
        if backend == "ray":
            results = _ray(todo, str(bundle), str(out), options, workers, address, threads)
        elif backend == "local":
            _local(todo, str(bundle), str(out), options, workers, threads, progress, results)
        else:
            raise InputError(f"unknown backend {backend!r}; use local or ray")
    except KeyboardInterrupt:
        done = {r["video"] for r in results}
        summary["interrupted"] = [v for v in todo if v not in done]
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        order = {video: i for i, video in enumerate(todo)}
        results.sort(key=lambda r: order.get(r["video"], len(order)))
        for result in results:
            if result["status"] == "failed":
                print(f"auengine score: failed: {result['error']}", file=sys.stderr)
                if show_tracebacks and result.get("traceback"):
                    print(result["traceback"], file=sys.stderr)
            elif result["summary"].get("warning"):
                print(f"auengine score: scored with a warning: {result['summary']['warning']}", file=sys.stderr)
            for note in result.get("summary", {}).get("notes", []) if result["status"] == "scored" else []:
                print(f"auengine score: {Path(result['video']).name}: {note}", file=sys.stderr)
        for item in refused:
            print(f"auengine score: refused: {item['error']}", file=sys.stderr)
        summary.update({
            "scored": [r["video"] for r in results if r["status"] == "scored"], "skipped": skipped,
            "failed": [{"video": r["video"], "error": r["error"]} for r in results if r["status"] == "failed"] + refused,
            "warnings": [{"video": r["video"], "warning": r["summary"]["warning"]} for r in results
                         if r["status"] == "scored" and r["summary"].get("warning")]})
        atomic_write_json(out / "summary.json", summary)
    return summary


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _local(videos, bundle, out, options, workers, threads, progress, results: list[dict]) -> None:
    """Score ``videos`` into ``results`` (appended as each finishes, so an interrupt keeps what is done)."""
    if workers == 1:
        for video in bar(videos, desc="videos", unit="video", progress=progress):
            results.append(score_task(video, bundle, out, options, threads, progress))
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_die_with_parent)
    try:
        futures = [pool.submit(score_task, v, bundle, out, options, threads) for v in videos]
        for future in bar(as_completed(futures), desc="videos", unit="video", total=len(futures), progress=progress):
            results.append(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def connect_ray(address: str | None, num_cpus: int | None):
    """The ``ray`` module, connected to the cluster at ``address`` (None: a local Ray with ``num_cpus``).

    The one place `score --backend ray` and the review app's workers (`serve --ray-address`) start Ray.
    Returns (ray, started_here).
    """
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError("the Ray backend needs ray: pip install 'auengine[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    return ray, started_here


def _ray(videos, bundle, out, options, workers, address, threads) -> list[dict]:
    ray, started_here = connect_ray(address, workers)
    try:
        task = ray.remote(num_cpus=1)(score_task)
        return ray.get([task.remote(v, bundle, out, options, threads) for v in videos])
    finally:
        if started_here:
            ray.shutdown()

