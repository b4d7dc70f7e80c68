"""Plain dicts of recordings, epochs and reviews: the JSON API returns them, the pages render them."""
from __future__ import annotations

from ..jobs.queue import eta_s, progress
from ..store.models import Epoch, Recording, Review
from ..store.records import summary


def recording_view(recording: Recording) -> dict:
    job = recording.job
    return {"id": recording.id, "status": job.status, "progress": round(progress(job), 4),
            "frames_done": job.frames_total if job.status == "done" else job.frames_done,
            "frames_total": job.frames_total, "eta_s": _round(eta_s(job)), "attempts": job.attempts,
            "error": _first_line(job.error), "patient": recording.patient, "scale": recording.scale,
            "model": recording.model.name, "model_synthetic": recording.model.synthetic,
            "filename": recording.filename, "size_bytes": recording.size_bytes, "owner": recording.owner.name,
            "created_at": recording.created_at.isoformat(timespec="seconds"), "summary": summary(recording)}


def review_view(review: Review) -> dict:
    return {"id": review.id, "epoch_id": review.epoch_id, "user": review.user.name, "score": review.score,
            "not_assessable": review.not_assessable, "note": review.note,
            "created_at": review.created_at.isoformat(timespec="seconds")}


def epoch_view(epoch: Epoch, reviews: list[Review]) -> dict:
    thumbnail = (f"/recordings/{epoch.recording_id}/files/thumbnails/{epoch.thumbnail}" if epoch.thumbnail else None)
    return {"id": epoch.id, "index": epoch.index, "label": epoch.label, "start_s": epoch.start_s, "end_s": epoch.end_s,
            "intensity_mean": epoch.intensity_mean, "intensity_max": epoch.intensity_max, "level": epoch.level,
            "confidence": epoch.confidence, "face_share": epoch.face_share, "review": epoch.review_reason,
            "thumbnail": thumbnail, "reviews": [review_view(r) for r in reviews]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _first_line(text: str | None) -> str | None:
    return text.splitlines()[0] if text else None
