"""The receivables page under AppTest: its table equals `python -m data_access report aging --by customer` for the
same inputs, its filters and sort hold, a selected customer's invoices add up, and the exports are the table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test_module
from sqlalchemy import func, select
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.db import read_session
from data_access.demo import seed_demo
from data_access.models import Customer, ExchangeRate, Invoice
from data_access.money import from_cents
from data_access.queries.exchange_rates import rates_at
from data_access.queries.receivables import BUCKETS_SETTING
from tests.support import factories, pages
from tests.support.actors import BILLING
from tests.support.cli import cli
from tests.support.environment import ROOT

PAGE = "app_pages/receivables.py"
TODAY = clock.today()
NAMES = {"Customer ID": "customer_id", "Customer": "customer_name", "Currency": "currency", "Current": "current",
         "Total": "total", "Overdue": "overdue", "Beyond current": "overdue"}  # fmt: skip


@pytest.fixture
def demo(database: str) -> str:
    seed_demo(customers=40, seed=3, today=TODAY)
    return database


def open_page(username: str = "billing") -> AppTest:
    return pages.open_page(PAGE, username)


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    assert [title.value for title in app.title] == ["Receivables"]
    return app


def table(app: AppTest) -> pd.DataFrame:
    """The by-customer table as the page shows it, with the report's column names."""
    return app.dataframe[0].value.rename(columns=NAMES)


def report(database_url: str, *args: str) -> pd.DataFrame:
    """`report aging --by customer --format csv` in its own process, amounts read back as exact decimals."""
    result = cli("report", "aging", "--by", "customer", "--format", "csv", *args, database_url=database_url)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    for column in frame.columns[3:]:
        frame[column] = [Decimal(value) for value in frame[column]]
    return frame


