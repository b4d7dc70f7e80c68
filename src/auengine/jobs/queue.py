"""The job table as a queue: claim with a lease, heartbeat with progress, finish exactly once.

Every state change is a conditional UPDATE checked by its row count, so two workers can
never both own a job (works the same on SQLite and PostgreSQL, no row locks needed):

- ``claim``: a queued job, or a running one whose lease ran out (its worker died);
- ``heartbeat``: renews the lease and stores frames done / total, only for the owner;
  it tells the owner when a cancel was requested or the lease was lost;
- ``finish`` / ``fail``: only the owner, only while running.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session as DbSession

from ..store.models import Job, utcnow

LEASE_S = 30.0
MAX_ATTEMPTS = 3


def _claimable(now):
    return or_(Job.status == "queued", and_(Job.status == "running", Job.lease_until < now))


def claim(db: DbSession, worker: str, lease_s: float = LEASE_S) -> Job | None:
    """Take the oldest claimable job for ``worker`` (committed), or None."""
    for _ in range(5):                                    # another worker may win the race: try the next one
        now = utcnow()
        job_id = db.scalar(select(Job.id).where(_claimable(now)).order_by(Job.id).limit(1))
        if job_id is None:
            return None
        taken = db.execute(update(Job).where(Job.id == job_id, _claimable(now))
                           .values(status="running", worker=worker, lease_until=now + timedelta(seconds=lease_s),
                                   attempts=Job.attempts + 1, started_at=now, error=None))
        db.commit()
        if taken.rowcount == 1:
            job = db.get(Job, job_id)
            db.refresh(job)
            if job.attempts > MAX_ATTEMPTS:               # crashed its worker again and again: stop retrying
                fail(db, job, worker, f"gave up after {MAX_ATTEMPTS} attempts (the worker died each time)")
                continue
            if job.cancel_requested:
                finish(db, job, worker, "cancelled")
                continue
            return job
    return None


def heartbeat(db: DbSession, job_id: int, worker: str, frames_done: int, frames_total: int,
              lease_s: float = LEASE_S) -> str:
    """Renew the lease and store progress; returns 'ok', 'cancel' (requested) or 'lost' (lease taken)."""
    renewed = db.execute(update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                         .values(lease_until=utcnow() + timedelta(seconds=lease_s), frames_done=frames_done,
                                 frames_total=frames_total))
    db.commit()
    if renewed.rowcount != 1:
        return "lost"
    return "cancel" if db.scalar(select(Job.cancel_requested).where(Job.id == job_id)) else "ok"


def finish(db: DbSession, job: Job, worker: str, status: str = "done", error: str | None = None) -> bool:
    """Mark the job ``status`` if ``worker`` still owns it (committed); False if it does not."""
    values = {"status": status, "finished_at": utcnow(), "lease_until": None, "error": error}
    if status == "done":
        values["frames_done"] = Job.frames_total
    done = db.execute(update(Job).where(Job.id == job.id, Job.worker == worker, Job.status == "running")
                      .values(**values))
    if done.rowcount != 1:
        db.rollback()
        return False
    return True


def fail(db: DbSession, job: Job, worker: str, error: str) -> bool:
    ok = finish(db, job, worker, "failed", error[:4000])
    db.commit()
    return ok


def request_cancel(db: DbSession, job: Job) -> None:
    """Cancel: a queued job at once, a running one at its worker's next heartbeat."""
    job.cancel_requested = True
    if job.status == "queued":
        job.status, job.finished_at = "cancelled", utcnow()


def progress(job: Job) -> float:
    """0..1 (1 when done)."""
    if job.status == "done":
        return 1.0
    return min(1.0, job.frames_done / job.frames_total) if job.frames_total else 0.0


def eta_s(job: Job) -> float | None:
    """Seconds left, from the rate so far (None before the first frames)."""
    if job.status != "running" or not job.started_at or not job.frames_done or not job.frames_total:
        return None
    elapsed = (utcnow() - job.started_at).total_seconds()
    return max(0.0, elapsed / job.frames_done * (job.frames_total - job.frames_done))
