"""Microsoft payables and cash cover equal what plain Python makes of the rows the test wrote, at several dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from data_access.permissions import Actor, PermissionDenied
from data_access.queries.microsoft_payables import (
    CashCover,
    NextPayment,
    cash_cover,
    microsoft_invoices,
    monthly_payables_and_collections,
    next_microsoft_payment,
    receivables_due_by,
)
from tests.support import factories
from tests.support.actors import ADMIN, BILLING

TODAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Bill:
    number: str
    period_start: date
    due: date
    cents: int
    paid_on: date | None = None
    currency: str = "USD"

    @property
    def period_end(self) -> date:
        return (self.period_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class Sale:
    number: str
    customer: str
    issued: date
    terms: int
    cents: int

    @property
    def due(self) -> date:
        return self.issued + timedelta(days=self.terms)


@dataclass(frozen=True)
class Received:
    customer: str
    on: date
    cents: int
    invoice: str | None = None


CUSTOMERS = {"C-1": "USD", "C-2": "USD", "C-3": "EUR"}
BILLS = [
    Bill("M-1", date(2026, 7, 1), date(2026, 9, 30), 1_000_000, paid_on=date(2026, 9, 28)),
    Bill("M-2", date(2026, 8, 1), date(2026, 10, 31), 1_200_050, paid_on=date(2026, 11, 5)),
    Bill("M-3", date(2026, 9, 1), date(2026, 11, 30), 1_300_000),
    Bill("M-4", date(2026, 10, 1), date(2026, 12, 31), 900_000),
    Bill("M-E", date(2026, 9, 1), date(2026, 12, 15), 50_000, currency="EUR"),
]
SALES = [
    Sale("I-1", "C-1", date(2026, 8, 1), 30, 400_000),
    Sale("I-2", "C-1", date(2026, 10, 1), 30, 250_000),
    Sale("I-3", "C-2", date(2026, 10, 20), 30, 300_000),
    Sale("I-4", "C-2", date(2026, 11, 10), 30, 500_000),
    Sale("I-5", "C-3", date(2026, 10, 1), 30, 70_000),
    Sale("I-6", "C-1", date(2026, 11, 20), 5, 12_345),
]
RECEIVED = [
    Received("C-1", date(2026, 9, 15), 400_000, "I-1"),
    Received("C-1", date(2026, 11, 10), 100_000, "I-2"),
    Received("C-2", date(2026, 11, 20), 350_000),
    Received("C-3", date(2026, 10, 15), 20_000, "I-5"),
]
# Where each payment went: the one without an invoice pays C-2's oldest due first (I-3, then part of I-4).
APPLIED = [
    ("I-1", date(2026, 9, 15), 400_000),
    ("I-2", date(2026, 11, 10), 100_000),
    ("I-3", date(2026, 11, 20), 300_000),
    ("I-4", date(2026, 11, 20), 50_000),
    ("I-5", date(2026, 10, 15), 20_000),
]
CREDITED = [("I-2", date(2026, 11, 12), 25_000)]
AS_OF_DATES = [
    date(2026, 9, 29),  # M-1 just paid; M-2 next
    date(2026, 11, 3),  # M-2 overdue (paid two days later)
    date(2026, 11, 24),  # M-3 due in six days
    date(2026, 11, 30),  # M-3 due today
    date(2026, 12, 20),  # M-3 overdue; I-4 overdue too
]


def microsoft_invoice(bill: Bill) -> None:
    factories.microsoft_invoice(
        bill.number,
        cents=bill.cents,
        due=bill.due,
        currency=bill.currency,
        paid_on=bill.paid_on,
        period_start=bill.period_start,
        period_end=bill.period_end,
    )


def write_everything() -> None:
    for bill in BILLS:
        microsoft_invoice(bill)
    for customer, currency in CUSTOMERS.items():
        factories.customer(customer, currency=currency)
    for sale in SALES:
        factories.invoice(sale.customer, sale.number, issued=sale.issued, terms=sale.terms, cents=sale.cents)
    for received in RECEIVED:
        factories.payment(
            received.customer,
            cents=received.cents,
            received_on=received.on,
            invoice=received.invoice,
            today=TODAY,
        )
    for invoice, on, cents in CREDITED:
        factories.credit_note(invoice, f"CN-{invoice}", cents=cents, issued_on=on)


def money(cents: int) -> Decimal:
    return Decimal(cents) / 100


def unpaid(bill: Bill, as_of: date) -> bool:
    return bill.paid_on is None or bill.paid_on > as_of


def expected_status(bill: Bill, as_of: date) -> str:
    if not unpaid(bill, as_of):
        return "paid"
    return "overdue" if bill.due < as_of else "due"


def open_cents_at(sale: Sale, as_of: date) -> int:
    moved = [cents for number, on, cents in APPLIED + CREDITED if number == sale.number and on <= as_of]
    return sale.cents - sum(moved) if sale.issued <= as_of else 0


def expected_cover(as_of: date, pay_by: date, currency: str) -> dict[str, object]:
    due = [
        (sale, open_cents_at(sale, as_of))
        for sale in SALES
        if CUSTOMERS[sale.customer] == currency and sale.due <= pay_by
    ]
    overdue = sum(cents for sale, cents in due if sale.due < as_of)
    not_yet = sum(cents for sale, cents in due if sale.due >= as_of)
    owed = sum(b.cents for b in BILLS if b.currency == currency and b.due <= pay_by and unpaid(b, as_of))
    return {
        "due_before": money(overdue + not_yet),
        "already_overdue": money(overdue),
        "not_yet_due": money(not_yet),
        "microsoft_due": money(owed),
        "cover_ratio": money(overdue + not_yet) / money(owed) if owed else None,
    }


def month_of(day: date) -> date:
    return day.replace(day=1)


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_each_microsoft_invoice_carries_its_status_at_the_date(database: str, as_of: date) -> None:
    write_everything()
    table = microsoft_invoices(BILLING, as_of=as_of)
    assert list(table.number) == [b.number for b in sorted(BILLS, key=lambda b: b.due, reverse=True)]
    for bill in BILLS:
        row = table[table.number == bill.number].iloc[0]
        status = expected_status(bill, as_of)
        assert row.status == status
        assert row.amount == money(bill.cents) and isinstance(row.amount, Decimal)
        assert (row.period_start, row.period_end, row.due_date) == (
            bill.period_start,
            bill.period_end,
            bill.due,
        )
        assert row.paid_on == (bill.paid_on if status == "paid" else None)
        if status == "paid":
            assert pd.isna(row.days_until_due)
        else:
            assert row.days_until_due == (bill.due - as_of).days


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_the_next_payment_is_the_earliest_unpaid_even_when_already_overdue(
    database: str, as_of: date
) -> None:
    write_everything()
    first = min((b for b in BILLS if unpaid(b, as_of)), key=lambda b: (b.due, b.number))
    assert next_microsoft_payment(BILLING, as_of=as_of) == NextPayment(
        number=first.number,
        due_date=first.due,
        amount=money(first.cents),
        currency=first.currency,
        overdue=first.due < as_of,
        days_until_due=(first.due - as_of).days,
    )


def test_next_payment_at_named_dates(database: str) -> None:
    write_everything()
    found = {as_of: next_microsoft_payment(BILLING, as_of=as_of) for as_of in AS_OF_DATES}
    summary = {as_of: (p.number, p.overdue, p.days_until_due) for as_of, p in found.items() if p}
    assert summary == {
        date(2026, 9, 29): ("M-2", False, 32),
        date(2026, 11, 3): ("M-2", True, -3),
        date(2026, 11, 24): ("M-3", False, 6),
        date(2026, 11, 30): ("M-3", False, 0),
        date(2026, 12, 20): ("M-3", True, -20),
    }
    assert found[date(2026, 11, 24)] is not None and found[date(2026, 11, 24)].amount == Decimal("13000.00")


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_cash_cover_counts_receivables_open_at_the_date_and_due_by_the_payment(
    database: str, as_of: date, currency: str
) -> None:
    write_everything()
    first = next_microsoft_payment(BILLING, as_of=as_of)
    assert first is not None
    for pay_by in (first.due_date, date(2026, 12, 31)):
        cover = cash_cover(BILLING, as_of=as_of, pay_by=pay_by, currency=currency.lower())
        expected = expected_cover(as_of, pay_by, currency)
        assert cover == CashCover(currency=currency, as_of=as_of, pay_by=pay_by, **expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_receivables_due_by_a_date_come_one_row_per_currency(database: str, as_of: date) -> None:
    write_everything()
    pay_by = date(2026, 12, 10)
    table = receivables_due_by(BILLING, as_of=as_of, pay_by=pay_by)
    expected = []
    for currency in sorted(set(CUSTOMERS.values())):
        cover = expected_cover(as_of, pay_by, currency)
        if cover["due_before"]:
            expected.append((currency, cover["due_before"], cover["already_overdue"], cover["not_yet_due"]))
    assert [tuple(row) for row in table.itertuples(index=False)] == expected


def test_cash_cover_today_by_hand(database: str) -> None:
    write_everything()
    cover = cash_cover(BILLING, as_of=TODAY, pay_by=date(2026, 11, 30), currency="USD")
    # I-2: 2,500 - 1,000 paid - 250 credited, overdue since 31 Oct; I-3 paid in full; I-6 due 25 Nov.
    assert (cover.already_overdue, cover.not_yet_due, cover.due_before) == (
        Decimal("1250.00"),
        Decimal("123.45"),
        Decimal("1373.45"),
    )
    assert cover.microsoft_due == Decimal("13000.00")
    assert cover.cover_ratio == Decimal("1373.45") / Decimal("13000.00")


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("months", [1, 3, 12])
def test_monthly_payables_by_due_month_against_collections_by_date_received(
    database: str, as_of: date, months: int
) -> None:
    write_everything()
    table = monthly_payables_and_collections(BILLING, as_of=as_of, months=months)
    back = [as_of.year * 12 + as_of.month - 1 - n for n in reversed(range(months))]
    starts = [date(m // 12, m % 12 + 1, 1) for m in back]
    assert list(table.month) == starts
    assert set(table.currency) == {"USD"}
    for row in table.itertuples():
        payables = sum(b.cents for b in BILLS if b.currency == "USD" and month_of(b.due) == row.month)
        collected = sum(
            r.cents
            for r in RECEIVED
            if CUSTOMERS[r.customer] == "USD" and month_of(r.on) == row.month and r.on <= as_of
        )
        assert (row.microsoft_payables, row.collections) == (money(payables), money(collected))


def test_monthly_figures_in_another_currency_by_hand(database: str) -> None:
    write_everything()
    table = monthly_payables_and_collections(BILLING, as_of=date(2026, 12, 20), months=3, currency="eur")
    assert [tuple(row) for row in table.itertuples(index=False)] == [
        (date(2026, 10, 1), "EUR", Decimal("0.00"), Decimal("200.00")),
        (date(2026, 11, 1), "EUR", Decimal("0.00"), Decimal("0.00")),
        (date(2026, 12, 1), "EUR", Decimal("500.00"), Decimal("0.00")),
    ]


def test_nothing_written_means_nothing_owed(database: str) -> None:
    assert microsoft_invoices(BILLING, as_of=TODAY).empty
    assert list(microsoft_invoices(BILLING, as_of=TODAY).columns) == [
        "number", "period_start", "period_end", "amount", "currency", "due_date", "paid_on", "status",
        "days_until_due",
    ]  # fmt: skip
    assert next_microsoft_payment(BILLING, as_of=TODAY) is None
    assert receivables_due_by(BILLING, as_of=TODAY, pay_by=TODAY).empty
    assert monthly_payables_and_collections(BILLING, as_of=TODAY).empty
    cover = cash_cover(BILLING, as_of=TODAY, pay_by=TODAY, currency="USD")
    assert (cover.due_before, cover.microsoft_due, cover.cover_ratio) == (
        Decimal("0.00"),
        Decimal("0.00"),
        None,
    )


@pytest.mark.parametrize("role", ["Sales agent", "Helpdesk agent", "User management admin"])
def test_only_billing_and_global_admins_may_read_payables(database: str, role: str) -> None:
    actor = Actor.of("someone", [role])
    calls = [
        lambda a: microsoft_invoices(a, as_of=TODAY),
        lambda a: next_microsoft_payment(a, as_of=TODAY),
        lambda a: cash_cover(a, as_of=TODAY, pay_by=TODAY, currency="USD"),
        lambda a: monthly_payables_and_collections(a, as_of=TODAY),
        lambda a: receivables_due_by(a, as_of=TODAY, pay_by=TODAY),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match=r"payables\.view"):
            call(actor)
        call(ADMIN)
