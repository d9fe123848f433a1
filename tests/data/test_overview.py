"""Each overview figure equals an independent computation over the rows the test wrote; the 12-month trend
equals aging runs at each month end (computed here one by one, as the page must not)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from data_access.actions.credit_notes import issue_credit_note, reverse_credit_note
from data_access.actions.invoices import correct_invoice, void_invoice
from data_access.actions.payments import record_payment, reverse_payment
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.models import ReceivablesMonthEnd
from data_access.money import from_cents
from data_access.permissions import Actor, PermissionDenied
from data_access.queries.aging import AgingFilter, aging_summary
from data_access.queries.overview import month_earlier, month_ends, overview, receivables_trend
from tests.support import factories
from tests.support.actors import ADMIN

TODAY = date(2026, 11, 24)


def build(rng: random.Random) -> dict[str, list[tuple]]:
    """Invoices, payments and credit notes over 16 months, kept here as the test's own ledger."""
    factories.customer("C-1")
    factories.customer("C-2")
    factories.customer("C-E", currency="EUR")
    book: dict[str, list[tuple]] = {"invoices": [], "moves": [], "payments": []}
    for n in range(60):
        customer = rng.choice(["C-1", "C-2", "C-E"])
        issued = TODAY - timedelta(days=rng.randint(0, 480))
        cents = rng.randint(100, 900_000)
        number = f"I-{n}"
        factories.invoice(customer, number, issued=issued, cents=cents)
        currency = "EUR" if customer == "C-E" else "USD"
        book["invoices"].append((number, currency, issued, issued + timedelta(days=30), cents))
        if rng.random() < 0.7:
            paid = rng.randint(1, cents)
            day = min(TODAY, issued + timedelta(days=rng.randint(0, 120)))
            record_payment(ADMIN, customer_id=customer, amount=from_cents(paid), received_on=day,
                           invoice_number=number, today=TODAY)  # fmt: skip
            book["moves"].append((number, day, paid))
            book["payments"].append((currency, day, paid))
            if paid < cents and rng.random() < 0.3:
                issue_credit_note(ADMIN, invoice_number=number, number=f"CN-{n}", amount=from_cents(cents - paid),
                                  issued_on=day)  # fmt: skip
                book["moves"].append((number, day, cents - paid))
    return book


def open_at(book: dict[str, list[tuple]], as_of: date, currency: str) -> tuple[int, int]:
    total = overdue = 0
    for number, cur, issued, due, cents in book["invoices"]:
        if cur != currency or issued > as_of:
            continue
        balance = cents - sum(c for n, day, c in book["moves"] if n == number and day <= as_of)
        total += balance
        overdue += balance if due < as_of else 0
    return total, overdue


@pytest.fixture
def book(database: str) -> dict[str, list[tuple]]:
    return build(random.Random(11))


def test_money_figures_equal_an_independent_computation(book: dict[str, list[tuple]]) -> None:
    for as_of in (TODAY, month_earlier(TODAY), date(2026, 3, 31)):
        figures = overview(ADMIN, as_of=as_of, currency="USD").now
        total, overdue = open_at(book, as_of, "USD")
        invoiced = sum(c for _, cur, issued, _, c in book["invoices"]
                       if cur == "USD" and as_of - timedelta(days=90) < issued <= as_of)  # fmt: skip
        collected = sum(
            c for cur, day, c in book["payments"] if cur == "USD" and as_of.replace(day=1) <= day <= as_of
        )
        assert figures.total_receivables == from_cents(total)
        assert figures.overdue == from_cents(overdue)
        assert figures.overdue_share == (Decimal(overdue) / Decimal(total)).quantize(Decimal("0.0001"))
        assert figures.dso_days == (Decimal(total) / Decimal(invoiced) * 90).quantize(Decimal("0.1"))
        assert figures.collected_this_month == from_cents(collected)
    last = overview(ADMIN, as_of=TODAY, currency="USD").last_month
    assert last.as_of == date(2026, 10, 24) and last.total_receivables == from_cents(
        open_at(book, last.as_of, "USD")[0]
    )


