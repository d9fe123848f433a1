"""What was open and overdue at past month ends, per currency, kept in `receivables_month_ends` (the Overview's
trend reads it instead of summing a year of payments again on every read).

A stored row is what `ledger.open_at` gives at its month end, and stays so: every transaction that writes invoices,
payment allocations or credit notes deletes, in that transaction, the rows from its earliest date on (an update
of no known date: every row; data_access.db). A reader stores what it computed only when no write to the ledger
committed since it read: it takes the data version's row lock (the one every writer takes just before it deletes
rows and commits), then checks that the receivables version is still the one it read before computing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from data_access.db import transaction
from data_access.models import DataVersion, ReceivablesMonthEnd, SubjectVersion
from data_access.subjects import RECEIVABLES

Point = tuple[int, int]  # cents open, of them overdue


def ledger_version(session: Session) -> int:
    """The version at which the ledger (the receivables subject) last changed; read it before what is computed."""
    return int(
        session.scalar(select(SubjectVersion.version).where(SubjectVersion.subject == RECEIVABLES)) or 0
    )


def stored(session: Session, currency: str, ends: Iterable[date]) -> dict[date, Point]:
    """The stored (open, overdue) cents of those month ends that have a row."""
    wanted = list(ends)
    if not wanted:
        return {}
    rows = session.execute(
        select(ReceivablesMonthEnd.month_end, ReceivablesMonthEnd.open_cents, ReceivablesMonthEnd.overdue_cents)
        .where(ReceivablesMonthEnd.currency == currency, ReceivablesMonthEnd.month_end.in_(wanted))
    )  # fmt: skip
    return {row.month_end: (int(row.open_cents), int(row.overdue_cents)) for row in rows}


def keep(currency: str, points: Mapping[date, Point], read_at: int) -> bool:
    """Store month ends computed from what was committed at ledger version `read_at`, unless the ledger changed
    since (then nothing is stored: the next reader computes them again). A database that cannot take the write
    now (SQLite busy past its timeout) is left as it is: the figures were right, only not kept."""
    if not points:
        return False
    try:
        with transaction(versioned=False) as session:
            session.execute(select(DataVersion.version).where(DataVersion.id == 1).with_for_update())
            if ledger_version(session) != read_at:
                return False
            insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            rows = [{"currency": currency, "month_end": end, "open_cents": open_cents, "overdue_cents": overdue}
                    for end, (open_cents, overdue) in sorted(points.items())]  # fmt: skip
            session.execute(insert(ReceivablesMonthEnd).values(rows).on_conflict_do_nothing())
    except OperationalError:
        return False
    return True
