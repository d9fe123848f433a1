"""Engines built lazily from the environment; a read session and a transaction that commits or rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from data_access.config import settings

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def engine_for(url: str) -> Engine:
    """One engine per URL for the life of the process; SQLite gets foreign keys and WAL on every connection."""
    if url not in _engines:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 10})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
    return _engines[url]


def get_engine() -> Engine:
    return engine_for(settings().database_url)


def get_read_engine() -> Engine:
    read_url = settings().database_read_url
    return engine_for(read_url) if read_url else get_engine()


def dispose_engines() -> None:
    """Forget every engine (tests point DATABASE_URL elsewhere between cases)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work on the primary: commits when the block ends, rolls back if it raises."""
    with Session(get_engine(), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for queries only (on the read replica when one is configured)."""
    with Session(get_read_engine()) as session:
        yield session
