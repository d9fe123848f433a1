"""The Receivables page's first screen (the customers with the largest overdue first, cut in SQL) and its search
hold the same rows as the whole aging by customer, which equals a computation from the raw ledger rows; the
download gives every row, not only those shown."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import streamlit.testing.v1.app_test as app_test_module
from sqlalchemy import select
from streamlit.runtime.media_file_manager import MediaFileManager

from data_access import clock
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.models import CreditNote, Customer, Invoice, PaymentAllocation
from data_access.money import from_cents
from data_access.permissions import PermissionDenied
from data_access.queries import receivables
from data_access.queries.aging import AgingFilter, CustomerRows, aging_summary
from data_access.queries.payments import unapplied_credit
from data_access.rules.buckets import bucket_labels
from tests.support import factories, pages
from tests.support.actors import BILLING, HELPDESK

TODAY = clock.today()
# Ids whose code-point order differs from a locale's (upper case before lower case, '-' before '_'), so the order
# the database returns is compared with Python's, not with the collation of the test server.
CUSTOMERS = [("b-1", "USD"), ("B-2", "USD"), ("a_3", "EUR"), ("A-4", "USD"), ("c-5", "GBP"), ("C-6", "EUR"),
             ("Z-7", "USD"), ("z-8", "USD")]  # fmt: skip
# Units of USD (the reporting currency) for one unit of each: rows are ranked by their overdue amount in USD.
RATES = {"USD": Decimal(1), "EUR": Decimal("1.0825"), "GBP": Decimal("1.27")}
NAMES = {"b-1": "Bäckerei Blau", "B-2": "Tie Twin One", "a_3": "100% Widgets_Ltd", "A-4": "Tie Twin Two",
         "c-5": "Cobalt", "C-6": "cobalt Labs", "Z-7": "Zenith", "z-8": "Zero Balance"}  # fmt: skip


def build_ledger(seed: int = 7) -> None:
    """Random invoices, payments and credit notes for CUSTOMERS, plus two customers owing the same overdue amount
    (a tie, broken by customer id) and one with nothing open."""
    rng = random.Random(seed)
    rated = TODAY - timedelta(days=400)
    rates = "".join(f"{rated},{code},{rate}\n" for code, rate in RATES.items() if code != "USD")
    assert import_csv(BILLING, "exchange-rates", f"rate_date,currency,rate\n{rates}".encode()).ok
    for external_id, currency in CUSTOMERS:
        factories.customer(external_id, name=NAMES[external_id], currency=currency)
    number = 0
    for external_id in ("b-1", "a_3", "c-5", "C-6", "Z-7"):
        for _ in range(rng.randint(2, 6)):
            number += 1
            issued = TODAY - timedelta(days=rng.randint(0, 400))
            cents = rng.randint(1_000, 900_000)
            invoice = factories.invoice(external_id, f"INV-{number:04d}", issued=issued, cents=cents,
                                        terms=rng.choice([14, 30, 60]))  # fmt: skip
            if rng.random() < 0.5:
                paid_on = min(TODAY, issued + timedelta(days=rng.randint(0, 120)))
                factories.payment(
                    external_id, cents=rng.randint(1, cents), received_on=paid_on, invoice=invoice
                )
            if rng.random() < 0.3:
                credited_on = min(TODAY, issued + timedelta(days=rng.randint(0, 120)))
                factories.credit_note(invoice, cents=rng.randint(1, 500), issued_on=credited_on)
    # The two "Tie Twin" customers owe exactly the same, all of it overdue, in the same currency.
    for external_id in ("B-2", "A-4"):
        number += 1
        factories.invoice(external_id, f"TIE-{number}", issued=TODAY - timedelta(days=90), cents=333_333)
    factories.invoice("z-8", "INV-PAID", issued=TODAY - timedelta(days=50), cents=10_000)
    factories.payment("z-8", cents=10_000, received_on=TODAY - timedelta(days=10), invoice="INV-PAID")


def expected_table(flt: AgingFilter) -> list[dict[str, object]]:
    """The aging by customer computed here from the raw rows: each invoice's balance at the as-of date (amount less
    the allocations and credit notes dated on or before it), bucketed by its age, summed per customer and currency,
    largest overdue first in USD at RATES, then customer id and currency in Python's order."""
    with read_session() as session:
        invoices = session.execute(
            select(Invoice.id, Customer.external_id, Customer.name, Invoice.currency, Invoice.issue_date,
                   Invoice.due_date, Invoice.amount_cents).join(Customer, Customer.id == Invoice.customer_id)
        ).all()  # fmt: skip
        moves = [
            *session.execute(select(PaymentAllocation.invoice_id, PaymentAllocation.applied_on,
                                    PaymentAllocation.amount_cents)).all(),
            *session.execute(select(CreditNote.invoice_id, CreditNote.issued_on, CreditNote.amount_cents)).all(),
        ]  # fmt: skip
    labels = bucket_labels(flt.buckets)
    rows: dict[tuple[str, str, str], list[int]] = {}
    for invoice in invoices:
        if invoice.issue_date > flt.as_of or (flt.currency and invoice.currency != flt.currency):
            continue
        balance = invoice.amount_cents - sum(c for i, day, c in moves if i == invoice.id and day <= flt.as_of)
        if balance == 0:
            continue
        start = invoice.due_date if flt.basis == "due" else invoice.issue_date
        age = (flt.as_of - start).days
        index = 0 if age <= 0 else 1 + sum(1 for edge in flt.buckets if age > edge)
        cents = rows.setdefault((invoice.external_id, invoice.name, invoice.currency), [0] * len(labels))
        cents[index] += balance
    table = [
        {"customer_id": customer_id, "customer_name": name, "currency": currency,
         **{label: from_cents(c) for label, c in zip(labels, cents, strict=True)},
         "total": from_cents(sum(cents)), "overdue": from_cents(sum(cents) - cents[0])}
        for (customer_id, name, currency), cents in rows.items()
    ]  # fmt: skip
    return sorted(table, key=lambda row: (-row["overdue"] * RATES[row["currency"]], row["customer_id"],  # type: ignore[operator]
                                          row["currency"]))  # fmt: skip


