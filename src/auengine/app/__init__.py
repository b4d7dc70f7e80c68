"""`auengine serve`: the review web app (FastAPI + Jinja2), see docs/app.md."""
