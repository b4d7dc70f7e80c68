"""Repository functions for models, recordings, epochs and reviews."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DbSession, joinedload

from ..errors import InputError
from ..scales import get_scale
from .layout import DataLayout
from .models import Epoch, Job, Model, Recording, Review, User, utcnow

PATIENT_MAX = 64


# -- models ---------------------------------------------------------------------------------------------
def register_model(db: DbSession, layout: DataLayout, bundle_dir: str | Path, name: str) -> Model:
    """Check a bundle (hashes, format) and copy it into DATA/models/<name>/."""
    from ..bundle import MANIFEST, load_bundle, sha256
    from .accounts import NAME_CHARS

    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise InputError(f"model name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if db.scalar(select(Model).where(Model.name == name)) is not None:
        raise InputError(f"a model called {name!r} is registered already; pick another name")
    bundle = load_bundle(bundle_dir)
    target = layout.models / name
    staging = layout.models / f".{name}.part"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(bundle_dir, staging)
    load_bundle(staging)                               # the copy verifies too
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    model = Model(name=name, folder=name, sha256=sha256(target / MANIFEST), scale=bundle.scale.name,
                  synthetic=bundle.synthetic)
    db.add(model)
    db.flush()
    return model


def list_models(db: DbSession) -> list[Model]:
    return list(db.scalars(select(Model).order_by(Model.name)))


def model_by_name(db: DbSession, name: str) -> Model:
    model = db.scalar(select(Model).where(Model.name == name))
    if model is None:
        known = ", ".join(m.name for m in list_models(db)) or "none yet: an admin registers one"
        raise InputError(f"unknown model {name!r}; registered models: {known}")
    return model


# -- recordings -----------------------------------------------------------------------------------------
def check_patient(code: str) -> str:
    """A pseudonymous patient code: 1-64 printable characters (never a name: the form says so)."""
    code = (code or "").strip()
    if not code or len(code) > PATIENT_MAX or not code.isprintable():
        raise InputError(f"patient code: give 1-{PATIENT_MAX} printable characters (a pseudonymous code, no names)")
    return code


def add_recording(db: DbSession, *, folder: str, filename: str, patient: str, scale: str, model: Model, owner: User,
                  size_bytes: int, has_epochs_csv: bool) -> Recording:
    """A recording row and its queued scoring job (one transaction: the caller commits)."""
    recording = Recording(folder=folder, filename=filename[:255], patient=check_patient(patient),
                          scale=get_scale(scale).name, model_id=model.id, owner_id=owner.id, size_bytes=size_bytes,
                          has_epochs_csv=has_epochs_csv)
    db.add(recording)
    db.flush()
    db.add(Job(recording_id=recording.id))
    db.flush()
    return recording


def _recordings():
    return (select(Recording).where(Recording.deleted_at.is_(None))
            .options(joinedload(Recording.job), joinedload(Recording.model), joinedload(Recording.owner)))


def list_recordings(db: DbSession) -> list[Recording]:
    return list(db.scalars(_recordings().order_by(Recording.id.desc())).unique())


def get_recording(db: DbSession, recording_id: int) -> Recording | None:
    return db.scalars(_recordings().where(Recording.id == recording_id)).unique().one_or_none()


def all_folders(db: DbSession) -> set[str]:
    """Folders of every recording row, deleted ones included (their files are gone already)."""
    return set(db.scalars(select(Recording.folder)))


def delete_recording(db: DbSession, layout: DataLayout, recording: Recording) -> None:
    """Mark deleted, cancel its job, remove its files and its data rows (epochs, reviews, summary, file name).

    The recording row stays as a tombstone (id, patient code, times) for the audit log's ``delete`` event.
    """
    recording.deleted_at = utcnow()
    epoch_ids = select(Epoch.id).where(Epoch.recording_id == recording.id)
    db.execute(delete(Review).where(Review.epoch_id.in_(epoch_ids)))
    db.execute(delete(Epoch).where(Epoch.recording_id == recording.id))
    recording.summary_json, recording.filename = None, ""
    if recording.job.status in ("queued", "running"):
        recording.job.cancel_requested = True
        if recording.job.status == "queued":
            recording.job.status = "cancelled"
    db.flush()
    shutil.rmtree(layout.recording(recording.folder), ignore_errors=True)


def summary(recording: Recording) -> dict | None:
    return json.loads(recording.summary_json) if recording.summary_json else None


# -- epochs ---------------------------------------------------------------------------------------------
def _number(value) -> float | None:
    """A finite float, or None (empty cells and NaN)."""
    value = pd.to_numeric(value, errors="coerce")
    return float(value) if pd.notna(value) and math.isfinite(value) else None


def import_epochs(db: DbSession, recording: Recording, epochs_csv: Path, thumbnails: dict[int, str]) -> int:
    """Epoch rows from a finished result's epochs.csv; a second import of the same recording adds nothing."""
    if db.scalar(select(func.count()).select_from(Epoch).where(Epoch.recording_id == recording.id)):
        return 0
    # text columns as written (a label "NA" stays "NA"); numbers parsed per cell, empty -> None
    table = pd.read_csv(epochs_csv, keep_default_na=False, dtype={"label": str, "review": str})
    for row in table.itertuples(index=False):
        db.add(Epoch(recording_id=recording.id, index=int(row.epoch), label=row.label[:255],
                     start_s=float(row.start_s), end_s=float(row.end_s), intensity_mean=_number(row.intensity_mean),
                     intensity_max=_number(row.intensity_max), level=int(row.level),
                     confidence=_number(row.confidence), face_share=float(row.face_share), review_reason=row.review,
                     thumbnail=thumbnails.get(int(row.epoch))))
    db.flush()
    return len(table)


