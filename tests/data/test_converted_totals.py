"""Totals converted to the reporting currency, checked against figures worked out by hand: the Overview and its
report, cash cover across currencies, and the rankings (worklist priority, largest overdue first) across
currencies. A rate is the latest dated on or before the day; a figure that needs a missing rate is not given."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from data_access import clock
from data_access.actions import collections_run
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.queries.aging import AgingFilter, aging_by_customer
from data_access.queries.collections import worklist, worklist_first_screen
from data_access.queries.exchange_rates import rates_on
from data_access.queries.microsoft_payables import cash_cover, cash_cover_every_currency
from data_access.queries.overview import overview
from data_access.queries.receivables import largest_overdue_first, receivables_largest_overdue_first
from tests.support import factories
from tests.support.actors import ADMIN, BILLING
from tests.support.cli import cli

TODAY = date(2026, 11, 24)

# Units of USD (the reporting currency) for one unit of the currency. On 24 November EUR is 1.0825 (the 25
# November rate is later: ignored) and GBP is 1.27 (dated 20 November: it replaces the 1 October one; the 30
# November one is later: ignored).
RATES = """rate_date,currency,rate
2026-10-01,GBP,1.10
2026-11-01,EUR,1.0825
2026-11-20,GBP,1.27
2026-11-25,EUR,2.00
2026-11-30,GBP,5
"""


def import_rates(tmp_path: Path, text: str = RATES) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    report = import_csv(ADMIN, "exchange-rates", path)
    assert report.ok, report.errors


def write_receivables() -> None:
    """Open at 24 November (30-day terms): USD 1,000.00 overdue and 500.00 not yet due; EUR 1,000.00 overdue;
    GBP 250.10 not yet due (due 1 December)."""
    factories.customer("C-US")
    factories.customer("C-EU", currency="EUR")
    factories.customer("C-GB", currency="GBP")
    factories.invoice("C-US", "I-U1", issued=date(2026, 9, 1), cents=100_000)  # due 1 Oct
    factories.invoice("C-US", "I-U2", issued=date(2026, 11, 10), cents=50_000)  # due 10 Dec
    factories.invoice("C-EU", "I-E1", issued=date(2026, 9, 15), cents=100_000)  # due 15 Oct
    factories.invoice("C-GB", "I-G1", issued=date(2026, 11, 1), cents=25_010)  # due 1 Dec


def test_the_rate_is_the_latest_on_or_before_the_day(database: str, tmp_path: Path) -> None:
    import_rates(tmp_path)
    with read_session() as session:
        on_24th, on_25th, on_1st = (rates_on(session, day) for day in
                                    (TODAY, date(2026, 11, 25), date(2026, 10, 1)))  # fmt: skip
    assert on_24th.rate("EUR") == Decimal("1.0825") and on_24th.rate("GBP") == Decimal("1.27")
    assert on_25th.rate("EUR") == Decimal("2.00")  # a rate counts from its own date
    assert on_1st.rate("GBP") == Decimal("1.10") and on_1st.rate("EUR") is None
    assert on_24th.rate("USD") == Decimal(1)


def test_overview_converts_every_currency_at_the_as_of_dates_rates(database: str, tmp_path: Path) -> None:
    write_receivables()
    import_rates(tmp_path)
    converted = overview(ADMIN, as_of=TODAY).converted
    assert converted is not None
    # USD 1,000.00 + 500.00 + EUR 1,000.00 x 1.0825 (1,082.50) + GBP 250.10 x 1.27 (317.627) = 2,900.127
    assert converted.total.amount == Decimal("2900.13")
    # USD 1,000.00 + EUR 1,000.00 x 1.0825 = 2,082.50 (the GBP invoice is not yet due)
    assert converted.overdue.amount == Decimal("2082.50")
    assert converted.total.explain() == (
        "In USD at the rates on or before 2026-11-24 (EUR 2026-11-01, GBP 2026-11-20)."
    )


def test_report_overview_gains_the_converted_keys(sqlite_database: str, tmp_path: Path) -> None:
    write_receivables()
    import_rates(tmp_path)
    result = cli(
        "report", "overview", "--as-of", "2026-11-24", "--format", "json", database_url=sqlite_database
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout, parse_float=Decimal)
    assert figures["reporting_currency"] == "USD"
    assert figures["total_receivables_converted"] == Decimal("2900.13")
    assert figures["overdue_converted"] == Decimal("2082.50")
    assert figures["rates_on"] == "2026-11-24"
    assert figures["total_receivables"] == Decimal("1500.00")  # the per-currency figure stays as it was


def test_a_missing_rate_gives_no_total_and_says_which(database: str, tmp_path: Path) -> None:
    write_receivables()
    factories.customer("C-JP", currency="JPY")
    factories.invoice("C-JP", "I-J1", issued=date(2026, 9, 1), cents=1_000_000)
    import_rates(tmp_path)
    result = overview(ADMIN, as_of=TODAY)
    assert result.converted is not None
    assert result.converted.total.amount is None and result.converted.overdue.amount is None
    assert result.converted.total.missing == ("JPY",)
    assert "no exchange rate on or before 2026-11-24 for JPY" in result.converted.total.explain()
    figures = result.as_dict()
    assert figures["total_receivables_converted"] is None and figures["overdue_converted"] is None
    assert figures["rates_missing"] == ["JPY"]


def test_before_the_first_rate_nothing_is_converted(database: str, tmp_path: Path) -> None:
    """On 15 October there is a GBP rate (1 October) and no EUR rate yet: no guess from the later one."""
    factories.customer("C-US")
    factories.customer("C-EU", currency="EUR")
    factories.invoice("C-US", "I-U1", issued=date(2026, 9, 1), cents=100_000)
    factories.invoice("C-EU", "I-E1", issued=date(2026, 9, 15), cents=100_000)
    import_rates(tmp_path)
    converted = overview(ADMIN, as_of=date(2026, 10, 15)).converted
    assert converted is not None and converted.total.amount is None and converted.total.missing == ("EUR",)


def test_cash_cover_counts_every_currency_converted_to_the_bill_currency(
    database: str, tmp_path: Path
) -> None:
    write_receivables()
    import_rates(tmp_path)
    factories.microsoft_invoice("MS-EUR", cents=200_000, due=date(2026, 12, 5), currency="EUR")
    same = cash_cover(BILLING, as_of=TODAY, pay_by=date(2026, 12, 5), currency="EUR")
    assert same.due_before == Decimal("1000.00")  # the EUR invoice alone, as before
    every = cash_cover_every_currency(BILLING, as_of=TODAY, pay_by=date(2026, 12, 5), currency="EUR")
    # Due by 5 December: USD 1,000.00 (overdue), EUR 1,000.00 (overdue), GBP 250.10 (due 1 Dec); USD 500.00 is
    # due 10 Dec. In USD: 1,000.00 + 1,082.50 + 317.627 = 2,400.127; / 1.0825 = 2,217.2074 EUR.
    assert every.due_before == Decimal("2217.21")
    # Overdue: (1,000.00 + 1,082.50) / 1.0825 = 1,923.7875 EUR
    assert every.already_overdue == Decimal("1923.79")
    assert every.cover_ratio == Decimal("2217.21") / Decimal("2000.00")
    assert every.explain() == (
        "Every currency in EUR through USD at the rates on or before 2026-11-24 (EUR 2026-11-01, GBP 2026-11-20)."
    )


def test_cash_cover_of_a_bill_in_the_reporting_currency(database: str, tmp_path: Path) -> None:
    write_receivables()
    import_rates(tmp_path)
    factories.microsoft_invoice("MS-USD", cents=300_000, due=date(2026, 12, 5))
    every = cash_cover_every_currency(BILLING, as_of=TODAY, pay_by=date(2026, 12, 5), currency="USD")
    # 1,000.00 + EUR 1,000.00 x 1.0825 + GBP 250.10 x 1.27 = 2,400.127 USD
    assert (every.due_before, every.already_overdue) == (Decimal("2400.13"), Decimal("2082.50"))
    assert every.cover_ratio == Decimal("2400.13") / Decimal("3000.00")


def test_cash_cover_with_a_missing_rate_says_so(database: str, tmp_path: Path) -> None:
    write_receivables()
    factories.customer("C-JP", currency="JPY")
    factories.invoice("C-JP", "I-J1", issued=date(2026, 11, 1), cents=1_000_000)  # due 1 Dec
    import_rates(tmp_path)
    factories.microsoft_invoice("MS-EUR", cents=200_000, due=date(2026, 12, 5), currency="EUR")
    every = cash_cover_every_currency(BILLING, as_of=TODAY, pay_by=date(2026, 12, 5), currency="EUR")
    assert (every.due_before, every.already_overdue, every.cover_ratio) == (None, None, None)
    assert every.missing == ("JPY",)
    assert "no exchange rate on or before 2026-11-24 for JPY" in every.explain()


@pytest.mark.parametrize("bill", ["CHF"])
def test_cash_cover_of_a_bill_in_a_currency_without_a_rate(database: str, tmp_path: Path, bill: str) -> None:
    write_receivables()
    import_rates(tmp_path)
    every = cash_cover_every_currency(BILLING, as_of=TODAY, pay_by=date(2026, 12, 5), currency=bill)
    assert every.due_before is None and every.missing == (bill,)


def write_overdue_accounts(tmp_path: Path) -> date:
    """Five accounts 10 days past due on the same invoice date, so the worklist priority (overdue x days past
    due) compares the overdue amounts alone; rates dated ten days ago."""
    today = clock.today()
    factories.policy()
    issued = today - timedelta(days=40)
    for customer, currency, cents in [
        ("A-US", "USD", 105_000),  # 1,050.00 USD
        ("B-EU", "EUR", 100_000),  # 1,000.00 x 1.0825 = 1,082.50 USD
        ("C-GB", "GBP", 80_000),  # 800.00 x 1.27 = 1,016.00 USD
        ("D-JP", "JPY", 10_000_000),  # 100,000 JPY: no rate, after the others however large
        ("E-US", "USD", 90_000),  # 900.00 USD
    ]:
        factories.customer(customer, currency=currency)
        factories.invoice(customer, f"I-{customer}", issued=issued, cents=cents)
    rated = today - timedelta(days=10)
    import_rates(tmp_path, f"rate_date,currency,rate\n{rated},EUR,1.0825\n{rated},GBP,1.27\n")
    return today


RANKED = ["B-EU", "A-US", "C-GB", "E-US", "D-JP"]


def test_largest_overdue_first_compares_the_converted_amounts(database: str, tmp_path: Path) -> None:
    today = write_overdue_accounts(tmp_path)
    flt = AgingFilter(as_of=today)
    whole = receivables_largest_overdue_first(BILLING, flt, rows=None)
    assert list(whole.table.customer_id) == RANKED
    assert list(whole.table.overdue)[:2] == [
        Decimal("1000.00"),
        Decimal("1050.00"),
    ]  # shown in their currency
    first = receivables_largest_overdue_first(BILLING, flt, rows=2)
    assert list(first.table.customer_id) == RANKED[:2] and first.matching == 5
    with read_session() as session:
        rates = rates_on(session, today)
    assert list(largest_overdue_first(aging_by_customer(flt), rates).customer_id) == RANKED


def test_the_worklist_ranks_by_priority_in_the_reporting_currency(database: str, tmp_path: Path) -> None:
    today = write_overdue_accounts(tmp_path)
    assessed = worklist_first_screen(BILLING, as_of=today, rows=None)  # no run yet: assessed from the ledger
    assert list(assessed.table.customer_id) == RANKED
    assert assessed.unranked == ("JPY",) and assessed.reporting == "USD"
    assert collections_run.ensure_current(today)
    stored = worklist_first_screen(BILLING, as_of=today, rows=None)  # from the stored state, ordered in SQL
    assert list(stored.table.customer_id) == RANKED
    assert stored.unranked == ("JPY",) and stored.rates_on == today
    first = worklist_first_screen(BILLING, as_of=today, rows=3)
    assert list(first.table.customer_id) == RANKED[:3] and first.matching == 5
    # The priority shown stays in the account's own currency: 1,000.00 EUR x 10 days.
    assert stored.table.priority.iloc[0] == Decimal("10000.00")
    assert list(worklist(BILLING, as_of=today).customer_id) == RANKED