def test_the_trend_equals_aging_at_every_month_end(book: dict[str, list[tuple]]) -> None:
    for currency in ("USD", "EUR"):
        trend = receivables_trend(ADMIN, as_of=TODAY, currency=currency)
        assert list(trend.month_end) == month_ends(TODAY)
        for row in trend.itertuples():
            summary = aging_summary(AgingFilter(as_of=row.month_end, currency=currency))
            assert row.receivables == sum(summary.amount, Decimal("0.00"))
            assert row.overdue == sum(summary[summary.bucket != "current"].amount, Decimal("0.00"))
            assert (int(row.receivables * 100), int(row.overdue * 100)) == open_at(
                book, row.month_end, currency
            )


def test_counts_and_the_next_microsoft_payment(database: str) -> None:
    factories.customer("C-1")
    at = factories.at
    factories.subscription(
        "C-1",
        "S-1",
        "M365",
        sku="E3",
        quantity=5,
        status="Suspended",
        suspended_at=at(TODAY - timedelta(days=3)),
    )
    factories.subscription("C-1", "S-2", "M365", sku="E5", quantity=5, unit_price_cents=5700)
    factories.microsoft_invoice(
        "MS-1", cents=500_000, due=TODAY - timedelta(days=20), paid_on=TODAY - timedelta(days=21)
    )
    factories.microsoft_invoice("MS-2", cents=612_345, due=TODAY + timedelta(days=6))
    factories.ticket(
        "C-1",
        "T-open",
        title="a",
        category="payment",
        severity="minimal",
        status="open",
        created_at=at(TODAY - timedelta(days=40)),
    )
    factories.ticket(
        "C-1",
        "T-new-today",
        title="b",
        category="payment",
        severity="minimal",
        status="new",
        created_at=at(TODAY, 8),
    )
    factories.ticket(
        "C-1",
        "T-resolved-last-week",
        title="c",
        category="other",
        status="resolved",
        created_at=at(TODAY - timedelta(days=40)),
        resolved_at=at(TODAY - timedelta(days=7)),
    )
    factories.ticket(
        "C-1",
        "T-closed-long-ago",
        title="d",
        category="other",
        status="closed",
        created_at=at(TODAY - timedelta(days=100)),
        resolved_at=at(TODAY - timedelta(days=90)),
    )
    factories.escalation(
        "T-open",
        "1",
        vehicle="Premier Support for Partners",
        status="waiting on partner",
        submitted_at=at(TODAY - timedelta(days=35)),
        status_changed_at=at(TODAY - timedelta(days=2)),
    )
    factories.escalation(
        "T-resolved-last-week",
        "2",
        kind="commercial",
        status="resolved",
        submitted_at=at(TODAY - timedelta(days=39)),
        status_changed_at=at(TODAY - timedelta(days=8)),
        resolved_at=at(TODAY - timedelta(days=8)),
    )
    result = overview(ADMIN, as_of=TODAY, currency="USD")
    assert (result.now.open_tickets, result.last_month.open_tickets) == (2, 2)
    assert (result.now.open_escalations, result.last_month.open_escalations) == (1, 2)
    assert (result.now.suspended_subscriptions, result.last_month.suspended_subscriptions) == (1, 0)
    payment = result.now.next_microsoft_payment
    assert payment is not None and (payment.number, payment.amount) == ("MS-2", Decimal("6123.45"))


def test_roles_see_only_their_figures(database: str) -> None:
    helpdesk = overview(Actor.of("h", ["Helpdesk agent"]), as_of=TODAY).now
    assert helpdesk.total_receivables is None and helpdesk.next_microsoft_payment is None
    assert helpdesk.open_tickets == 0
    sales = overview(Actor.of("s", ["Sales agent"]), as_of=TODAY).now
    assert sales.suspended_subscriptions is None and sales.open_escalations is None
    with pytest.raises(PermissionDenied):
        overview(Actor.of("u", ["User management admin"]), as_of=TODAY)


def _kept(currency: str) -> dict[date, tuple[int, int]]:
    with read_session() as session:
        rows = session.execute(
            select(ReceivablesMonthEnd).where(ReceivablesMonthEnd.currency == currency)
        ).scalars()
        return {row.month_end: (row.open_cents, row.overdue_cents) for row in rows}


