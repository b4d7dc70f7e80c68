"""Admin pages: users (add, delete), models (register a bundle folder on the server), the audit log."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from ...errors import AuEngineError
from ...store import accounts, records
from ...store.models import ROLES, User
from ..auth import admin_reader, admin_writer, get_db
from ..templating import templates

router = APIRouter(prefix="/admin")


def _page(request: Request, user: User, db, error: str = "", status: int = 200):
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "users": accounts.active_users(db),
               "models": records.list_models(db), "roles": ROLES, "error": error}
    return templates.TemplateResponse(request, "admin.html", context, status_code=status)


@router.get("")
def admin_page(request: Request, user: User = Depends(admin_reader), db=Depends(get_db)):
    return _page(request, user, db)


@router.post("/users")
def add_user(request: Request, name: str = Form(...), role: str = Form(...), password: str = Form(...),
             user: User = Depends(admin_writer), db=Depends(get_db)):
    try:
        created = accounts.add_user(db, name, role, password)
    except AuEngineError as exc:
        db.rollback()
        return _page(request, user, db, str(exc), 400)
    accounts.audit(db, user, "create", f"user:{created.id}", name=name, role=role)
    db.commit()
    return RedirectResponse("/admin", 303)


@router.post("/users/{user_id}/delete")
def delete_user(user_id: int, user: User = Depends(admin_writer), db=Depends(get_db)):
    target = db.get(User, user_id)
    if target is None or target.deleted_at is not None:
        raise HTTPException(404, f"no user {user_id}")
    if target.id == user.id:
        raise HTTPException(400, "an admin cannot delete their own account")
    accounts.delete_user(db, target)
    accounts.audit(db, user, "delete", f"user:{user_id}", name=target.name)
    db.commit()
    return RedirectResponse("/admin", 303)


@router.post("/models")
async def add_model(request: Request, user: User = Depends(admin_writer), db=Depends(get_db)):
    form = await request.form()
    name, bundle = str(form.get("name", "")).strip(), str(form.get("bundle", "")).strip()
    try:
        await run_in_threadpool(_register, db, request.app.state.layout, user, bundle, name)
    except AuEngineError as exc:
        db.rollback()
        return await run_in_threadpool(_page, request, user, db, str(exc), 400)
    return RedirectResponse("/admin", 303)


def _register(db, layout, user: User, bundle: str, name: str) -> None:
    """Register and audit in a worker thread: no database work on the event loop."""
    model = records.register_model(db, layout, bundle, name)
    accounts.audit(db, user, "create", f"model:{model.id}", name=name, sha256=model.sha256)
    db.commit()


@router.get("/audit")
def audit_page(request: Request, user: User = Depends(admin_reader), db=Depends(get_db)):
    context = {"user": user, "csrf": getattr(request.state, "csrf", ""), "events": accounts.audit_events(db)}
    return templates.TemplateResponse(request, "audit.html", context)
