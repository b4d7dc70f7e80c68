"""Accounts: users (argon2 passwords), API tokens, browser sessions, login rate limits, the audit log."""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ..errors import InputError
from .models import ROLES, ApiToken, AuditEvent, LoginAttempt, Session, User, utcnow

TOKEN_PREFIX = "aue_"
SESSION_HOURS = 12
#: failed logins allowed per name and per client address within the window, then 429
LOGIN_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def token_hash(token: str) -> str:
    """sha256 hex of a token or session id (both are 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(db: DbSession, name: str, role: str, password: str) -> User:
    """Create a user; a name in use (even by a deleted user) or an unknown role is refused."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise InputError(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < 8:
        raise InputError("password: use at least 8 characters")
    if db.scalar(select(User).where(User.name == name)) is not None:
        raise InputError(f"user {name!r} exists already")
    user = User(name=name, role=role, password_hash=_hasher().hash(password))
    db.add(user)
    db.flush()
    return user


def find_user(db: DbSession, name: str) -> User | None:
    """The active (not deleted) user called ``name``."""
    return db.scalar(select(User).where(User.name == name, User.deleted_at.is_(None)))


def active_users(db: DbSession) -> list[User]:
    return list(db.scalars(select(User).where(User.deleted_at.is_(None)).order_by(User.name)))


def delete_user(db: DbSession, user: User) -> None:
    """Deactivate a user (kept for the audit log and reviews): sessions and tokens stop working."""
    user.deleted_at = utcnow()
    for row in db.scalars(select(Session).where(Session.user_id == user.id)):
        db.delete(row)
    for row in db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        db.delete(row)


def check_password(user: User, password: str) -> bool:
    from argon2.exceptions import VerificationError, InvalidHashError

    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(db: DbSession, user: User) -> str:
    """A new API token for ``user``; only its hash is stored, so this is the one chance to see it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    return token


def user_of_token(db: DbSession, token: str) -> User | None:
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    return row.user if row is not None and row.user.deleted_at is None else None


def new_session(db: DbSession, user: User) -> tuple[str, Session]:
    """A browser session: (raw cookie value, row with its CSRF token)."""
    raw = secrets.token_urlsafe(32)
    row = Session(user_id=user.id, token_hash=token_hash(raw), csrf=secrets.token_urlsafe(32),
                  expires_at=utcnow() + timedelta(hours=SESSION_HOURS))
    db.add(row)
    return raw, row


def session_of_cookie(db: DbSession, raw: str) -> Session | None:
    row = db.scalar(select(Session).where(Session.token_hash == token_hash(raw)))
    if row is None or row.expires_at < utcnow() or row.user.deleted_at is not None:
        return None
    return row


def end_session(db: DbSession, raw: str) -> None:
    row = db.scalar(select(Session).where(Session.token_hash == token_hash(raw)))
    if row is not None:
        db.delete(row)


def login_blocked(db: DbSession, name: str, address: str) -> bool:
    """Whether recent failed logins for this name or from this address exceed the limit."""
    since = utcnow() - LOGIN_WINDOW
    failures = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False),
                                                                    LoginAttempt.at >= since)
    by_name = db.scalar(failures.where(LoginAttempt.name == name[:64]))
    by_address = db.scalar(failures.where(LoginAttempt.address == address[:64]))
    return max(by_name or 0, by_address or 0) >= LOGIN_FAILURES


def record_login(db: DbSession, name: str, address: str, ok: bool) -> None:
    db.add(LoginAttempt(name=name[:64], address=address[:64], ok=ok))


def audit(db: DbSession, user: User | None, action: str, target: str, **detail) -> None:
    """Append an audit event (create, review, export, delete, ...) with the user and time."""
    db.add(AuditEvent(user_id=user.id if user else None, user_name=user.name if user else "-", action=action,
                      target=target, detail=json.dumps(detail, default=str) if detail else ""))


def audit_events(db: DbSession, limit: int = 500) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