def records(rows: CustomerRows) -> list[dict[str, object]]:
    return [{str(key): value for key, value in record.items()} for record in rows.table.to_dict("records")]


FILTERS = [
    pytest.param({}, id="today"),
    pytest.param({"as_of": TODAY - timedelta(days=75)}, id="a-past-date"),
    pytest.param({"basis": "issue", "buckets": (15, 45, 200)}, id="issue-basis-own-buckets"),
    pytest.param({"as_of": TODAY - timedelta(days=30), "currency": "USD"}, id="past-date-usd"),
]


@pytest.mark.parametrize("options", FILTERS)
def test_the_first_rows_and_the_count_are_those_of_the_whole_table_computed_from_the_ledger(
    database: str, options: dict[str, object]
) -> None:
    build_ledger()
    flt = AgingFilter(**{"as_of": TODAY, **options})  # type: ignore[arg-type]
    expected = expected_table(flt)
    assert len(expected) >= 5, "the ledger leaves several customers with something open"
    whole = receivables.receivables_largest_overdue_first(BILLING, flt, rows=None)
    assert records(whole) == expected
    assert whole.matching == len(expected)
    for first in (1, 3, len(expected) - 1, len(expected), len(expected) + 10):
        screen = receivables.receivables_largest_overdue_first(BILLING, flt, rows=first)
        assert records(screen) == expected[:first]
        assert screen.matching == len(expected)
    # The per-currency totals the page shows (the aging summary) are the whole table's, not the first screen's.
    summary = aging_summary(flt)
    for code, rows in summary.groupby("currency"):
        totals = [Decimal(str(r["total"])) for r in expected if r["currency"] == code]
        assert sum(rows.amount, Decimal(0)) == sum(totals, Decimal(0))


def test_equal_overdue_amounts_come_in_customer_id_order_by_code_point(database: str) -> None:
    build_ledger()
    table = receivables.receivables_largest_overdue_first(BILLING, AgingFilter(as_of=TODAY)).table
    twins = table[table.customer_name.str.startswith("Tie")]
    assert list(twins.customer_id) == ["A-4", "B-2"]
    assert list(twins.overdue) == [Decimal("3333.33")] * 2
    first, second = twins.index
    assert second == first + 1, "equal amounts sit side by side"
    assert "z-8" not in set(table.customer_id), "a customer with nothing open has no row"