def converted_order(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Largest overdue first in the reporting currency at the as-of date's rates (a currency without a rate after
    the others, by its own amount), then customer id and currency."""
    rates = rates_at(as_of)

    def key(n: int) -> tuple[object, ...]:
        row = frame.iloc[n]
        rate = rates.rate(row.currency)
        return (rate is None, -row.overdue * (rate or 1), row.customer_id, row.currency)

    return frame.iloc[sorted(range(len(frame)), key=key)]


def assert_table_equals_report(shown: pd.DataFrame, printed: pd.DataFrame, as_of: date) -> None:
    assert list(shown.columns) == [*printed.columns, "overdue"]
    assert len(shown) == len(printed) > 0
    printed = printed.assign(overdue=printed.total - printed.current)
    expected_order = converted_order(printed, as_of)
    assert list(zip(shown.customer_id, shown.currency, strict=True)) == list(
        zip(expected_order.customer_id, expected_order.currency, strict=True)
    )
    for column in printed.columns:
        assert list(shown[column]) == list(expected_order[column]), column


PAST = TODAY - timedelta(days=200)
PAST_ISSUE_EUR = {"receivables_as_of": PAST, "receivables_basis": "issue", "receivables_buckets": "15,45,75",
                  "receivables_currency": "EUR"}  # fmt: skip
PAST_ISSUE_EUR_ARGS = [
    "--as-of",
    PAST.isoformat(),
    "--basis",
    "issue",
    "--buckets",
    "15,45,75",
    "--currency",
    "EUR",
]


@pytest.mark.parametrize(
    ("settings", "report_args"),
    [
        pytest.param({}, ["--as-of", TODAY.isoformat()], id="defaults"),
        pytest.param(PAST_ISSUE_EUR, PAST_ISSUE_EUR_ARGS, id="past-issue-basis-custom-buckets-eur"),
    ],
)
def test_the_table_equals_the_cli_report_for_the_same_inputs(
    demo: str, settings: dict[str, object], report_args: list[str]
) -> None:
    app = open_page()
    for key, value in settings.items():
        app.session_state[key] = value
    run(app)
    shown = table(app)
    printed = report(demo, *report_args)
    assert_table_equals_report(shown, printed, date.fromisoformat(report_args[1]))
    # The cards count overdue from the due date whatever the age basis: the due-basis summary report says how much.
    due_basis = [arg for arg in report_args if arg not in ("--basis", "issue")]
    summary = cli("report", "aging", "--format", "csv", *due_basis, database_url=demo)
    buckets = pd.read_csv(io.StringIO(summary.stdout), dtype=str).assign(
        amount=lambda f: f.amount.map(Decimal)
    )
    for code, rows in buckets.groupby("currency"):
        total = sum(rows.amount, Decimal(0))
        overdue = sum(rows[rows.bucket != "current"].amount, Decimal(0))
        assert total == sum(printed[printed.currency == code].total, Decimal(0))
        metric = next(m for m in app.metric if m.label == f"Open receivables ({code})")
        assert metric.value == f"{total:,.2f}"
        assert metric.proto.delta == f"{overdue:,.2f} overdue ({overdue / total:.1%})"
    # One card per currency, and one converted total before them when there are several: each currency's total at
    # its latest rate on or before the date (read here from the rates table itself), summed, rounded once.
    assert len(app.metric) == printed.currency.nunique() + (printed.currency.nunique() > 1)
    if printed.currency.nunique() > 1:
        as_of = date.fromisoformat(report_args[1])
        with read_session() as session:
            stored = session.execute(
                select(ExchangeRate.currency, ExchangeRate.rate_date, ExchangeRate.rate)
            ).all()
        latest: dict[str, tuple[date, Decimal]] = {}
        for currency, day_of, rate in stored:
            if day_of <= as_of and (currency not in latest or latest[currency][0] < day_of):
                latest[currency] = (day_of, Decimal(rate))
        rate_of = {
            code: Decimal(1) if code == "USD" else latest[code][1] for code in buckets.currency.unique()
        }
        exact = sum((amount * rate_of[code] for code, amount in zip(buckets.currency, buckets.amount, strict=True)),
                    Decimal(0))  # fmt: skip
        first = app.metric[0]
        assert first.label == "All currencies in USD"
        assert first.value == f"{exact.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def test_filters_change_the_rows(demo: str) -> None:
    app = open_page()
    everyone = table(app)
    with read_session() as session:
        managed = set(
            session.scalars(select(Customer.external_id).where(Customer.account_manager == "jamie.chen"))
        )
        disputed = dict(
            session.execute(
                select(Customer.external_id, func.sum(Invoice.open_cents))
                .join(Invoice, Invoice.customer_id == Customer.id)
                .where(Invoice.disputed.is_(True), Invoice.open_cents > 0)
                .group_by(Customer.external_id)
            ).all()
        )
    app.selectbox(key="receivables_account_manager").set_value("jamie.chen")
    jamie = table(run(app))
    assert 0 < len(jamie) < len(everyone)
    assert set(jamie.customer_id) <= managed
    assert set(jamie.customer_id) == {c for c in everyone.customer_id if c in managed}
    assert_table_equals_report(
        jamie, report(demo, "--as-of", TODAY.isoformat(), "--account-manager", "jamie.chen"), TODAY
    )

    app.selectbox(key="receivables_account_manager").set_value("All")
    app.selectbox(key="receivables_country").set_value("GB")
    assert set(table(run(app)).currency) == {"GBP"}

    app.selectbox(key="receivables_country").set_value("All")
    app.toggle(key="receivables_disputed_only").set_value(True)
    only_disputed = table(run(app))
    assert disputed, "the demo data holds open disputed invoices"
    assert dict(zip(only_disputed.customer_id, only_disputed.total, strict=True)) == {
        customer: from_cents(cents) for customer, cents in disputed.items()
    }


def test_rows_are_sorted_by_overdue_amount_largest_first(demo: str) -> None:
    shown = table(open_page())
    assert list(shown.overdue) == [
        total - current for total, current in zip(shown.total, shown.current, strict=True)
    ]
    assert list(shown.customer_id) == list(converted_order(shown, TODAY).customer_id)
    assert shown.overdue.iloc[0] > shown.overdue.iloc[-1]


def test_selecting_a_customer_shows_its_open_invoices_and_payments(demo: str) -> None:
    app = open_page()
    shown = table(app)
    assert not [s.value for s in app.subheader if "(" in s.value]
    app.session_state[app.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    run(app)
    chosen = shown.iloc[0]
    assert f"{chosen.customer_name} ({chosen.customer_id})" in [s.value for s in app.subheader]
    invoices = app.dataframe[1].value
    assert len(invoices) > 0 and set(invoices.currency) == {chosen.currency}
    assert sum(invoices.open_at_as_of, Decimal(0)) == chosen.total
    assert sum(invoices[invoices.bucket != "current"].open_at_as_of, Decimal(0)) == chosen.overdue
    with read_session() as session:
        open_now = dict(
            session.execute(
                select(Invoice.number, Invoice.open_cents)
                .join(Customer, Customer.id == Invoice.customer_id)
                .where(Customer.external_id == chosen.customer_id, Invoice.open_cents > 0,
                       Invoice.currency == chosen.currency)
            ).all()
        )  # fmt: skip
    assert dict(zip(invoices.invoice_number, invoices.open_at_as_of, strict=True)) == {
        number: from_cents(cents) for number, cents in open_now.items()
    }

    app.selectbox(key="receivables_currency").set_value("USD" if chosen.currency != "USD" else "EUR")
    run(app)
    assert not [s.value for s in app.subheader if chosen.customer_id in s.value], (
        "a stale selection is dropped"
    )


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


def download(app: AppTest, managers: list[MediaFileManager], key: str) -> bytes:
    """What a click on the download button delivers: its deferred export, run as the server would run it."""
    button = app.download_button(key=key)
    url = managers[-1].execute_deferred(button.proto.deferred_file_id)
    stored = managers[-1].read_file(url.rsplit("/", 1)[-1])
    assert stored is not None
    return bytes(stored.content)


def test_the_exports_hold_exactly_the_table_shown(demo: str, media_managers: list[MediaFileManager]) -> None:
    app = open_page("sales")
    app.session_state["receivables_buckets"] = "10,20"
    app.session_state["receivables_country"] = "US"
    shown = run(app).dataframe[0].value
    assert len(shown) > 1 and list(shown.columns)[3:6] == ["Current", "1-10", "11-20"]

    rows = list(
        csv.reader(io.StringIO(download(app, media_managers, "receivables_export_csv").decode("utf-8-sig")))
    )
    assert rows[0] == list(shown.columns)
    assert rows[1:] == [[str(value) for value in record] for record in shown.itertuples(index=False)]

    sheet = openpyxl.load_workbook(
        io.BytesIO(download(app, media_managers, "receivables_export_xlsx"))
    ).active
    assert sheet is not None
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[0] == list(shown.columns)
    assert len(cells) == len(shown) + 1
    for values, record in zip(cells[1:], shown.itertuples(index=False), strict=True):
        assert values[:3] == list(record[:3])
        assert [Decimal(repr(v)).quantize(Decimal("0.01")) for v in values[3:]] == list(record[3:])


def test_an_empty_database_says_how_to_bring_data_in(sqlite_database: str) -> None:
    app = open_page()
    assert [title.value for title in app.title] == ["Receivables"]
    message = app.info[0].value
    assert "No invoices yet" in message
    assert "python -m data_access import invoices FILE.csv" in message and "Import page" in message
    assert not app.dataframe and not app.metric and not app.get("plotly_chart")


def test_bucket_edges_default_to_the_setting_and_bad_edges_get_a_sentence(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=50), cents=12_345)
    monkeypatch.setenv(BUCKETS_SETTING, "15,45")
    app = open_page()
    assert app.text_input(key="receivables_buckets").value == "15,45"
    assert list(table(app).columns) == ["customer_id", "customer_name", "currency", "current", "1-15", "16-45",
                                        "46+", "total", "overdue"]  # fmt: skip
    assert table(app)["16-45"].iloc[0] == Decimal("123.45")
    app.text_input(key="receivables_buckets").set_value("60,30")
    run(app)
    assert "positive and increasing" in app.error[0].value
    assert not app.dataframe


def test_nothing_open_for_the_filters_says_so(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=50), cents=12_345)
    app = open_page()
    app.date_input(key="receivables_as_of").set_value(TODAY - timedelta(days=60))
    run(app)
    assert "Nothing was open" in app.info[0].value
    assert not app.dataframe


def test_a_sales_agent_has_the_page_and_a_helpdesk_agent_does_not(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=TODAY - timedelta(days=50), cents=12_345)
    sales = open_page("sales")
    assert [title.value for title in sales.title] == ["Receivables"]
    assert list(table(sales).total) == [Decimal("123.45")]
    assert {button.key for button in sales.download_button} == {
        "receivables_export_csv",
        "receivables_export_xlsx",
    }

    helpdesk = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    helpdesk.session_state["authentication_status"] = True
    helpdesk.session_state["username"] = "helpdesk"
    helpdesk.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        helpdesk.switch_page(PAGE)
    assert [title.value for title in helpdesk.title] == ["Tickets"]


def test_a_date_long_ago_works(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2003, 5, 1), cents=500)
    app = open_page()
    app.date_input(key="receivables_as_of").set_value(date(2003, 6, 15))
    assert list(table(run(app))["1-30"]) == [Decimal("5.00")]


def test_the_stage_filter_keeps_the_customers_the_policy_puts_in_that_stage(demo: str) -> None:
    from data_access.queries.collections import worklist

    stages = worklist(BILLING, as_of=TODAY)
    final_notice = set(stages[stages.stage == "Final notice"].customer_id)
    assert final_notice, "the demo data places customers at every stage"
    app = open_page()
    app.selectbox(key="receivables_stage").set_value("Final notice")
    assert set(table(run(app)).customer_id) == final_notice
