"""The JSON API (docs/app.md): recordings, frames, epochs, reviews; session or bearer token."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ...jobs.queue import request_cancel
from ...store import accounts, records
from ...store.models import User
from ..auth import get_db, reader, writer
from ..uploads import read_upload_form, store_uploads, upload_limit
from ..views import epoch_view, recording_view, review_view
from .exports import csv_response, result_file_response

router = APIRouter(prefix="/api")


class ReviewIn(BaseModel):
    score: float | None = None
    note: str = Field("", max_length=2000)
    not_assessable: bool = False


def live_recording(db, recording_id: int):
    recording = records.get_recording(db, recording_id)
    if recording is None:
        raise HTTPException(404, f"no recording {recording_id}")
    return recording


def may_change(user: User, recording) -> None:
    if user.role != "admin" and recording.owner_id != user.id:
        raise HTTPException(403, "only the clinician who added a recording, or an admin, may delete or cancel it")


@router.post("/recordings", status_code=201)
async def upload(request: Request, _limit=Depends(upload_limit), user: User = Depends(writer), db=Depends(get_db)):
    form = await read_upload_form(request)
    views = await run_in_threadpool(_store_and_view, db, request.app.state.layout, form, user)
    return {**views[0], "recordings": views}


def _store_and_view(db, layout, form, user) -> list[dict]:
    """Store the uploads and read their views in the worker thread, then end the transaction: database
    reads on the event loop (lazy ``recording.job``) would block it while the pool is exhausted, so
    no request could finish and give a connection back (20 concurrent uploads met a pool timeout)."""
    views = [recording_view(r) for r in store_uploads(db, layout, form, user)]
    db.commit()
    return views


@router.get("/recordings")
def list_recordings(user: User = Depends(reader), db=Depends(get_db)):
    return [recording_view(r) for r in records.list_recordings(db)]


@router.get("/recordings/{recording_id}")
def get_recording(recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    return recording_view(live_recording(db, recording_id))


@router.get("/recordings/{recording_id}/frames.csv")
def frames_csv(request: Request, recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    recording = live_recording(db, recording_id)
    return result_file_response(request, db, user, recording, "frames.csv")


@router.get("/recordings/{recording_id}/epochs")
def epochs(recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    live_recording(db, recording_id)
    found = records.epochs_of(db, recording_id)
    history = records.reviews_of(db, [e.id for e in found])
    return [epoch_view(e, history[e.id]) for e in found]


@router.get("/recordings/{recording_id}/timeline")
def timeline(request: Request, recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    from ..timeline import timeline_data

    recording = live_recording(db, recording_id)
    if recording.job.status != "done":
        raise HTTPException(409, f"recording {recording_id} is {recording.job.status}, not scored yet")
    return timeline_data(request.app.state.layout.result(recording.folder), recording,
                         records.epochs_of(db, recording_id))


def cancel_as(db, user: User, recording_id: int):
    """Cancel a recording's scoring (its owner or an admin), audited; the recording."""
    recording = live_recording(db, recording_id)
    may_change(user, recording)
    request_cancel(db, recording.job)
    accounts.audit(db, user, "cancel", f"recording:{recording_id}")
    db.commit()
    return recording


def delete_as(db, layout, user: User, recording_id: int) -> None:
    """Delete a recording (its owner or an admin), audited."""
    recording = live_recording(db, recording_id)
    may_change(user, recording)
    records.delete_recording(db, layout, recording)
    accounts.audit(db, user, "delete", f"recording:{recording_id}", patient=recording.patient)
    db.commit()


def review_as(db, user: User, epoch_id: int, score: float | None, not_assessable: bool, note: str):
    """Append a review of an epoch, audited; the review."""
    epoch = live_epoch(db, epoch_id)
    review = records.add_review(db, epoch, user, score, not_assessable, note)
    accounts.audit(db, user, "review", f"epoch:{epoch_id}", recording=epoch.recording_id, score=review.score,
                   not_assessable=review.not_assessable)
    db.commit()
    return review


@router.post("/recordings/{recording_id}/cancel", status_code=202)
def cancel(recording_id: int, user: User = Depends(writer), db=Depends(get_db)):
    return recording_view(cancel_as(db, user, recording_id))


@router.delete("/recordings/{recording_id}", status_code=204)
def delete(request: Request, recording_id: int, user: User = Depends(writer), db=Depends(get_db)):
    delete_as(db, request.app.state.layout, user, recording_id)
    return Response(status_code=204)


def live_epoch(db, epoch_id: int):
    epoch = records.get_epoch(db, epoch_id)
    if epoch is None:
        raise HTTPException(404, f"no epoch {epoch_id}")
    return epoch


@router.post("/epochs/{epoch_id}/reviews", status_code=201)
def add_review(epoch_id: int, body: ReviewIn, user: User = Depends(writer), db=Depends(get_db)):
    return review_view(review_as(db, user, epoch_id, body.score, body.not_assessable, body.note))


@router.get("/epochs/{epoch_id}/reviews")
def epoch_reviews(epoch_id: int, user: User = Depends(reader), db=Depends(get_db)):
    live_epoch(db, epoch_id)
    return [review_view(r) for r in records.reviews_of(db, [epoch_id])[epoch_id]]


@router.get("/reviews.csv")
def reviews_csv(user: User = Depends(reader), db=Depends(get_db)):
    return csv_response(db, user, records.review_rows(db), "reviews.csv", "reviews")
