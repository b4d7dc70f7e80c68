"""Media and assets, only through these routes: the video (with HTTP ranges, for seeking), result images,
static files. Paths are checked to stay inside their folder; only the login page's stylesheet is public."""
from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from ...store import records
from ...store.models import User
from ..auth import authenticate, get_db, reader
from ..shared_media import deidentified_png

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"
#: static files the login page needs (served without a login)
PUBLIC_ASSETS = {"style.css"}
RESULT_FILES = {".png"}


def inside(folder: Path, relative: str) -> Path:
    """``folder``/``relative`` if it stays inside ``folder`` and is a file; 404 otherwise (no traversal)."""
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, "no such file")
    return path


@router.get("/static/{name:path}")
def static(name: str, request: Request, db=Depends(get_db)):
    if name not in PUBLIC_ASSETS:
        authenticate(request, db)                           # raises NotAuthenticated
    path = inside(STATIC, name)
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "private, max-age=300"})


def _recording(db, recording_id: int):
    recording = records.get_recording(db, recording_id)
    if recording is None:
        raise HTTPException(404, f"no recording {recording_id}")
    return recording


@router.get("/recordings/{recording_id}/video")
def video(request: Request, recording_id: int, user: User = Depends(reader), db=Depends(get_db)):
    recording = _recording(db, recording_id)
    if user.role == "researcher":
        raise HTTPException(403, "researcher accounts receive de-identified media only: the video is not shared; "
                                 "see the de-identified stills (review thumbnails, peak frame) on the recording page")
    path = request.app.state.layout.video(recording.folder)
    if path is None:
        raise HTTPException(404, "the video is gone from the data folder")
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "video/mp4",
                        headers={"Cache-Control": "private, no-store"})


@router.get("/recordings/{recording_id}/files/{name:path}")
def result_file(request: Request, recording_id: int, name: str, user: User = Depends(reader), db=Depends(get_db)):
    recording = _recording(db, recording_id)
    layout = request.app.state.layout
    path = inside(layout.result(recording.folder), name)
    if path.suffix.lower() not in RESULT_FILES:
        raise HTTPException(404, "no such file")
    if user.role == "researcher":                            # faces de-identified (app/shared_media.py)
        path = deidentified_png(layout.result(recording.folder), name, path, layout.video(recording.folder),
                                request.app.state.settings.researcher_media)
    return FileResponse(path, media_type="image/png")