def epochs_of(db: DbSession, recording_id: int) -> list[Epoch]:
    return list(db.scalars(select(Epoch).where(Epoch.recording_id == recording_id).order_by(Epoch.index)))


def get_epoch(db: DbSession, epoch_id: int) -> Epoch | None:
    epoch = db.get(Epoch, epoch_id)
    return epoch if epoch is not None and epoch.recording.deleted_at is None else None


def review_queue(db: DbSession, limit: int = 200) -> list[Epoch]:
    """Flagged epochs of live recordings that nobody has reviewed yet, oldest recording first."""
    reviewed = select(Review.epoch_id)
    query = (select(Epoch).join(Recording).where(Recording.deleted_at.is_(None), Epoch.review_reason != "",
                                                Epoch.id.not_in(reviewed))
             .options(joinedload(Epoch.recording).joinedload(Recording.model))
             .order_by(Recording.created_at, Recording.id, Epoch.index).limit(limit))
    return list(db.scalars(query))


# -- reviews --------------------------------------------------------------------------------------------
def add_review(db: DbSession, epoch: Epoch, user: User, score: float | None, not_assessable: bool = False,
               note: str = "") -> Review:
    """Append a review; the score must lie on the recording's scale unless the epoch is not assessable."""
    scale = get_scale(epoch.recording.scale)
    if not_assessable:
        score = None
    elif score is None or not math.isfinite(score) or not scale.low <= score <= scale.high:
        raise InputError(f"score {score!r}: give a number in [{scale.low:g}, {scale.high:g}] ({scale.name.upper()}) "
                         "or mark the epoch not assessable")
    review = Review(epoch_id=epoch.id, user_id=user.id, score=score, not_assessable=not_assessable,
                    note=(note or "")[:2000])
    db.add(review)
    db.flush()
    return review


def reviews_of(db: DbSession, epoch_ids: list[int]) -> dict[int, list[Review]]:
    """Review history per epoch, oldest first."""
    out: dict[int, list[Review]] = {i: [] for i in epoch_ids}
    query = (select(Review).where(Review.epoch_id.in_(epoch_ids)).options(joinedload(Review.user))
             .order_by(Review.id))
    for review in db.scalars(query):
        out[review.epoch_id].append(review)
    return out


def review_rows(db: DbSession, recording_id: int | None = None) -> pd.DataFrame:
    """Every review (of one recording, or all) with user, time, recording, patient and epoch."""
    query = (select(Review, Epoch, Recording, User, Model).join(Epoch, Review.epoch_id == Epoch.id)
             .join(Recording, Epoch.recording_id == Recording.id).join(User, Review.user_id == User.id)
             .join(Model, Recording.model_id == Model.id).order_by(Review.id))
    if recording_id is not None:
        query = query.where(Recording.id == recording_id)
    rows = [{"review_id": r.id, "created_at": r.created_at.isoformat(timespec="seconds"), "user": u.name,
             "role": u.role, "recording_id": rec.id, "patient": rec.patient, "scale": rec.scale, "epoch_id": e.id,
             "epoch": e.index, "start_s": e.start_s, "end_s": e.end_s, "score": r.score,
             "not_assessable": r.not_assessable, "note": r.note, "engine_intensity_mean": e.intensity_mean,
             "model": m.name, "model_synthetic": m.synthetic, "recording_deleted": rec.deleted_at is not None}
            for r, e, rec, u, m in db.execute(query)]
    columns = ["review_id", "created_at", "user", "role", "recording_id", "patient", "scale", "epoch_id", "epoch",
               "start_s", "end_s", "score", "not_assessable", "note", "engine_intensity_mean", "model",
               "model_synthetic", "recording_deleted"]
    return pd.DataFrame(rows, columns=columns)
