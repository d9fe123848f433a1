"""Aging equals what was open at the as-of date, computed independently in plain Python from what was written."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_access import clock
from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.errors import InvalidAction
from data_access.money import from_cents
from data_access.queries.aging import AgingFilter, _summary_by_ranges, aging_by_customer, aging_summary
from data_access.rules.buckets import bucket_labels, parse_buckets
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.databases import empty_all_tables

TODAY = date(2026, 11, 24)


@dataclass
class Book:
    """The test's own record of every invoice and the money against it, kept apart from the database."""

    invoices: dict[str, dict[str, object]] = field(default_factory=dict)
    movements: list[tuple[str, date, int]] = field(default_factory=list)

    def open_cents(self, number: str, as_of: date | None = None) -> int:
        paid = sum(c for n, day, c in self.movements if n == number and (as_of is None or day <= as_of))
        return int(self.invoices[number]["cents"]) - paid  # type: ignore[call-overload]

    def expected(self, flt: AgingFilter) -> dict[tuple[str, str], tuple[int, int]]:
        labels = flt.labels
        totals: dict[tuple[str, str], tuple[int, int]] = {}
        for number, inv in self.invoices.items():
            issued: date = inv["issued"]  # type: ignore[assignment]
            if issued > flt.as_of:
                continue
            if flt.currency and inv["currency"] != flt.currency:
                continue
            balance = self.open_cents(number, flt.as_of)
            if balance == 0:
                continue
            start: date = inv["due"] if flt.basis == "due" else issued  # type: ignore[assignment]
            age = (flt.as_of - start).days
            index = 0 if age <= 0 else 1 + sum(1 for edge in flt.buckets if age > edge)
            key = (str(inv["currency"]), labels[index])
            cents, count = totals.get(key, (0, 0))
            totals[key] = (cents + balance, count + 1)
        return totals


def build_random_book(rng: random.Random, *, invoices: int = 40) -> Book:
    """Invoices over two years for a few customers, with payments and credit notes on random dates."""
    book = Book()
    customers = [("C-1", "USD"), ("C-2", "EUR"), ("C-3", "USD")]
    for external_id, currency in customers:
        factories.customer(external_id, currency=currency)
    for n in range(invoices):
        external_id, currency = rng.choice(customers)
        issued = TODAY - timedelta(days=rng.randint(0, 700))
        terms = rng.choice([14, 30, 45, 60])
        cents = rng.randint(1, 500_000)
        number = f"INV-{n:04d}"
        factories.invoice(external_id, number, issued=issued, cents=cents, terms=terms)
        book.invoices[number] = {
            "issued": issued,
            "due": issued + timedelta(days=terms),
            "cents": cents,
            "currency": currency,
            "customer": external_id,
        }
        for _ in range(rng.randint(0, 3)):
            remaining = book.open_cents(number)
            if remaining == 0:
                break
            amount = rng.choice([remaining, rng.randint(1, remaining)])
            day = min(TODAY, issued + timedelta(days=rng.randint(0, 200)))
            if rng.random() < 0.8:
                record_payment(
                    BILLING,
                    customer_id=external_id,
                    amount=from_cents(amount),
                    received_on=day,
                    invoice_number=number,
                    today=TODAY,
                )
            else:
                issue_credit_note(
                    BILLING,
                    invoice_number=number,
                    number=f"CN-{number}-{len(book.movements)}",
                    amount=from_cents(amount),
                    issued_on=day,
                    reason="service credit",
                )
            book.movements.append((number, day, amount))
    return book


def actual(flt: AgingFilter) -> dict[tuple[str, str], tuple[int, int]]:
    frame = aging_summary(flt)
    return {
        (row.currency, row.bucket): (int(row.amount * 100), row.invoices)
        for row in frame.itertuples()
        if row.invoices
    }


def test_aging_matches_an_independent_computation_for_many_dates_and_buckets(database: str) -> None:
    rng = random.Random(2026)
    book = build_random_book(rng)
    bucket_settings = [(30, 60, 90, 120), (15, 45), (7,), (1, 2, 3, 365)]
    checked = 0
    for offset in [0, 1, 13, 30, 45, 90, 180, 365, 500, 730, -30]:
        for buckets in bucket_settings:
            for basis in ("due", "issue"):
                flt = AgingFilter(as_of=TODAY - timedelta(days=offset), basis=basis, buckets=buckets)
                assert actual(flt) == book.expected(flt), flt
                checked += 1
    usd = AgingFilter(as_of=TODAY - timedelta(days=100), currency="USD")
    assert actual(usd) == book.expected(usd)
    assert checked == 88


def test_by_customer_rows_add_up_to_the_summary(database: str) -> None:
    book = build_random_book(random.Random(7), invoices=25)
    flt = AgingFilter(as_of=TODAY - timedelta(days=60))
    by_customer = aging_by_customer(flt)
    summary = aging_summary(flt)
    assert list(by_customer.columns) == [
        "customer_id", "customer_name", "currency", "current", "1-30", "31-60", "61-90", "91-120", "121+", "total",
    ]  # fmt: skip
    for currency, rows in by_customer.groupby("currency"):
        for label in flt.labels:
            expected = summary[(summary.currency == currency) & (summary.bucket == label)].amount.sum()
            assert sum(rows[label], Decimal(0)) == expected
        for row in rows.itertuples():
            assert row.total == sum((rows.loc[row.Index, label] for label in flt.labels), Decimal(0))
    expected_total = sum(
        book.open_cents(n, flt.as_of) for n, i in book.invoices.items() if i["issued"] <= flt.as_of
    )  # type: ignore[operator]
    assert sum(by_customer.total, Decimal(0)) == from_cents(expected_total)