@pytest.mark.parametrize(
    ("search", "found"),
    [
        pytest.param("b-", {"b-1", "B-2"}, id="id-any-case"),
        pytest.param("COBALT", {"c-5", "C-6"}, id="name-any-case"),
        pytest.param("_", {"a_3"}, id="underscore-is-literal"),
        pytest.param("100%", {"a_3"}, id="percent-is-literal"),
        pytest.param("Tie Twin", {"A-4", "B-2"}, id="name-words"),
        pytest.param("nobody by that name", set(), id="none"),
    ],
)
def test_search_keeps_the_customers_whose_id_or_name_contains_it(
    database: str, search: str, found: set[str]
) -> None:
    build_ledger()
    flt = AgingFilter(as_of=TODAY)
    expected = [row for row in expected_table(flt) if row["customer_id"] in found]
    result = receivables.receivables_largest_overdue_first(BILLING, flt, rows=1, search=search)
    assert records(result) == expected[:1]
    assert result.matching == len(expected) == len(found)


def test_only_those_who_may_read_receivables_get_the_table(database: str) -> None:
    with pytest.raises(PermissionDenied):
        receivables.receivables_largest_overdue_first(HELPDESK, AgingFilter(as_of=TODAY))


@pytest.fixture
def media_managers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MediaFileManager]]:
    """Every media file manager AppTest creates, so a test can run a download button's deferred export."""
    made: list[MediaFileManager] = []

    class Recording(MediaFileManager):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recording)
    yield made


def test_the_page_shows_the_first_rows_and_the_download_holds_every_row(
    database: str, media_managers: list[MediaFileManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_ledger()
    monkeypatch.setattr(receivables, "FIRST_SCREEN_ROWS", 3)
    expected = expected_table(AgingFilter(as_of=TODAY))
    app = pages.open_page("app_pages/receivables.py", "billing")
    shown = app.dataframe[0].value
    assert list(shown["Customer ID"]) == [row["customer_id"] for row in expected[:3]]
    assert f"The first 3 of {len(expected)} rows" in " ".join(caption.value for caption in app.caption)

    button = app.download_button(key="receivables_export_csv")
    url = media_managers[-1].execute_deferred(button.proto.deferred_file_id)
    stored = media_managers[-1].read_file(url.rsplit("/", 1)[-1])
    assert stored is not None
    lines = list(csv.reader(io.StringIO(bytes(stored.content).decode("utf-8-sig"))))
    assert lines[0] == list(shown.columns)
    assert [line[0] for line in lines[1:]] == [row["customer_id"] for row in expected]
    assert [Decimal(line[-1]) for line in lines[1:]] == [row["overdue"] for row in expected]

    app.text_input(key="receivables_search").set_value("cobalt")
    app.run()
    assert not app.exception, app.exception
    assert set(app.dataframe[0].value["Customer ID"]) == {"c-5", "C-6"} & {
        row["customer_id"] for row in expected
    }


def test_the_overviews_unapplied_credit_is_one_currency_largest_first_and_cut(database: str) -> None:
    owed = {
        "C-1": ("USD", 500),
        "C-2": ("USD", 900),
        "C-3": ("EUR", 700),
        "C-4": ("USD", 900),
        "C-5": ("USD", 100),
    }
    for external_id, (currency, cents) in owed.items():
        factories.customer(external_id, currency=currency)
        factories.invoice(external_id, f"I-{external_id}", issued=TODAY - timedelta(days=5), cents=1_000)
        factories.payment(external_id, cents=1_000 + cents, received_on=TODAY)
    expected = sorted(
        ((-cents, external_id) for external_id, (currency, cents) in owed.items() if currency == "USD")
    )
    usd = unapplied_credit(BILLING, currency="USD", limit=3)
    assert list(usd.customer_id) == [external_id for _, external_id in expected[:3]] == ["C-2", "C-4", "C-1"]
    assert list(usd.unapplied) == [Decimal("9.00"), Decimal("9.00"), Decimal("5.00")]
    assert set(unapplied_credit(BILLING).customer_id) == set(owed)
