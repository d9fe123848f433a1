"""Writing the demo data set into an empty database, all of it in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from data_access import clock
from data_access.actions.collections_run import full_refresh
from data_access.db import analyze, transaction
from data_access.demo.dataset import demo_tables
from data_access.errors import InvalidAction
from data_access.models import Customer

DEMO_RUNS = (28, 21, 14, 7, 0)
"""Days before the demo's today of the collections runs it replays, so the stored state has a stage history."""


def _holds_customers(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Customer)) != 0


def database_is_empty() -> bool:
    """Demo data goes only into a database without customers."""
    with transaction() as session:
        return not _holds_customers(session)


def _reset_sequences(session: Session, tables: list[str]) -> None:
    """Rows were inserted with explicit ids; PostgreSQL's sequences must move past them for later inserts."""
    for table in tables:
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT MAX(id) FROM {table}))"),
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
        for model, rows in tables.items():
            report(f"Writing {model.__tablename__} ({len(rows)})")
            if rows:
                session.execute(insert(model), rows)
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            _reset_sequences(session, [model.__tablename__ for model, rows in tables.items() if rows])
        report("Replaying the last four weeks' collections runs")
        for days in DEMO_RUNS:
            full_refresh(session, as_of=day - timedelta(days=days), by="demo")
    analyze()
    return {model.__tablename__: len(rows) for model, rows in tables.items()}
