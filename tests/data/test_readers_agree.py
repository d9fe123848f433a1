"""Every reader of "what was open at date D" agrees, to the cent, with one computation done here from the raw rows.

One data set (several customers and currencies, two years of invoices, payments on time, late, partial and
oldest-first, a payment reversed and paid again, an overpayment reversed, unapplied credit applied later, a
credit note and its reversal, a write-off, a disputed invoice) is aged at many dates: before anything, the days
invoices were issued and fell due, the days money moved, the day before each, today and after. The expectation is
worked out in plain Python from plain SELECTs of invoices, allocations, credit notes and payments:

    open at D = amount - allocations dated on or before D - credit notes dated on or before D,

for invoices issued on or before D (a reversal is a negative allocation or credit-note line dated the day it
happened). Nothing in data_access computes the expectation. A reader that disagrees is marked xfail(strict=True)
with the disagreement named; the reader itself is owned elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from data_access import ledger
from data_access.actions import credit_notes, payments
from data_access.db import read_session, transaction
from data_access.documents import statement
from data_access.models import (
    AuditEvent,
    CreditNote,
    Customer,
    Escalation,
    Invoice,
    Payment,
    PaymentAllocation,
    Subscription,
    Ticket,
)
from data_access.permissions import GLOBAL_ADMIN
from data_access.queries import aging, assessments, customers, microsoft_payables, overview, receivables
from tests.support import factories
from tests.support.actors import ADMIN

TODAY = date(2026, 11, 30)
EDGES = (30, 60, 90, 120)
LABELS = ["current", "1-30", "31-60", "61-90", "91-120", "121+"]
CUSTOMERS = ("C-A", "C-B", "C-C", "C-D", "C-E")


# ---------------------------------------------------------------------------------------------------------------
# The data set, written in date order through the app's own actions.


@dataclass(frozen=True)
class _Event:
    day: date
    order: int
    run: Callable[[], object]


def _cents(amount: int) -> Decimal:
    return Decimal(amount) / 100


def build() -> None:
    events: list[_Event] = []
    paid: dict[str, int] = {}

    def invoice(customer: str, number: str, issued: date, cents: int, terms: int, **kw: Any) -> None:
        def run() -> None:
            factories.invoice(customer, number, issued=issued, cents=cents, terms=terms, **kw)

        events.append(_Event(issued, 0, run))

    def credit(invoice_number: str, number: str, day: date, cents: int, reason: str = "goodwill") -> None:
        def run() -> None:
            credit_notes.issue_credit_note(
                ADMIN, invoice_number=invoice_number, number=number, amount=_cents(cents), issued_on=day,
                reason=reason,
            )  # fmt: skip

        events.append(_Event(day, 1, run))

    def pay(customer: str, day: date, cents: int, invoice_number: str | None = None, ref: str = "") -> None:
        def run() -> None:
            paid[ref] = payments.record_payment(
                ADMIN, customer_id=customer, amount=_cents(cents), received_on=day, invoice_number=invoice_number,
                reference=ref or None, today=TODAY,
            )  # fmt: skip

        events.append(_Event(day, 2, run))

    def reverse_payment(ref: str, day: date) -> None:
        events.append(
            _Event(
                day,
                3,
                lambda: payments.reverse_payment(
                    ADMIN,
                    payment_id=paid[ref],
                    reason="returned by the bank",
                    reversed_on=day,
                    today=TODAY,
                ),
            )
        )

    def reverse_credit(number: str, day: date) -> None:
        events.append(
            _Event(
                day,
                3,
                lambda: credit_notes.reverse_credit_note(
                    ADMIN, number=number, reason="issued in error", reversed_on=day, today=TODAY
                ),
            )
        )

    def apply_credit(customer: str, day: date) -> None:
        events.append(_Event(day, 4, lambda: payments.apply_credit(ADMIN, customer_id=customer, today=day)))

    factories.customer("C-A", currency="USD", country="US")
    factories.customer("C-B", currency="EUR", country="DE")
    factories.customer("C-C", currency="GBP", country="GB")
    factories.customer("C-D", currency="USD", country="US")
    factories.customer("C-E", currency="EUR", country="FR")

    # C-A, USD, monthly on the 5th, 30 days: paid early, on the day and late; one left part-paid for good; the
    # last ones open; one issued today and one due today.
    offsets = [-3, 0, 7, 31, 62, 0]
    for i in range(23):
        year, month = 2025 + (i // 12), 1 + i % 12
        issued = date(year, month, 5)
        number, cents = f"A-{year % 100}{month:02d}", 100_000 + 1_337 * i
        invoice("C-A", number, issued, cents, 30)
        due = issued + timedelta(days=30)
        if i < 6:
            pay("C-A", due + timedelta(days=offsets[i]), cents, number, ref=f"A-PAY-{i}")
        elif i == 6:
            pay("C-A", due + timedelta(days=5), cents * 4 // 10, number, ref="A-PART-1")
        elif i <= 18:
            late = [0, 12, -10, 35, 3, 90, 1, 0, 20, 45, 2, 0][i - 7]
            day = min(due + timedelta(days=late), TODAY)
            pay("C-A", day, cents, number, ref=f"A-PAY-{i}")
        elif i == 19:
            pay("C-A", due + timedelta(days=1), cents // 2, number, ref="A-HALF")
    invoice("C-A", "A-DUE-TODAY", TODAY - timedelta(days=30), 42_000, 30)
    invoice("C-A", "A-TODAY", TODAY, 13_500, 30)

    # C-B, EUR, quarterly, 45 days, and two invoices in USD: a credit note, a write-off reversed then paid, a
    # disputed invoice never paid, part payments.
    quarters = [date(2025, 1, 15), date(2025, 4, 15), date(2025, 7, 15), date(2025, 10, 15),
                date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15)]  # fmt: skip
    amounts = [500_000 + 7_777 * i for i in range(8)]
    for i, issued in enumerate(quarters):
        invoice("C-B", f"B-{i}", issued, amounts[i], 45, disputed=(i == 3))
    pay("C-B", date(2025, 3, 1), amounts[0], "B-0", ref="B-PAY-0")
    pay("C-B", date(2025, 6, 20), amounts[1] // 2, "B-1", ref="B-PAY-1a")
    credit("B-1", "CN-B1", date(2025, 7, 10), amounts[1] // 10)
    pay("C-B", date(2025, 9, 1), amounts[1] - amounts[1] // 2 - amounts[1] // 10, "B-1", ref="B-PAY-1b")
    credit("B-2", "CN-B2", date(2026, 1, 15), amounts[2], reason="write-off")
    reverse_credit("CN-B2", date(2026, 3, 1))
    pay("C-B", date(2026, 4, 10), amounts[2], "B-2", ref="B-PAY-2")
    pay("C-B", date(2026, 3, 10), amounts[4], "B-4", ref="B-PAY-4")
    credit("B-5", "CN-B5", date(2026, 5, 1), 50_000)
    pay("C-B", date(2026, 6, 30), amounts[5] - 50_000, "B-5", ref="B-PAY-5")
    pay("C-B", date(2026, 9, 1), 300_000, "B-6", ref="B-PAY-6")
    invoice("C-B", "B-U1", date(2025, 6, 1), 120_000, 30, currency="USD")
    pay("C-B", date(2025, 7, 15), 120_000, "B-U1", ref="B-PAY-U1")
    invoice("C-B", "B-U2", date(2026, 6, 1), 80_000, 30, currency="USD")

    # C-C, GBP, monthly on the 1st, 14 days: an overpayment whose credit is applied months later, a payment
    # reversed and paid again, an oldest-first payment reversed with credit left on it, an excess kept on account.
    months = [date(2025, 7 + i, 1) if i < 6 else date(2026, i - 5, 1) for i in range(17)]
    gbp = {d: 75_000 + 100 * i for i, d in enumerate(months)}
    for d, cents in gbp.items():
        invoice("C-C", f"C-{d:%y%m}", d, cents, 14)
    for d in months[:7]:  # Jul 2025 - Jan 2026 paid by number, on or around the due date
        pay(
            "C-C", d + timedelta(days=13 if d.month % 2 else 16), gbp[d], f"C-{d:%y%m}", ref=f"C-PAY-{d:%y%m}"
        )
    pay("C-C", date(2026, 2, 3), 200_000, ref="C-OVER")  # pays Feb, the rest waits as credit
    apply_credit("C-C", date(2026, 5, 20))  # onto Mar and part of Apr
    may = date(2026, 5, 1)
    pay("C-C", date(2026, 5, 12), gbp[may], f"C-{may:%y%m}", ref="C-MAY")
    reverse_payment("C-MAY", date(2026, 6, 2))
    pay("C-C", date(2026, 6, 20), gbp[may], f"C-{may:%y%m}", ref="C-MAY-AGAIN")
    pay("C-C", date(2026, 7, 5), 300_000, ref="C-BOUNCE")  # rest of Apr, Jun, Jul, and credit left over
    reverse_payment("C-BOUNCE", date(2026, 7, 25))
    pay("C-C", date(2026, 8, 10), 250_000, ref="C-CATCH-UP")  # oldest first again
    aug = date(2026, 8, 1)
    pay("C-C", date(2026, 9, 2), 100_000, f"C-{aug:%y%m}", ref="C-AUG-EXCESS")  # excess stays on account
    pay("C-C", date(2026, 10, 20), 40_000, f"C-{date(2026, 9, 1):%y%m}", ref="C-SEP-PART")

    # C-D, USD: an oldest-first payment over three invoices, one paid the day it was issued, one credited in
    # full the day it was issued.
    invoice("C-D", "D-1", date(2026, 3, 1), 100_000, 30)
    invoice("C-D", "D-2", date(2026, 4, 1), 50_000, 30)
    invoice("C-D", "D-3", date(2026, 5, 1), 70_000, 30)
    pay("C-D", date(2026, 5, 15), 120_000, ref="D-SPREAD")
    invoice("C-D", "D-4", date(2026, 6, 1), 33_300, 0)
    pay("C-D", date(2026, 6, 1), 33_300, "D-4", ref="D-SAME-DAY")
    invoice("C-D", "D-5", date(2026, 10, 1), 25_000, 30)
    credit("D-5", "CN-D5", date(2026, 10, 1), 25_000)

    # C-E, EUR: money received with nothing to pay: all of it unapplied credit.
    pay("C-E", date(2026, 3, 3), 10_000, ref="E-ADVANCE")

    for event in sorted(events, key=lambda e: (e.day, e.order)):
        event.run()


# ---------------------------------------------------------------------------------------------------------------
# The independent computation, from raw rows.


@dataclass(frozen=True)
class RawInvoice:
    id: int
    customer_pk: int
    customer: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    amount_cents: int
    disputed: bool


@dataclass(frozen=True)
class Raw:
    invoices: dict[int, RawInvoice]
    allocations: list[tuple[int, int, date, int]]  # payment id, invoice id, applied on, cents
    credits: list[tuple[int, date, int]]  # invoice id, issued on, cents
    payments: list[
        tuple[int, str, str, date, int, date | None]
    ]  # id, customer, currency, received, cents, reversed
    customer_currency: dict[str, str]

    def open_at(self, day: date) -> dict[int, int]:
        """Invoice id -> cents open at the end of `day`, for invoices issued by then; zero balances left out."""
        owed = {i.id: i.amount_cents for i in self.invoices.values() if i.issue_date <= day}
        for _, invoice_id, applied_on, cents in self.allocations:
            if applied_on <= day and invoice_id in owed:
                owed[invoice_id] -= cents
        for invoice_id, issued_on, cents in self.credits:
            if issued_on <= day and invoice_id in owed:
                owed[invoice_id] -= cents
        return {invoice_id: cents for invoice_id, cents in owed.items() if cents}

    def unapplied_at(self, day: date) -> dict[tuple[str, str], int]:
        """(customer, currency) -> money received by `day`, not reversed by then, and not applied by then."""
        applied: dict[int, int] = defaultdict(int)
        for payment_id, _, applied_on, cents in self.allocations:
            if applied_on <= day:
                applied[payment_id] += cents
        held: dict[tuple[str, str], int] = defaultdict(int)
        for payment_id, customer, currency, received_on, cents, reversed_on in self.payments:
            if received_on <= day and (reversed_on is None or reversed_on > day):
                held[(customer, currency)] += cents - applied[payment_id]
        return {key: cents for key, cents in held.items() if cents}


def read_raw() -> Raw:
    with read_session() as session:
        names = {
            row.id: row.external_id for row in session.execute(select(Customer.id, Customer.external_id))
        }
        currency = {
            row.external_id: row.currency
            for row in session.execute(select(Customer.external_id, Customer.currency))
        }
        invoices = {
            row.id: RawInvoice(
                row.id,
                row.customer_id,
                names[row.customer_id],
                row.number,
                row.currency,
                row.issue_date,
                row.due_date,
                row.amount_cents,
                bool(row.disputed),
            )
            for row in session.execute(
                select(
                    Invoice.id,
                    Invoice.customer_id,
                    Invoice.number,
                    Invoice.currency,
                    Invoice.issue_date,
                    Invoice.due_date,
                    Invoice.amount_cents,
                    Invoice.disputed,
                )
            )
        }
        allocations = [
            (r.payment_id, r.invoice_id, r.applied_on, r.amount_cents)
            for r in session.execute(
                select(
                    PaymentAllocation.payment_id,
                    PaymentAllocation.invoice_id,
                    PaymentAllocation.applied_on,
                    PaymentAllocation.amount_cents,
                )
            )
        ]
        credits = [
            (r.invoice_id, r.issued_on, r.amount_cents)
            for r in session.execute(
                select(CreditNote.invoice_id, CreditNote.issued_on, CreditNote.amount_cents)
            )
        ]
        paid = [
            (r.id, names[r.customer_id], r.currency, r.received_on, r.amount_cents, r.reversed_on)
            for r in session.execute(
                select(
                    Payment.id,
                    Payment.customer_id,
                    Payment.currency,
                    Payment.received_on,
                    Payment.amount_cents,
                    Payment.reversed_on,
                )
            )
        ]
    return Raw(invoices, allocations, credits, paid, currency)


def bucket(age: int) -> int:
    if age <= 0:
        return 0
    return 1 + sum(1 for edge in EDGES if age > edge)


def as_of_dates(raw: Raw) -> list[date]:
    """Boundaries: every issue, due, payment, allocation, credit and reversal day and the day before each, the
    months' ends, before anything, today and after."""
    days = {date(2024, 12, 31), TODAY, TODAY - timedelta(days=1), TODAY + timedelta(days=1), date(2027, 3, 1)}
    for invoice in raw.invoices.values():
        days |= {invoice.issue_date, invoice.due_date}
    days |= {applied_on for _, _, applied_on, _ in raw.allocations}
    days |= {issued_on for _, issued_on, _ in raw.credits}
    for _, _, _, received_on, _, reversed_on in raw.payments:
        days |= {received_on} | ({reversed_on} if reversed_on else set())
    days |= {day - timedelta(days=1) for day in days}
    first = date(2025, 1, 1)
    while first <= TODAY:
        first = (first + timedelta(days=32)).replace(day=1)
        days.add(first - timedelta(days=1))
    return sorted(days)


