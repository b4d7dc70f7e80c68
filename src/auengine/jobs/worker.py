"""Worker processes: claim a job, score it (thread or Ray) while heartbeating, publish it exactly once.

Publishing: the task scores into a fresh DATA/work/ folder; when it finishes, that folder is
renamed to DATA/recordings/<folder>/result (atomic; if a result is there already, from an
attempt that died after its rename, ours is dropped), then the epochs are imported and the
job marked done in one transaction, only while this worker still holds the lease. So a
worker killed at any point leaves either nothing or a complete result, and the job's next
attempt completes it once.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..store.db import Database, open_database
from ..store.layout import DataLayout
from ..store.models import Job
from ..store.records import import_epochs
from . import queue
from ..scoring.video import video_dir
from .runner import CANCEL, ScoringRequest, count_frames, read_progress, run_scoring, warm_up


@dataclass(frozen=True)
class WorkerSettings:
    data: str
    db_url: str | None = None
    lease_s: float = queue.LEASE_S
    heartbeat_s: float = 1.0
    poll_s: float = 1.0
    min_confidence: float = 0.35
    ray_address: str | None = None        # None: score in this process; "local": a private local Ray; else a cluster
    threads: int = 1


class Worker:
    """One worker: ``run_once`` handles at most one job; ``run_forever`` loops until told to stop."""

    def __init__(self, settings: WorkerSettings, db: Database | None = None) -> None:
        self.settings = settings
        self.layout = DataLayout(Path(settings.data))
        self.db = db or open_database(settings.data, settings.db_url, upgrade=False)
        self.name = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(1)

    def run_forever(self, stop: threading.Event | None = None, parent_pid: int | None = None) -> None:
        if self.settings.ray_address is None:
            warm_up()                                        # face models load once, before the first job
        while not (stop and stop.is_set()):
            if parent_pid is not None and os.getppid() != parent_pid:
                return                                       # the server died: do not linger as an orphan
            if not self.run_once():
                time.sleep(self.settings.poll_s)

    def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        with self.db.session() as db:
            job = queue.claim(db, self.name, self.settings.lease_s)
            if job is None:
                return False
            try:
                self._run(db, job)
            except Exception as exc:                         # never let one job kill the worker
                db.rollback()
                queue.fail(db, job, self.name, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        return True

    def _run(self, db, job: Job) -> None:
        recording = job.recording
        result = self.layout.result(recording.folder)
        if not result.is_dir():
            if not self._score(db, job, result):
                return
        self._publish(db, job, result)

    def _score(self, db, job: Job, result: Path) -> bool:
        """Score into a fresh work folder and rename it to ``result``; False when the job ended otherwise."""
        recording = job.recording
        video = self.layout.video(recording.folder)
        if video is None:
            queue.fail(db, job, self.name, "the recording's video is missing from the data folder")
            return False
        epochs = self.layout.recording(recording.folder) / "epochs_in.csv"
        for stale in self.layout.work.glob(f"job{job.id}-*"):    # left by an attempt whose worker died
            shutil.rmtree(stale, ignore_errors=True)
        work = self.layout.work / f"job{job.id}-try{job.attempts}-{uuid.uuid4().hex[:6]}"
        work.mkdir(parents=True)
        total = count_frames(video)
        # the total is stored before scoring starts: a job faster than the first heartbeat still has it
        queue.heartbeat(db, job.id, self.name, 0, total, self.settings.lease_s)
        request = ScoringRequest(str(video), str(self.layout.models / recording.model.folder), str(work),
                                 str(epochs) if epochs.is_file() else None, self.settings.min_confidence,
                                 self.settings.threads)
        try:
            outcome, error = self._watch(db, job, work, total, request)
            if outcome == "done":
                try:
                    video_dir(work, video).rename(result)
                except OSError:
                    if not (result / "summary.json").is_file():
                        raise
                return True
            if outcome == "cancel":
                queue.finish(db, job, self.name, "cancelled")
                db.commit()
            elif outcome == "failed":
                queue.fail(db, job, self.name, error or "scoring failed")
            return False                                     # "lost": another worker owns the job now
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _watch(self, db, job: Job, work: Path, total: int, request: ScoringRequest) -> tuple[str, str | None]:
        """Run the task, heartbeating with its progress; ('done'|'cancel'|'lost'|'failed', error)."""
        task, cancel_task = self._start(request)
        stopping = None
        while True:
            try:
                task.result(timeout=self.settings.heartbeat_s)
                finished = True
            except TimeoutError:
                finished = False
            except Exception as exc:
                if stopping:
                    return stopping, None
                return "failed", _task_error(exc)
            if finished:
                return (stopping or "done"), None
            state = queue.heartbeat(db, job.id, self.name, read_progress(work), total, self.settings.lease_s)
            if state != "ok" and stopping is None:
                stopping = state
                (work / CANCEL).touch()
                cancel_task()

    def _start(self, request: ScoringRequest) -> tuple[Future, callable]:
        if self.settings.ray_address is None:
            return self._pool.submit(run_scoring, request), lambda: None
        return _ray_submit(request, self.settings.ray_address)

    def _publish(self, db, job: Job, result: Path) -> None:
        recording = job.recording
        summary = json.loads((result / "summary.json").read_text())
        import_epochs(db, recording, result / "epochs.csv", thumbnails_by_epoch(result))
        recording.summary_json = json.dumps(summary, default=str)
        if queue.finish(db, job, self.name, "done"):
            db.commit()
        else:
            db.rollback()


def thumbnails_by_epoch(result: Path) -> dict[int, str]:
    """Epoch index -> thumbnail file name (the middle frame of each epoch for review, as the report writes it)."""
    from ..scoring.report import middle_frames

    review = pd.read_csv(result / "review.csv") if (result / "review.csv").stat().st_size else pd.DataFrame()
    if not len(review) or not (result / "thumbnails").is_dir():
        return {}
    frames = pd.read_csv(result / "frames.csv", usecols=["time_s"])
    out = {}
    for epoch, index in zip(review["epoch"], middle_frames(frames, review)):
        name = f"frame{index:06d}.png"
        if (result / "thumbnails" / name).is_file():
            out[int(epoch)] = name
    return out


def _task_error(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc                # Ray wraps the task's exception
    return f"{type(cause).__name__}: {cause}"


_RAY_TASK = None


def _ray_submit(request: ScoringRequest, address: str):
    """Send the task to Ray ("local": a Ray started by and for this worker); a Future and a cancel function."""
    from ..scoring.batch import connect_ray

    global _RAY_TASK
    ray, _ = connect_ray(None if address == "local" else address, 1)
    if _RAY_TASK is None:
        _RAY_TASK = ray.remote(num_cpus=1, max_retries=0)(run_scoring)
    ref = _RAY_TASK.remote(request)
    return ref.future(), lambda: ray.cancel(ref, force=True)


def worker_main(settings: WorkerSettings, parent_pid: int) -> None:
    """Entry point of a worker process."""
    Worker(settings).run_forever(parent_pid=parent_pid)
