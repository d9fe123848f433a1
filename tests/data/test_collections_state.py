"""The stored collections state after each kind of write: every field equals a fresh assessment of every customer,
the stage history opens and closes a row per change saying why, and a page's first read of the day brings the
state up to date once. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access import clock
from data_access.actions import collections, collections_run, credit_notes, customers, invoices, payments
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.models import CollectionsRun, Customer
from data_access.queries.collections_state import is_current
from data_access.queries.customers import customer_details
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.collections_state import history, state_problems, stored_states

TODAY = clock.today()


def days_ago(days: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), tzinfo=UTC)


@pytest.fixture
def accounts(database: str) -> dict[str, int]:
    """Four customers under the demo's policy, stored by a run: one 45 days late (Suspension), one 20 (Second
    reminder), one 5 days late on 30.00 (under the 50.00 minimum), one not yet due."""
    factories.policy()
    for customer in ("C-OLD", "C-MID", "C-SMALL", "C-FINE"):
        factories.customer(customer)
    factories.invoice("C-OLD", "I-OLD-1", issued=TODAY - timedelta(days=75), cents=250_000)
    factories.invoice("C-OLD", "I-OLD-2", issued=TODAY - timedelta(days=40), cents=100_000)
    factories.invoice("C-MID", "I-MID-1", issued=TODAY - timedelta(days=50), cents=80_000)
    factories.invoice("C-SMALL", "I-SMALL-1", issued=TODAY - timedelta(days=35), cents=3_000)
    factories.invoice("C-FINE", "I-FINE-1", issued=TODAY - timedelta(days=5), cents=50_000)
    summary = collections_run.run(BILLING)
    assert summary.customers_assessed == 3 and summary.stage_changes == 2
    assert state_problems(TODAY) == []
    with read_session() as session:
        return {c.external_id: c.id for c in session.scalars(select(Customer))}


def _customer_edit(customer: str, **changes: object) -> None:
    before = customer_details(BILLING, customer_id=customer)
    customers.update_customer(BILLING, customer_id=customer, before=before, after=replace(before, **changes))


def _import(tmp: Path, kind: str, text: str, *, update: bool = False) -> None:
    path = tmp / f"{kind}.csv"
    path.write_text(text)
    report = import_csv(BILLING, kind, path, update=update)
    assert report.ok, report.errors


def _overpaid_then_applied() -> None:
    payments.record_payment(BILLING, customer_id="C-FINE", amount=Decimal("600.00"), received_on=TODAY)
    factories.invoice("C-FINE", "I-FINE-2", issued=TODAY - timedelta(days=60), cents=20_000)
    payments.apply_credit(BILLING, customer_id="C-FINE")


def _paid_then_reversed() -> None:
    paid = payments.record_payment(BILLING, customer_id="C-MID", amount=Decimal("800.00"), received_on=TODAY)
    assert state_problems(TODAY) == []
    payments.reverse_payment(BILLING, payment_id=paid, reason="returned by the bank")


def _credited_then_reversed() -> None:
    factories.credit_note("I-OLD-1", "CN-1", cents=250_000, issued_on=TODAY)
    assert state_problems(TODAY) == []
    credit_notes.reverse_credit_note(BILLING, number="CN-1", reason="issued in error")


def _disputed_then_resolved() -> None:
    collections.open_dispute(BILLING, invoice_number="I-OLD-1", reason="wrong seats")
    assert state_problems(TODAY) == []
    collections.resolve_dispute(BILLING, invoice_number="I-OLD-1", resolution="seats were right")


WRITES: dict[str, Callable[[Path], object]] = {
    "payment in part": lambda _: payments.record_payment(
        BILLING, customer_id="C-OLD", amount=Decimal("1000.00"), received_on=TODAY
    ),
    "payment in full": lambda _: payments.record_payment(
        BILLING, customer_id="C-MID", amount=Decimal("800.00"), received_on=TODAY
    ),
    "payment on an invoice not yet due": lambda _: payments.record_payment(
        BILLING, customer_id="C-FINE", amount=Decimal("100.00"), received_on=TODAY, invoice_number="I-FINE-1"
    ),
    "payment reversed": lambda _: _paid_then_reversed(),
    "credit applied": lambda _: _overpaid_then_applied(),
    "credit note issued": lambda _: factories.credit_note("I-OLD-1", cents=250_000, issued_on=TODAY),
    "credit note reversed": lambda _: _credited_then_reversed(),
    "dispute opened": lambda _: collections.open_dispute(BILLING, invoice_number="I-MID-1", reason="wrong"),
    "dispute resolved": lambda _: _disputed_then_resolved(),
    "promise to pay": lambda _: collections.record_promise(
        BILLING, customer_id="C-OLD", amount=Decimal("500.00"), promised_for=TODAY + timedelta(days=7)
    ),
    "payment plan": lambda _: collections.set_up_payment_plan(
        BILLING, customer_id="C-MID", installments=[(TODAY + timedelta(days=10), Decimal("400.00"))]
    ),
    "reminder sent": lambda _: collections.send_reminder(BILLING, customer_id="C-MID", as_of=TODAY),
    "call logged": lambda _: collections.log_contact(BILLING, customer_id="C-OLD", kind="call", notes="rang"),
    "note added": lambda _: collections.add_note(BILLING, customer_id="C-SMALL", notes="small"),
    "invoice added": lambda _: invoices.add_invoice(
        BILLING,
        customer_id="C-SMALL",
        number="I-SMALL-2",
        issue_date=TODAY - timedelta(days=70),
        amount=Decimal("900.00"),
    ),
    "invoice corrected": lambda _: invoices.correct_invoice(
        BILLING,
        number="I-MID-1",
        issue_date=TODAY - timedelta(days=50),
        due_date=TODAY - timedelta(days=35),
        amount=Decimal("800.00"),
        currency="USD",
        reason="due date was wrong",
    ),
    "invoice voided": lambda _: invoices.void_invoice(BILLING, number="I-OLD-1", reason="billed twice"),
    "customer made exempt": lambda _: _customer_edit("C-OLD", exempt_from_collections=True),
    "payments imported": lambda tmp: _import(
        tmp, "payments", f"invoice_number,paid_on,amount,reference\nI-OLD-1,{TODAY},2500.00,wire 7\n"
    ),
    "invoices imported": lambda tmp: _import(
        tmp,
        "invoices",
        f"invoice_number,customer_id,issue_date,due_date,amount\nI-FINE-9,C-FINE,{TODAY - timedelta(days=40)},"
        f"{TODAY - timedelta(days=20)},700.00\n",
    ),
    "exemption imported": lambda tmp: _import(
        tmp, "customers", "customer_id,name,exempt_from_collections\nC-OLD,Customer C-OLD,true\n", update=True
    ),
    "policy saved": lambda _: factories.saved_policy(
        [
            Stage("Reminder", 5, "reminder", "Pay {customer_name}"),
            Stage("Final notice", 10, "final_notice", "Pay now"),
            Stage("Suspension", 60, "suspension_eligible", "Suspended soon"),
        ]
    ),
}


# Writes that end where they began: a round trip of money, or a customer with nothing overdue before and after.
UNCHANGED = {"payment on an invoice not yet due", "payment reversed", "credit note reversed"}


@pytest.mark.parametrize("write", list(WRITES))
def test_after_each_kind_of_write_the_stored_state_equals_a_fresh_assessment(
    accounts: dict[str, int], write: str, tmp_path: Path
) -> None:
    before = stored_states()
    WRITES[write](tmp_path)
    assert state_problems(TODAY) == []
    with read_session() as session:
        assert is_current(session, TODAY)
    assert (stored_states() == before) == (write in UNCHANGED)


def test_a_payment_in_full_deletes_the_row_and_closes_the_stage_saying_why(accounts: dict[str, int]) -> None:
    payments.record_payment(BILLING, customer_id="C-MID", amount=Decimal("800.00"), received_on=TODAY)
    assert accounts["C-MID"] not in stored_states()
    rows = [(r.stage, r.entered_on, r.entered_because, r.left_on, r.left_because)
            for r in history() if r.customer_id == accounts["C-MID"]]  # fmt: skip
    assert rows == [
        ("Second reminder", TODAY - timedelta(days=5), "daily run: 15 days past due", TODAY,
         "payment recorded: nothing overdue"),
        (None, TODAY, "payment recorded: nothing overdue", None, None),
    ]  # fmt: skip


def test_each_stage_entered_closes_the_one_before_on_the_day_it_was_entered(
    accounts: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """C-MID entered Second reminder 5 days ago (15 days past due); ten days on, the run finds it 30 days past due."""
    monkeypatch.setattr(clock, "today", lambda: TODAY + timedelta(days=10))
    summary = collections_run.run(BILLING)
    # C-MID moves to Final notice; C-OLD stays in Suspension; C-SMALL's 30.00 stays under the minimum.
    assert summary.stage_changes == 1
    rows = [(r.stage, r.entered_on, r.entered_because, r.left_on, r.left_because)
            for r in history() if r.customer_id == accounts["C-MID"]]  # fmt: skip
    assert rows == [
        ("Second reminder", TODAY - timedelta(days=5), "daily run: 15 days past due", TODAY + timedelta(days=10),
         "daily run: 30 days past due"),
        ("Final notice", TODAY + timedelta(days=10), "daily run: 30 days past due", None, None),
    ]  # fmt: skip
    assert state_problems(TODAY + timedelta(days=10)) == []


def test_a_stage_found_to_have_started_earlier_keeps_the_history_in_order(accounts: dict[str, int]) -> None:
    """Moving C-MID's due date 16 days earlier puts it in Final notice since 6 days ago, though the history had it
    enter Second reminder 5 days ago: that row closes the day it opened, and the new one says when and why."""
    invoices.correct_invoice(
        BILLING, number="I-MID-1", issue_date=TODAY - timedelta(days=50), due_date=TODAY - timedelta(days=36),
        amount=Decimal("800.00"), currency="USD", reason="due date was wrong",
    )  # fmt: skip
    rows = [(r.stage, r.entered_on, r.entered_because, r.left_on, r.left_because)
            for r in history() if r.customer_id == accounts["C-MID"]]  # fmt: skip
    assert rows == [
        ("Second reminder", TODAY - timedelta(days=5), "daily run: 15 days past due", TODAY - timedelta(days=5),
         "invoice corrected: 30 days past due"),
        ("Final notice", TODAY - timedelta(days=6), "invoice corrected: 30 days past due", None, None),
    ]  # fmt: skip


def test_a_customer_who_falls_behind_again_leaves_the_out_of_stage_row(accounts: dict[str, int]) -> None:
    payments.record_payment(BILLING, customer_id="C-MID", amount=Decimal("800.00"), received_on=TODAY)
    factories.invoice("C-MID", "I-MID-2", issued=TODAY - timedelta(days=45), cents=9_000)  # due 15 days ago
    collections_run.run(BILLING)
    rows = [
        (r.stage, r.entered_on, r.left_on, r.left_because)
        for r in history()
        if r.customer_id == accounts["C-MID"]
    ]
    assert rows[1:] == [
        (None, TODAY, TODAY, "daily run: 15 days past due"),
        ("Second reminder", TODAY, None, None),
    ]
    assert state_problems(TODAY) == []


def test_a_write_touches_only_its_customer(accounts: dict[str, int]) -> None:
    before = stored_states()
    collections.add_note(BILLING, customer_id="C-OLD", notes="left a message")
    after = stored_states()
    assert {pk: row for pk, row in after.items() if pk != accounts["C-OLD"]} == {
        pk: row for pk, row in before.items() if pk != accounts["C-OLD"]
    }
    assert after[accounts["C-OLD"]]["last_contact"] == "note"
    assert after[accounts["C-OLD"]]["last_contact_on"] == datetime.now(UTC).date()


def test_a_failed_write_leaves_the_stored_state_as_it_was(accounts: dict[str, int]) -> None:
    before, rows = stored_states(), len(history())
    with pytest.raises(Exception, match="more than"):
        collections.record_promise(
            BILLING, customer_id="C-MID", amount=Decimal("99999.00"), promised_for=TODAY + timedelta(days=3)
        )
    assert stored_states() == before and len(history()) == rows


def test_the_first_reader_of_each_day_brings_the_state_up_to_date_once(database: str) -> None:
    factories.policy()
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=62), cents=120_000)
    assert stored_states() == {}
    assert collections_run.ensure_current(TODAY - timedelta(days=1)) is False
    assert collections_run.ensure_current(TODAY) is True
    assert state_problems(TODAY) == []
    assert collections_run.ensure_current(TODAY) is True
    with read_session() as session:
        runs = session.execute(
            select(CollectionsRun.as_of, CollectionsRun.actor, CollectionsRun.finished_at)
        ).all()
    assert [(day, actor) for day, actor, _ in runs] == [(TODAY, "app (first reader of the day)")]
    assert runs[0].finished_at is not None
    tomorrow = TODAY + timedelta(days=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "today", lambda: tomorrow)
        assert collections_run.ensure_current(tomorrow) and collections_run.ensure_current(tomorrow)
        assert state_problems(tomorrow) == []
    with read_session() as session:
        assert session.scalars(select(CollectionsRun.as_of).order_by(CollectionsRun.id)).all() == [
            TODAY,
            tomorrow,
        ]


def test_a_run_for_yesterday_is_not_current_today(database: str) -> None:
    factories.policy()
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=62), cents=120_000)
    collections_run.run(BILLING, as_of=TODAY - timedelta(days=1))
    with read_session() as session:
        assert not is_current(session, TODAY)
        assert not is_current(session, TODAY - timedelta(days=1))  # only today's state is ever current
    assert state_problems(TODAY - timedelta(days=1)) == []
    assert collections_run.ensure_current(TODAY) is True
    assert state_problems(TODAY) == []
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(CollectionsRun)) == 2
