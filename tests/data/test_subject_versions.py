"""The data version per subject: a committed transaction sets exactly the subjects whose tables it wrote (through
ORM objects, INSERT/UPDATE/DELETE statements, bulk inserts, upserts; raw SQL counts as every table) to the data
version it bumped, and nothing else moves; another app server (another process) sees each change on its next run.

Expected versions are read straight from the subject_versions and data_version rows, not through data_access.db.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from data_access import clock, db
from data_access.actions.payments import record_payment
from data_access.actions.tickets import change_status
from data_access.audit import LockedOut, record_event
from data_access.models import (
    Base,
    DataVersion,
    Invoice,
    LoginAttempt,
    SubjectVersion,
    Ticket,
)
from data_access.permissions import Actor
from data_access.queries.aging import AgingFilter
from data_access.queries.receivables import receivables_summary
from data_access.queries.tickets import backlog_by_age
from data_access.subjects import BOOKKEEPING, SUBJECTS, TABLES
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)  # the moment the ticket reads are asked about (part of their key)


def stored() -> tuple[int, dict[str, int]]:
    """The data version and every subject's version row, read directly."""
    with db.get_engine().connect() as connection:
        version = connection.scalar(select(DataVersion.version)) or 0
        rows = connection.execute(select(SubjectVersion.subject, SubjectVersion.version)).all()
    return int(version), {subject: int(number) for subject, number in rows}


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {subject: number for subject, number in after.items() if before.get(subject) != number}


def changes_of(work: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """The data version after `work` and the subjects it moved (with their new versions)."""
    _, before = stored()
    work()
    version, after = stored()
    return version, moved(before, after)


def in_transaction(work: Callable[[Any], object]) -> Callable[[], None]:
    def run() -> None:
        with db.transaction() as session:
            work(session)

    return run


@pytest.fixture
def customer_with_ticket(database: str) -> str:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=45), cents=120_000)
    factories.ticket("C-1", "T-1", status="open")
    return "C-1"


def test_every_table_belongs_to_exactly_one_subject_or_is_the_versions_own() -> None:
    listed = [table for tables in TABLES.values() for table in tables]
    assert len(listed) == len(set(listed)), "a table in two subjects"
    assert set(listed) | BOOKKEEPING == {table.name for table in Base.metadata.sorted_tables}
    assert not set(listed) & BOOKKEEPING


def test_a_ticket_update_moves_the_tickets_and_the_audit_log_only(customer_with_ticket: str) -> None:
    start, _ = stored()
    version, changed = changes_of(lambda: change_status(HELPDESK, ticket_id="T-1", status="pending customer"))
    assert version == start + 1
    assert changed == {"tickets": version, "audit": version}


def test_a_payment_moves_the_receivables_and_never_the_tickets_or_the_customer(
    customer_with_ticket: str,
) -> None:
    version, changed = changes_of(
        lambda: record_payment(
            BILLING, customer_id="C-1", amount=Decimal("100.00"), received_on=clock.today()
        )
    )
    assert changed["receivables"] == changed["audit"] == version
    # The payment locks the customer's row but changes nothing of it; the ledger's refresh of the customer's
    # collections state may move "collections", and nothing else may move.
    assert set(changed) - {"receivables", "audit", "collections"} == set()


def test_core_statements_bulk_inserts_and_upserts_are_detected(customer_with_ticket: str) -> None:
    def bulk_tickets(session: Any) -> None:
        customer_pk = session.scalar(select(Ticket.customer_id).where(Ticket.external_id == "T-1"))
        rows = [
            {"external_id": f"T-{n}", "customer_id": customer_pk, "title": "bulk", "category": "other",
             "severity": "minimal", "status": "new", "created_at": NOW}
            for n in (2, 3)
        ]  # fmt: skip
        session.execute(insert(Ticket), rows)

    def dispute(session: Any) -> None:
        session.execute(update(Invoice).where(Invoice.number == "I-1").values(disputed=True))

    def core_table_insert(session: Any) -> None:
        table = Base.metadata.tables["microsoft_invoices"]
        session.execute(
            table.insert().values(number="MS-1", amount_cents=500, currency="USD", due_date=date(2026, 12, 1))
        )

    def upsert(session: Any) -> None:
        dialect_insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        session.execute(
            dialect_insert(LoginAttempt)
            .values(username="someone", failed_count=1)
            .on_conflict_do_update(index_elements=[LoginAttempt.username], set_={"failed_count": 2})
        )

    def core_delete(session: Any) -> None:
        session.execute(Base.metadata.tables["holidays"].delete())

    expected = {
        bulk_tickets: {"tickets"},
        dispute: {"receivables"},
        core_table_insert: {"payables"},
        upsert: {"users"},
        core_delete: {"policies"},
    }
    for work, subjects in expected.items():
        version, changed = changes_of(in_transaction(work))
        assert changed == dict.fromkeys(subjects, version), work.__name__


def test_raw_sql_that_writes_moves_every_subject_and_raw_sql_that_reads_moves_none(
    customer_with_ticket: str,
) -> None:
    version, changed = changes_of(
        in_transaction(
            lambda s: s.execute(text("UPDATE customers SET country = 'DE' WHERE external_id = 'C-1'"))
        )
    )
    assert changed == dict.fromkeys(SUBJECTS, version)
    version, changed = changes_of(
        in_transaction(functools.partial(run_sql, "/* fix */ -- by hand\n DELETE FROM holidays"))
    )
    assert changed == dict.fromkeys(SUBJECTS, version)
    for reading in (
        "SELECT count(*) FROM tickets",
        "WITH open AS (SELECT id FROM invoices WHERE open_cents > 0) SELECT count(*) FROM open",
    ):
        start, _ = stored()
        version, changed = changes_of(in_transaction(functools.partial(run_sql, reading)))
        assert (version, changed) == (start + 1, {}), reading


