"""Issue 17 under attack, on SQLite and PostgreSQL: sums past 64 bits stay exact on every margin figure, a rate
for the reporting currency other than 1 is refused, and recording one Microsoft invoice twice at once records
it once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.actions.reconciliation import record_microsoft_invoice_from_files
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, MicrosoftInvoice
from data_access.queries import margin
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.partner_center_files import (
    CONTOSO,
    at_once,
    invoice_file,
    invoice_line,
    ok,
    rates_file,
    state,
    stored,
)
from tests.support.partner_center_files import invoice as pc_invoice

SUBSCRIPTION = "6d5c4b3a-2222-4222-8222-222222222222"
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def test_costs_summing_past_64_bits_stay_exact(database: str, tmp_path: Path) -> None:
    """100 lines of Microsoft's largest amount sum to 1e19 units of 1e-8: past SQLite's 64-bit SUM."""
    factories.customer("C1", tenant_id=CONTOSO)
    suspended = factories.at(date(2026, 10, 1))
    factories.subscription("C1", SUBSCRIPTION, quantity=1, status="Suspended", suspended_at=suspended)
    lines = [invoice_line(Subtotal="999999999.99999999", TaxTotal="-0.00000001", ReferenceId=str(n))
             for n in range(100)]  # fmt: skip
    ok(import_csv(BILLING, "partner-center-invoice", invoice_file(tmp_path, "big.csv", lines)))
    cents = Decimal("100000000000.00")  # 100 x 999999999.99999999 = 99999999999.999999, to the cent

    report = margin.margin_report(BILLING, *YEAR)
    assert list(report["microsoft_cost"]) == [cents]
    leaks = margin.leakage(BILLING, *YEAR)
    kinds = {margin.SEATS_ABOVE_OURS, margin.BILLED_WHILE_SUSPENDED, margin.BILLED_BELOW_COST}
    assert set(leaks["kind"]) == kinds
    assert list(margin.suspension_costs(BILLING)["cost"]) == [cents]
    assert list(margin.customer_subscription_costs(BILLING, "C1", *YEAR)["cost"]) == [cents]
    invoices = margin.reconciliation_invoices(BILLING)
    assert list(invoices["subtotal"]) == [cents]
    assert list(invoices["tax"]) == [Decimal("-0.00")]
    with pytest.raises(InvalidAction, match="more than the largest amount"):
        record_microsoft_invoice_from_files(BILLING, "G012345678", due_date=date(2026, 12, 15))


def test_refunds_sum_exactly_across_whole_units(database: str, tmp_path: Path) -> None:
    factories.customer("C1", tenant_id=CONTOSO)
    amounts = ["-0.00000003", "-1.5", "2.00000001", "-0.5"]
    lines = [invoice_line(Subtotal=a, ReferenceId=str(n)) for n, a in enumerate(amounts)]
    ok(import_csv(BILLING, "partner-center-invoice", invoice_file(tmp_path, "refunds.csv", lines)))
    assert list(margin.margin_report(BILLING, *YEAR)["microsoft_cost"]) == [Decimal("-0.00")]
    frame: pd.DataFrame = margin.reconciliation_invoices(BILLING)
    assert list(frame["subtotal"]) == [Decimal("-0.00")]


def test_a_rate_for_the_reporting_currency_other_than_one_is_refused(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLING_DESK_REPORTING_CURRENCY", raising=False)
    before = state()
    path = rates_file(tmp_path, "rates.csv", [["2026-10-01", "EUR", "1.1"], ["2026-10-01", "USD", "2"]])
    report = import_csv(BILLING, "exchange-rates", path)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "USD is the reporting currency: its rate is always 1, not 2")
    ]
    assert state() == before
    one = rates_file(tmp_path, "one.csv", [["2026-10-01", "USD", "1.000"]])
    ok(import_csv(BILLING, "exchange-rates", one))


def test_the_same_invoice_recorded_twice_at_once_is_recorded_once(database: str, tmp_path: Path) -> None:
    ok(import_csv(BILLING, "partner-center-invoice", invoice_file(tmp_path, "billed.csv", [invoice_line()])))

    def record() -> object:
        return record_microsoft_invoice_from_files(BILLING, "G012345678", due_date=date(2026, 12, 15))

    results = at_once(record)  # type: ignore[arg-type]
    refused = [r for r in results if isinstance(r, InvalidAction)]
    assert len(refused) == 1 and "recorded already" in str(refused[0]), results
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(MicrosoftInvoice)) == 1
        recorded = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.target == "microsoft_invoice:G012345678")
        )
        assert recorded == 1


def test_an_older_unbilled_file_after_its_month_is_billed_adds_nothing(database: str, tmp_path: Path) -> None:
    """Found by attacking: the unbilled picture of November imported after November's billed file counted the
    month twice. Its November lines are now skipped, saying why; its December lines still import."""
    ok(pc_invoice(invoice_file(tmp_path, "billed.csv", [invoice_line(Subtotal="100.00")])))
    late = [invoice_line(InvoiceNumber="", Subtotal="100.00"),
            invoice_line(InvoiceNumber="", Subtotal="9.00", ChargeStartDate="2026-12-01", ChargeEndDate="2026-12-31")]  # fmt: skip
    report = ok(pc_invoice(invoice_file(tmp_path, "old-unbilled.csv", late)))
    assert (report.added, report.skipped) == (1, 1)
    assert any("Unbilled lines of 2026-11 were skipped" in warning for warning in report.warnings)
    kept = sorted((line.invoice_number or "", line.period, line.cost_units) for line in stored())
    assert kept == [("", date(2026, 12, 1), 900_000_000), ("G012345678", date(2026, 11, 1), 10_000_000_000)]


@pytest.mark.parametrize(
    ("cell", "date_format"),
    [("2026-11-01 garbage", None), ("2026-11-01T25", None), ("11/1/2026 tomorrow", "%m/%d/%Y")],
)
def test_only_a_time_of_day_may_follow_a_date(
    database: str, tmp_path: Path, cell: str, date_format: str | None
) -> None:
    options = {"date_format": date_format} if date_format else {}
    report = pc_invoice(invoice_file(tmp_path, "dates.csv", [invoice_line(ChargeStartDate=cell)]), **options)
    assert not report.ok and report.errors[0].line == 2 and "ChargeStartDate" in report.errors[0].reason
    assert state()["lines"] == []


@pytest.mark.parametrize(
    "cell", ["2026-11-01", "2026-11-01T00:00:00", "2026-11-01T00:00:00.000Z", "2026-11-01 00:00"]
)
def test_iso_dates_with_a_time_still_read(database: str, tmp_path: Path, cell: str) -> None:
    ok(pc_invoice(invoice_file(tmp_path, "dates.csv", [invoice_line(ChargeStartDate=cell)])))
