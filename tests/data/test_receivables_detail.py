"""A customer's open invoices and the money against them at any as-of date equal a plain-Python replay of what
the test wrote; exports give back exactly the frame; the filter choices, defaults and permissions hold."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import text

from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.errors import InvalidAction, NotFound
from data_access.money import from_cents
from data_access.permissions import PermissionDenied
from data_access.queries.aging import AgingFilter, aging_by_customer
from data_access.queries.receivables import (
    BUCKETS_SETTING,
    account_managers,
    countries,
    customer_movements,
    customer_open_invoices,
    default_buckets,
    export_csv,
    export_xlsx,
    has_invoices,
    largest_overdue_first,
)
from data_access.rules.buckets import DEFAULT_BUCKETS, bucket_labels
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, SALES

TODAY = date(2026, 11, 24)
CUSTOMERS = {"C-1": "USD", "C-2": "EUR", "C-3": "USD"}


@dataclass
class Invoice:
    customer: str
    currency: str
    issued: date
    due: date
    cents: int
    disputed: bool


@dataclass
class Movement:
    kind: str
    number: str
    day: date
    cents: int
    reference: str
    reason: str | None = None


@dataclass
class Book:
    """The test's own record of what it wrote, kept apart from the database."""

    invoices: dict[str, Invoice] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)

    def open_cents(self, number: str, as_of: date | None = None) -> int:
        later = [m.cents for m in self.movements if m.number == number and (as_of is None or m.day <= as_of)]
        return self.invoices[number].cents - sum(later)

    def open_at(self, customer: str, as_of: date, currency: str | None = None) -> dict[str, int]:
        return {
            number: self.open_cents(number, as_of)
            for number, inv in self.invoices.items()
            if inv.customer == customer
            and inv.issued <= as_of
            and (currency is None or inv.currency == currency)
            and self.open_cents(number, as_of) > 0
        }


def age_bucket(age: int, edges: tuple[int, ...]) -> str:
    low = 1
    if age <= 0:
        return "current"
    for edge in edges:
        if age <= edge:
            return f"{low}-{edge}"
        low = edge + 1
    return f"{low}+"


def write_random_book(seed: int = 11, invoices: int = 45) -> Book:
    """Invoices over two years, some in a second currency, some disputed, with payments (a few received before
    the invoice was issued, which count from its issue date) and credit notes on random dates."""
    rng = random.Random(seed)
    book = Book()
    for external_id, currency in CUSTOMERS.items():
        factories.customer(external_id, currency=currency, name=f'Müller, {external_id} "Ltd"')
    for n in range(invoices):
        customer = rng.choice(list(CUSTOMERS))
        currency = "EUR" if customer == "C-1" and rng.random() < 0.25 else CUSTOMERS[customer]
        issued = TODAY - timedelta(days=rng.randint(0, 700))
        terms = rng.choice([14, 30, 45, 60])
        cents = rng.randint(1, 500_000)
        number = f"INV-{n:04d}"
        disputed = rng.random() < 0.2
        factories.invoice(customer, number, issued=issued, cents=cents, terms=terms, currency=currency,
                          disputed=disputed)  # fmt: skip
        book.invoices[number] = Invoice(
            customer, currency, issued, issued + timedelta(days=terms), cents, disputed
        )
        for _ in range(rng.randint(0, 3)):
            remaining = book.open_cents(number)
            if remaining == 0:
                break
            amount = rng.choice([remaining, rng.randint(1, remaining)])
            if rng.random() < 0.8:
                received = min(TODAY, issued + timedelta(days=rng.randint(-20, 200)))
                reference = f"wire {number}/{len(book.movements)}"
                record_payment(BILLING, customer_id=customer, amount=from_cents(amount), received_on=received,
                               invoice_number=number, reference=reference, today=TODAY)  # fmt: skip
                book.movements.append(Movement("payment", number, max(received, issued), amount, reference))
            else:
                issued_on = min(TODAY, issued + timedelta(days=rng.randint(0, 200)))
                note = f"CN-{number}-{len(book.movements)}"
                issue_credit_note(BILLING, invoice_number=number, number=note, amount=from_cents(amount),
                                  issued_on=issued_on, reason="service credit")  # fmt: skip
                book.movements.append(
                    Movement("credit note", number, issued_on, amount, note, "service credit")
                )
    return book


