"""Score many videos: a local process pool (default) or a Ray cluster, the same task either way.

Each task scores one video into OUT/<stem>/ and returns its summary or its error; the
batch goes on past bad videos and OUT/summary.json lists what was scored, skipped
(already done: a re-run skips it unless ``force``) and failed, with reasons.
"""
from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from ..bundle import load_bundle
from ..errors import AuEngineError, BackendUnavailableError, InputError
from ..io.media import VIDEO_EXTENSIONS
from ..io.tables import atomic_write_json
from .video import ScoreOptions, is_done, score_video


def expand_videos(inputs: list[str | Path]) -> list[Path]:
    """Video files from files and folders (folders: their videos, sorted); other paths kept to fail clearly."""
    out = []
    for item in map(Path, inputs):
        if item.is_dir():
            out += sorted(p for p in item.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        else:
            out.append(item)
    return out


def score_task(video: str, bundle: str, out: str, options: ScoreOptions, threads: int | None = None) -> dict:
    """Score one video; never raises: returns {"video", "status": "scored" | "failed", "summary" | "error"}."""
    from threadpoolctl import threadpool_limits

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        # the same BLAS thread count in every backend (Ray sets OMP_NUM_THREADS=1 in its workers),
        # so sums run in the same order and local and Ray results are identical
        with threadpool_limits(limits=threads):
            return {"video": video, "status": "scored", "summary": score_video(video, bundle, out, options)}
    except AuEngineError as exc:
        return {"video": video, "status": "failed", "error": str(exc)}
    except Exception as exc:                      # a bug or a library error: report it, keep the batch going
        return {"video": video, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}


def score_many(inputs: list[str | Path], bundle: str | Path, out: str | Path, options: ScoreOptions = ScoreOptions(), *,
               backend: str = "local", workers: int | None = None, address: str | None = None, force: bool = False,
               progress: bool | None = None) -> dict:
    """Score videos in parallel; returns (and writes) the batch summary."""
    load_bundle(bundle)                           # refuse a bad bundle once, before any work
    out = Path(out)
    videos = expand_videos(inputs)
    if not videos:
        raise InputError("no videos given (files, or folders with " + " ".join(sorted(VIDEO_EXTENSIONS)) + ")")
    skipped = [str(v) for v in videos if not force and is_done(out, v)]
    todo = [str(v) for v in videos if force or not is_done(out, v)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if backend == "ray":
        results = _ray(todo, str(bundle), str(out), options, workers, address, threads)
    elif backend == "local":
        results = _local(todo, str(bundle), str(out), options, workers, threads, progress)
    else:
        raise InputError(f"unknown backend {backend!r}; use local or ray")
    for result in results:
        if result["status"] == "failed":
            print(f"auengine score: {result['error']}", file=sys.stderr)
    summary = {"scored": [r["video"] for r in results if r["status"] == "scored"], "skipped": skipped,
               "failed": [{"video": r["video"], "error": r["error"]} for r in results if r["status"] == "failed"],
               "backend": backend, "workers": workers}
    atomic_write_json(out / "summary.json", summary)
    return summary


def _local(videos, bundle, out, options, workers, threads, progress) -> list[dict]:
    if workers == 1:
        return [score_task(v, bundle, out, options, threads) for v in tqdm(videos, desc="videos", disable=_quiet(progress))]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(score_task, v, bundle, out, options, threads) for v in videos]
        return [f.result() for f in tqdm(futures, desc="videos", disable=_quiet(progress))]


def _ray(videos, bundle, out, options, workers, address, threads) -> list[dict]:
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError("the Ray backend needs ray: pip install 'auengine[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    try:
        task = ray.remote(num_cpus=1)(score_task)
        return ray.get([task.remote(v, bundle, out, options, threads) for v in videos])
    finally:
        if started_here:
            ray.shutdown()


def _quiet(progress: bool | None):
    return not progress if progress is not None else None
