"""Test databases: empty every table, and a URL for another database on the same server."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from data_access.db import transaction
from data_access.models import Base


def empty_all_tables() -> None:
    """Delete every row, children first, so a test (or a hypothesis example) starts from nothing."""
    with transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "data_version":  # the version only ever goes up (caches are keyed on it)
                session.execute(table.delete())


def postgres_server_url(database_url: str, name: str) -> str:
    """The same server as `database_url`, another database name."""
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)
