"""Bedside monitors (issue 18): `auengine monitor --serve` posts here; each bed has a live page fed by SSE.

The contract is docs/monitor.md "Live page". A stream lives at most ``STREAM_S`` seconds and
polls the database every ``POLL_S`` seconds; the browser's EventSource reconnects by itself
(``retry``) and resumes after the last item it saw (``Last-Event-ID``). Streams end when
the server shuts down (``app.state.stopping``), so a SIGTERM is not held up by open pages.
"""
from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from ...store import live
from ...store.models import User
from ..auth import get_db, reader, writer
from ..monitor_session import session_view
from ..templating import templates

router = APIRouter()
POLL_S = 0.25
STREAM_S = 60.0
BACKLOG = 1200          # items sent when a page opens: ~15 min of points plus events


class Batch(BaseModel):
    version: int
    bed: str = Field(max_length=64)
    session: str = Field(min_length=1, max_length=128)
    sent_at: str | None = None
    items: list[dict] = Field(min_length=1, max_length=500)

    @field_validator("session")
    @classmethod
    def _one_path_segment(cls, session: str) -> str:
        """The session is the monitor's output folder's name: one URL path segment (its page links to it)."""
        if "/" in session or session in (".", ".."):
            raise ValueError("a session name has no '/' and is not '.' or '..' (it is the monitor's folder name)")
        return session


def _check_bed(bed: str) -> str:
    if not bed or len(bed) > 64:
        raise HTTPException(404, f"bed names are 1 to 64 characters, not {len(bed)}")
    return bed


@router.post("/api/monitor/{bed}/events")
def post_events(bed: str, batch: Batch, user: User = Depends(writer), db=Depends(get_db)):
    _check_bed(bed)
    if batch.version != 1:
        raise HTTPException(400, f"contract version {batch.version} is not supported (this app speaks version 1)")
    if batch.bed != bed:
        raise HTTPException(400, f"body says bed {batch.bed!r} but the URL says {bed!r}")
    wrong = [i for i, item in enumerate(batch.items) if item.get("kind") not in live.KINDS]
    if wrong:
        raise HTTPException(400, f"items {wrong[:5]}: kind must be 'event' or 'point'")
    return {"stored": live.add_items(db, bed, batch.session, batch.items), "received": len(batch.items)}


@router.get("/beds")
def beds_page(request: Request, user: User = Depends(reader), db=Depends(get_db)):
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "beds": live.list_beds(db)}
    return templates.TemplateResponse(request, "beds.html", context)


@router.get("/beds/{bed}")
def bed_page(request: Request, bed: str, user: User = Depends(reader), db=Depends(get_db)):
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "bed": _check_bed(bed),
               "sessions": live.list_sessions(db, bed)}
    return templates.TemplateResponse(request, "bed.html", context)


@router.get("/beds/{bed}/sessions/{session}")
def bed_session_page(request: Request, bed: str, session: str, user: User = Depends(reader), db=Depends(get_db)):
    """A past (or running) session reviewed afterwards: summary, whole curve with state bands, every event."""
    items = live.session_items(db, _check_bed(bed), session)
    if not items:
        raise HTTPException(404, f"bed {bed!r} has no session {session!r}")
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "bed": bed, "session": session,
               "view": session_view(items)}
    return templates.TemplateResponse(request, "bed_session.html", context)


def _poll(request: Request, bed: str, after: int) -> list[tuple[int, str, dict]]:
    with request.app.state.db.session() as db:
        return live.items_after(db, bed, after)


def _start_after(request: Request, bed: str, after: int | None) -> int:
    if after is not None:
        return after
    with request.app.state.db.session() as db:
        return max(live.last_id(db, bed) - BACKLOG, 0)


@router.get("/beds/{bed}/stream")
async def bed_stream(request: Request, bed: str, after: int | None = None, seconds: float = STREAM_S,
                     user: User = Depends(reader)):
    """Server-sent events: one ``data:`` message per batch of new items ``{"items": [{session, ...}]}``."""
    _check_bed(bed)
    header = request.headers.get("last-event-id", "")
    after = int(header) if header.isdigit() else after
    cursor = await run_in_threadpool(_start_after, request, bed, after)
    ends = time.monotonic() + min(max(seconds, 0.1), STREAM_S)

    stopping = getattr(request.app.state, "stopping", lambda: False)     # set by `auengine serve`

    async def messages():
        nonlocal cursor
        yield "retry: 1000\n\n"
        while time.monotonic() < ends and not stopping() and not await request.is_disconnected():
            found = await run_in_threadpool(_poll, request, bed, cursor)
            if found:
                cursor = found[-1][0]
                items = [{**item, "session": session} for _, session, item in found]
                yield f"id: {cursor}\ndata: {json.dumps({'items': items})}\n\n"
            else:
                await asyncio.sleep(POLL_S)

    return StreamingResponse(messages(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/api/monitor/{bed}/sessions")
def bed_sessions(bed: str, user: User = Depends(reader), db=Depends(get_db)):
    """The bed's stored sessions, newest first (to review one afterwards)."""
    return live.list_sessions(db, _check_bed(bed))


@router.get("/api/monitor/{bed}/sessions/{session}")
def bed_session(bed: str, session: str, user: User = Depends(reader), db=Depends(get_db)):
    """Every item of one session (events and per-second points), in the order received."""
    items = live.session_items(db, _check_bed(bed), session)
    if not items:
        raise HTTPException(404, f"bed {bed!r} has no session {session!r}")
    return {"bed": bed, "session": session, "items": items}
