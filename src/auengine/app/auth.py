"""Who is asking: session cookie or ``Authorization: Bearer TOKEN``; roles; CSRF on every write.

Every route takes one of the dependencies below (``reader``, ``writer``, ``admin``); the route
test enumerates the app's routes so that a new route cannot skip them. A missing login is
a 401 for /api/ and a redirect to /login for pages.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Iterator

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session as DbSession

from ..store import accounts
from ..store.models import Session, User

SESSION_COOKIE = "auengine_session"
LOGIN_CSRF_COOKIE = "auengine_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
WRITE_ROLES = ("clinician", "admin")
READ_ROLES = ("clinician", "admin", "researcher")


class NotAuthenticated(Exception):
    """No valid session or token (handled: 401 for the API, redirect for pages)."""


@dataclass
class Principal:
    user: User
    session: Session | None          # None when authenticated by API token (no CSRF needed: not a cookie)


def get_db(request: Request) -> Iterator[DbSession]:
    with request.app.state.db.session() as db:
        yield db


def authenticate(request: Request, db: DbSession = Depends(get_db)) -> Principal:
    """The caller's user and session. The read transaction ends here, so that its database connection
    goes back to the pool while an upload's body streams in (20 slow uploads would otherwise hold 20
    connections and starve the pool)."""
    try:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            user = accounts.user_of_token(db, header[7:].strip())
            if user is None:
                raise NotAuthenticated()
            return Principal(user, None)
        raw = request.cookies.get(SESSION_COOKIE)
        row = accounts.session_of_cookie(db, raw) if raw else None
        if row is None:
            raise NotAuthenticated()
        request.state.csrf = row.csrf
        return Principal(row.user, row)
    finally:
        db.commit()                     # nothing to write; sessions keep loaded objects (expire_on_commit=False)


async def check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated writes must carry the session's CSRF token (form field or header)."""
    if principal.session is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not sent or not hmac.compare_digest(str(sent), principal.session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def _role_dependency(roles: tuple[str, ...], write: bool):
    async def dependency(request: Request, principal: Principal = Depends(authenticate)) -> User:
        if principal.user.role not in roles:
            raise HTTPException(403, f"{principal.user.role}s may not do this (needs: {', '.join(roles)})")
        if write:
            await check_csrf(request, principal)
        return principal.user

    return dependency


#: any logged-in user, read only
reader = _role_dependency(READ_ROLES, write=False)
#: clinicians and admins; CSRF-checked
writer = _role_dependency(WRITE_ROLES, write=True)
#: admins only, reading
admin_reader = _role_dependency(("admin",), write=False)
#: admins only; CSRF-checked
admin_writer = _role_dependency(("admin",), write=True)
#: any logged-in user, CSRF-checked (logout)
any_writer = _role_dependency(READ_ROLES, write=True)


def login_csrf(request: Request) -> str:
    """The pre-login CSRF token (double-submit cookie), new when absent."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
