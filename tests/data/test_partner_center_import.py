"""Exchange rates and Partner Center's reconciliation files on SQLite and PostgreSQL, in Microsoft's own layout:
good files import exactly, the same file twice adds nothing, billed files replace what they supersede, and every
kind of hostile file is refused with its line numbers and nothing written."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access import clock
from data_access.audit import DataImported, parse_event
from data_access.csv_import import ImportReport, import_csv
from data_access.csv_import.partner_center import INVOICE_COLUMNS, USAGE_COLUMNS
from data_access.db import read_session
from data_access.models import AuditEvent, PartnerCenterImport, PartnerCenterLine
from tests.support.actors import BILLING
from tests.support.partner_center_files import (
    CONTOSO,
    FABRIKAM,
    RATES,
    at_once,
    invoice,
    invoice_file,
    invoice_line,
    ok,
    rates_file,
    state,
    stored,
    usage,
    usage_file,
    usage_line,
)


def test_a_billed_invoice_file_imports_exactly(database: str, tmp_path: Path) -> None:
    lines = [
        invoice_line(),
        invoice_line(
            CustomerId=FABRIKAM.upper(),
            Subtotal="-35.41666667",
            TaxTotal="-6.73",
            Currency="eur",
            ChargeType="removeQuantity",
            BillableQuantity="-2.5",
            ReferenceId="r-1",
            EffectiveUnitPrice="14.16666667",
        ),
    ]
    report = ok(invoice(invoice_file(tmp_path, "G012345678.csv", lines)))
    assert (report.rows, report.added, report.warnings) == (2, 2, [])
    first, refund = stored()
    assert (first.line_no, first.period, first.customer_tenant, first.invoice_number) == (
        2, date(2026, 11, 1), CONTOSO, "G012345678"
    )  # fmt: skip
    assert (first.cost_units, first.tax_units, first.quantity_units, first.unit_price) == (
        10_625_000_000, 0, 1_000_000_000, "10.625"
    )  # fmt: skip
    assert (first.charge_start, first.charge_end, first.currency) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        "USD",
    )
    assert (refund.customer_tenant, refund.currency, refund.charge_type) == (
        FABRIKAM,
        "EUR",
        "removeQuantity",
    )
    assert (refund.cost_units, refund.tax_units, refund.quantity_units) == (
        -3_541_666_667,
        -673_000_000,
        -250_000_000,
    )
    with read_session() as session:
        imported = session.scalars(select(PartnerCenterImport)).one()
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.target == "import:partner-center-invoice")
        ).one()
    assert (imported.source, imported.lines, imported.file_name, len(imported.sha256)) == (
        "invoice", 2, "G012345678.csv", 64
    )  # fmt: skip
    parsed = parse_event(event.permission, event.details)
    assert isinstance(parsed, DataImported) and (parsed.rows, parsed.added) == (2, 2)


def test_the_same_file_again_adds_nothing(database: str, tmp_path: Path) -> None:
    path = invoice_file(tmp_path, "november.csv", [invoice_line(), invoice_line(Subtotal="1.00")])
    ok(invoice(path))
    before = state()
    again = ok(invoice(path))
    assert (again.added, again.skipped) == (0, 2)
    assert any("imported before" in warning for warning in again.warnings)
    assert state()["lines"] == before["lines"] and state()["imports"] == before["imports"]
    usage_path = usage_file(tmp_path, "usage.csv", [usage_line()])
    assert ok(usage(usage_path)).added == 1
    assert ok(usage(usage_path)).added == 0
    assert len(stored()) == 3


def test_a_billed_file_replaces_the_unbilled_lines_of_its_month(database: str, tmp_path: Path) -> None:
    unbilled = [
        invoice_line(InvoiceNumber="", Subtotal="100.00"),
        invoice_line(InvoiceNumber="", Subtotal="5.00"),
        invoice_line(
            InvoiceNumber="", Subtotal="7.00", ChargeStartDate="2026-12-01", ChargeEndDate="2026-12-31"
        ),
    ]
    ok(invoice(invoice_file(tmp_path, "unbilled.csv", unbilled)))
    billed = ok(invoice(invoice_file(tmp_path, "billed.csv", [invoice_line(Subtotal="106.25")])))
    assert any("2 line(s) imported before were replaced" in warning for warning in billed.warnings)
    kept = {(line.invoice_number, line.period, line.cost_units) for line in stored()}
    assert kept == {("G012345678", date(2026, 11, 1), 10_625_000_000), (None, date(2026, 12, 1), 700_000_000)}
    # A newer unbilled picture of December replaces the older one; November's billed line stays.
    ok(invoice(invoice_file(tmp_path, "unbilled-2.csv", [unbilled[2] | {"Subtotal": "8.00"}])))
    kept = {(line.invoice_number, line.period, line.cost_units) for line in stored()}
    assert kept == {("G012345678", date(2026, 11, 1), 10_625_000_000), (None, date(2026, 12, 1), 800_000_000)}


def test_a_billed_invoice_imported_again_replaces_its_earlier_lines(database: str, tmp_path: Path) -> None:
    ok(invoice(invoice_file(tmp_path, "first.csv", [invoice_line(), invoice_line(Subtotal="2.00")])))
    ok(
        invoice(
            invoice_file(tmp_path, "other.csv", [invoice_line(InvoiceNumber="G087654321", Subtotal="3.00")])
        )
    )
    corrected = [
        invoice_line(),
        invoice_line(Subtotal="2.00"),
        invoice_line(Subtotal="4.00", ReferenceId="fix"),
    ]
    report = ok(invoice(invoice_file(tmp_path, "corrected.csv", corrected)))
    assert report.added == 3
    by_invoice: dict[str | None, int] = {}
    for line in stored():
        by_invoice[line.invoice_number] = by_invoice.get(line.invoice_number, 0) + line.cost_units
    assert by_invoice == {"G012345678": 11_225_000_000, "G087654321": 300_000_000}
    usage_first = usage_file(tmp_path, "usage-billed.csv", [usage_line(InvoiceNumber="G012345678")])
    ok(usage(usage_first))
    ok(
        usage(
            usage_file(
                tmp_path, "usage-again.csv", [usage_line(InvoiceNumber="G012345678", Quantity="25")] * 2
            )
        )
    )
    assert sum(line.source == "usage" for line in stored()) == 2


@pytest.mark.parametrize("reseller_column", ["Tier2MpnId", "ResellerMpnId"])
def test_tier2_and_the_older_reseller_mpn_id_are_both_read(
    database: str, tmp_path: Path, reseller_column: str
) -> None:
    columns = [reseller_column if name == "Tier2MpnId" else name for name in INVOICE_COLUMNS]
    path = invoice_file(tmp_path, "reseller.csv", [invoice_line(**{reseller_column: "7654321"})], columns)
    report = ok(invoice(path))
    assert report.warnings == []
    assert stored()[0].reseller_mpn_id == "7654321"


def test_unknown_columns_are_named_and_ignored_and_product_category_may_be_absent(
    database: str, tmp_path: Path
) -> None:
    columns = [name for name in INVOICE_COLUMNS if name != "ProductCategory"] + ["PartnerNotes"]
    path = invoice_file(tmp_path, "extra.csv", [invoice_line(PartnerNotes="\x07 not read")], columns)
    report = ok(invoice(path))
    assert report.added == 1
    assert report.warnings == ["column 'PartnerNotes' is not used and was ignored"]
    usage_columns = [*USAGE_COLUMNS, "Comments"]
    usage_report = ok(usage(usage_file(tmp_path, "usage.csv", [usage_line(Comments="x")], usage_columns)))
    assert usage_report.warnings == ["column 'Comments' is not used and was ignored"]


def test_us_dates_with_a_time_after_them(database: str, tmp_path: Path) -> None:
    line = invoice_line(ChargeStartDate="11/1/2026 12:00:00 AM", ChargeEndDate="11/30/2026 11:59:59 PM",
                        OrderDate="10/1/2026 10:12:13 AM")  # fmt: skip
    ok(invoice(invoice_file(tmp_path, "us.csv", [line]), date_format="%m/%d/%Y"))
    day = usage_line(
        UsageDate="11/3/2026 12:00:00 AM", ChargeStartDate="11/1/2026", ChargeEndDate="11/30/2026"
    )
    ok(usage(usage_file(tmp_path, "us-usage.csv", [day]), date_format="%m/%d/%Y"))
    invoiced, used = stored()
    assert (invoiced.charge_start, invoiced.charge_end, invoiced.period) == (
        date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 1)
    )  # fmt: skip
    assert (used.usage_date, used.period) == (date(2026, 11, 3), date(2026, 11, 1))
    refused = invoice(invoice_file(tmp_path, "us-no-format.csv", [line]))
    assert [e.line for e in refused.errors] == [2]
    assert "--date-format %m/%d/%Y" in refused.errors[0].reason


AMOUNTS = ["0.10000001", "-3.33333333", "12345678.12345678", "0.1", "999999999.99999999", "-0.00000001", "7",
           "1.000000005", "2.000000015"]  # fmt: skip


def test_amounts_are_kept_exactly(database: str, tmp_path: Path) -> None:
    lines = [invoice_line(Subtotal=amount, ReferenceId=str(n)) for n, amount in enumerate(AMOUNTS)]
    ok(invoice(invoice_file(tmp_path, "amounts.csv", lines)))
    days = [
        usage_line(BillingPreTaxTotal=amount, UsageDate=f"2026-11-{n + 1:02d}")
        for n, amount in enumerate(AMOUNTS)
    ]
    ok(usage(usage_file(tmp_path, "usage.csv", days)))
    # Eight places, half-even at the ninth: 1.000000005 -> 1.00000000, 2.000000015 -> 2.00000002.
    expected = sum(Decimal(a).quantize(Decimal("0.00000001")) for a in AMOUNTS) * 2
    with read_session() as session:
        total = session.scalar(select(func.sum(PartnerCenterLine.cost_units)))
    assert Decimal(total) == expected * 100_000_000
    assert {line.cost_units for line in stored()} >= {100_000_000, 200_000_002, 10_000_001}


def good_invoice_lines() -> list[dict[str, str]]:
    return [invoice_line(), invoice_line(Subtotal="1.00")]


def good_usage_lines() -> list[dict[str, str]]:
    return [usage_line(), usage_line(UsageDate="2026-11-04")]


TOMORROW = (clock.today() + timedelta(days=1)).isoformat()
GOOD_RATE = ["2026-11-02", "EUR", "1.0825"]
# (kind, what is wrong, the bad line's cells, what the refusal says); the bad line is line 3, after a good one.
HOSTILE: list[tuple[str, str, dict[str, str] | list[str], str]] = [
    ("invoice", "non-GUID CustomerId", {"CustomerId": "contoso"}, "CustomerId 'contoso' is not a tenant id"),
    ("invoice", "bad amount", {"Subtotal": "12,50"}, "Subtotal '12,50' is not a number"),
    ("invoice", "1e12 amount", {"Subtotal": "1000000000000"}, "Subtotal 1000000000000 is more than"),
    ("invoice", "exponent", {"Subtotal": "1e12"}, "Subtotal '1e12' is not a number"),
    ("invoice", "control character", {"CustomerName": "Contoso\x1b[2J"}, "CustomerName contains control"),
    ("invoice", "bad date", {"ChargeStartDate": "2026-13-01"}, "ChargeStartDate '2026-13-01' is not a date"),
    (
        "invoice",
        "end before start",
        {"ChargeEndDate": "2026-10-31"},
        "ChargeEndDate is before ChargeStartDate",
    ),
    ("invoice", "empty required cell", {"Subtotal": ""}, "Subtotal is missing"),
    ("usage", "non-GUID CustomerId", {"CustomerId": "{1234}"}, "CustomerId '{1234}' is not a tenant id"),
    ("usage", "bad amount", {"BillingPreTaxTotal": "4.6O8"}, "BillingPreTaxTotal '4.6O8' is not a number"),
    (
        "usage",
        "1e12 amount",
        {"BillingPreTaxTotal": "-1000000000000.5"},
        "BillingPreTaxTotal -1000000000000.5 is",
    ),
    ("usage", "control character", {"MeterName": "D4s\x00v5"}, "MeterName contains control"),
    ("usage", "bad date", {"UsageDate": "2026-11-31"}, "UsageDate '2026-11-31' is not a date"),
    ("usage", "end before start", {"ChargeEndDate": "2026-10-01"}, "ChargeEndDate is before ChargeStartDate"),
    ("usage", "unknown currency", {"BillingCurrency": "EUX"}, "BillingCurrency 'EUX' is not an ISO 4217"),
    ("rates", "zero rate", ["2026-11-03", "EUR", "0"], "rate 0 is not above zero"),
    ("rates", "negative rate", ["2026-11-03", "EUR", "-1.08"], "rate -1.08 is not above zero"),
    ("rates", "rate in the future", [TOMORROW, "EUR", "1.08"], f"rate_date {TOMORROW} is in the future"),
    ("rates", "duplicate rate row", ["2026-11-02", "eur", "1.09"], "duplicate of line 2"),
    ("rates", "unknown currency", ["2026-11-03", "EURO", "1.08"], "currency 'EURO' is not an ISO 4217"),
    ("rates", "bad rate", ["2026-11-03", "EUR", "1,08"], "rate '1,08' is not a rate"),
    ("rates", "bad date", ["03.11.2026", "EUR", "1.08"], "rate_date '03.11.2026' is not a date"),
    ("rates", "control character", ["2026-11-03", "EUR\x0b", "1.08"], "currency contains control"),
]


def hostile_file(tmp_path: Path, kind: str, bad: dict[str, str] | list[str]) -> Path:
    if kind == "invoice":
        assert isinstance(bad, dict)
        return invoice_file(tmp_path, "hostile.csv", [invoice_line(), invoice_line(**bad)])
    if kind == "usage":
        assert isinstance(bad, dict)
        return usage_file(tmp_path, "hostile.csv", [usage_line(), usage_line(**bad)])
    assert isinstance(bad, list)
    return rates_file(tmp_path, "hostile.csv", [GOOD_RATE, bad])


IMPORT: dict[str, Callable[..., ImportReport]] = {
    "invoice": invoice,
    "usage": usage,
    "rates": lambda path, **options: import_csv(BILLING, "exchange-rates", path, **options),
}


def earlier_imports(tmp_path: Path) -> None:
    """What is there before a hostile file arrives: lines a billed file of the same month would replace."""
    ok(invoice(invoice_file(tmp_path, "before.csv", [invoice_line(InvoiceNumber="")])))
    ok(usage(usage_file(tmp_path, "before-usage.csv", [usage_line(UsageDate="2026-11-20")])))
    ok(IMPORT["rates"](rates_file(tmp_path, "before-rates.csv", [["2026-10-30", "GBP", "1.27"]])))


@pytest.mark.parametrize(("kind", "what", "bad", "says"), HOSTILE, ids=[f"{k}-{w}" for k, w, *_ in HOSTILE])
def test_a_hostile_line_refuses_the_file_and_writes_nothing(
    database: str, tmp_path: Path, kind: str, what: str, bad: dict[str, str] | list[str], says: str
) -> None:
    earlier_imports(tmp_path)
    before = state()
    report = IMPORT[kind](hostile_file(tmp_path, kind, bad))
    assert [error.line for error in report.errors] == [3], report.errors
    assert says in report.errors[0].reason
    assert state() == before


LAYOUT = {"invoice": INVOICE_COLUMNS, "usage": USAGE_COLUMNS, "rates": RATES}
REQUIRED = {"invoice": "Subtotal", "usage": "UsageDate", "rates": "rate"}


def good_rows(kind: str) -> list[list[str]]:
    if kind == "rates":
        return [RATES, GOOD_RATE, ["2026-11-03", "GBP", "1.27"]]
    lines = good_invoice_lines() if kind == "invoice" else good_usage_lines()
    return [LAYOUT[kind], *([line[name] for name in LAYOUT[kind]] for line in lines)]


def raw_file(tmp_path: Path, rows: list[list[str]], *, tail: bytes = b"") -> Path:
    path = tmp_path / "hostile.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with path.open("ab") as handle:
        handle.write(tail)
    return path


@pytest.mark.parametrize("kind", ["invoice", "usage", "rates"])
def test_a_hostile_file_refuses_with_its_line_and_writes_nothing(
    database: str, tmp_path: Path, kind: str
) -> None:
    earlier_imports(tmp_path)
    before = state()
    rows = good_rows(kind)

    ragged = IMPORT[kind](raw_file(tmp_path, [*rows, [*rows[1], "extra"]]))
    assert [(e.line, e.reason) for e in ragged.errors] == [
        (4, f"{len(rows[0]) + 1} cells but the header names {len(rows[0])} columns")
    ]
    latin1 = IMPORT[kind](
        raw_file(tmp_path, rows, tail=",".join(rows[1]).replace("2026", "Zürich 2026").encode("latin-1"))
    )
    assert [(e.line, e.reason) for e in latin1.errors] == [
        (4, "The file is not UTF-8 text; save it as 'CSV UTF-8' and try again.")
    ]
    missing = REQUIRED[kind]
    where = rows[0].index(missing)
    without = [row[:where] + row[where + 1 :] for row in rows]
    lacking = IMPORT[kind](raw_file(tmp_path, without))
    assert [(e.line, e.reason) for e in lacking.errors] == [
        (1, f"The file lacks required column(s): {missing}.")
    ]
    assert state() == before


def test_the_same_file_imported_twice_at_the_same_moment_is_stored_once(
    database: str, tmp_path: Path
) -> None:
    lines = [invoice_line(Subtotal=f"{n}.25", ReferenceId=str(n)) for n in range(1, 40)]
    days = [usage_line(UsageDate=f"2026-11-{day:02d}") for day in range(1, 31)]
    files = ((invoice, invoice_file(tmp_path, "race.csv", lines), 39),
             (usage, usage_file(tmp_path, "race-usage.csv", days), 30))  # fmt: skip
    for kind, path, count in files:
        reports = at_once(lambda kind=kind, path=path: kind(path))
        assert all(isinstance(r, ImportReport) and r.ok for r in reports), reports
        assert sorted(r.added for r in reports if isinstance(r, ImportReport)) == [0, count]
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(PartnerCenterImport)) == 2
        assert session.scalar(select(func.count()).select_from(PartnerCenterLine)) == 69
