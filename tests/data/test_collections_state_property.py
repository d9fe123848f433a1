"""Property: whatever sequence of writes happens, through the real actions and over days that pass (the clock set
forward, then the daily run or the first reader of the day), the stored collections state equals a fresh assessment
of every customer, field by field, and the stage history agrees with it, after every step.

Each example starts from an empty database with three customers and a policy drawn from two; a step is drawn from
the writes that change an assessment (invoices added and voided, payments and their reversal, credit notes and
theirs, disputes, promises, plans, reminders, contacts, notes, exemption, the policy) or the passing of days. A
write the app refuses (a sentence for the user) is a step too: it must leave the state as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from data_access import clock
from data_access.actions import collections, collections_run, credit_notes, customers, invoices, payments
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Invoice, Payment
from data_access.queries.customers import customer_details
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.collections_state import state_problems
from tests.support.databases import empty_all_tables

START = clock.today()
CUSTOMERS = ("C-1", "C-2", "C-3")
POLICIES = {
    "short": [
        Stage("Reminder", 3, "reminder", "Please pay {customer_name}"),
        Stage("Final notice", 10, "final_notice", "Final notice"),
        Stage("Suspension", 20, "suspension_eligible", "Suspension"),
        Stage("Agency", 40, "review_for_cancellation", "Agency"),
    ],
    "long": [
        Stage("Friendly", 15, "reminder", "Hello"),
        Stage("Final", 45, "final_notice", "Final"),
        Stage("Suspend", 60, "suspension_eligible", "Suspend"),
    ],
}
OPERATIONS = (
    "invoice", "invoice", "payment", "payment", "reverse payment", "credit note", "reverse credit note",
    "dispute", "resolve", "promise", "plan", "reminder", "contact", "note", "void", "exempt", "policy", "days pass",
    "days pass", "days pass", "reminder",
)  # fmt: skip


class Book:
    """The example's clock and the ids of what it has written, read back from the database when a step needs them."""

    def __init__(self) -> None:
        self.today = START
        self.invoices = 0

    def open_invoices(self, customer: str | None = None) -> list[tuple[str, int, bool]]:
        with read_session() as session:
            query = select(Invoice.number, Invoice.open_cents, Invoice.disputed).where(Invoice.open_cents > 0)
            if customer:
                query = query.where(Invoice.number.like(f"{customer}-%"))
            return [(n, int(c), bool(d)) for n, c, d in session.execute(query.order_by(Invoice.number))]

    def invoice_numbers(self) -> list[str]:
        with read_session() as session:
            return list(session.scalars(select(Invoice.number).order_by(Invoice.number)))

    def payments(self) -> list[int]:
        with read_session() as session:
            return list(
                session.scalars(select(Payment.id).where(Payment.reversed_on.is_(None)).order_by(Payment.id))
            )

    def credit_notes(self) -> list[str]:
        with read_session() as session:
            query = select(CreditNote.number).where(
                CreditNote.reverses_id.is_(None), CreditNote.reversed_on.is_(None)
            )
            return list(session.scalars(query.order_by(CreditNote.number)))


def _money(draw: st.DrawFn, low: int, high: int) -> Decimal:
    return Decimal(draw(st.integers(low, high))) / 100