AS_OF_OFFSETS = [0, 1, 30, 61, 200, 365, 699, -15]


def test_open_invoices_equal_a_replay_of_what_was_written_at_every_as_of_date(database: str) -> None:
    book = write_random_book()
    checked = 0
    for offset in AS_OF_OFFSETS:
        as_of = TODAY - timedelta(days=offset)
        for customer in CUSTOMERS:
            for basis, edges in (("due", DEFAULT_BUCKETS), ("issue", (15, 45))):
                frame = customer_open_invoices(BILLING, customer_id=customer, as_of=as_of, basis=basis,
                                               buckets=edges)  # type: ignore[arg-type]  # fmt: skip
                expected = book.open_at(customer, as_of)
                assert list(frame.invoice_number) == sorted(
                    expected, key=lambda n: (book.invoices[n].due, book.invoices[n].issued, n)
                )
                for row in frame.itertuples():
                    inv = book.invoices[row.invoice_number]
                    start = inv.due if basis == "due" else inv.issued
                    assert row.open_at_as_of == from_cents(expected[row.invoice_number])
                    assert row.amount == from_cents(inv.cents)
                    assert (row.currency, row.issue_date, row.due_date, row.disputed) == (
                        inv.currency, inv.issued, inv.due, inv.disputed,
                    )  # fmt: skip
                    assert row.days_past_due == max((as_of - inv.due).days, 0)
                    assert row.days_since_issue == (as_of - inv.issued).days
                    assert row.bucket == age_bucket((as_of - start).days, edges)
                checked += 1
    assert checked == len(AS_OF_OFFSETS) * len(CUSTOMERS) * 2


def test_movements_are_those_dated_by_the_as_of_date_on_the_invoices_then_open(database: str) -> None:
    book = write_random_book(seed=5)
    for offset in AS_OF_OFFSETS:
        as_of = TODAY - timedelta(days=offset)
        for customer in CUSTOMERS:
            still_open = book.open_at(customer, as_of)
            expected = sorted(
                (m.day, m.kind, m.number, from_cents(m.cents), m.reference, m.reason)
                for m in book.movements
                if m.number in still_open and m.day <= as_of
            )
            frame = customer_movements(BILLING, customer_id=customer, as_of=as_of)
            assert list(frame.columns) == ["date", "kind", "invoice_number", "amount", "reference", "reason"]
            actual = [
                (
                    r.date,
                    r.kind,
                    r.invoice_number,
                    r.amount,
                    r.reference,
                    None if pd.isna(r.reason) else r.reason,
                )
                for r in frame.itertuples()
            ]
            assert sorted(actual) == expected
            assert [r[0] for r in actual] == sorted(r[0] for r in actual)


def test_a_customers_open_invoices_add_up_to_its_row_of_the_aging_by_customer(database: str) -> None:
    write_random_book(seed=3)
    for offset in (0, 90, 400):
        for disputed_only in (False, True):
            flt = AgingFilter(as_of=TODAY - timedelta(days=offset), basis="issue", buckets=(20, 40),
                              disputed_only=disputed_only)  # fmt: skip
            by_customer = aging_by_customer(flt)
            for row in by_customer.itertuples():
                invoices = customer_open_invoices(
                    BILLING, customer_id=row.customer_id, as_of=flt.as_of, basis=flt.basis, buckets=flt.buckets,
                    currency=row.currency, disputed_only=disputed_only,
                )  # fmt: skip
                assert sum(invoices.open_at_as_of, Decimal(0)) == row.total
                for label in flt.labels:
                    in_bucket = invoices[invoices.bucket == label].open_at_as_of
                    assert sum(in_bucket, Decimal(0)) == by_customer.loc[row.Index, label]
                assert not disputed_only or invoices.disputed.all()


