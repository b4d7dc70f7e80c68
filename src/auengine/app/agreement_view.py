"""Agreement over the stored reviews: engine epochs vs each clinician (latest review per epoch and reviewer)."""
from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..store import records
from ..store.models import Epoch, Recording


def recording_key(recording_id: int) -> str:
    """The video key a recording's epochs and reviews are paired by."""
    return f"recording-{recording_id}"


def engine_epochs(db: DbSession, recording_id: int | None = None) -> pd.DataFrame:
    """Engine scores ``video, start_s, end_s, scale, score`` (epoch mean intensity) of live recordings."""
    query = (select(Epoch, Recording).join(Recording, Epoch.recording_id == Recording.id)
             .where(Recording.deleted_at.is_(None)).order_by(Recording.id, Epoch.index))
    if recording_id is not None:
        query = query.where(Recording.id == recording_id)
    rows = [{"video": recording_key(r.id), "start_s": e.start_s, "end_s": e.end_s, "scale": r.scale,
             "score": e.intensity_mean if e.intensity_mean is not None else float("nan")}
            for e, r in db.execute(query)]
    return pd.DataFrame(rows, columns=["video", "start_s", "end_s", "scale", "score"])


def review_observers(db: DbSession, recording_id: int | None = None) -> pd.DataFrame:
    """Clinicians' scores as observer rows (``observer`` = user name): the latest scored review per epoch and user.

    Not-assessable reviews and reviews of deleted recordings are left out.
    """
    table = records.review_rows(db, recording_id)
    table = table[~table["recording_deleted"].astype(bool)].sort_values("review_id")
    table = table.drop_duplicates(["epoch_id", "user"], keep="last")      # the latest review counts, even if n/a
    table = table[~table["not_assessable"].astype(bool) & table["score"].notna()]
    return pd.DataFrame({"video": table["recording_id"].map(recording_key), "start_s": table["start_s"],
                         "end_s": table["end_s"], "scale": table["scale"], "score": table["score"].astype(float),
                         "observer": table["user"]}).reset_index(drop=True)


def review_agreement(db: DbSession, recording_id: int | None = None):
    """:class:`~auengine.agreement.AgreementResult` of engine vs reviewers (and reviewers vs each other).

    Raises InputError when nothing can be paired (no scored reviews yet).
    """
    from ..agreement import compute_agreement
    from ..agreement.pairing import observer_scores
    from ..errors import InputError

    observers = review_observers(db, recording_id)
    if not len(observers):
        raise InputError("no scored reviews yet: agreement needs at least one clinician's review")
    return compute_agreement(engine_epochs(db, recording_id), observer_scores(observers))


def agreement_context(result) -> dict:
    """Rows for the page: pooled engine, pooled observers, per recording; the Bland-Altman PNG as a data URI."""
    from ..agreement.report import bland_altman_figure, summary_rows

    table = result.table

    def rows(part: pd.DataFrame) -> list[dict]:
        return summary_rows(part.reset_index(drop=True)).to_dict("records") if len(part) else []

    pooled = table[table["scope"] == "pooled"]
    with tempfile.TemporaryDirectory() as folder:          # rendered in memory: no figure file outlives a deletion
        png = bland_altman_figure(result, Path(folder) / "bland_altman.png").read_bytes()
    return {"engine_rows": rows(pooled[pooled["comparison"] == "engine"]),
            "observer_rows": rows(pooled[pooled["comparison"] == "observers"]),
            "recording_rows": rows(table[table["scope"] == "recording"]), "notes": result.notes,
            "figure": "data:image/png;base64," + base64.b64encode(png).decode()}
