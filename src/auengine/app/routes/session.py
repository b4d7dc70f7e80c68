"""Login (rate-limited, CSRF double-submit cookie), logout, health check: the only public routes."""
from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text

from ...store import accounts
from ..auth import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, Principal, authenticate, any_writer, client_address, get_db,
                    login_csrf)
from ..templating import templates

router = APIRouter()
#: routes reachable without a login (tests/test_app_routes.py checks that every other route needs one)
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}


@router.get("/healthz")
def healthz(db=Depends(get_db)):
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


def _login_page(request: Request, error: str = "", status: int = 200):
    token = login_csrf(request)
    response = templates.TemplateResponse(request, "login.html", {"csrf": token, "error": error, "user": None},
                                          status_code=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, name: str = Form(...), password: str = Form(...), csrf: str = Form(""),
          db=Depends(get_db)):
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        return _login_page(request, "The form expired: please try again.", 403)
    address = client_address(request)
    if accounts.login_blocked(db, name, address):
        return _login_page(request, "Too many failed logins: wait 15 minutes and try again.", 429)
    user = accounts.find_user(db, name)
    ok = user is not None and accounts.check_password(user, password)
    accounts.record_login(db, name, address, ok)
    if not ok:
        db.commit()
        return _login_page(request, "Wrong name or password.", 401)
    raw, _ = accounts.new_session(db, user)
    accounts.audit(db, user, "login", f"user:{user.id}", address=address)
    db.commit()
    response = RedirectResponse("/", 303)
    response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax", max_age=accounts.SESSION_HOURS * 3600,
                        secure=request.app.state.settings.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, user=Depends(any_writer), db=Depends(get_db)):
    accounts.end_session(db, request.cookies.get(SESSION_COOKIE, ""))
    db.commit()
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/api/me")
def me(principal: Principal = Depends(authenticate)):
    return JSONResponse({"name": principal.user.name, "role": principal.user.role})
