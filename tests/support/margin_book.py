"""The margin book: customers, subscriptions and invoices made through the app, and Partner Center files in
Microsoft's layout with every case that matters (refunds, a suspended subscription, seats above ours, a stranger's
tenant, a currency without a rate), for the margin tests and the report's."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from data_access.actions.invoices import void_invoice
from data_access.csv_import.partner_center import INVOICE_COLUMNS, USAGE_COLUMNS
from tests.support import factories
from tests.support.actors import BILLING

START, END = date(2026, 9, 1), date(2026, 11, 20)
CENT = Decimal("0.01")
TENANTS = {
    "A": "0a0a0a0a-0000-4000-8000-00000000000a",
    "B": "0b0b0b0b-0000-4000-8000-00000000000b",
    "C": "0c0c0c0c-0000-4000-8000-00000000000c",
    "E": "0e0e0e0e-0000-4000-8000-00000000000e",
}
STRANGER = "0f0f0f0f-0000-4000-8000-00000000000f"
CUSTOMER_OF = {tenant: customer for customer, tenant in TENANTS.items()}
# (subscription, customer, seats, status, suspended at)
SUBSCRIPTIONS = [
    ("SA1", "A", 10, "Active", None),
    ("SA2", "A", 5, "Suspended", datetime(2026, 10, 15, 13, tzinfo=UTC)),
    ("SA3", "A", 1, "Active", None),
    ("SB1", "B", 3, "Active", None),
    ("SB2", "B", 1, "Active", None),
    ("SC1", "C", 2, "Active", None),
]
# (tenant, invoice number, subscription, charge type, charge start, billable quantity, subtotal, tax, currency)
INVOICE_LINES = [
    (TENANTS["A"], "G001", "SA1", "cycleCharge", "2026-09-01", "10", "300.12345678", "30.01", "USD"),
    (TENANTS["A"], "G001", "SUB-NOPE", "new", "2026-09-15", "1", "20.00", "2.00", "USD"),
    (TENANTS["A"], "G002", "SA1", "cycleCharge", "2026-10-01", "12", "360.00000001", "36.00", "USD"),
    (TENANTS["A"], "G002", "SA1", "removeQuantity", "2026-10-10", "-2", "-40.5", "-4.05", "USD"),
    (TENANTS["A"], "G002", "SA2", "cycleCharge", "2026-10-01", "5", "100.005", "10.00", "USD"),
    (TENANTS["A"], "", "SA2", "cycleCharge", "2026-11-01", "5", "100.005", "10.00", "USD"),
    (TENANTS["A"], "", "SA1", "CYCLECHARGE", "2026-11-01", "11", "330.33", "33.03", "USD"),
    (TENANTS["A"], "", "SA1", "cycleCharge", "2026-11-25", "10", "999.00", "0", "USD"),
    (TENANTS["A"], "G000", "SA1", "cycleCharge", "2026-08-01", "10", "300.00", "30.00", "USD"),
    (TENANTS["B"], "G101", "SB1", "cycleCharge", "2026-09-01", "3", "90.004", "0", "EUR"),
    (TENANTS["B"], "G102", "SB1", "cancelImmediate", "2026-10-05", "-3", "-90.004", "0", "EUR"),
    (TENANTS["C"], "G201", "SC1", "cycleCharge", "2026-10-01", "2", "50.00", "10.00", "GBP"),
    (STRANGER, "G001", "SUB-X", "cycleCharge", "2026-09-01", "1", "77.777", "7.78", "USD"),
]
# (tenant, invoice number, subscription, usage date, quantity, billing pre-tax total, currency)
USAGE_LINES = [
    (TENANTS["A"], "G002", "SA3", "2026-10-03", "3.5", "12.34567891", "USD"),
    (TENANTS["A"], "G002", "SA2", "2026-10-14", "1", "5.55", "USD"),
    (TENANTS["A"], "G002", "SA2", "2026-10-15", "1", "4.445", "USD"),
    (TENANTS["B"], "G103", "SB2", "2026-09-20", "100", "25.00", "USD"),
    (TENANTS["B"], "", "SB2", "2026-11-03", "40", "10.00", "USD"),
    (STRANGER, "", "SUB-X", "2026-11-02", "2", "1.23", "USD"),
]
# (number, customer, issued, cents, currency, voided)
INVOICES = [
    ("INV-A1", "A", date(2026, 9, 5), 40_000, "USD", False),
    ("INV-A2", "A", date(2026, 10, 5), 35_000, "USD", False),
    ("INV-A3", "A", date(2026, 11, 5), 20_000, "USD", False),
    ("INV-A4", "A", date(2026, 10, 20), 500_000, "USD", True),
    ("INV-A5", "A", date(2026, 11, 25), 100_000, "USD", False),
    ("INV-B1", "B", date(2026, 9, 10), 10_000, "EUR", False),
    ("INV-B2", "B", date(2026, 9, 11), 1_000, "USD", False),
    ("INV-B3", "B", date(2026, 11, 10), 500, "USD", False),
    ("INV-C1", "C", date(2026, 10, 7), 6_000, "GBP", False),
    ("INV-C2", "C", date(2026, 10, 8), 1_000, "USD", False),
    ("INV-D1", "D", date(2026, 9, 12), 12_345, "USD", False),
]
RATES = [("2026-08-31", "EUR", "1.10"), ("2026-10-15", "EUR", "1.12"), ("2026-11-25", "EUR", "1.50")]


def invoice_row(tenant: str, number: str, sub: str, kind: str, start: str, qty: str, subtotal: str, tax: str,
                currency: str) -> dict[str, str]:  # fmt: skip
    total = str(Decimal(subtotal) + Decimal(tax))
    row = dict.fromkeys(INVOICE_COLUMNS, "")
    row |= {"PartnerId": "p-1", "CustomerId": tenant, "CustomerName": f"Tenant {tenant[:4]}", "InvoiceNumber": number,
            "SkuName": f"{sub} sku", "ProductName": f"{sub} product", "ChargeType": kind, "UnitPrice": "30",
            "EffectiveUnitPrice": "30", "Quantity": qty, "BillableQuantity": qty, "Subtotal": subtotal,
            "TaxTotal": tax, "Total": total, "Currency": currency, "SubscriptionId": sub, "ChargeStartDate": start,
            "ChargeEndDate": start}  # fmt: skip
    return row


def usage_row(
    tenant: str, number: str, sub: str, day: str, qty: str, total: str, currency: str
) -> dict[str, str]:
    row = dict.fromkeys(USAGE_COLUMNS, "")
    row |= {"PartnerId": "p-1", "CustomerId": tenant, "CustomerName": f"Tenant {tenant[:4]}", "InvoiceNumber": number,
            "SkuName": "Azure plan", "ProductName": "Azure plan", "SubscriptionId": sub, "UsageDate": day,
            "ChargeStartDate": day[:8] + "01", "ChargeEndDate": day, "MeterName": "D2 v3", "ChargeType": "new",
            "UnitPrice": "0.1", "EffectiveUnitPrice": "0.1", "Quantity": qty, "BillingPreTaxTotal": total,
            "BillingCurrency": currency, "PricingPreTaxTotal": total, "PricingCurrency": currency}  # fmt: skip
    return row


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_book_files(folder: Path) -> dict[str, Path]:
    return {
        "partner-center-invoice": write_csv(
            folder / "invoice.csv", INVOICE_COLUMNS, [invoice_row(*line) for line in INVOICE_LINES]
        ),
        "partner-center-usage": write_csv(
            folder / "usage.csv", USAGE_COLUMNS, [usage_row(*line) for line in USAGE_LINES]
        ),
        "exchange-rates": write_csv(
            folder / "rates.csv", ["rate_date", "currency", "rate"],
            [dict(zip(["rate_date", "currency", "rate"], rate, strict=True)) for rate in RATES],
        ),
    }  # fmt: skip


def build_customers_and_invoices() -> None:
    for customer in ("A", "B", "C", "D", "E"):
        factories.customer(
            customer, currency="EUR" if customer == "B" else "USD", tenant_id=TENANTS.get(customer)
        )
    for sub, customer, seats, status, suspended in SUBSCRIPTIONS:
        factories.subscription(customer, sub, quantity=seats, status=status, suspended_at=suspended)
    for number, customer, issued, cents, currency, voided in INVOICES:
        factories.invoice(customer, number, issued=issued, cents=cents, currency=currency)
        if voided:
            void_invoice(BILLING, number=number, reason="issued in error", today=issued)