def run_sql(sql: str, session: Any) -> None:
    session.execute(text(sql))


def test_a_transaction_that_fails_moves_nothing(customer_with_ticket: str) -> None:
    before = stored()

    def fails(session: Any) -> None:
        session.execute(update(Ticket).values(status="closed"))
        raise RuntimeError("refused after writing")

    with pytest.raises(RuntimeError):
        in_transaction(fails)()
    assert stored() == before


def test_an_unversioned_transaction_moves_nothing_unless_it_changes_what_readers_show(database: str) -> None:
    before = stored()
    with db.transaction(versioned=False) as session:
        session.add(LoginAttempt(username="quiet", failed_count=1))
    assert stored() == before

    def lock_out() -> None:
        with db.transaction(versioned=False) as session:
            session.add(LoginAttempt(username="loud", failed_count=5, locked_until=NOW))
            db.changes_reads(session)
            record_event(session, Actor("system", frozenset()), LockedOut(failed_attempts=5, locked_until=NOW),
                         target="user:loud")  # fmt: skip

    version, changed = changes_of(lock_out)
    assert version == before[0] + 1
    assert changed == {"users": version, "audit": version}


def test_the_version_read_once_per_run_follows_the_runs_own_writes(customer_with_ticket: str) -> None:
    """A run keys reads on the versions read at its start; what it writes itself moves its subjects at once."""
    db.set_read_floor(0)
    start = db.data_version()
    tickets_then = db.subjects_version(["tickets"])
    receivables_then = db.subjects_version(["receivables", "customers"])
    change_status(HELPDESK, ticket_id="T-1", status="pending customer")
    version, rows = stored()
    assert version > start
    assert db.subjects_version(["tickets"]) == rows["tickets"] == version > tickets_then
    assert db.subjects_version(["receivables", "customers"]) == receivables_then
    assert db.subjects_version([]) == 0


# Another app server: a process of its own with its own engine, doing what it is told.


def _other_server(commands: Any, answers: Any) -> None:
    from data_access.actions.payments import record_payment
    from data_access.actions.tickets import change_status

    while (command := commands.get()) is not None:
        try:
            if command[0] == "ticket":
                change_status(HELPDESK, ticket_id="T-1", status=command[1])
                answers.put("ok")
            elif command[0] == "pay":
                record_payment(BILLING, customer_id="C-1", amount=command[1], received_on=clock.today())
                answers.put("ok")
            else:
                db.set_read_floor(0)  # a new run on this server
                db.data_version()
                answers.put({subject: db.subjects_version([subject]) for subject in command[1]})
        except Exception as error:
            answers.put(f"crash: {type(error).__name__}: {error}")
    db.dispose_engines()


class OtherServer:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.commands = context.Queue()
        self.answers = context.Queue()
        self.process = context.Process(target=_other_server, args=(self.commands, self.answers), daemon=True)
        self.process.start()

    def ask(self, *command: Any) -> Any:
        self.commands.put(command)
        return self.answers.get(timeout=120)

    def close(self) -> None:
        self.commands.put(None)
        self.process.join(timeout=30)


@pytest.fixture
def other_server(customer_with_ticket: str) -> Iterator[OtherServer]:
    db.dispose_engines()
    server = OtherServer()
    yield server
    server.close()


def counted(function: Callable[..., Any], calls: list[str]) -> Callable[..., Any]:
    """`function` that notes each call; it keeps its name, so cached() keys it on the subjects declared for it."""

    @functools.wraps(function)
    def noting(*args: Any, **kwargs: Any) -> Any:
        calls.append(function.__name__)
        return function(*args, **kwargs)

    return noting


def test_two_servers_see_each_others_subject_changes_on_their_next_run(other_server: OtherServer) -> None:
    from ui.cache import cached

    calls: list[str] = []
    receivables = cached(counted(receivables_summary, calls))
    backlog = cached(counted(backlog_by_age, calls))
    today = AgingFilter(as_of=clock.today())

    def next_run() -> Decimal:
        db.set_read_floor(0)
        db.data_version()
        backlog(HELPDESK, now=NOW)
        return Decimal(receivables(BILLING, today).amount.sum())

    assert next_run() == Decimal("1200.00")
    assert calls == ["backlog_by_age", "receivables_summary"]

    assert other_server.ask("ticket", "pending customer") == "ok"
    calls.clear()
    assert next_run() == Decimal("1200.00")
    assert calls == ["backlog_by_age"]  # the receivables stayed warm

    assert other_server.ask("pay", Decimal("200.00")) == "ok"
    calls.clear()
    assert next_run() == Decimal("1000.00")
    assert calls == ["receivables_summary"]  # the ticket backlog stayed warm

    change_status(HELPDESK, ticket_id="T-1", status="open")  # this server writes; the other reads it
    version, rows = stored()
    seen = other_server.ask("versions", ["tickets", "receivables", "customers"])
    assert seen == {"tickets": version, "receivables": rows["receivables"], "customers": rows["customers"]}
    assert rows["receivables"] < version
