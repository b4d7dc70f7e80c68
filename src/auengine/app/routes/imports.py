"""Importing observer scores into the review queue: a form on the queue page and an API route (clinician/admin)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ...errors import InputError
from ...store.models import User
from ..auth import get_db, writer
from ..templating import templates
from ..review_import import MAX_IMPORT_BYTES, import_observer_file

router = APIRouter()


async def _uploaded(request: Request) -> tuple[str, bytes]:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile):
        raise InputError("no file: attach a CSV, BORIS export or ELAN .eaf as the 'file' field")
    return upload.filename or "scores.csv", await upload.read(MAX_IMPORT_BYTES + 1)


@router.post("/api/reviews/import")
async def import_api(request: Request, user: User = Depends(writer), db=Depends(get_db)):
    name, content = await _uploaded(request)
    return await run_in_threadpool(import_observer_file, db, request.app.state.layout, user, name, content)


@router.post("/queue/import")
async def import_page(request: Request, user: User = Depends(writer), db=Depends(get_db)):
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "error": "", "result": None}
    try:
        name, content = await _uploaded(request)
        context["result"] = await run_in_threadpool(import_observer_file, db, request.app.state.layout, user, name,
                                                    content)
    except InputError as exc:
        context["error"] = str(exc)
    return templates.TemplateResponse(request, "import_result.html", context, status_code=400 if context["error"] else 200)
