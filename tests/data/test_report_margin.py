"""`report margin`: the Partner Center files imported from the shell, then the report printed as csv, json and a
table, row for row margin_report's (test_margin checks margin_report against the files by hand). On SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from data_access.queries.margin import MARGIN_COLUMNS, margin_report
from tests.support.actors import ADMIN
from tests.support.cli import cli
from tests.support.margin_book import END, START, build_customers_and_invoices, write_book_files

RANGE = ["--from", START.isoformat(), "--to", END.isoformat()]


@pytest.fixture
def book(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("BILLING_DESK_REPORTING_CURRENCY", raising=False)
    build_customers_and_invoices()
    for kind, path in write_book_files(tmp_path).items():
        done = cli("import", kind, str(path))
        assert done.returncode == 0, done.stderr
    return database


def as_text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def as_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--by", "customer"],
        ["--by", "month"],
        ["--currency", "eur"],
        ["--by", "customer", "--currency", "USD"],
    ],
)
def test_csv_and_json_are_margin_reports_rows(book: str, options: list[str]) -> None:
    by = options[options.index("--by") + 1] if "--by" in options else None
    currency = options[options.index("--currency") + 1] if "--currency" in options else None
    frame = margin_report(ADMIN, START, END, by=by, currency=currency)
    assert not frame.empty
    expected = frame.to_dict("records")

    printed = cli("report", "margin", *RANGE, *options, "--format", "csv")
    assert printed.returncode == 0, printed.stderr
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert list(rows[0]) == list(frame.columns)
    assert rows == [{name: as_text(value) for name, value in row.items()} for row in expected]

    printed = cli("report", "margin", *RANGE, *options, "--format", "json")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout, parse_float=Decimal) == [
        {name: as_json(value) for name, value in row.items()} for row in expected
    ]


def test_json_keeps_missing_conversions_null_and_amounts_exact(book: str) -> None:
    printed = cli("report", "margin", *RANGE, "--currency", "GBP", "--format", "json")
    (row,) = json.loads(printed.stdout, parse_float=Decimal)
    assert list(row) == MARGIN_COLUMNS
    assert row["microsoft_cost"] == Decimal("50.00") and row["microsoft_cost_converted"] is None
    assert '"revenue": 60.00,' in printed.stdout


def test_table_and_help(book: str) -> None:
    printed = cli("report", "margin", *RANGE, "--by", "month")
    assert printed.returncode == 0 and "microsoft_cost" in printed.stdout and "2026-10" in printed.stdout
    helped = cli("report", "margin", "--help")
    assert helped.returncode == 0 and "--currency" in helped.stdout and "--by" in helped.stdout


def test_bad_input_is_one_sentence(book: str) -> None:
    bad = cli("report", "margin", "--from", "2026-13-01", "--to", "2026-11-20")
    assert bad.returncode == 2 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr
    backwards = cli("report", "margin", "--from", END.isoformat(), "--to", START.isoformat())
    assert backwards.returncode == 1 and "before --from" in backwards.stderr
    grouped = cli("report", "margin", *RANGE, "--by", "week")
    assert grouped.returncode == 2 and "Traceback" not in grouped.stderr