def test_an_oldest_first_payment_shows_against_each_invoice_it_paid(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-OLD", issued=date(2026, 7, 1), cents=10_000)
    factories.invoice("C-1", "I-NEW", issued=date(2026, 8, 1), cents=30_000)
    factories.payment("C-1", cents=25_000, received_on=date(2026, 9, 15), reference="transfer 9", today=TODAY)
    before = customer_open_invoices(BILLING, customer_id="C-1", as_of=date(2026, 9, 14))
    assert dict(zip(before.invoice_number, before.open_at_as_of, strict=True)) == {
        "I-OLD": Decimal("100.00"), "I-NEW": Decimal("300.00"),
    }  # fmt: skip
    assert customer_movements(BILLING, customer_id="C-1", as_of=date(2026, 9, 14)).empty
    after = customer_open_invoices(BILLING, customer_id="C-1", as_of=TODAY)
    assert dict(zip(after.invoice_number, after.open_at_as_of, strict=True)) == {"I-NEW": Decimal("150.00")}
    movements = customer_movements(BILLING, customer_id="C-1", as_of=TODAY)
    assert movements.to_dict("records") == [
        {"date": date(2026, 9, 15), "kind": "payment", "invoice_number": "I-NEW", "amount": Decimal("150.00"),
         "reference": "transfer 9", "reason": None},
    ]  # fmt: skip


def test_an_unknown_customer_is_named_in_the_error(database: str) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        customer_open_invoices(BILLING, customer_id="NOPE", as_of=TODAY)


def test_largest_overdue_first_orders_by_total_minus_current_then_by_customer(database: str) -> None:
    for external_id in ("C-B", "C-A", "C-C", "C-D"):
        factories.customer(external_id)
    factories.invoice("C-B", "I-1", issued=TODAY - timedelta(days=45), cents=5_000)
    factories.invoice("C-A", "I-2", issued=TODAY - timedelta(days=45), cents=5_000)
    factories.invoice("C-C", "I-3", issued=TODAY - timedelta(days=100), cents=7_000)
    factories.invoice("C-C", "I-4", issued=TODAY, cents=900_000)
    factories.invoice("C-D", "I-5", issued=TODAY, cents=1_000_000)
    table = largest_overdue_first(aging_by_customer(AgingFilter(as_of=TODAY)))
    assert list(table.customer_id) == ["C-C", "C-A", "C-B", "C-D"]
    assert list(table.overdue) == [Decimal("70.00"), Decimal("50.00"), Decimal("50.00"), Decimal("0.00")]
    assert list(table.columns)[-2:] == ["total", "overdue"]
    assert list(table.index) == [0, 1, 2, 3]


def test_filter_choices_are_the_distinct_values_in_order(database: str) -> None:
    assert not has_invoices(BILLING)
    assert account_managers(BILLING) == [] and countries(BILLING) == []
    factories.customer("C-1", account_manager="priya", country="NL")
    factories.customer("C-2", account_manager="alex", country="US")
    factories.customer("C-3", account_manager="priya", country="US")
    factories.invoice("C-1", "I-1", issued=TODAY, cents=1)
    assert has_invoices(BILLING)
    assert account_managers(SALES) == ["alex", "priya"]
    assert countries(SALES) == ["NL", "US"]


def test_default_buckets_come_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUCKETS_SETTING, raising=False)
    assert default_buckets() == DEFAULT_BUCKETS
    monkeypatch.setenv(BUCKETS_SETTING, " 15, 45,90 ")
    assert default_buckets() == (15, 45, 90)
    monkeypatch.setenv(BUCKETS_SETTING, "60,30")
    with pytest.raises(InvalidAction, match=BUCKETS_SETTING):
        default_buckets()


def exported_frames(database_book: Book) -> list[pd.DataFrame]:
    by_customer = largest_overdue_first(aging_by_customer(AgingFilter(as_of=TODAY - timedelta(days=30))))
    invoices = customer_open_invoices(BILLING, customer_id="C-1", as_of=TODAY)
    movements = customer_movements(BILLING, customer_id="C-1", as_of=TODAY)
    assert len(by_customer) > 1 and len(invoices) > 1 and len(movements) > 0
    return [by_customer.rename(columns={"customer_name": "Customer"}), invoices, movements]


def cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def test_csv_export_reads_back_as_exactly_the_frame(database: str) -> None:
    for frame in exported_frames(write_random_book(seed=9)):
        data = export_csv(SALES, frame)
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        assert rows[0] == list(frame.columns)
        assert rows[1:] == [
            [cell_text(value) for value in record] for record in frame.itertuples(index=False)
        ]
        for row, record in zip(rows[1:], frame.itertuples(index=False), strict=True):
            for text_value, value in zip(row, record, strict=True):
                if isinstance(value, Decimal):
                    assert Decimal(text_value) == value and text_value == f"{value:.2f}"


def test_excel_export_reads_back_as_exactly_the_frame(database: str) -> None:
    for frame in exported_frames(write_random_book(seed=9)):
        sheet = openpyxl.load_workbook(io.BytesIO(export_xlsx(SALES, frame))).active
        assert sheet is not None
        rows = list(sheet.iter_rows())
        assert [cell.value for cell in rows[0]] == list(frame.columns)
        assert len(rows) == len(frame) + 1
        for cells, record in zip(rows[1:], frame.itertuples(index=False), strict=True):
            for cell, value in zip(cells, record, strict=True):
                if isinstance(value, Decimal):
                    assert isinstance(cell.value, int | float) and cell.number_format == "#,##0.00"
                    assert Decimal(repr(cell.value)).quantize(Decimal("0.01")) == value
                elif isinstance(value, date):
                    assert isinstance(cell.value, datetime) and cell.value.date() == value
                elif value is None or (isinstance(value, float) and pd.isna(value)):
                    assert cell.value is None
                else:
                    assert cell.value == value


def test_sales_agents_may_read_and_export_and_helpdesk_agents_may_not(database: str) -> None:
    write_random_book(invoices=5)
    frame = largest_overdue_first(aging_by_customer(AgingFilter(as_of=TODAY)))
    assert export_csv(SALES, frame) and export_xlsx(SALES, frame)
    assert customer_open_invoices(SALES, customer_id="C-1", as_of=TODAY) is not None
    calls = [
        lambda actor: has_invoices(actor),
        lambda actor: account_managers(actor),
        lambda actor: countries(actor),
        lambda actor: customer_open_invoices(actor, customer_id="C-1", as_of=TODAY),
        lambda actor: customer_movements(actor, customer_id="C-1", as_of=TODAY),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match=r"receivables\.view"):
            call(HELPDESK)
    for export in (export_csv, export_xlsx):
        with pytest.raises(PermissionDenied, match=r"receivables\.export"):
            export(HELPDESK, frame)


def test_sqlite_reads_one_customers_rows_through_indexes(sqlite_database: str) -> None:
    from data_access.db import get_engine
    from data_access.queries.receivables import _open_invoices

    engine = get_engine()
    statement = _open_invoices(1, TODAY - timedelta(days=100), None, False).compile(
        engine, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as connection:
        plan = "\n".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    # ledger.open_at: the customer's invoices by customer, the allocations and credit notes dated after the
    # date from indexes (the allocations' aging index covers the columns read), no table read whole.
    assert "SEARCH invoices USING INDEX ix_invoices_customer_issue" in plan, plan
    assert "SEARCH payment_allocations USING COVERING INDEX ix_payment_allocations_aging" in plan, plan
    assert "SEARCH credit_notes USING" in plan, plan
    for table in ("invoices", "payment_allocations", "credit_notes", "customers"):
        assert f"SCAN {table}" not in plan, plan


def test_bucket_labels_used_by_the_replay_match_the_report() -> None:
    assert [age_bucket(age, (15, 45)) for age in (-3, 0, 1, 15, 16, 45, 46)] == [
        "current", "current", "1-15", "1-15", "16-45", "16-45", "46+",
    ]  # fmt: skip
    assert set(bucket_labels((15, 45))) == {"current", "1-15", "16-45", "46+"}