def cents_of(amount: Decimal) -> int:
    return int(amount * 100)


class Mismatches:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, day: date, what: str, expected: object, got: object) -> None:
        if expected != got:
            self.found.append(f"{day} {what}: expected {expected}, got {got}")

    def assert_none(self) -> None:
        shown = "\n".join(self.found[:25])
        assert not self.found, f"{len(self.found)} disagreements, the first:\n{shown}"


# ---------------------------------------------------------------------------------------------------------------
# Fixtures.


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)


@pytest.fixture
def raw(database: str) -> Raw:
    build()
    return read_raw()


def test_the_data_set_holds_what_it_says(raw: Raw) -> None:
    """Guards the scenarios the other tests lean on: without them agreement would prove little."""
    assert len(raw.invoices) > 50
    assert any(cents < 0 for _, _, _, cents in raw.allocations), "a reversed payment"
    assert any(cents < 0 for _, _, cents in raw.credits), "a reversed credit note"
    assert any(reversed_on for *_, reversed_on in raw.payments)
    assert raw.unapplied_at(TODAY), "unapplied credit on account"
    assert {i.currency for i in raw.invoices.values()} == {"USD", "EUR", "GBP"}
    assert any(i.disputed for i in raw.invoices.values())
    open_today = raw.open_at(TODAY)
    assert all(0 < cents <= raw.invoices[i].amount_cents for i, cents in open_today.items())
    for day in as_of_dates(raw):
        assert all(cents > 0 for cents in raw.open_at(day).values()), f"nothing over-settled at {day}"


