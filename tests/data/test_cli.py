"""The command line as a scheduler would call it: real processes, real database files."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import factories
from tests.support.cli import cli


@pytest.mark.parametrize(
    "args",
    [
        ["report", "aging", "--as-of", "yesterday"],
        ["report", "aging", "--as-of", "2026-02-30"],
        ["report", "aging", "--basis", "posting"],
        ["report", "aging", "--buckets", "60,30"],
        ["report", "aging", "--buckets", "thirty"],
        ["report", "aging", "--format", "xml"],
        ["report", "aging", "--currency", "DOLLARS"],
        ["report", "aging", "--by", "country"],
        ["report", "nonsense"],
        ["seed"],
        ["seed", "--demo", "--customers", "-3"],
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(sqlite_database: str, args: list[str]) -> None:
    result = cli(*args, database_url=sqlite_database)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error:" in result.stderr


def test_report_aging_prints_csv_json_and_table(sqlite_database: str) -> None:
    today = date(2026, 11, 24)
    factories.customer("C-1", name="Contoso, Ltd")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=75), cents=123_456)
    factories.invoice("C-1", "I-2", issued=today - timedelta(days=10), cents=99)
    by_customer = cli("report", "aging", "--as-of", "2026-11-24", "--by", "customer", "--format", "csv",
                      database_url=sqlite_database)  # fmt: skip
    assert by_customer.returncode == 0, by_customer.stderr
    rows = list(csv.DictReader(io.StringIO(by_customer.stdout)))
    assert list(rows[0]) == ["customer_id", "customer_name", "currency", "current", "1-30", "31-60", "61-90",
                             "91-120", "121+", "total"]  # fmt: skip
    assert rows[0]["customer_name"] == "Contoso, Ltd"
    assert (rows[0]["current"], rows[0]["31-60"], rows[0]["total"]) == ("0.99", "1234.56", "1235.55")

    summary = cli("report", "aging", "--as-of", "2026-11-24", "--format", "json", "--buckets", "45",
                  database_url=sqlite_database)  # fmt: skip
    records = json.loads(summary.stdout, parse_float=Decimal)
    assert [r["bucket"] for r in records] == ["current", "1-45", "46+"]
    assert {r["bucket"]: r["amount"] for r in records} == {"current": Decimal("0.99"), "1-45": Decimal("1234.56"),
                                                          "46+": Decimal("0.00")}  # fmt: skip
    table = cli("report", "aging", "--as-of", "2026-11-24", database_url=sqlite_database)
    assert "1234.56" in table.stdout and "bucket" in table.stdout


def test_unknown_currency_filter_gives_an_empty_report_not_an_error(sqlite_database: str) -> None:
    result = cli("report", "aging", "--currency", "JPY", "--format", "csv", database_url=sqlite_database)
    assert result.returncode == 0
    assert result.stdout.strip() == "currency,bucket,amount,invoices"


def test_a_database_without_schema_gets_a_sentence(tmp_path: Path) -> None:
    result = cli("report", "aging", database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "python -m data_access init" in result.stderr


def test_report_overview_and_statement_print_the_page_figures(sqlite_database: str) -> None:
    from data_access.permissions import Actor
    from data_access.queries.overview import overview

    today = date(2026, 11, 24)
    factories.customer("C-1", name="Contoso")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=75), cents=123_456)
    result = cli(
        "report", "overview", "--as-of", "2026-11-24", "--format", "json", database_url=sqlite_database
    )
    figures = json.loads(result.stdout, parse_float=Decimal)
    expected = overview(Actor.of("t", ["Global admin"]), as_of=today).now
    assert figures["total_receivables"] == expected.total_receivables == Decimal("1234.56")
    assert figures["overdue"] == Decimal("1234.56") and figures["overdue_share"] == Decimal("1.0000")
    assert set(figures) >= {"dso_days", "collected_this_month", "suspended_subscriptions", "open_tickets",
                            "sla_breaches", "open_escalations", "next_microsoft_payment"}  # fmt: skip
    statement = cli("report", "statement", "--customer", "C-1", "--from", "2026-09-01", "--to", "2026-11-24",
                    "--format", "csv", database_url=sqlite_database)  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(statement.stdout)))
    closing = next(row for row in rows if row["type"] == "closing balance")
    assert closing["balance"] == "1234.56"
    bad = cli("report", "statement", "--customer", "C-1", "--from", "2026-13-01", "--to", "2026-11-24",
              database_url=sqlite_database)  # fmt: skip
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_report_tickets_prints_the_design_columns(sqlite_database: str) -> None:
    from data_access.demo import seed_demo

    seed_demo(customers=20, seed=5, today=date(2026, 11, 24))
    result = cli("report", "tickets", "--from", "2026-09-01", "--to", "2026-11-24", "--by", "month", "--format",
                 "csv", database_url=sqlite_database)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["period", "opened", "resolved", "first_response_median_hours",
                             "resolution_median_hours", "first_response_sla_met", "resolution_sla_met"]  # fmt: skip
    assert sum(int(row["opened"]) for row in rows) > 0
    backwards = cli(
        "report", "tickets", "--from", "2026-11-24", "--to", "2026-09-01", database_url=sqlite_database
    )
    assert backwards.returncode == 1 and "before" in backwards.stderr