def step(draw: st.DrawFn, book: Book) -> tuple[str, Callable[[], object] | None]:
    """One write drawn with its arguments (None when there is nothing to do it to)."""
    operation = draw(st.sampled_from(OPERATIONS))
    customer = draw(st.sampled_from(CUSTOMERS))
    today = book.today
    if operation == "invoice":
        book.invoices += 1
        number = f"{customer}-{book.invoices}"
        issued = today - timedelta(days=draw(st.integers(0, 90)))
        amount = _money(draw, 1_000, 300_000)
        return operation, lambda: invoices.add_invoice(
            BILLING, customer_id=customer, number=number, issue_date=issued, amount=amount
        )
    owed = sum(cents for _, cents, _ in book.open_invoices(customer))
    if operation == "payment":
        named = draw(st.sampled_from([None, *[n for n, _, _ in book.open_invoices(customer)]]))
        amount = Decimal(draw(st.one_of(st.just(max(owed, 1)), st.integers(500, 200_000)))) / 100
        received = today - timedelta(days=draw(st.integers(0, 5)))
        return operation, lambda: payments.record_payment(
            BILLING, customer_id=customer, amount=amount, received_on=received, invoice_number=named
        )
    if operation == "reverse payment":
        paid = book.payments()
        if not paid:
            return operation, None
        payment_id = draw(st.sampled_from(paid))
        return operation, lambda: payments.reverse_payment(BILLING, payment_id=payment_id, reason="bounced")
    if operation == "credit note":
        open_now = book.open_invoices()
        if not open_now:
            return operation, None
        number, cents, _ = draw(st.sampled_from(open_now))
        amount = Decimal(draw(st.one_of(st.just(cents), st.integers(1, cents)))) / 100
        note = f"CN-{number}-{draw(st.integers(0, 10**6))}"
        return operation, lambda: credit_notes.issue_credit_note(
            BILLING, invoice_number=number, number=note, amount=amount, issued_on=today
        )
    if operation == "reverse credit note":
        notes = book.credit_notes()
        if not notes:
            return operation, None
        note = draw(st.sampled_from(notes))
        return operation, lambda: credit_notes.reverse_credit_note(BILLING, number=note, reason="in error")
    if operation in ("dispute", "resolve"):
        candidates = [n for n, _, disputed in book.open_invoices() if disputed == (operation == "resolve")]
        if not candidates:
            return operation, None
        number = draw(st.sampled_from(candidates))
        if operation == "dispute":
            return operation, lambda: collections.open_dispute(BILLING, invoice_number=number, reason="seats")
        return operation, lambda: collections.resolve_dispute(BILLING, invoice_number=number, resolution="ok")
    if operation in ("promise", "plan") and owed < 2:
        return operation, None
    if operation == "promise":
        amount = _money(draw, 1, owed)
        until = today + timedelta(days=draw(st.integers(0, 15)))
        return operation, lambda: collections.record_promise(
            BILLING, customer_id=customer, amount=amount, promised_for=until
        )
    if operation == "plan":
        first = today + timedelta(days=draw(st.integers(0, 10)))
        part = draw(st.integers(1, owed - 1))
        plan = [(first, Decimal(part) / 100), (first + timedelta(days=30), Decimal(owed - part) / 100)]
        return operation, lambda: collections.set_up_payment_plan(
            BILLING, customer_id=customer, installments=plan
        )
    if operation == "reminder":
        return operation, lambda: collections.send_reminder(BILLING, customer_id=customer, as_of=today)
    if operation == "contact":
        kind = draw(st.sampled_from(collections.CONTACT_KINDS))
        return operation, lambda: collections.log_contact(
            BILLING, customer_id=customer, kind=kind, notes="spoke"
        )
    if operation == "note":
        return operation, lambda: collections.add_note(BILLING, customer_id=customer, notes="noted")
    if operation == "void":
        numbers = book.invoice_numbers()
        if not numbers:
            return operation, None
        number = draw(st.sampled_from(numbers))
        return operation, lambda: invoices.void_invoice(BILLING, number=number, reason="billed in error")
    if operation == "exempt":
        return operation, lambda: _toggle_exemption(customer)
    if operation == "policy":
        name = draw(st.sampled_from(sorted(POLICIES)))
        minimum = _money(draw, 0, 20_000)
        grace = draw(st.integers(0, 10))
        stop = draw(st.booleans())
        return operation, lambda: factories.saved_policy(
            POLICIES[name], minimum_overdue=minimum, grace_days=grace, disputes_stop_clock=stop
        )
    days = draw(st.integers(1, 20))
    by_run = draw(st.booleans())
    return operation, lambda: _days_pass(book, days, by_run)


def _toggle_exemption(customer: str) -> None:
    before = customer_details(BILLING, customer_id=customer)
    after = replace(before, exempt_from_collections=not before.exempt_from_collections)
    customers.update_customer(BILLING, customer_id=customer, before=before, after=after)


def _days_pass(book: Book, days: int, by_run: bool) -> None:
    book.today += timedelta(days=days)
    if by_run:
        collections_run.run(BILLING)
    else:
        assert collections_run.ensure_current(book.today)


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_stored_state_equals_a_fresh_assessment_after_any_writes(
    sqlite_database: str, data: st.DataObject
) -> None:
    empty_all_tables()
    book = Book()
    with mock.patch.object(clock, "today", lambda: book.today):
        factories.saved_policy(POLICIES["short"], minimum_overdue=Decimal("50.00"), grace_days=3)
        for customer in CUSTOMERS:
            factories.customer(customer)
            for late in data.draw(
                st.lists(st.integers(-20, 60), max_size=3), label=f"{customer} invoices late"
            ):
                book.invoices += 1
                cents = data.draw(st.integers(1_000, 300_000), label="cents")
                issued = START - timedelta(days=30 + late)
                factories.invoice(customer, f"{customer}-{book.invoices}", issued=issued, cents=cents)
        collections_run.run(BILLING)
        done: list[str] = []
        for _ in range(data.draw(st.integers(4, 16), label="steps")):
            operation, write = step(data.draw, book)
            if write is None:
                continue
            try:
                write()
                done.append(operation)
            except InvalidAction:
                done.append(f"{operation} (refused)")
            event(done[-1])
            problems = state_problems(book.today)
            assert problems == [], f"after {done} on {_day(book.today)}: {problems}"


def _day(day: date) -> str:
    return f"day +{(day - START).days}"
