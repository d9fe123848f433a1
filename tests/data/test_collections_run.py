"""The daily collections run: idempotent, safe from several sessions and servers at once (threads and processes, on
SQLite and PostgreSQL), never overwriting a customer's state with what it read before a payment committed, refusing
a day it cannot run for, sending only with --send and never twice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from data_access import clock, ledger
from data_access.actions import collections, collections_run
from data_access.actions.payments import record_payment
from data_access.audit import CollectionsRunRecorded, parse_event
from data_access.db import dispose_engines, read_session, transaction
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, CollectionsRun, CollectionState, OutboxMessage
from data_access.permissions import PermissionDenied
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING, SALES
from tests.support.cli import cli
from tests.support.collections_state import history, state_problems, stored_states
from tests.support.environment import ROOT

TODAY = clock.today()
# (customer, days its invoice is past due, cents): one per stage of the demo policy, one under the minimum,
# one not yet due.
BOOK = [("C-1", 3, 40_000), ("C-2", 20, 55_000), ("C-3", 33, 70_000), ("C-4", 50, 90_000), ("C-5", 95, 120_000),
        ("C-6", 10, 2_000), ("C-7", -5, 80_000)]  # fmt: skip
STAGED = 5


def book(*, email: bool = False, copies: int = 1) -> None:
    factories.policy()
    for copy in range(copies):
        for customer, late, cents in BOOK:
            key = f"{customer}-{copy}" if copies > 1 else customer
            extra = {"billing_contact_email": f"{key.lower()}@example.com"} if email else {}
            factories.customer(key, **extra)
            factories.invoice(key, f"I-{key}", issued=TODAY - timedelta(days=30 + late), cents=cents)


def runs() -> list[CollectionsRun]:
    with read_session() as session:
        return list(session.scalars(select(CollectionsRun).order_by(CollectionsRun.id)))


def test_a_second_run_the_same_day_changes_nothing_and_is_recorded(database: str) -> None:
    book()
    first = collections_run.run(BILLING)
    states, stages = stored_states(), [(r.id, r.stage, r.entered_on, r.left_on) for r in history()]
    with read_session() as session:
        written = dict(session.execute(select(CollectionState.customer_id, CollectionState.updated_at)).all())
    second = collections_run.run(BILLING)
    assert (first.customers_assessed, first.stage_changes) == (6, STAGED)
    assert (second.customers_assessed, second.stage_changes) == (6, 0)
    assert stored_states() == states
    assert [(r.id, r.stage, r.entered_on, r.left_on) for r in history()] == stages
    with read_session() as session:
        assert (
            dict(session.execute(select(CollectionState.customer_id, CollectionState.updated_at)).all())
            == written
        )
        audited = session.execute(select(AuditEvent.permission, AuditEvent.details, AuditEvent.actor)).all()
    assert [(r.as_of, r.actor, r.customers_assessed, r.stage_changes) for r in runs()] == [
        (TODAY, "billing", 6, STAGED),
        (TODAY, "billing", 6, 0),
    ]
    assert all(r.finished_at is not None and r.host for r in runs())
    assert [parse_event(permission, details) for permission, details, _ in audited] == [
        CollectionsRunRecorded(as_of=TODAY, customers_assessed=6, stage_changes=changes, send=False)
        for changes in (STAGED, 0)
    ]
    assert state_problems(TODAY) == []


def test_a_run_is_for_today_or_a_day_not_yet_run(database: str) -> None:
    book()
    with pytest.raises(InvalidAction, match="has not come yet"):
        collections_run.run(BILLING, as_of=TODAY + timedelta(days=1))
    collections_run.run(BILLING)
    with pytest.raises(InvalidAction, match="already as of"):
        collections_run.run(BILLING, as_of=TODAY - timedelta(days=1))
    with pytest.raises(PermissionDenied):
        collections_run.run(SALES)
    assert len(runs()) == 1


def test_runs_at_once_in_threads_leave_the_rows_of_one_run(database: str) -> None:
    book(copies=4)
    barrier = threading.Barrier(3)
    results: list[object] = []

    def session() -> None:
        barrier.wait()
        try:
            results.append(collections_run.run(BILLING).stage_changes)
        except Exception as error:  # a crash is a result the test shows
            results.append(error)

    threads = [threading.Thread(target=session) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results, key=str) == [0, 0, 4 * STAGED]
    assert len(history()) == 4 * STAGED
    assert len(runs()) == 3
    assert state_problems(TODAY) == []


def test_runs_from_several_servers_at_once_leave_the_rows_of_one_run(database: str) -> None:
    """Two cron jobs on two servers start `collections run` at the same moment: separate processes."""
    book(copies=4)
    dispose_engines()
    env = {**os.environ, "DATABASE_URL": database}
    started = [
        subprocess.Popen([sys.executable, "-m", "data_access", "collections", "run"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0, 0], outputs
    lines = sorted(out for out, _ in outputs)
    assert all(line.startswith(f"Collections run for {TODAY}: 24 customers assessed, ") for line in lines)
    assert sorted(line.split(", ")[1] for line in lines) == ["0 stage changes", f"{4 * STAGED} stage changes"]
    assert len(history()) == 4 * STAGED
    assert len(runs()) == 2
    assert state_problems(TODAY) == []


def at_once(*works: Callable[[], object]) -> list[BaseException]:
    """Run each in its own thread, all released together; what they raised."""
    barrier = threading.Barrier(len(works))
    errors: list[BaseException] = []

    def session(work: Callable[[], object]) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=session, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_a_payment_during_a_run_is_never_overwritten_by_what_the_run_read_before(database: str) -> None:
    """Payments on overdue customers race full runs, round after round; after each the stored state is fresh."""
    book(copies=6)
    for customer in [f"C-{n}-{copy}" for copy in range(2) for n in (2, 3, 4, 5)]:
        errors = at_once(
            lambda: collections_run.run(BILLING),
            lambda who=customer: record_payment(
                BILLING, customer_id=who, amount=Decimal("300.00"), received_on=TODAY
            ),
        )
        assert errors == []
        assert state_problems(TODAY) == [], customer


def test_a_run_skips_a_customer_a_write_holds_and_reassesses_it_once_the_write_is_over(database: str) -> None:
    """A write holds C-2 (and fails in the end, so it refreshes nothing): the run does everybody else without
    waiting for it, commits, and then reassesses C-2 on its own."""
    if not database.startswith("postgresql"):
        pytest.skip("SQLite's write lock lets no write run beside the run")
    book()
    holding, released_at = threading.Event(), []

    def failing_write() -> None:
        with pytest.raises(RuntimeError), transaction() as session:
            ledger.lock_customer(session, ledger.customer_by_external_id(session, "C-2").id)
            holding.set()
            time.sleep(2)
            released_at.append(datetime.now(UTC))
            raise RuntimeError("refused after all")

    writer = threading.Thread(target=failing_write)
    writer.start()
    holding.wait(10)
    summary = collections_run.run(BILLING)
    writer.join(10)
    (recorded,) = runs()
    assert recorded.finished_at is not None and recorded.finished_at < released_at[0]
    assert (summary.customers_assessed, summary.stage_changes) == (6, STAGED)
    assert (recorded.customers_assessed, recorded.stage_changes) == (6, STAGED)
    assert state_problems(TODAY) == []


def test_a_policy_saved_while_a_write_holds_a_customer_reaches_that_customer_too(database: str) -> None:
    """The save refreshes everybody but C-4, which a write holds (and then fails); once the save has committed,
    C-4 is reassessed under the new policy."""
    if not database.startswith("postgresql"):
        pytest.skip("SQLite's write lock lets no write run beside the save")
    book()
    collections_run.run(BILLING)
    holding = threading.Event()

    def failing_write() -> None:
        with pytest.raises(RuntimeError), transaction() as session:
            ledger.lock_customer(session, ledger.customer_by_external_id(session, "C-4").id)
            holding.set()
            time.sleep(2)
            raise RuntimeError("refused after all")

    writer = threading.Thread(target=failing_write)
    writer.start()
    holding.wait(10)
    factories.saved_policy([Stage("Only", 2, "reminder", "Pay")])
    writer.join(10)
    assert {state["stage"] for state in stored_states().values()} == {"Only"}
    assert state_problems(TODAY) == []


def test_the_command_prints_one_line_and_refuses_in_words(sqlite_database: str) -> None:
    book()
    done = cli("collections", "run", database_url=sqlite_database)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"Collections run for {TODAY}: 6 customers assessed, {STAGED} stage changes, "
    )
    assert "nothing queued or sent (no --send)" in done.stdout and len(done.stdout.splitlines()) == 1
    earlier = cli(
        "collections", "run", "--as-of", str(TODAY - timedelta(days=3)), database_url=sqlite_database
    )
    assert earlier.returncode == 1 and "Traceback" not in earlier.stderr
    assert earlier.stderr.startswith("error: The stored collections state is already as of")
    bad = cli("collections", "run", "--as-of", "tomorrow", database_url=sqlite_database)
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_send_queues_each_reminder_due_once_and_delivers_it(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLING_DESK_SMTP_URL", raising=False)
    monkeypatch.setenv("BILLING_DESK_OUTBOX_DIR", str(tmp_path / "outbox"))
    book(email=True)
    quiet = collections_run.run(BILLING)
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        due = session.scalars(
            select(CollectionState.customer_id).where(
                CollectionState.due_now.in_(("reminder", "final_notice"))
            )
        ).all()
    assert quiet.messages_queued == 0 and len(due) == 3  # Friendly reminder, Second reminder, Final notice
    first = collections_run.run(BILLING, send=True)
    second = collections_run.run(BILLING, send=True)
    assert (first.messages_queued, first.messages_sent) == (3, 3)
    assert (second.messages_queued, second.messages_sent) == (0, 0)
    with read_session() as session:
        queued = session.execute(select(OutboxMessage.customer_id, OutboxMessage.status)).all()
    assert sorted(queued) == sorted((customer, "sent") for customer in due)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    assert [(r.messages_queued, r.messages_sent) for r in runs()] == [(0, 0), (3, 3), (0, 0)]
    assert state_problems(TODAY) == []


def test_a_bad_smtp_setting_leaves_the_run_done_and_the_reminders_queued(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", "http://mail.example.com")
    book(email=True)
    with pytest.raises(InvalidAction, match=r"3 reminders are queued, but nothing was delivered: .*SMTP"):
        collections_run.run(BILLING, send=True)
    with read_session() as session:
        assert sorted(session.scalars(select(OutboxMessage.status))) == ["queued"] * 3
    assert [(r.stage_changes, r.messages_queued, r.messages_sent) for r in runs()] == [(STAGED, 3, 0)]
    assert state_problems(TODAY) == []


def paying(customer: str) -> Callable[[], object]:
    return lambda: record_payment(BILLING, customer_id=customer, amount=Decimal("10.00"), received_on=TODAY)


def noting(customer: str) -> Callable[[], object]:
    return lambda: collections.add_note(BILLING, customer_id=customer, notes="called")


def test_writes_at_once_on_one_customer_never_deadlock_and_leave_the_state_fresh(database: str) -> None:
    """Each kind of write holds its own locks before it refreshes (a payment its customer, a dispute its invoice,
    a note nothing but its activity's reference), paired at the same moment, round after round. (A payment racing a
    dispute on one customer is left out: it deadlocks without any refresh, the payment holding the customer FOR
    UPDATE and the dispute, holding the invoice, inserting an activity whose reference needs that row.)"""
    book(copies=2)
    collections_run.run(BILLING)
    pairs = [
        (
            noting("C-3-0"),
            lambda: collections.open_dispute(BILLING, invoice_number="I-C-3-0", reason="seats"),
        ),
        (noting("C-4-0"), noting("C-4-0")),
        (paying("C-4-0"), noting("C-4-0")),
        (
            lambda: collections.resolve_dispute(BILLING, invoice_number="I-C-3-0", resolution="ok"),
            noting("C-3-0"),
        ),
        (paying("C-5-1"), lambda: collections_run.run(BILLING)),
        (noting("C-5-1"), lambda: collections_run.run(BILLING)),
    ]
    for round_number, (first, second) in enumerate(pairs * 2):
        assert at_once(first, second) == [], round_number
        assert state_problems(TODAY) == [], round_number


def test_first_readers_on_several_servers_at_once_run_once(database: str) -> None:
    book(copies=2)
    assert at_once(*[lambda: collections_run.ensure_current(TODAY)] * 3) == []
    assert [(r.as_of, r.actor, r.stage_changes) for r in runs()] == [
        (TODAY, collections_run.FIRST_READER, 2 * STAGED)
    ]
    assert state_problems(TODAY) == []


def test_the_planner_knows_the_stored_state_after_a_run(database: str) -> None:
    """The pages filter and count collection_states: after the run the planner's statistics must hold its rows
    (PostgreSQL without autovacuum, and SQLite always, would otherwise plan for a table they think is empty)."""
    book(copies=3)
    collections_run.run(BILLING)
    with read_session() as session:
        stored = session.scalar(select(func.count()).select_from(CollectionState))
        if database.startswith("postgresql"):
            estimated = session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'collection_states'")
            ).scalar_one()
        else:  # the first number of each row of sqlite_stat1 is the table's row count
            stats = session.scalars(
                text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'collection_states'")
            ).all()
            estimated = int(stats[0].split()[0]) if stats else 0
    assert stored == 3 * 6
    assert int(estimated) == stored
