"""Engine and sessions: SQLite in DATA/auengine.db (WAL) by default, any SQLAlchemy URL otherwise.

``open_database`` applies the Alembic migrations shipped in store/migrations/ before
handing out sessions, so a new data folder and an old one both end at the current schema.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InputError

MIGRATIONS = Path(__file__).parent / "migrations"
DB_FILE = "auengine.db"


@dataclass
class Database:
    """An engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]
    url: str

    def session(self) -> Session:
        return self.sessions()


def database_url(data: str | Path, url: str | None = None) -> str:
    """The URL given, or SQLite in ``data``/auengine.db."""
    return url or f"sqlite:///{Path(data).resolve() / DB_FILE}"


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a 30 s busy timeout and enforced foreign keys on each connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True)
    raise InputError(f"--db {url!r}: use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(data: str | Path, url: str | None = None, *, upgrade: bool = True) -> Database:
    """Connect (creating ``data`` for SQLite) and migrate."""
    Path(data).mkdir(parents=True, exist_ok=True)
    url = database_url(data, url)
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return Database(engine, sessionmaker(engine, expire_on_commit=False), url)
