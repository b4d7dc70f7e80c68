"""Agreement pages and API over the stored reviews (every role may read)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...agreement.report import _clean
from ...errors import InputError
from ...store.models import User
from ..agreement_view import agreement_context, review_agreement
from ..auth import get_db, reader
from ..templating import templates
from .api import live_recording

router = APIRouter()


def _page(request: Request, user: User, db, recording_id: int | None):
    recording = live_recording(db, recording_id) if recording_id is not None else None
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "recording": recording, "error": ""}
    try:
        context.update(agreement_context(review_agreement(db, recording_id)))
    except InputError as exc:
        context["error"] = str(exc)
    return templates.TemplateResponse(request, "agreement.html", context)


@router.get("/agreement")
async def agreement_page(request: Request, user: User = Depends(reader), db=Depends(get_db)):
    return await run_in_threadpool(_page, request, user, db, None)


@router.get("/recordings/{recording_id}/agreement")
async def recording_agreement_page(request: Request, recording_id: int, user: User = Depends(reader),
                                   db=Depends(get_db)):
    return await run_in_threadpool(_page, request, user, db, recording_id)


@router.get("/api/agreement")
def agreement_api(recording_id: int | None = None, user: User = Depends(reader), db=Depends(get_db)):
    if recording_id is not None:
        live_recording(db, recording_id)
    result = review_agreement(db, recording_id)
    return {"settings": result.settings, "notes": result.notes,
            "results": [_clean(r) for r in result.table.to_dict("records")]}
