"""Writing the demo data set into an empty database, all of it in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from data_access import clock
from data_access.actions.collections_run import full_refresh
from data_access.db import analyze, transaction
from data_access.demo.dataset import demo_tables
from data_access.errors import InvalidAction
from data_access.models import Base, Customer, PartnerCenterLine

COPIED: tuple[type[Base], ...] = (PartnerCenterLine,)
"""Tables written with COPY on PostgreSQL: tens of thousands of plain rows (dates, numbers, text), which INSERT
takes seconds to send."""
DEMO_RUNS = (28, 21, 14, 7, 0)
"""Days before the demo's today of the collections runs it replays, so the stored state has a stage history."""
RUN_TIME = time(6, 0)
"""When (UTC) the replayed runs ran: the same rows for the same seed and day."""


def _holds_customers(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Customer)) != 0


def database_is_empty() -> bool:
    """Demo data goes only into a database without customers."""
    with transaction() as session:
        return not _holds_customers(session)


def _copy(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Rows into `model`'s table with PostgreSQL's COPY, in the session's transaction."""
    columns = list(rows[0])
    table = model.__tablename__
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _reset_sequences(session: Session, tables: list[str]) -> None:
    """Rows were inserted with explicit ids; PostgreSQL's sequences must move past them for later inserts."""
    for table in tables:
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT MAX(id) FROM {table}))"),
            {"table": table},
        )


def _restart_sequences(session: Session, tables: list[str]) -> None:
    """The next id of each table right after its highest (1 in an empty table)."""
    for table in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT COALESCE(MAX(id), 0) + 1 "
                f"FROM {table}), false)"
            ),
            {"table": table},
        )


def seed_demo(
    *,
    customers: int = 300,
    seed: int = 42,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Fill an empty database with demo data; the same seed and day always give the same rows."""
    if customers < 1:
        raise InvalidAction("Ask for at least one demo customer.")
    report = progress or (lambda _message: None)
    with transaction() as session:
        if _holds_customers(session):
            raise InvalidAction(
                "The database already holds customers; demo data goes only into an empty database."
            )
        report(f"Drawing {customers} customers and two years of billing")
        day = today or clock.today()
        tables = demo_tables(customer_count=customers, seed=seed, today=day)
        postgres = session.get_bind().dialect.name == "postgresql"
        for model, rows in tables.items():
            report(f"Writing {model.__tablename__} ({len(rows)})")
            if rows and postgres and model in COPIED:
                _copy(session, model, rows)
            elif rows:
                session.execute(insert(model), rows)
        if postgres:
            _reset_sequences(session, [model.__tablename__ for model, rows in tables.items() if rows])
        report("Replaying the last four weeks' collections runs")
        if postgres:  # the same rows every time: numbered from 1 in an empty database
            _restart_sequences(session, ["collections_runs", "collection_stage_changes"])
        for days in DEMO_RUNS:
            run_day = day - timedelta(days=days)
            at = datetime.combine(run_day, RUN_TIME, tzinfo=UTC)
            full_refresh(session, as_of=run_day, by="demo", at=at, host="demo")
    analyze()
    return {model.__tablename__: len(rows) for model, rows in tables.items()}