# ---------------------------------------------------------------------------------------------------------------
# The readers.


def test_ledger_open_at(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        with read_session() as session:
            rows = session.execute(ledger.open_at(day)).all()
        expected = raw.open_at(day)
        found.check(day, "open per invoice", expected, {row.invoice_id: row.open_cents for row in rows})
        for row in rows:
            invoice = raw.invoices[row.invoice_id]
            attributes = (row.customer_id, row.number, row.currency, row.issue_date, row.due_date,
                          row.amount_cents, bool(row.disputed), type(row.open_cents))  # fmt: skip
            found.check(day, f"attributes of {invoice.number}", (invoice.customer_pk, invoice.number,
                        invoice.currency, invoice.issue_date, invoice.due_date, invoice.amount_cents,
                        invoice.disputed, int), attributes)  # fmt: skip
    found.assert_none()


def test_ledger_open_at_filters(raw: Raw) -> None:
    found = Mismatches()
    b = select(Customer.id).where(Customer.external_id.in_(["C-B", "C-D"]))
    for day in as_of_dates(raw)[::3]:
        expected = {
            i: c for i, c in raw.open_at(day).items()
            if raw.invoices[i].customer in ("C-B", "C-D") and raw.invoices[i].currency == "USD"
        }  # fmt: skip
        with read_session() as session:
            rows = session.execute(ledger.open_at(day, customer_ids=b, currency="usd")).all()
        found.check(day, "C-B and C-D in USD", expected, {row.invoice_id: row.open_cents for row in rows})
    found.assert_none()


def _summary_expected(raw: Raw, day: date, basis: str) -> dict[tuple[str, str], tuple[int, int]]:
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for invoice_id, cents in raw.open_at(day).items():
        invoice = raw.invoices[invoice_id]
        start = invoice.due_date if basis == "due" else invoice.issue_date
        cell = cells[(invoice.currency, LABELS[bucket((day - start).days)])]
        cell[0] += cents
        cell[1] += 1
    return {key: (cents, count) for key, (cents, count) in cells.items()}


@pytest.mark.parametrize("basis", ["due", "issue"])
def test_aging_summary_amounts(raw: Raw, basis: str) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        summary = aging.aging_summary(aging.AgingFilter(as_of=day, basis=basis))  # type: ignore[arg-type]
        rows = summary.to_dict(orient="records")
        got = {(r["currency"], r["bucket"]): cents_of(r["amount"]) for r in rows if r["amount"]}
        expected = {key: cents for key, (cents, _) in _summary_expected(raw, day, basis).items()}
        found.check(day, f"summary amounts ({basis})", expected, got)
    found.assert_none()


@pytest.mark.parametrize("basis", ["due", "issue"])
def test_aging_summary_invoice_counts(raw: Raw, basis: str) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        summary = aging.aging_summary(aging.AgingFilter(as_of=day, basis=basis))  # type: ignore[arg-type]
        rows = summary.to_dict(orient="records")
        got = {(r["currency"], r["bucket"]): int(r["invoices"]) for r in rows if r["invoices"]}
        expected = {key: count for key, (_, count) in _summary_expected(raw, day, basis).items()}
        found.check(day, f"summary invoice counts ({basis})", expected, got)
    found.assert_none()


def _per_customer(raw: Raw, day: date) -> dict[tuple[str, str], list[int]]:
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(LABELS))
    for invoice_id, cents in raw.open_at(day).items():
        invoice = raw.invoices[invoice_id]
        table[(invoice.customer, invoice.currency)][bucket((day - invoice.due_date).days)] += cents
    return dict(table)


