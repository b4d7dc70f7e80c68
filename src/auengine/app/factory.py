"""The FastAPI application: settings, security headers, error pages, one router per area."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..errors import InputError
from ..store.db import open_database
from ..store.layout import DataLayout
from .auth import NotAuthenticated
from .templating import templates

CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; script-src 'self'; style-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@dataclass(frozen=True)
class AppSettings:
    data: Path
    db_url: str | None = None
    max_upload_bytes: int = 2 * 1024 ** 3
    secure_cookies: bool = False        # set behind HTTPS (a reverse proxy): cookies then only travel encrypted
    researcher_media: str = "blur"      # how faces in images researchers receive are de-identified: blur|mask|phantom




def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def create_app(settings: AppSettings) -> FastAPI:
    """The app for one data folder; migrations are applied here, before the first request."""
    from .routes import admin, agreement, api, exports, imports, media, monitor, pages, session

    app = FastAPI(title="auengine review service", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = open_database(settings.data, settings.db_url)
    app.state.layout = DataLayout(Path(settings.data))
    app.state.layout.create()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "login required (session or Authorization: Bearer TOKEN)"}, 401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse("/login", 303)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(request, 422, details)

    for module in (session, pages, media, exports, admin, agreement, imports, api, monitor):
        app.include_router(module.router)
    return app


def _error(request: Request, status: int, message: str, headers=None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status, headers=headers)
    return templates.TemplateResponse(request, "error.html", {"status": status, "message": message}, status_code=status,
                                      headers=headers)