def _fresh(end: date, currency: str) -> tuple[int, int]:
    """What was open and overdue at the end, from the aging (ledger.open_at), computed here for each end."""
    summary = aging_summary(AgingFilter(as_of=end, currency=currency))
    open_cents = sum(int(a * 100) for a in summary.amount)
    return open_cents, open_cents - sum(int(a * 100) for a in summary[summary.bucket == "current"].amount)


def _trend_is_fresh(currency: str) -> None:
    trend = receivables_trend(ADMIN, as_of=TODAY, currency=currency)
    for row in trend.itertuples():
        assert (int(row.receivables * 100), int(row.overdue * 100)) == _fresh(row.month_end, currency), row
    kept = _kept(currency)
    assert set(kept) == set(month_ends(TODAY)[:-1])
    for end, cents in kept.items():
        assert cents == _fresh(end, currency), end


def test_the_kept_month_ends_equal_a_fresh_computation_after_every_kind_of_write(
    book: dict[str, list[tuple]], tmp_path: Path
) -> None:
    """The trend keeps its past month ends; a write dated today keeps them, and each back-dated write (payment,
    credit note, both reversals, credit applied, an imported or added invoice, a correction, a void) deletes
    those from its date on in its own transaction, so what is read next equals the aging at every end."""
    _trend_is_fresh("USD")
    kept = _kept("USD")
    record_payment(ADMIN, customer_id="C-1", amount=Decimal("1.00"), received_on=TODAY, today=TODAY)
    assert _kept("USD") == kept  # dated after every kept month end: nothing to forget
    _trend_is_fresh("USD")

    factories.customer("C-3")
    factories.invoice("C-3", "B-1", issued=date(2026, 5, 3), cents=70_000)
    assert min(_kept("USD")) == date(2025, 12, 31) and max(_kept("USD")) == date(2026, 4, 30)
    _trend_is_fresh("USD")
    paid = record_payment(ADMIN, customer_id="C-3", amount=Decimal("200.00"), received_on=date(2026, 7, 9),
                          invoice_number="B-1", today=TODAY)  # fmt: skip
    assert max(_kept("USD")) == date(2026, 6, 30)
    _trend_is_fresh("USD")
    issue_credit_note(ADMIN, invoice_number="B-1", number="CN-B-1", amount=Decimal("50.00"),
                      issued_on=date(2026, 8, 1))  # fmt: skip
    assert max(_kept("USD")) == date(2026, 7, 31)
    _trend_is_fresh("USD")
    reverse_payment(ADMIN, payment_id=paid, reason="returned by the bank", reversed_on=date(2026, 9, 2),
                    today=TODAY)  # fmt: skip
    assert max(_kept("USD")) == date(2026, 8, 31)
    _trend_is_fresh("USD")
    reverse_credit_note(ADMIN, number="CN-B-1", reason="issued in error", reversed_on=date(2026, 10, 5),
                        today=TODAY)  # fmt: skip
    assert max(_kept("USD")) == date(2026, 9, 30)
    _trend_is_fresh("USD")
    factories.payment("C-3", cents=10_000, received_on=date(2026, 10, 20), today=TODAY)
    _trend_is_fresh("USD")

    csv = tmp_path / "invoices.csv"
    csv.write_text("invoice_number,customer_id,issue_date,due_date,amount,currency\n"
                   "B-2,C-3,2026-02-10,2026-03-12,400.00,USD\n", encoding="utf-8")  # fmt: skip
    import_csv(ADMIN, "invoices", csv)
    assert max(_kept("USD")) == date(2026, 1, 31)
    _trend_is_fresh("USD")
    correct_invoice(ADMIN, number="B-2", issue_date=date(2026, 2, 10), due_date=date(2026, 2, 20),
                    amount=Decimal("450.00"), currency="USD", reason="wrong terms")  # fmt: skip
    _trend_is_fresh("USD")
    void_invoice(ADMIN, number="B-2", reason="issued twice", today=TODAY)
    _trend_is_fresh("USD")
    _trend_is_fresh("EUR")
