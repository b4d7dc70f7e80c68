"""Items of bedside monitors (docs/monitor.md "Live page"): stored once per (bed, session), read in order."""
from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from .models import MonitorItem

KINDS = ("event", "point")


def item_key(item: dict) -> str:
    """What makes an item unique within its (bed, session): kind, event, time, t_s."""
    return json.dumps([item.get("kind"), item.get("event"), item.get("time"), item.get("t_s")])[:200]


def add_items(db: DbSession, bed: str, session: str, items: list[dict]) -> int:
    """Store the items not stored yet (duplicates in the batch or from earlier batches are ignored); returns how many were new."""
    keyed = {}
    for item in items:
        keyed.setdefault(item_key(item), item)
    known = set(db.scalars(select(MonitorItem.key).where(
        MonitorItem.bed == bed, MonitorItem.session == session, MonitorItem.key.in_(list(keyed)))))
    new = [MonitorItem(bed=bed, session=session, kind=item["kind"], key=key, data=json.dumps(item))
           for key, item in keyed.items() if key not in known]
    db.add_all(new)
    db.commit()
    return len(new)


def items_after(db: DbSession, bed: str, after_id: int = 0, limit: int = 1000) -> list[tuple[int, str, dict]]:
    """(id, session, item) of a bed's items with id > ``after_id``, oldest first, at most ``limit``."""
    rows = db.execute(select(MonitorItem.id, MonitorItem.session, MonitorItem.data)
                      .where(MonitorItem.bed == bed, MonitorItem.id > after_id)
                      .order_by(MonitorItem.id).limit(limit))
    return [(row.id, row.session, json.loads(row.data)) for row in rows]


def last_id(db: DbSession, bed: str) -> int:
    return db.scalar(select(func.max(MonitorItem.id)).where(MonitorItem.bed == bed)) or 0


def list_beds(db: DbSession) -> list[dict]:
    """Every bed that posted: name, count (items stored), last (received, UTC), newest first."""
    rows = db.execute(select(MonitorItem.bed, func.count(), func.max(MonitorItem.received_at))
                      .group_by(MonitorItem.bed).order_by(func.max(MonitorItem.received_at).desc()))
    return [{"bed": bed, "count": n, "last": last} for bed, n, last in rows]


def list_sessions(db: DbSession, bed: str) -> list[dict]:
    """A bed's sessions (recordings of one monitor run): session, count, first and last received (UTC), newest first."""
    rows = db.execute(select(MonitorItem.session, func.count(), func.min(MonitorItem.received_at),
                             func.max(MonitorItem.received_at)).where(MonitorItem.bed == bed)
                      .group_by(MonitorItem.session).order_by(func.max(MonitorItem.received_at).desc()))
    return [{"session": s, "count": n, "first": first, "last": last} for s, n, first, last in rows]


def session_items(db: DbSession, bed: str, session: str) -> list[dict]:
    """Every item of one session, in the order received."""
    rows = db.scalars(select(MonitorItem.data).where(MonitorItem.bed == bed, MonitorItem.session == session)
                      .order_by(MonitorItem.id))
    return [json.loads(data) for data in rows]
