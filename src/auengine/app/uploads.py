"""Receiving recordings: size limit, content check with OpenCV, atomic placement, then the database row.

Order matters for crash safety: the video is written to DATA/uploads/<folder>/, checked,
renamed to DATA/recordings/<folder>/ and only then is its row (with its job) committed.
A crash before the commit leaves an orphan folder that the next start removes; it is never
listed. A refused file leaves nothing behind.
"""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import UploadFile

from ..errors import InputError
from ..io.media import VIDEO_EXTENSIONS
from ..store import accounts, records
from ..store.layout import VIDEO_STEM, DataLayout
from ..store.models import Recording, User
from .auth import Principal, authenticate

CHUNK = 1024 * 1024
MAX_FILES = 20


@dataclass
class UploadForm:
    files: list[UploadFile]
    patient: str
    scale: str
    model: str
    epochs: UploadFile | None


def upload_limit(request: Request, principal: Principal = Depends(authenticate)) -> None:
    """Refuse an upload by its declared size before its body is read (after the login check)."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise HTTPException(411, "uploads need a Content-Length header")
    limit = request.app.state.settings.max_upload_bytes
    if int(length) > limit:
        raise HTTPException(413, f"upload of {int(length) / 1e6:.1f} MB exceeds the limit of {limit / 1e6:.1f} MB")


async def read_upload_form(request: Request) -> UploadForm:
    """Parse the multipart body (Starlette spools files to disk) into the upload's fields."""
    form = await request.form()
    files = [f for f in form.getlist("file") if isinstance(f, UploadFile) and f.filename]
    if not files:
        raise InputError("no video given: choose a file in field 'file'")
    epochs = form.get("epochs")
    return UploadForm(files, str(form.get("patient", "")), str(form.get("scale", "")), str(form.get("model", "")),
                      epochs if isinstance(epochs, UploadFile) and epochs.filename else None)


def check_video(path: Path, name: str) -> None:
    """Refuse a file the video reader cannot open or decode a frame from."""
    from ..io.video import VideoReader

    try:
        with VideoReader(path, stop=1) as reader:
            ok = any(True for _ in reader)
    except InputError:
        ok = False
    if not ok:
        raise InputError(f"{name}: not a video OpenCV can read (corrupt, unsupported codec, or another kind of file); "
                         "nothing was stored")


def _copy(upload: UploadFile, target: Path) -> int:
    upload.file.seek(0)
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
    return size


def store_uploads(db, layout: DataLayout, form: UploadForm, owner: User) -> list[Recording]:
    """Check everything first, then place each video and commit its row; nothing is stored for a bad form.

    No database connection is held during the file work, so 20 uploads at once do not exhaust the pool."""
    model = records.model_by_name(db, form.model)
    patient = records.check_patient(form.patient)
    from ..scales import get_scale

    scale = get_scale(form.scale or model.scale).name
    db.commit()             # end the read transaction: no pooled connection is held while videos are copied and decoded
    staged = []
    try:
        for upload in form.files[:MAX_FILES]:
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in VIDEO_EXTENSIONS:
                raise InputError(f"{upload.filename}: not a video file name (use {' '.join(sorted(VIDEO_EXTENSIONS))})")
            folder = uuid.uuid4().hex
            staging = layout.uploads / folder
            staging.mkdir(parents=True)
            staged.append((folder, staging, upload))
            size = _copy(upload, staging / (VIDEO_STEM + suffix))
            check_video(staging / (VIDEO_STEM + suffix), upload.filename)
            if form.epochs is not None:
                _copy(form.epochs, staging / "epochs_in.csv")
                from ..scoring.timeline import read_epochs_csv

                read_epochs_csv(staging / "epochs_in.csv", upload.filename)
            upload.size = size
        out = []
        for folder, staging, upload in staged:
            staging.rename(layout.recording(folder))
            recording = records.add_recording(db, folder=folder, filename=Path(upload.filename).name, patient=patient,
                                              scale=scale, model=model, owner=owner, size_bytes=upload.size,
                                              has_epochs_csv=form.epochs is not None)
            accounts.audit(db, owner, "create", f"recording:{recording.id}", patient=patient,
                           filename=recording.filename, model=model.name)
            db.commit()
            out.append(recording)
        return out
    except BaseException:
        db.rollback()
        for folder, staging, _ in staged:
            shutil.rmtree(staging, ignore_errors=True)
        raise
