"""A Microsoft invoice recorded from a billed Partner Center file carries the file's Subtotal plus TaxTotal for its
InvoiceNumber, summed here by hand; it is recorded once, audited, and only by those who may import."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access.actions.reconciliation import record_microsoft_invoice_from_files
from data_access.csv_import import import_csv
from data_access.csv_import.partner_center import INVOICE_COLUMNS
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, MicrosoftInvoice
from data_access.permissions import PermissionDenied
from tests.support.actors import BILLING, SALES

TENANT = "8f2d2c4e-0000-4000-8000-000000000001"
LINES = [
    # invoice number, currency, Subtotal, TaxTotal, ChargeStartDate
    ("G000000101", "USD", "1234.56", "98.77", "2026-10-01"),
    ("G000000101", "USD", "10.01", "0.80", "2026-11-01"),
    ("G000000101", "USD", "-3.33", "-0.27", "2026-11-15"),  # a refund
    ("G000000102", "USD", "5.00", "0.40", "2026-11-01"),
    ("G000000103", "EUR", "7.00", "0.00", "2026-11-01"),
    ("G000000103", "GBP", "7.00", "0.00", "2026-11-01"),
]


def billed_file(folder: Path) -> Path:
    path = folder / "invoice.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, INVOICE_COLUMNS)
        writer.writeheader()
        for number, currency, subtotal, tax, start in LINES:
            total = str(Decimal(subtotal) + Decimal(tax))
            writer.writerow({"CustomerId": TENANT, "InvoiceNumber": number, "ChargeType": "cycleCharge",
                             "Subtotal": subtotal, "TaxTotal": tax, "Total": total, "Currency": currency,
                             "ChargeStartDate": start, "SubscriptionId": "sub-1"})  # fmt: skip
    return path


def test_recorded_from_the_files_totals_once_and_audited(database: str, tmp_path: Path) -> None:
    report = import_csv(BILLING, "partner-center-invoice", billed_file(tmp_path))
    assert report.ok, report.errors

    made = record_microsoft_invoice_from_files(BILLING, "G000000101", due_date=date(2026, 12, 20))

    # 1234.56 + 98.77 + 10.01 + 0.80 - 3.33 - 0.27 = 1340.54
    assert made.amount_cents == 134054
    assert (made.currency, made.period_start, made.period_end) == (
        "USD",
        date(2026, 10, 1),
        date(2026, 11, 30),
    )
    with pytest.raises(InvalidAction, match="recorded already"):
        record_microsoft_invoice_from_files(BILLING, "G000000101", due_date=date(2026, 12, 20))
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(MicrosoftInvoice)) == 1
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.target == "microsoft_invoice:G000000101")
        ).one()
    assert event.details["amount"] == "1340.54"
    assert event.details["lines"] == 3


def test_refusals_leave_nothing_written(database: str, tmp_path: Path) -> None:
    import_csv(BILLING, "partner-center-invoice", billed_file(tmp_path))
    with pytest.raises(PermissionDenied):
        record_microsoft_invoice_from_files(SALES, "G000000102", due_date=date(2026, 12, 20))
    with pytest.raises(InvalidAction, match="No billed reconciliation lines"):
        record_microsoft_invoice_from_files(BILLING, "G999", due_date=date(2026, 12, 20))
    with pytest.raises(InvalidAction, match="several currencies"):
        record_microsoft_invoice_from_files(BILLING, "G000000103", due_date=date(2026, 12, 20))
    with pytest.raises(InvalidAction, match="due date"):
        record_microsoft_invoice_from_files(BILLING, "G000000102", due_date=date(3000, 1, 1))
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(MicrosoftInvoice)) == 0
