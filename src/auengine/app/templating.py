"""The Jinja2 templates of the pages (app/templates/), shared by the routes and the error handler."""
from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
