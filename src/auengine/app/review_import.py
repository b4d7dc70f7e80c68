"""Import a file of observer scores (CSV, ELAN .eaf, BORIS export) into the review queue as reviews.

A row becomes a review of the epoch it falls in: its ``video`` names a live recording (by the
uploaded file's stem, the patient code, or ``recording-ID``), its scale is the recording's, and
the epoch overlapping its span most covers at least half of the span (a point score: the epoch
containing it). The review is the importing user's, with a note naming the file and observer.
Every other row is reported with the reason.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session as DbSession

from ..errors import InputError
from ..interop.annotations import video_key
from ..store import accounts, records
from ..store.layout import DataLayout
from ..store.models import Epoch, Recording, User
from .agreement_view import recording_key

MAX_IMPORT_BYTES = 5 * 1024 ** 2
SUFFIXES = (".csv", ".tsv", ".txt", ".eaf")


def import_observer_file(db: DbSession, layout: DataLayout, user: User, filename: str, content: bytes) -> dict:
    """Reviews from one uploaded file; returns ``{"file", "imported": [...], "unmatched": [...]}`` (committed, audited)."""
    from ..interop import read_observer_scores

    name = Path(filename or "scores.csv").name[:200]
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{name}: give a CSV, a BORIS export (.csv/.tsv) or an ELAN .eaf file")
    if len(content) > MAX_IMPORT_BYTES:
        raise InputError(f"{name}: larger than {MAX_IMPORT_BYTES // 1024 ** 2} MB; split it")
    staged = layout.uploads / f"import-{uuid.uuid4().hex}{suffix}"
    try:
        staged.write_bytes(content)
        rows = read_observer_scores(staged)
    except InputError as exc:
        raise InputError(str(exc).replace(str(staged), name)) from None
    finally:
        staged.unlink(missing_ok=True)
    live = records.list_recordings(db)
    imported, unmatched = [], []
    for number, row in enumerate(rows.itertuples(index=False), start=1):
        where = {"item": number, "video": row.video, "start_s": row.start_s, "end_s": row.end_s,
                 "observer": row.observer, "score": row.score}
        try:
            epoch = _epoch_of(db, live, row)
            note = f"imported from {name}, observer {row.observer}" + (f": {row.label}" if row.label else "")
            review = records.add_review(db, epoch, user, float(row.score), note=note)
        except InputError as exc:
            unmatched.append({**where, "reason": str(exc)})
            continue
        imported.append({**where, "recording_id": epoch.recording_id, "epoch_id": epoch.id, "review_id": review.id})
    accounts.audit(db, user, "import", f"file:{name}", imported=len(imported), unmatched=len(unmatched))
    db.commit()
    return {"file": name, "imported": imported, "unmatched": unmatched}


def _recording_of(live: list[Recording], video: str) -> Recording:
    key = video_key(video)
    found = [r for r in live if key in (video_key(r.filename), r.patient, recording_key(r.id))]
    if not found:
        raise InputError(f"no recording called {video!r} (by file name, patient code or recording-ID)")
    if len(found) > 1:
        raise InputError(f"{video!r} names recordings {', '.join(str(r.id) for r in found)}: use recording-ID")
    return found[0]


def _epoch_of(db: DbSession, live: list[Recording], row) -> Epoch:
    recording = _recording_of(live, row.video)
    if row.scale != recording.scale:
        raise InputError(f"scale {row.scale} but recording {recording.id} is scored on {recording.scale}")
    epochs = records.epochs_of(db, recording.id)
    if not epochs:
        raise InputError(f"recording {recording.id} has no epochs yet (not scored)")
    span = row.end_s - row.start_s
    if span <= 0:
        inside = [e for e in epochs if e.start_s <= row.start_s < e.end_s]
        if inside:
            return inside[0]
        raise InputError(f"no epoch of recording {recording.id} contains {row.start_s:g} s")
    overlap = [max(0.0, min(e.end_s, row.end_s) - max(e.start_s, row.start_s)) for e in epochs]
    best = max(range(len(epochs)), key=overlap.__getitem__)
    if overlap[best] < span / 2:
        raise InputError(f"no epoch of recording {recording.id} covers half of {row.start_s:g}-{row.end_s:g} s")
    return epochs[best]
