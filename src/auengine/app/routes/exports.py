"""CSV exports per recording and per cohort (frames, epochs, reviews); each one is audited."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from ...store import accounts, records
from ...store.models import User
from ..auth import get_db, reader
from ..templating import templates

router = APIRouter()
KINDS = ("frames", "epochs", "reviews")


def csv_response(db, user: User, table: pd.DataFrame, filename: str, target: str) -> Response:
    accounts.audit(db, user, "export", target, rows=len(table), file=filename)
    db.commit()
    return Response(table.to_csv(index=False), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def result_file_response(request: Request, db, user: User, recording, name: str) -> Response:
    """A CSV the scorer wrote for this recording (409 until it is scored)."""
    if recording.job.status != "done":
        raise HTTPException(409, f"recording {recording.id} is {recording.job.status}, not scored yet")
    path = request.app.state.layout.result(recording.folder) / name
    accounts.audit(db, user, "export", f"recording:{recording.id}", file=name)
    db.commit()
    return FileResponse(path, media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="recording{recording.id}_{name}"'})


def _epoch_rows(db, recordings: list) -> pd.DataFrame:
    """Epochs of these recordings with the engine's numbers and the model (and whether it is synthetic)."""
    rows = []
    for recording in recordings:
        for e in records.epochs_of(db, recording.id):
            rows.append({"recording_id": recording.id, "patient": recording.patient, "model": recording.model.name,
                         "model_synthetic": recording.model.synthetic, "epoch_id": e.id, "epoch": e.index,
                         "label": e.label,
                         "start_s": e.start_s, "end_s": e.end_s, "intensity_mean": e.intensity_mean,
                         "intensity_max": e.intensity_max, "level": e.level, "confidence": e.confidence,
                         "face_share": e.face_share, "review": e.review_reason})
    return pd.DataFrame(rows)


@router.get("/exports")
def exports_page(request: Request, user: User = Depends(reader), db=Depends(get_db)):
    done = [r for r in records.list_recordings(db) if r.job.status == "done"]
    return templates.TemplateResponse(request, "exports.html", {"user": user, "recordings": done, "kinds": KINDS})


@router.get("/exports/{kind}.csv")
def cohort_export(request: Request, kind: str, user: User = Depends(reader), db=Depends(get_db)):
    done = [r for r in records.list_recordings(db) if r.job.status == "done"]
    if kind == "reviews":
        return csv_response(db, user, records.review_rows(db), "cohort_reviews.csv", "cohort:reviews")
    if kind == "epochs":
        return csv_response(db, user, _epoch_rows(db, done), "cohort_epochs.csv", "cohort:epochs")
    if kind == "frames":
        accounts.audit(db, user, "export", "cohort:frames", recordings=len(done))
        db.commit()
        paths = [(r.id, r.patient, request.app.state.layout.result(r.folder) / "frames.csv") for r in done]
        return StreamingResponse(_concat_frames(paths), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="cohort_frames.csv"'})
    raise HTTPException(404, f"no export {kind!r}; choose one of {', '.join(KINDS)}")


def _concat_frames(paths: list[tuple[int, str, Path]]):
    header = True
    for recording_id, patient, path in paths:
        if not path.is_file():
            continue
        frames = pd.read_csv(path)
        table = pd.concat([pd.DataFrame({"recording_id": recording_id, "patient": patient}, index=frames.index),
                           frames], axis=1)
        buffer = io.StringIO()
        table.to_csv(buffer, index=False, header=header)
        header = False
        yield buffer.getvalue()


@router.get("/recordings/{recording_id}/export/{kind}.csv")
def recording_export(request: Request, recording_id: int, kind: str, user: User = Depends(reader),
                     db=Depends(get_db)):
    recording = records.get_recording(db, recording_id)
    if recording is None:
        raise HTTPException(404, f"no recording {recording_id}")
    if kind == "frames":
        return result_file_response(request, db, user, recording, "frames.csv")
    if kind == "epochs":
        return csv_response(db, user, _epoch_rows(db, [recording]), f"recording{recording_id}_epochs.csv",
                            f"recording:{recording_id}")
    if kind == "reviews":
        return csv_response(db, user, records.review_rows(db, recording_id), f"recording{recording_id}_reviews.csv",
                            f"recording:{recording_id}")
    raise HTTPException(404, f"no export {kind!r}; choose one of {', '.join(KINDS)}")
