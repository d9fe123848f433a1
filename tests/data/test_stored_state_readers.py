"""The pages' collections readers (the worklist, the eligible list, the stage counts, the Receivables stage filter,
a customer's standing) read the stored collections state for today once today's run has finished, and give
exactly what the on-demand assessment gives on the same data, before and after writes; a past date, and a state
left from yesterday's run, are assessed from the ledger and match figures worked out here from the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, update

from data_access.actions import collections as collections_actions
from data_access.actions import collections_run
from data_access.db import read_session, transaction
from data_access.enums import ActivityKind
from data_access.models import CollectionsRun, CollectionState, Customer
from data_access.queries import collections, receivables, stages, suspensions
from data_access.queries.collections_state import is_current
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.factories import at
from tests.support.suspensions import STAGES, TODAY, add_policy, add_subscription

YESTERDAY = TODAY - timedelta(days=1)
STAGE_NAMES = [name for _, _, name in STAGES]
MANAGERS = {"C-A": "ana", "C-B": "ana", "C-H": "ana", "C-I": "ana", "C-C": "bo", "C-D": "bo", "C-T10": "bo",
            "C-T2": "bo", "c-t1": "bo"}  # fmt: skip


@dataclass(frozen=True)
class Bill:
    """An invoice of the fixture: due `days` before today (negative: not yet due), on 30-day terms."""

    customer: str
    number: str
    days: int
    cents: int
    currency: str = "USD"
    disputed: bool = False

    @property
    def due(self) -> date:
        return TODAY - timedelta(days=self.days)


BILLS = [
    Bill("C-A", "A-1", 3, 20_000),  # Friendly reminder, due now
    Bill("C-B", "B-1", 20, 15_000),  # Second reminder, reminder already sent
    Bill("C-C", "C-1", 35, 50_000),  # Final notice, beside a disputed invoice
    Bill("C-C", "C-2", 10, 5_000, disputed=True),
    Bill("C-D", "D-1", 60, 60_000),  # Suspension, eligible: two Active subscriptions and a Suspended one
    Bill("C-E", "E-1", 100, 40_000),  # Review, still eligible
    Bill("C-F", "F-1", 50, 1_000),  # below the minimum: no stage
    Bill("C-G", "G-1", 40, 30_000, disputed=True),  # all disputed: no stage
    Bill("C-H", "H-1", 50, 20_000),  # held back by a promise
    Bill("C-I", "I-1", 40, 25_000),  # a broken promise: listed first
    Bill("C-J", "J-1", 60, 30_000),  # exempt: never past the final notice
    Bill("C-K", "K-1", 40, 30_000, currency="EUR"),  # overdue only in another currency: no stage, not listed
    Bill("C-L", "L-1", -20, 30_000),  # not yet due
    Bill("C-M", "M-OLD", 25, 30_000),  # overdue, with unapplied credit from an overpaid new invoice
    Bill("C-M", "M-NEW", -28, 8_000),
    Bill("C-P", "P-1", 30, 30_000),  # paid in full yesterday
    Bill("C-T10", "T10-1", 20, 10_000),  # three accounts of equal priority, in customer id order
    Bill("C-T2", "T2-1", 20, 10_000),
    Bill("c-t1", "t1-1", 20, 10_000),
]
# Money received before the run: (customer, invoice, cents, received on).
PAID = [("C-M", "M-NEW", 13_000, YESTERDAY), ("C-P", "P-1", 30_000, YESTERDAY)]
CUSTOMERS = sorted({bill.customer for bill in BILLS})


@pytest.fixture
def accounts(database: str) -> str:
    add_policy()
    for customer in CUSTOMERS:
        factories.customer(customer, name=f"Fabrikam {customer}", account_manager=MANAGERS.get(customer, "sales"),
                           exempt_from_collections=customer == "C-J")  # fmt: skip
    for bill in BILLS:
        factories.invoice(bill.customer, bill.number, issued=bill.due - timedelta(days=30), cents=bill.cents,
                          currency=bill.currency, disputed=bill.disputed)  # fmt: skip
    for customer, number, cents, received_on in PAID:
        factories.payment(customer, cents=cents, invoice=number, received_on=received_on)
    factories.activity("C-B", ActivityKind.REMINDER_SENT.value, occurred_at=at(TODAY - timedelta(days=3)),
                       details={"stage": "Second reminder"})  # fmt: skip
    factories.promise(
        "C-H", cents=10_000, promised_for=TODAY + timedelta(days=5), made=at(TODAY - timedelta(days=10))
    )
    factories.promise(
        "C-I", cents=25_000, promised_for=TODAY - timedelta(days=5), made=at(TODAY - timedelta(days=20))
    )
    for customer, subscription in (
        ("C-D", "D-S1"),
        ("C-D", "D-S2"),
        ("C-E", "E-S1"),
        ("C-H", "H-S1"),
        ("C-J", "J-S1"),
    ):
        add_subscription(customer, subscription, f"Product {subscription}")
    add_subscription("C-D", "D-S3", "Product D-S3", status="Suspended")
    return database


def readings() -> dict[str, Any]:
    """Every answer the pages read about collections today, by what was asked."""
    found: dict[str, Any] = {"worklist": collections.worklist(BILLING, as_of=TODAY)}
    for manager in ("ana", "bo", "sales", "nobody"):
        found[f"worklist of {manager}"] = collections.worklist(BILLING, as_of=TODAY, account_manager=manager)
        found[f"due now, {manager}"] = collections.worklist(
            BILLING, as_of=TODAY, account_manager=manager, due_only=True
        )
    for stage in [*STAGE_NAMES, "No such stage"]:
        found[f"worklist at {stage}"] = collections.worklist(BILLING, as_of=TODAY, stage=stage)
        found[f"due now at {stage}"] = collections.worklist(BILLING, as_of=TODAY, stage=stage, due_only=True)
    for stage in [*STAGE_NAMES, stages.NO_STAGE]:
        found[f"receivables filter {stage}"] = receivables.customers_in_stage(
            BILLING, as_of=TODAY, stage=stage
        )
    found["due now"] = collections.worklist(BILLING, as_of=TODAY, due_only=True)
    found["filter choices"] = collections.worklist_choices(BILLING, as_of=TODAY)
    for rows, search, manager in (
        (3, "", None),
        (2, "c-t", None),
        (None, "FABRIKAM C-", "bo"),
        (5, "-", "ana"),
    ):
        first = collections.worklist_first_screen(
            BILLING, as_of=TODAY, rows=rows, search=search, account_manager=manager
        )
        found[f"first {rows} rows of {search!r}, {manager}"] = first.table
        found[f"first {rows} rows of {search!r}, {manager}: how many"] = first.matching
    found["eligible"] = suspensions.eligible_accounts(BILLING, as_of=TODAY)
    found["per stage"] = collections.accounts_per_stage(BILLING, as_of=TODAY)
    for customer in CUSTOMERS:
        found[f"standing of {customer}"] = stages.customer_standing(
            BILLING, customer_id=customer, as_of=TODAY
        )
    return found


def differences(stored: dict[str, Any], assessed: dict[str, Any]) -> list[str]:
    found = []
    for asked, answer in stored.items():
        expected = assessed[asked]
        if isinstance(answer, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(answer, expected)
            except AssertionError as problem:
                found.append(f"{asked}: {problem}")
        elif answer != expected:
            found.append(f"{asked}: stored {answer!r}, assessed {expected!r}")
    return found


def current() -> bool:
    with read_session() as session:
        return is_current(session, TODAY)


@contextmanager
def runs_unfinished() -> Iterator[None]:
    """The same data with every run marked unfinished, so the readers assess on demand; put back afterwards."""
    with transaction() as session:
        finished = {
            row.id: row.finished_at
            for row in session.execute(select(CollectionsRun.id, CollectionsRun.finished_at))
        }
        session.execute(update(CollectionsRun).values(finished_at=None))
    try:
        yield
    finally:
        with transaction() as session:
            for run_id, finished_at in finished.items():
                session.execute(
                    update(CollectionsRun).where(CollectionsRun.id == run_id).values(finished_at=finished_at)
                )


def stored_and_assessed() -> tuple[dict[str, Any], dict[str, Any]]:
    assert current()
    stored = readings()
    with runs_unfinished():
        assert not current()
        assessed = readings()
    return stored, assessed


def tamper(customer: str, **values: Any) -> None:
    """Change a customer's stored row behind the engine's back, to see who reads it."""
    with transaction() as session:
        pk = session.scalar(select(Customer.id).where(Customer.external_id == customer))
        assert session.get(CollectionState, pk) is not None, customer
        session.execute(update(CollectionState).where(CollectionState.customer_id == pk).values(**values))


def paid_by(number: str, day: date) -> int:
    return sum(
        cents for _, paid_number, cents, received_on in PAID if paid_number == number and received_on <= day
    )


def ledger_view(day: date) -> dict[str, tuple[int, int, int]]:
    """Worked out from the fixture's rows: per customer with anything overdue or disputed at the day in their own
    currency (USD), the overdue cents the clock counts, the disputed overdue cents and the days past due."""
    found: dict[str, tuple[int, int, int]] = {}
    for customer in CUSTOMERS:
        overdue = disputed = 0
        oldest: date | None = None
        for bill in BILLS:
            open_then = bill.cents - paid_by(bill.number, day)
            issued = bill.due - timedelta(days=30)
            if (
                bill.customer != customer
                or bill.currency != "USD"
                or issued > day
                or bill.due >= day
                or not open_then
            ):
                continue
            if bill.disputed:
                disputed += open_then
            else:
                overdue += open_then
                oldest = bill.due if oldest is None else min(oldest, bill.due)
        if overdue or disputed:
            found[customer] = (overdue, disputed, (day - oldest).days if oldest else 0)
    return found


def worklist_view(frame: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    return {
        row["customer_id"]: (int(row["overdue"] * 100), int(row["disputed"] * 100), int(row["days_past_due"]))
        for row in frame.to_dict("records")
    }


def test_today_the_stored_state_gives_what_the_assessment_gives(accounts: str) -> None:
    assert not current()
    assessed = readings()
    collections_run.run(BILLING)
    assert current()
    stored = readings()
    assert differences(stored, assessed) == []
    listed = stored["worklist"]
    assert worklist_view(listed) == ledger_view(TODAY)
    assert list(listed.customer_id[:1]) == ["C-I"]  # the broken promise first
    ties = [c for c in listed.customer_id if c in ("C-T10", "C-T2", "c-t1")]
    assert ties == ["C-T10", "C-T2", "c-t1"]
    assert listed.set_index("customer_id").unapplied["C-M"] == Decimal("50.00")
    assert list(stored["eligible"].subscription_id) == ["D-S1", "D-S2", "E-S1"]
    counts: dict[str, int] = dict(stored["per stage"].itertuples(index=False))
    assert counts == {"Friendly reminder": 1, "Second reminder": 5, "Final notice": 4, "Suspension": 1,
                      "Review": 1, stages.NO_STAGE: 3}  # fmt: skip
    assert stored[f"receivables filter {stages.NO_STAGE}"] == ("C-F", "C-G", "C-K")


def test_the_readers_take_the_stored_rows_for_today_only(accounts: str) -> None:
    collections_run.run(BILLING)
    tamper("C-A", stage="Tampered", due_now=None)
    listed = collections.worklist(BILLING, as_of=TODAY, stage="Tampered")
    assert list(listed.customer_id) == ["C-A"] and listed.due_now.isna().all()
    counts = collections.accounts_per_stage(BILLING, as_of=TODAY).set_index("stage").accounts
    assert counts["Tampered"] == 1 and counts["Friendly reminder"] == 0
    assert receivables.customers_in_stage(BILLING, as_of=TODAY, stage="Tampered") == ("C-A",)
    standing = stages.customer_standing(BILLING, customer_id="C-A", as_of=TODAY)
    assert standing is not None and standing.stage == "Tampered"
    tamper("C-D", suspension_eligible=False)
    assert "C-D" not in set(suspensions.eligible_accounts(BILLING, as_of=TODAY).customer_id)

    yesterday = collections.worklist(BILLING, as_of=YESTERDAY)
    assert "Tampered" not in set(yesterday.stage)
    assert worklist_view(yesterday) == ledger_view(YESTERDAY)
    assert "C-D" in set(suspensions.eligible_accounts(BILLING, as_of=YESTERDAY).customer_id)


def cells(frame: pd.DataFrame) -> list[list[Any]]:
    """A table's values row by row, a missing value None whatever the column's dtype (a cut of a column with no
    string left in it is typed otherwise than the whole column)."""
    return [[None if pd.isna(value) else value for value in row] for row in frame.itertuples(index=False)]


def test_the_first_screen_is_the_worklist_cut_and_the_choices_are_its_own(accounts: str) -> None:
    collections_run.run(BILLING)
    for day in (TODAY, TODAY - timedelta(days=10)):  # read from the stored state, and assessed on demand
        whole = collections.worklist(BILLING, as_of=day)
        assert len(whole) > 3
        first = collections.worklist_first_screen(BILLING, as_of=day, rows=3)
        assert cells(first.table) == cells(whole.head(3))
        assert first.matching == len(whole)
        every = collections.worklist_first_screen(BILLING, as_of=day, rows=None)
        assert cells(every.table) == cells(whole)
        found = collections.worklist_first_screen(BILLING, as_of=day, rows=None, search="c-t")
        expected = whole[whole.customer_id.str.lower().str.contains("c-t", regex=False)].reset_index(
            drop=True
        )
        assert len(expected) > 1 and found.matching == len(expected)
        assert cells(found.table) == cells(expected)
        due = collections.worklist(BILLING, as_of=day, account_manager="bo", due_only=True)
        cut = collections.worklist_first_screen(
            BILLING, as_of=day, account_manager="bo", due_only=True, rows=1
        )
        assert cut.matching == len(due) and list(cut.table.customer_id) == list(due.customer_id[:1])
        assert collections.worklist_first_screen(BILLING, as_of=day, search="100%_").matching == 0
        choices = collections.worklist_choices(BILLING, as_of=day)
        assert choices.accounts == len(whole)
        assert choices.account_managers == tuple(sorted(set(whole.account_manager.dropna())))
        least = whole.dropna(subset=["stage"]).groupby("stage").days_past_due.min()
        assert choices.stages == tuple(sorted(least.index, key=lambda name: (least[name], name)))
        assert set(choices.stages) == set(whole.stage.dropna())


def test_a_past_date_is_assessed_from_the_ledger(accounts: str) -> None:
    collections_run.run(BILLING)
    for customer in ledger_view(TODAY):
        tamper(customer, days_past_due=999)
    for back in (2, 10, 21, 45):
        day = TODAY - timedelta(days=back)
        listed = collections.worklist(BILLING, as_of=day)
        assert worklist_view(listed) == ledger_view(day), day
        assert ("C-P" in set(listed.customer_id)) == (back < 30)  # due 30 days ago, paid only yesterday
        standing = stages.customer_standing(BILLING, customer_id="C-D", as_of=day)
        assert standing is not None and standing.days_past_due == 60 - back


def test_a_state_left_from_yesterday_is_not_read_today(accounts: str) -> None:
    assessed = readings()
    with transaction() as session:
        collections_run.full_refresh(session, as_of=YESTERDAY, by="yesterday's run")
    assert not current()
    for customer in ledger_view(YESTERDAY):
        tamper(customer, stage="Stale", overdue_cents=1, broken_promises=0)
    assert differences(readings(), assessed) == []
    assert worklist_view(collections.worklist(BILLING, as_of=TODAY)) == ledger_view(TODAY)
    assert "Stale" not in set(collections.accounts_per_stage(BILLING, as_of=TODAY).stage)


def test_after_each_write_the_stored_state_still_gives_what_the_assessment_gives(accounts: str) -> None:
    collections_run.run(BILLING)
    writes: list[tuple[str, Callable[[], object]]] = [
        ("a part payment", lambda: factories.payment("C-C", cents=20_000, invoice="C-1")),
        ("the debt paid", lambda: factories.payment("C-D", cents=60_000, invoice="D-1")),
        ("a promise", lambda: collections_actions.record_promise(
            BILLING, customer_id="C-E", amount=Decimal("100.00"), promised_for=TODAY + timedelta(days=3))),
        ("a dispute", lambda: collections_actions.open_dispute(BILLING, invoice_number="B-1", reason="Wrong seats")),
        ("a dispute resolved", lambda: collections_actions.resolve_dispute(
            BILLING, invoice_number="G-1", resolution="Seats confirmed")),
        ("a reminder", lambda: collections_actions.send_reminder(BILLING, customer_id="C-A", as_of=TODAY)),
        ("a call", lambda: collections_actions.log_contact(BILLING, customer_id="C-T2", kind="call", notes="Paying")),
        ("a write-off", lambda: factories.credit_note("I-1", cents=25_000, issued_on=TODAY, reason="write-off")),
        ("a small payment", lambda: factories.payment("C-F", cents=500, invoice="F-1")),
    ]  # fmt: skip
    for what, write in writes:
        write()
        stored, assessed = stored_and_assessed()
        assert differences(stored, assessed) == [], what
    expected = dict(ledger_view(TODAY))
    del expected["C-D"], expected["C-I"]
    expected |= {
        "C-B": (0, 15_000, 0),
        "C-C": (30_000, 5_000, 35),
        "C-G": (30_000, 0, 40),
        "C-F": (500, 0, 50),
    }
    assert worklist_view(stored["worklist"]) == expected


def test_a_customer_shows_the_stages_they_went_through_newest_first(accounts: str) -> None:
    collections_run.run(BILLING)
    held = stages.customer_standing(BILLING, customer_id="C-H", as_of=TODAY)
    assert held is not None and (held.stage, held.promise_cents, held.promise_until) == (
        "Final notice",
        10_000,
        TODAY + timedelta(days=5),
    )
    # The promise held the final notice back from 30 days past due (10 days ago) to the day after its date.
    before = stages.stage_history(BILLING, customer_id="C-I")
    assert before[["stage", "entered_on", "left_on"]].to_dict("records") == [
        {"stage": "Final notice", "entered_on": TODAY - timedelta(days=4), "left_on": None}
    ]
    factories.credit_note("I-1", cents=25_000, issued_on=TODAY, reason="write-off")
    after = stages.stage_history(BILLING, customer_id="C-I")
    assert (
        list(after.stage.isna()) == [True, False] and after.stage.iloc[1] == "Final notice"
    )  # out of every stage
    assert after.left_on.iloc[1] == TODAY and pd.isna(after.left_on.iloc[0])
    assert after.entered_because.iloc[0] and after.left_because.iloc[1]
    assert stages.stage_history(BILLING, customer_id="C-L").empty