def test_filters_by_account_manager_and_country(database: str) -> None:
    factories.customer("UK-1", currency="GBP", country="GB", account_manager="alice")
    factories.customer("US-1", currency="USD", country="US", account_manager="bob")
    factories.invoice("UK-1", "I-UK", issued=TODAY - timedelta(days=50), cents=12_345)
    factories.invoice("US-1", "I-US", issued=TODAY - timedelta(days=50), cents=67_890)
    alice = aging_by_customer(AgingFilter(as_of=TODAY, account_manager="alice"))
    assert list(alice.customer_id) == ["UK-1"]
    assert alice.total.iloc[0] == Decimal("123.45")
    us = aging_summary(AgingFilter(as_of=TODAY, country="us"))
    assert set(us.currency) == {"USD"}
    assert us[us.bucket == "1-30"].amount.iloc[0] == Decimal("678.90")


def test_an_invoice_due_today_is_current_and_one_day_later_is_overdue(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=30), cents=100, terms=30)
    on_due_date = aging_summary(AgingFilter(as_of=TODAY)).set_index("bucket").amount
    day_after = aging_summary(AgingFilter(as_of=TODAY + timedelta(days=1))).set_index("bucket").amount
    assert on_due_date["current"] == Decimal("1.00")
    assert day_after["current"] == 0 and day_after["1-30"] == Decimal("1.00")


def test_payments_after_the_as_of_date_do_not_count_and_later_invoices_do_not_exist(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2026, 1, 1), cents=10_000)
    factories.invoice("C-1", "I-2", issued=date(2026, 6, 1), cents=5_000)
    factories.payment("C-1", cents=10_000, received_on=date(2026, 3, 1), invoice="I-1", today=TODAY)
    before_payment = aging_summary(AgingFilter(as_of=date(2026, 2, 15)))
    assert sum(before_payment.amount) == Decimal("100.00")
    assert sum(before_payment.invoices) == 1
    assert sum(aging_summary(AgingFilter(as_of=TODAY)).amount) == Decimal("50.00")


def test_summary_lists_every_bucket_and_labels_follow_the_edges(database: str) -> None:
    assert bucket_labels((15, 45)) == ["current", "1-15", "16-45", "46+"]
    assert aging_summary(AgingFilter(as_of=TODAY)).empty
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY, cents=1)
    frame = aging_summary(AgingFilter(as_of=TODAY, buckets=(15, 45)))
    assert list(frame.columns) == ["currency", "bucket", "amount", "invoices"]
    assert list(frame.bucket) == ["current", "1-15", "16-45", "46+"]


@pytest.mark.parametrize("text", ["", "30,30", "60,30", "0,30", "a,b", "-5"])
def test_bad_bucket_edges_are_refused(text: str) -> None:
    with pytest.raises(InvalidAction):
        parse_buckets(text)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    invoices=st.integers(1, 12),
    offset=st.integers(-10, 800),
    buckets=st.lists(st.integers(1, 400), min_size=1, max_size=5, unique=True).map(
        lambda xs: tuple(sorted(xs))
    ),
    basis=st.sampled_from(["due", "issue"]),
)
def test_property_bucket_totals_equal_the_sum_of_open_balances(
    sqlite_database: str, seed: int, invoices: int, offset: int, buckets: tuple[int, ...], basis: str
) -> None:
    empty_all_tables()
    book = build_random_book(random.Random(seed), invoices=invoices)
    flt = AgingFilter(as_of=TODAY - timedelta(days=offset), basis=basis, buckets=buckets)  # type: ignore[arg-type]
    assert actual(flt) == book.expected(flt)
    open_total = sum(
        book.open_cents(number, flt.as_of)
        for number, inv in book.invoices.items()
        if inv["issued"] <= flt.as_of  # type: ignore[operator]
    )
    assert sum(aging_summary(flt).amount, Decimal(0)) == from_cents(open_total)


def test_sqlite_reads_open_invoices_from_the_partial_index_alone(sqlite_database: str) -> None:
    from sqlalchemy import text

    from data_access.db import get_engine
    from data_access.queries.aging import _summary_query

    engine = get_engine()
    statement = _summary_query(AgingFilter(as_of=TODAY)).compile(
        engine, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as connection:
        plan = "\n".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    # Either partial index of the open invoices (by due date, or by currency then due date) holds them alone.
    assert re.search(r"USING COVERING INDEX ix_invoices_open_(aging|currency)\b", plan), plan
    assert "USING COVERING INDEX ix_payment_allocations_aging" in plan
    assert "SCAN invoices\n" not in plan + "\n"


def test_the_summary_on_or_after_today_by_index_ranges_matches_an_independent_computation(
    database: str,
) -> None:
    """From today on, the summary by due date sums one range of the open-invoice index per bucket (not the grouped
    query the earlier dates use): the same figures, with every filter the page gives."""
    book = build_random_book(random.Random(15))
    today = clock.today()
    for as_of in (today, today + timedelta(days=40)):
        for buckets in ((30, 60, 90, 120), (15, 45), (7,)):
            for currency in (None, "USD", "EUR"):
                flt = AgingFilter(as_of=as_of, buckets=buckets, currency=currency)
                assert _summary_by_ranges(flt) is not None
                assert actual(flt) == book.expected(flt), flt
    one = Book({n: i for n, i in book.invoices.items() if i["customer"] == "C-1"}, book.movements)
    for flt in (
        AgingFilter(as_of=today, customer_ids=("C-1",)),
        AgingFilter(as_of=today, account_manager="nobody"),
    ):
        expected = one.expected(flt) if flt.customer_ids else {}
        assert _summary_by_ranges(flt) is not None and actual(flt) == expected, flt
    assert actual(AgingFilter(as_of=today, country="US")) == book.expected(AgingFilter(as_of=today))
