"""Database tables of the review service (SQLAlchemy 2 typed ORM).

Times are naive UTC datetimes (``utcnow()``), the same on SQLite and PostgreSQL.
Reviews and audit events are append-only: no code path updates them; deleting a recording deletes its
epochs and reviews (its row stays as a tombstone), audit events are never deleted.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "clinician", "researcher")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (how every time is stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class ApiToken(Base):
    """A bearer token, stored as its sha256 (tokens are 256 random bits, so no slow hash is needed)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User] = relationship()


class Session(Base):
    """A browser login: the cookie holds the raw id, the table its sha256, with the session's CSRF token."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Model(Base):
    """A registered bundle, copied into DATA/models/<name>/."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    folder: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    scale: Mapped[str] = mapped_column(String(16))
    synthetic: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Recording(Base):
    """One uploaded video; its files live in DATA/recordings/<folder>/."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    patient: Mapped[str] = mapped_column(String(64), index=True)
    scale: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    size_bytes: Mapped[int] = mapped_column(Integer)
    has_epochs_csv: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    summary_json: Mapped[str | None] = mapped_column(Text, default=None)
    model: Mapped[Model] = relationship()
    owner: Mapped[User] = relationship()
    job: Mapped["Job"] = relationship(back_populates="recording", uselist=False)


class Job(Base):
    """Scoring of one recording (one job per recording: scoring is idempotent per recording).

    A worker claims a queued job, or a running one whose lease expired (its worker died), by
    a conditional UPDATE; it renews the lease with each progress heartbeat.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    frames_total: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    recording: Mapped[Recording] = relationship(back_populates="job")


class Epoch(Base):
    """An epoch of a scored recording (imported from its epochs.csv once, keyed by (recording, index))."""

    __tablename__ = "epochs"
    __table_args__ = (UniqueConstraint("recording_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(255), default="")
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    intensity_mean: Mapped[float | None] = mapped_column(Float, default=None)
    intensity_max: Mapped[float | None] = mapped_column(Float, default=None)
    level: Mapped[int] = mapped_column(Integer, default=-1)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    face_share: Mapped[float] = mapped_column(Float, default=0.0)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    thumbnail: Mapped[str | None] = mapped_column(String(64), default=None)
    recording: Mapped[Recording] = relationship()


class Review(Base):
    """A clinician's score for an epoch; a correction is a new row."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch_id: Mapped[int] = mapped_column(ForeignKey("epochs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    score: Mapped[float | None] = mapped_column(Float, default=None)
    not_assessable: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user: Mapped[User] = relationship()
    epoch: Mapped[Epoch] = relationship()


class AuditEvent(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text, default="")


class MonitorItem(Base):
    """One item a bedside monitor posted (docs/monitor.md "Live page"): an event or a per-second point.

    ``key`` (kind, event, time, t_s) is unique per (bed, session), so a batch sent twice is stored once.
    """

    __tablename__ = "monitor_items"
    __table_args__ = (UniqueConstraint("bed", "session", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bed: Mapped[str] = mapped_column(String(64), index=True)
    session: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