def _by_customer(day: date) -> tuple[dict[tuple[str, str], list[int]], dict[tuple[str, str], int]]:
    frame = aging.aging_by_customer(aging.AgingFilter(as_of=day))
    rows = frame.to_dict(orient="records")
    cells = {
        (row["customer_id"], row["currency"]): [cents_of(row[label]) for label in LABELS] for row in rows
    }
    totals = {(row["customer_id"], row["currency"]): cents_of(row["total"]) for row in rows}
    return cells, totals


def test_aging_by_customer(raw: Raw) -> None:
    """Amounts per customer, currency and bucket (rows of nothing but zeros aside: see the next test)."""
    found = Mismatches()
    for day in as_of_dates(raw):
        cells, totals = _by_customer(day)
        expected = _per_customer(raw, day)
        found.check(day, "by customer", expected, {key: row for key, row in cells.items() if any(row)})
        found.check(day, "by customer totals", {k: sum(v) for k, v in expected.items()},
                    {key: total for key, total in totals.items() if total})  # fmt: skip
    found.assert_none()


def test_aging_by_customer_lists_only_what_was_open(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        cells, _ = _by_customer(day)
        found.check(day, "customers listed", set(_per_customer(raw, day)), set(cells))
    found.assert_none()


def test_customer_page_balances(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::3]:
        open_now = raw.open_at(day)
        for customer in CUSTOMERS:
            status = customers.customer_status(ADMIN, customer_id=customer, as_of=day)
            expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for invoice_id, cents in open_now.items():
                invoice = raw.invoices[invoice_id]
                if invoice.customer == customer:
                    expected[invoice.currency][0] += cents
                    expected[invoice.currency][1] += cents if invoice.due_date < day else 0
            got = {
                b.currency: [cents_of(b.open), cents_of(b.overdue)]
                for b in status.balances
                if b.open or b.overdue
            }
            found.check(day, f"{customer} open and overdue", dict(expected), got)
    found.assert_none()


def test_customer_page_days_overdue(raw: Raw) -> None:
    """No subscription is suspended, so the standing is 'overdue' exactly when something was overdue at D."""
    found = Mismatches()
    for day in as_of_dates(raw)[::3]:
        open_now = raw.open_at(day)
        for customer in CUSTOMERS:
            status = customers.customer_status(ADMIN, customer_id=customer, as_of=day)
            overdue_since = [
                raw.invoices[i].due_date for i in open_now
                if raw.invoices[i].customer == customer and raw.invoices[i].due_date < day
            ]  # fmt: skip
            days = (day - min(overdue_since)).days if overdue_since else 0
            found.check(day, f"{customer} days overdue, standing", (days, "overdue" if days else "good standing"),
                        (status.days_overdue, status.standing))  # fmt: skip
    found.assert_none()


def test_customer_page_unapplied_credit(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::3]:
        held = raw.unapplied_at(day)
        for customer in CUSTOMERS:
            status = customers.customer_status(ADMIN, customer_id=customer, as_of=day)
            expected = {cur: cents for (who, cur), cents in held.items() if who == customer}
            got = {b.currency: cents_of(b.unapplied_credit) for b in status.balances if b.unapplied_credit}
            found.check(day, f"{customer} unapplied credit", expected, got)
    found.assert_none()


def test_receivables_drill_down(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::2]:
        open_now = raw.open_at(day)
        for customer in CUSTOMERS:
            frame = receivables.customer_open_invoices(ADMIN, customer_id=customer, as_of=day)
            got = {
                row["invoice_number"]: (cents_of(row["open_at_as_of"]), row["bucket"])
                for row in frame.to_dict("records")
            }
            expected = {
                raw.invoices[i].number: (cents, LABELS[bucket((day - raw.invoices[i].due_date).days)])
                for i, cents in open_now.items() if raw.invoices[i].customer == customer
            }  # fmt: skip
            found.check(day, f"{customer} open invoices", expected, got)
    found.assert_none()


def test_statement_closing_balance_and_its_aging(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::3]:
        table = _per_customer(raw, day)
        for customer in CUSTOMERS:
            made = statement.statement(ADMIN, customer_id=customer, start=min(day, date(2025, 6, 1)), end=day)
            got = {s.currency: cents_of(s.closing_balance) for s in made.sections if s.closing_balance}
            aged = {s.currency: [cents_of(a) for _, a in s.aging] for s in made.sections if s.aging_total}
            expected = {cur: sum(cells) for (who, cur), cells in table.items() if who == customer}
            found.check(day, f"{customer} closing balance", expected, got)
            found.check(day, f"{customer} statement aging",
                        {cur: cells for (who, cur), cells in table.items() if who == customer}, aged)  # fmt: skip
    found.assert_none()


def test_statement_unapplied_credit(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::3]:
        held = raw.unapplied_at(day)
        for customer in CUSTOMERS:
            made = statement.statement(ADMIN, customer_id=customer, start=min(day, date(2025, 6, 1)), end=day)
            got = {s.currency: cents_of(s.unapplied_credit) for s in made.sections if s.unapplied_credit}
            expected = {cur: cents for (who, cur), cents in held.items() if who == customer}
            found.check(day, f"{customer} unapplied credit on the statement", expected, got)
    found.assert_none()


def test_cash_cover_receivables(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        for horizon in (0, 30):
            pay_by = day + timedelta(days=horizon)
            frame = microsoft_payables.receivables_due_by(ADMIN, as_of=day, pay_by=pay_by)
            got = {
                row["currency"]: (cents_of(row["already_overdue"]), cents_of(row["not_yet_due"]))
                for row in frame.to_dict("records") if row["due_before"] or row["already_overdue"]
            }  # fmt: skip
            expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for invoice_id, cents in raw.open_at(day).items():
                invoice = raw.invoices[invoice_id]
                if invoice.due_date <= pay_by:
                    expected[invoice.currency][0 if invoice.due_date < day else 1] += cents
            found.check(day, f"due by {pay_by}", {k: tuple(v) for k, v in expected.items()}, got)
    found.assert_none()


def test_overview_receivables_and_overdue(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw)[::2]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for invoice_id, cents in raw.open_at(day).items():
            invoice = raw.invoices[invoice_id]
            totals[invoice.currency][0] += cents
            totals[invoice.currency][1] += cents if invoice.due_date < day else 0
        for currency in ("USD", "EUR", "GBP"):
            figures = overview.figures_at(ADMIN, day, currency)
            assert figures.total_receivables is not None and figures.overdue is not None
            found.check(day, f"{currency} receivables, overdue", totals.get(currency, [0, 0]),
                        [cents_of(figures.total_receivables), cents_of(figures.overdue)])  # fmt: skip
    found.assert_none()


def test_overview_trend(raw: Raw) -> None:
    found = Mismatches()
    for as_of in (TODAY, date(2026, 6, 10), date(2025, 12, 31)):
        for currency in ("USD", "EUR", "GBP"):
            trend = overview.receivables_trend(ADMIN, as_of=as_of, currency=currency)
            for row in trend.to_dict("records"):
                end = row["month_end"]
                open_then = {
                    i: c for i, c in raw.open_at(end).items() if raw.invoices[i].currency == currency
                }
                overdue = sum(c for i, c in open_then.items() if raw.invoices[i].due_date < end)
                found.check(end, f"{currency} trend from {as_of}", (sum(open_then.values()), overdue),
                            (cents_of(row["receivables"]), cents_of(row["overdue"])))  # fmt: skip
    found.assert_none()


def test_collections_assesses_every_customer_overdue_at_a_past_date(raw: Raw) -> None:
    found = Mismatches()
    for day in as_of_dates(raw):
        overdue = {raw.invoices[i].customer for i in raw.open_at(day) if raw.invoices[i].due_date < day}
        _, stages = assessments.stages_at(day)
        found.check(day, "customers overdue but not assessed", set(), overdue - set(stages))
    found.assert_none()


# ---------------------------------------------------------------------------------------------------------------
# What else a page shows at D: tickets and escalations open then, subscriptions suspended then. Rows are written
# here as the actions leave them (times in the past), and the expectation is worked out from those rows alone.


def _at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


# Ticket: id, customer, severity, created, first response, resolved, status now.
TICKETS: list[tuple[str, str, str, datetime, datetime | None, datetime | None, str]] = [
    ("T-1", "C-A", "critical", _at(date(2026, 3, 2), 9), _at(date(2026, 3, 2), 9, 30), _at(date(2026, 3, 2), 15), "resolved"),
    ("T-2", "C-A", "critical", _at(date(2026, 3, 2), 9), _at(date(2026, 3, 2), 12), _at(date(2026, 3, 9), 10), "closed"),
    ("T-3", "C-B", "moderate", _at(date(2026, 5, 20), 8), None, _at(date(2026, 7, 1), 8), "resolved"),
    ("T-4", "C-B", "minimal", _at(date(2026, 6, 30), 22), _at(date(2026, 7, 1), 1), None, "open"),
    ("T-5", "C-C", "moderate", _at(date(2026, 7, 24), 12), None, None, "new"),
    ("T-6", "C-C", "critical", _at(date(2026, 8, 10), 10), _at(date(2026, 8, 10), 10, 20), None, "pending customer"),
    ("T-7", "C-D", "minimal", _at(date(2026, 4, 1), 10), None, None, "closed"),
    ("T-8", "C-D", "critical", _at(date(2026, 11, 29), 23), None, None, "escalated"),
]  # fmt: skip


# Targets in hours (first response, resolution) with no support offering: around the clock, in UTC.
TARGET_HOURS = {"critical": (1, 8), "moderate": (4, 24), "minimal": (8, 40)}


# Escalation: case, ticket, submitted, resolved, status now.
ESCALATIONS: list[tuple[str, str, datetime, datetime | None, str]] = [
    ("MS-1", "T-2", _at(date(2026, 3, 3), 10), _at(date(2026, 3, 8), 10), "resolved"),
    ("MS-2", "T-3", _at(date(2026, 6, 1), 10), None, "closed"),
    ("MS-3", "T-6", _at(date(2026, 8, 11), 10), None, "in progress"),
    ("MS-4", "T-4", _at(date(2026, 7, 2), 10), _at(date(2026, 9, 1), 10), "closed"),
]


# Subscription: id, customer, status now, suspended_at now; then its suspension and reinstatement events.
SUBSCRIPTIONS: list[tuple[str, str, str, datetime | None]] = [
    ("S-1", "C-A", "Suspended", _at(date(2026, 9, 1), 10)),
    ("S-2", "C-B", "Active", None),
    ("S-3", "C-C", "Suspended", _at(date(2026, 4, 1), 9)),  # imported suspended: no events
    ("S-4", "C-C", "Active", None),  # imported suspended (no time), reinstated in the app
    ("S-5", "C-D", "Active", None),  # never suspended
]
SUSPENSION_EVENTS: list[tuple[str, str, datetime]] = [
    ("S-1", "subscription.suspend", _at(date(2026, 3, 10), 10)),
    ("S-1", "subscription.reinstate", _at(date(2026, 5, 1), 10)),
    ("S-1", "subscription.suspend", _at(date(2026, 9, 1), 10)),
    ("S-2", "subscription.suspend", _at(date(2026, 6, 15), 10)),
    ("S-2", "subscription.reinstate", _at(date(2026, 7, 1), 10)),
    ("S-4", "subscription.reinstate", _at(date(2026, 8, 1), 10)),
]


def add_support_rows() -> None:
    with transaction() as session:
        pk = {row.external_id: row.id for row in session.execute(select(Customer.external_id, Customer.id))}
        tickets = {}
        for ticket_id, who, severity, created, responded, resolved, status in TICKETS:
            ticket = Ticket(
                external_id=ticket_id, customer_id=pk[who], title=ticket_id, category="billing question",
                severity=severity, status=status, channel="email", created_at=created, first_response_at=responded,
                resolved_at=resolved,
            )  # fmt: skip
            session.add(ticket)
            tickets[ticket_id] = ticket
        session.flush()
        for case_number, ticket_id, submitted, resolved, status in ESCALATIONS:
            session.add(
                Escalation(
                    ticket_id=tickets[ticket_id].id, kind="commercial", microsoft_case_number=case_number,
                    severity="moderate", status=status, submitted_at=submitted,
                    status_changed_at=resolved or submitted, resolved_at=resolved,
                )
            )  # fmt: skip
        for subscription_id, who, status, suspended_at in SUBSCRIPTIONS:
            session.add(
                Subscription(
                    external_id=subscription_id, customer_id=pk[who], product="Microsoft 365 E3", sku="E3",
                    quantity=1, unit_price_cents=3_600, status=status, suspended_at=suspended_at,
                    suspension_reason="unpaid" if status == "Suspended" else None,
                )
            )  # fmt: skip
        for subscription_id, permission, occurred_at in SUSPENSION_EVENTS:
            session.add(
                AuditEvent(
                    occurred_at=occurred_at, actor="admin", roles=[GLOBAL_ADMIN], permission=permission,
                    target=f"subscription:{subscription_id}", details={"reason": "written by the test"},
                )
            )  # fmt: skip


def support_dates() -> list[date]:
    moments = [t[3] for t in TICKETS] + [t[5] for t in TICKETS if t[5]] + [e[2] for e in ESCALATIONS]
    moments += [e[3] for e in ESCALATIONS if e[3]] + [e[2] for e in SUSPENSION_EVENTS]
    moments += [s[3] for s in SUBSCRIPTIONS if s[3]]
    days = {m.date() for m in moments} | {m.date() - timedelta(days=1) for m in moments}
    days |= {date(2026, 1, 31), date(2026, 3, 31), TODAY}
    return sorted(days)


def _end(day: date) -> datetime:
    return min(datetime.now(UTC), _at(day + timedelta(days=1)))


def tickets_open_at(moment: datetime, customer: str | None = None) -> set[str]:
    return {
        ticket_id for ticket_id, who, _, created, _, resolved, status in TICKETS
        if created <= moment and (resolved > moment if resolved else status not in ("resolved", "closed"))
        and customer in (None, who)
    }  # fmt: skip


def breached_at(moment: datetime) -> set[str]:
    found = set()
    for ticket_id, _, severity, created, responded, _, _ in TICKETS:
        if ticket_id not in tickets_open_at(moment):
            continue
        first, resolution = (timedelta(hours=h) for h in TARGET_HOURS[severity])
        answered = responded if responded is not None and responded <= moment else None
        late_answer = answered > created + first if answered else moment > created + first
        if late_answer or moment > created + resolution:
            found.add(ticket_id)
    return found


def escalations_open_at(moment: datetime, customer: str | None = None) -> set[str]:
    owner = {t[0]: t[1] for t in TICKETS}
    return {
        case for case, ticket_id, submitted, resolved, status in ESCALATIONS
        if submitted < moment and (resolved >= moment if resolved else status not in ("resolved", "closed"))
        and customer in (None, owner[ticket_id])
    }  # fmt: skip


def suspended_then(moment: datetime) -> set[str]:
    found = set()
    for subscription_id, _, status, suspended_at in SUBSCRIPTIONS:
        mine = sorted((when, what) for sid, what, when in SUSPENSION_EVENTS if sid == subscription_id)
        before = [what for when, what in mine if when < moment]
        if before:
            suspended = before[-1] == "subscription.suspend"
        elif mine:
            suspended = mine[0][1] == "subscription.reinstate"
        else:
            suspended = status == "Suspended" and (suspended_at is None or suspended_at < moment)
        if suspended:
            found.add(subscription_id)
    return found


def test_overview_tickets_escalations_and_suspensions_at_past_dates(raw: Raw) -> None:
    add_support_rows()
    found = Mismatches()
    for day in support_dates():
        moment = _end(day)
        figures = overview.figures_at(ADMIN, day, "USD")
        expected = (len(tickets_open_at(moment)), len(breached_at(moment)), len(escalations_open_at(moment)),
                    len(suspended_then(_at(day + timedelta(days=1)))))  # fmt: skip
        got = (
            figures.open_tickets,
            figures.sla_breaches,
            figures.open_escalations,
            figures.suspended_subscriptions,
        )
        found.check(
            day, "open tickets, SLA breaches, open escalations, suspended subscriptions", expected, got
        )
    found.assert_none()


def test_data_set_for_support_holds_what_it_says(raw: Raw) -> None:
    """Breaches at a past date among tickets resolved since, and suspensions since reinstated: the cases the
    readers used to miss."""
    moment = _end(date(2026, 3, 2))
    assert {"T-2"} <= breached_at(moment) and "T-2" not in tickets_open_at(_end(TODAY))
    assert "S-2" in suspended_then(_at(date(2026, 6, 20))) and "S-2" not in suspended_then(_end(TODAY))
    assert "S-4" in suspended_then(_at(date(2026, 7, 1))) and "S-1" not in suspended_then(
        _at(date(2026, 6, 1))
    )


def test_customer_page_tickets_escalations_and_subscriptions_at_past_dates(raw: Raw) -> None:
    add_support_rows()
    found = Mismatches()
    owner = {s[0]: s[1] for s in SUBSCRIPTIONS}
    for day in support_dates()[::2]:
        moment = _end(day)
        suspended = suspended_then(_at(day + timedelta(days=1)))
        for customer in CUSTOMERS:
            status = customers.customer_status(ADMIN, customer_id=customer, as_of=day)
            expected = (
                tickets_open_at(moment, customer),
                escalations_open_at(moment, customer),
                {
                    sid: "Suspended" if sid in suspended else "Active"
                    for sid, who in owner.items()
                    if who == customer
                },
                "suspended" if suspended & {sid for sid, who in owner.items() if who == customer} else None,
            )
            got = (
                {t.ticket_id for t in status.open_tickets},
                {e.case_number for e in status.open_escalations},
                {s.subscription_id: s.status for s in status.subscriptions},
                "suspended" if status.standing == "suspended" else None,
            )
            found.check(
                day, f"{customer} tickets, escalations, subscriptions, suspended standing", expected, got
            )
    found.assert_none()
