"""Money under concurrent use: two sessions (threads of one server) and two servers (processes) record payments
and credit notes on one invoice at the same moment, round after round, on SQLite and PostgreSQL; after every
round each balance must equal its rows (tests/ledger_check.py, computed from the raw rows)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from data_access.db import dispose_engines
from data_access.errors import InvalidAction
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.ledger_check import ledger_problems

TODAY = date(2026, 11, 30)
ISSUED = date(2026, 9, 1)

Task = tuple[Any, ...]


def act(task: Task) -> str:
    """One action as a user's request would run it; a refusal is a sentence, anything else is a crash."""
    from data_access.actions.credit_notes import issue_credit_note
    from data_access.actions.payments import record_payment

    try:
        if task[0] == "payment":
            _, customer_id, invoice_number, cents, entry_key = task
            record_payment(
                BILLING, customer_id=customer_id, amount=Decimal(cents) / 100, received_on=TODAY,
                invoice_number=invoice_number, reference=None, today=TODAY, entry_key=entry_key,
            )  # fmt: skip
        else:
            _, invoice_number, note_number, cents = task
            issue_credit_note(
                BILLING, invoice_number=invoice_number, number=note_number, amount=Decimal(cents) / 100,
                issued_on=TODAY, reason="race",
            )  # fmt: skip
    except InvalidAction as refused:
        return f"refused: {refused}"
    except Exception as error:
        return f"crash: {type(error).__name__}: {error}"
    return "ok"


def _server(tasks: Any, results: Any, barrier: Any) -> None:
    """Another app server: takes a task, waits for its twin, then both act at once."""
    while (task := tasks.get()) is not None:
        barrier.wait()
        results.put(act(task))
    dispose_engines()


class Processes:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.barrier = context.Barrier(2)
        self.results = context.Queue()
        self.queues = [context.Queue(), context.Queue()]
        self.workers = [
            context.Process(target=_server, args=(queue, self.results, self.barrier), daemon=True)
            for queue in self.queues
        ]
        for worker in self.workers:
            worker.start()

    def race(self, first: Task, second: Task) -> list[str]:
        self.queues[0].put(first)
        self.queues[1].put(second)
        return [self.results.get(timeout=60), self.results.get(timeout=60)]

    def close(self) -> None:
        for queue in self.queues:
            queue.put(None)
        for worker in self.workers:
            worker.join(timeout=30)


def race_in_threads(first: Task, second: Task) -> list[str]:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def session(task: Task) -> None:
        barrier.wait()
        results.append(act(task))

    threads = [threading.Thread(target=session, args=(task,)) for task in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def processes(database: str) -> Iterator[Processes]:
    dispose_engines()
    pool = Processes()
    yield pool
    pool.close()


def rounds(
    database: str,
    race: Callable[[Task, Task], list[str]],
    make: Callable[[str, str], tuple[Task, Task]],
    count: int,
    *,
    start: int = 0,
) -> list[list[str]]:
    """`count` rounds on fresh invoices of 100.00; the ledger is checked after each."""
    if start == 0:
        factories.customer("C-RACE")
    outcomes = []
    for index in range(start, start + count):
        number = f"INV-{index:03d}"
        factories.invoice("C-RACE", number, issued=ISSUED, cents=10_000)
        outcome = race(*make(number, f"{index:03d}"))
        assert not [o for o in outcome if o.startswith("crash")], outcome
        assert ledger_problems(database) == [], f"round {index}: {outcome}"
        outcomes.append(outcome)
    return outcomes


def two_payments(number: str, tag: str) -> tuple[Task, Task]:
    return ("payment", "C-RACE", number, 3_000, None), ("payment", "C-RACE", number, 3_000, None)


def payment_and_credit(number: str, tag: str) -> tuple[Task, Task]:
    return ("payment", "C-RACE", number, 6_000, None), ("credit", number, f"CN-{tag}", 6_000)


def oldest_first_payments(number: str, tag: str) -> tuple[Task, Task]:
    return ("payment", "C-RACE", None, 7_000, None), ("payment", "C-RACE", None, 7_000, None)


def double_submit(number: str, tag: str) -> tuple[Task, Task]:
    return ("payment", "C-RACE", number, 2_500, f"form-{tag}"), (
        "payment",
        "C-RACE",
        number,
        2_500,
        f"form-{tag}",
    )


def open_cents(number: str) -> int:
    from data_access.db import read_session
    from data_access.ledger import invoice_by_number

    with read_session() as session:
        return invoice_by_number(session, number).open_cents


def test_two_sessions_paying_one_invoice_at_once_both_count(database: str) -> None:
    outcomes = rounds(database, race_in_threads, two_payments, 25)
    assert all(o == ["ok", "ok"] for o in outcomes)
    assert {open_cents(f"INV-{i:03d}") for i in range(25)} == {4_000}


def test_a_payment_and_a_credit_note_at_once_never_lose_either(database: str) -> None:
    outcomes = rounds(database, race_in_threads, payment_and_credit, 25)
    for outcome in outcomes:
        assert "ok" in outcome
        assert all(o == "ok" or "larger than what is open" in o for o in outcome), outcome


def test_two_servers_paying_and_crediting_at_once(database: str, processes: Processes) -> None:
    outcomes = rounds(database, processes.race, two_payments, 10)
    assert all(o == ["ok", "ok"] for o in outcomes)
    rounds_two = rounds(database, processes.race, payment_and_credit, 10, start=10)
    assert all("ok" in o for o in rounds_two)


def test_two_servers_applying_oldest_first_at_once(database: str, processes: Processes) -> None:
    rounds(database, processes.race, oldest_first_payments, 10)


def test_a_form_sent_twice_at_once_records_one_payment(database: str, processes: Processes) -> None:
    outcomes = rounds(database, processes.race, double_submit, 10)
    for outcome in outcomes:
        assert sorted(outcome)[0] == "ok"
        assert "recorded already" in sorted(outcome)[1]
    assert {open_cents(f"INV-{i:03d}") for i in range(10)} == {7_500}
