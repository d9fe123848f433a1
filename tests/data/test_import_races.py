"""Imports at the same moment as each other and as the payment form, on SQLite and PostgreSQL, in threads (one
Streamlit server) and in processes (a scheduled import beside a manual one): after every round each payment is
recorded once, the reports add up, and every balance equals its rows."""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from data_access.actions import payments
from data_access.csv_import import ImportReport, import_csv
from data_access.db import read_session
from data_access.models import Invoice, Payment
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.ledger_invariant import ledger_problems

TODAY = date(2026, 11, 24)
ROUNDS = 25
UPDATE_ROUNDS = 50
UPDATED_INVOICES = 12


@pytest.fixture
def accounts(database: str) -> str:
    for customer in ("R1", "R2"):
        factories.customer(customer)
        for n in range(3):
            factories.invoice(customer, f"{customer}-{n}", issued=date(2026, 1, 1 + n), cents=1_000_000)
    return database


def payments_file(folder: Path, round_: int) -> tuple[Path, set[str]]:
    """A handful of payments: two on named invoices, two oldest-first; references unique to the round."""
    rows = [
        f"R1-{round_ % 3},2026-11-0{1 + round_ % 9},1.{round_:02d},r{round_}-a,",
        f"R2-{(round_ + 1) % 3},2026-11-02,2.00,r{round_}-b,R2",
        f",2026-11-03,0.{round_ + 10:02d},r{round_}-c,R1",
        f",2026-10-31,3.33,r{round_}-d,R2",
    ]
    path = folder / f"payments-{round_}.csv"
    path.write_text("invoice_number,paid_on,amount,reference,customer_id\n" + "\n".join(rows) + "\n")
    return path, {f"r{round_}-{suffix}" for suffix in "abcd"}


def recorded_references() -> dict[str, int]:
    with read_session() as session:
        rows = session.execute(select(Payment.reference, func.count()).group_by(Payment.reference)).all()
    return {reference: count for reference, count in rows}


