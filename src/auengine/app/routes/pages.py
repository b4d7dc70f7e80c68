"""Server-rendered pages: recordings (list, upload), one recording, the review queue."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from ...errors import InputError
from ...scales import get_scale, scale_names
from ...store import records
from ...store.models import User
from ..auth import get_db, reader, writer
from ..templating import templates
from ..uploads import read_upload_form, store_uploads, upload_limit
from ..views import epoch_view, recording_view
from .api import cancel_as, delete_as, live_recording, review_as

router = APIRouter()


def _context(request: Request, user: User, **values) -> dict:
    return {"user": user, "csrf": getattr(request.state, "csrf", ""), "can_write": user.role in ("clinician", "admin"),
            **values}


@router.get("/")
def home(user: User = Depends(reader)):
    return RedirectResponse("/recordings", 303)


def _recordings_page(request: Request, user: User, db, error: str = "", status: int = 200):
    context = _context(request, user, recordings=[recording_view(r) for r in records.list_recordings(db)],
                       models=records.list_models(db), scales=scale_names(), error=error)
    return templates.TemplateResponse(request, "recordings.html", context, status_code=status)


@router.get("/recordings")
def recordings_page(request: Request, user: User = Depends(reader), db=Depends(get_db)):
    return _recordings_page(request, user, db)


@router.post("/recordings")
async def upload_page(request: Request, _limit=Depends(upload_limit), user: User = Depends(writer),
                      db=Depends(get_db)):
    try:
        form = await read_upload_form(request)
        await run_in_threadpool(store_uploads, db, request.app.state.layout, form, user)
    except InputError as exc:
        return await run_in_threadpool(_recordings_page, request, user, db, str(exc), 400)
    return RedirectResponse("/recordings", 303)


@router.get("/recordings/{recording_id}")
def recording_page(request: Request, recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    recording = live_recording(db, recording_id)
    found = records.epochs_of(db, recording_id)
    history = records.reviews_of(db, [e.id for e in found])
    scale = get_scale(recording.scale)
    context = _context(request, user, recording=recording_view(recording), epochs=[epoch_view(e, history[e.id])
                                                                                    for e in found],
                       scale=scale, may_change=user.role == "admin" or recording.owner_id == user.id)
    return templates.TemplateResponse(request, "recording.html", context)


@router.post("/recordings/{recording_id}/delete")
def delete_page(request: Request, recording_id: int, user: User = Depends(writer), db=Depends(get_db)):
    delete_as(db, request.app.state.layout, user, recording_id)
    return RedirectResponse("/recordings", 303)


@router.post("/recordings/{recording_id}/cancel")
def cancel_page(recording_id: int, user: User = Depends(writer), db=Depends(get_db)):
    cancel_as(db, user, recording_id)
    return RedirectResponse(f"/recordings/{recording_id}", 303)


@router.get("/queue")
def queue_page(request: Request, user: User = Depends(reader), db=Depends(get_db)):
    pending = records.review_queue(db)
    history = records.reviews_of(db, [e.id for e in pending])
    items = [{"epoch": epoch_view(e, history[e.id]), "recording": e.recording, "scale": get_scale(e.recording.scale)}
             for e in pending]
    return templates.TemplateResponse(request, "queue.html", _context(request, user, items=items))


@router.post("/epochs/{epoch_id}/review")
def review_form(request: Request, epoch_id: int, score: str = Form(""), note: str = Form(""),
                not_assessable: str = Form(""), back: str = Form("/queue"), user: User = Depends(writer),
                db=Depends(get_db)):
    try:
        value = float(score) if score.strip() else None
    except ValueError:
        raise HTTPException(400, f"score {score!r} is not a number") from None
    review_as(db, user, epoch_id, value, bool(not_assessable), note)
    target = back if back.startswith("/") and not back.startswith("//") else "/queue"
    return RedirectResponse(target, 303)