def at_once(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable in its own thread, released together by one barrier; their results in order."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[index] = work[index]()
        except BaseException as exc:  # reported by the test, never lost in a thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def check_round(round_: int, references: set[str], outcomes: list[tuple[int, int, list[str]]]) -> None:
    counts = recorded_references()
    assert {ref: counts.get(ref) for ref in references} == dict.fromkeys(references, 1), f"round {round_}"
    assert all(not errors for _, _, errors in outcomes), (round_, outcomes)
    assert sorted((added, skipped) for added, skipped, _ in outcomes) == [(0, 4), (4, 0)], (round_, outcomes)
    assert ledger_problems() == [], f"round {round_}"


def outcome(report: ImportReport | BaseException) -> tuple[int, int, list[str]]:
    if isinstance(report, BaseException):
        return (-1, -1, [repr(report)])
    return (report.added, report.skipped, [str(error) for error in report.errors])


def test_two_threads_importing_one_payments_file_record_each_payment_once(
    accounts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)
    for round_ in range(ROUNDS):
        path, references = payments_file(tmp_path, round_)
        reports = at_once(*[lambda path=path: import_csv(BILLING, "payments", path)] * 2)
        check_round(round_, references, [outcome(report) for report in reports])


def numbered_file(folder: Path, kind: str, round_: int) -> Path:
    """Three new invoices, or three credit notes on the accounts' invoices, numbered for the round."""
    if kind == "invoices":
        header = "invoice_number,customer_id,issue_date,due_date,amount\n"
        rows = [f"N{round_}-{n},R{1 + n % 2},2026-11-01,2026-12-01,{10 + n}.00" for n in range(3)]
    else:
        header = "credit_note_number,invoice_number,issued_on,amount\n"
        rows = [f"CN{round_}-{n},R{1 + n % 2}-{n},2026-11-01,0.{10 + n}" for n in range(3)]
    path = folder / f"{kind}-{round_}.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("kind", ["invoices", "credit-notes"])
def test_two_threads_importing_one_file_of_numbered_rows_add_them_once(
    accounts: str, tmp_path: Path, kind: str
) -> None:
    """Without the import's lock the second import fails on PostgreSQL (a duplicate number, or a credit note
    that exists already) instead of finding the first's rows and skipping them."""
    for round_ in range(ROUNDS):
        path = numbered_file(tmp_path, kind, round_)
        reports = at_once(*[lambda path=path: import_csv(BILLING, kind, path)] * 2)
        outcomes = sorted(outcome(report) for report in reports)
        assert outcomes == [(0, 3, []), (3, 0, [])], (round_, outcomes)
        assert ledger_problems() == [], f"round {round_}"


def _import_worker(barrier: Any, tasks: Any, results: Any) -> None:
    from data_access import clock

    clock.today = lambda: TODAY  # type: ignore[assignment]
    while (path := tasks.get()) is not None:
        barrier.wait(timeout=60)
        try:
            results.put(outcome(import_csv(BILLING, "payments", Path(path))))
        except BaseException as exc:
            results.put(outcome(exc))


@pytest.fixture
def two_processes(accounts: str) -> Iterator[tuple[list[Any], Any]]:
    """Two importer processes (spawned: nothing inherited but the environment), each fed its own task queue."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    tasks = [context.Queue(), context.Queue()]
    workers = [context.Process(target=_import_worker, args=(barrier, t, results), daemon=True) for t in tasks]
    for worker in workers:
        worker.start()
    yield tasks, results
    for task_queue in tasks:
        task_queue.put(None)
    for worker in workers:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()


def test_two_processes_importing_one_payments_file_record_each_payment_once(
    two_processes: tuple[list[Any], Any], tmp_path: Path
) -> None:
    tasks, results = two_processes
    assert os.environ["DATABASE_URL"]
    for round_ in range(ROUNDS):
        path, references = payments_file(tmp_path, round_)
        for task_queue in tasks:
            task_queue.put(str(path))
        try:
            outcomes = [results.get(timeout=120) for _ in tasks]
        except queue.Empty:
            pytest.fail(f"round {round_}: an importer process did not answer")
        check_round(round_, references, outcomes)


def test_an_invoices_update_racing_payments_keeps_every_balance(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update rewrites every invoice's amount and due date while a payment lands on the last one, at a
    different moment of the import in each round."""
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)
    factories.customer("U1")
    numbers = [f"U-{n:02d}" for n in range(UPDATED_INVOICES)]
    for number in numbers:
        factories.invoice("U1", number, issued=date(2026, 1, 1), cents=5_000_000)
    started = time.perf_counter()
    import_csv(BILLING, "invoices", update_file(tmp_path, numbers, 0), update=True)
    span = time.perf_counter() - started
    for round_ in range(1, UPDATE_ROUNDS + 1):
        path = update_file(tmp_path, numbers, round_)
        delay = span * (round_ % 10) / 10

        def pay(delay: float = delay, round_: int = round_) -> int:
            time.sleep(delay)
            return payments.record_payment(
                BILLING, customer_id="U1", amount=Decimal("1.00"), received_on=TODAY,
                invoice_number=numbers[-1], reference=f"u{round_}", today=TODAY,
            )  # fmt: skip

        report, payment = at_once(lambda path=path: import_csv(BILLING, "invoices", path, update=True), pay)
        assert isinstance(report, ImportReport) and report.ok, (round_, outcome(report))
        assert report.updated == UPDATED_INVOICES
        assert isinstance(payment, int), (round_, payment)
        assert ledger_problems() == [], f"round {round_}"
        with read_session() as session:
            last = session.execute(select(Invoice.amount_cents, Invoice.open_cents).where(Invoice.number == numbers[-1])).one()  # fmt: skip
        assert tuple(last) == (5_000_000 + round_, 5_000_000 + round_ - 100 * round_), f"round {round_}"


def update_file(folder: Path, numbers: list[str], round_: int) -> Path:
    path = folder / f"update-{round_}.csv"
    cents, due = 5_000_000 + round_, date(2026, 1, 31) + timedelta(days=round_ % 3)
    lines = [f"{number},U1,2026-01-01,{due},{cents // 100}.{cents % 100:02d}" for number in numbers]
    path.write_text("invoice_number,customer_id,issue_date,due_date,amount\n" + "\n".join(lines) + "\n")
    return path


def test_a_payments_import_racing_the_payment_form_on_the_same_invoices(
    accounts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduled import of the bank's payments while a billing admin records one on an invoice it also pays."""
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)
    for round_ in range(ROUNDS):
        path, references = payments_file(tmp_path, round_)

        def pay(round_: int = round_) -> int:
            time.sleep(0.002 * (round_ % 10))
            return payments.record_payment(
                BILLING, customer_id="R1", amount=Decimal("0.50"), received_on=TODAY,
                invoice_number=f"R1-{round_ % 3}", reference=f"form-{round_}", today=TODAY,
            )  # fmt: skip

        report, payment = at_once(lambda path=path: import_csv(BILLING, "payments", path), pay)
        assert outcome(report) == (4, 0, []), (round_, outcome(report))
        assert isinstance(payment, int), (round_, payment)
        counts = recorded_references()
        assert all(counts.get(ref) == 1 for ref in {*references, f"form-{round_}"}), f"round {round_}"
        assert ledger_problems() == [], f"round {round_}"
