"""Partner Center reconciliation files and exchange-rate files in Microsoft's layout, written for the tests, and
what an import leaves in the database."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from data_access.csv_import import ImportReport, import_csv
from data_access.csv_import.partner_center import INVOICE_COLUMNS, USAGE_COLUMNS
from data_access.db import read_session
from data_access.models import AuditEvent, ExchangeRate, PartnerCenterImport, PartnerCenterLine
from tests.support.actors import BILLING

CONTOSO = "8f2d2c4e-0000-4000-8000-000000000001"
FABRIKAM = "8f2d2c4e-0000-4000-8000-000000000002"
RATES = ["rate_date", "currency", "rate"]


def invoice_line(**cells: str) -> dict[str, str]:
    """A billed cycleCharge line as Partner Center writes it; `cells` override by Microsoft's column name."""
    line = {
        "PartnerId": "3c2d1e0f-1111-4111-8111-111111111111", "CustomerId": CONTOSO,
        "CustomerName": "Contoso, Ltd", "CustomerDomainName": "contoso.onmicrosoft.com", "CustomerCountry": "US",
        "InvoiceNumber": "G012345678", "MpnId": "1234567", "Tier2MpnId": "", "OrderId": "a1b2c3d4e5f6",
        "OrderDate": "2026-10-01T10:12:13.000Z", "ProductId": "CFQ7TTC0LCHC", "SkuId": "0002",
        "AvailabilityId": "CFQ7TTC0K5QF", "SkuName": "Microsoft 365 Business Standard",
        "ProductName": "Microsoft 365 Business Standard", "ChargeType": "cycleCharge", "UnitPrice": "12.5",
        "Quantity": "10", "Subtotal": "106.25", "TaxTotal": "0", "Total": "106.25", "Currency": "USD",
        "PriceAdjustmentDescription": '["15.0% Partner discount"]', "PublisherName": "Microsoft Corporation",
        "PublisherId": "", "SubscriptionDescription": "Microsoft 365 Business Standard",
        "SubscriptionId": "6d5c4b3a-2222-4222-8222-222222222222", "ChargeStartDate": "2026-11-01",
        "ChargeEndDate": "2026-11-30", "TermAndBillingCycle": "1 Year Subscription", "EffectiveUnitPrice": "10.625",
        "UnitType": "Licenses", "AlternateId": "1a2b3c4d5e6f", "BillableQuantity": "10", "BillingFrequency": "Monthly",
        "PricingCurrency": "USD", "PCToBCExchangeRate": "1", "PCToBCExchangeRateDate": "2026-10-31",
        "MeterDescription": "", "ReservationOrderId": "", "CreditReasonCode": "", "SubscriptionStartDate": "2026-01-01",
        "SubscriptionEndDate": "2026-12-31", "ReferenceId": "", "ProductQualifiers": "[]", "PromotionId": "",
        "ProductCategory": "Office",
    }  # fmt: skip
    return line | cells


def usage_line(**cells: str) -> dict[str, str]:
    """A day's rated usage of one meter as Partner Center writes it."""
    line = {
        "PartnerId": "3c2d1e0f-1111-4111-8111-111111111111", "PartnerName": "Billing Desk Partner",
        "CustomerId": FABRIKAM, "CustomerName": "Fabrikam GmbH", "CustomerDomainName": "fabrikam.onmicrosoft.com",
        "CustomerCountry": "DE", "MpnId": "1234567", "Tier2MpnId": "", "InvoiceNumber": "",
        "ProductId": "DZH318Z0BPS6", "SkuId": "0001", "AvailabilityId": "DZH318Z0BPS6", "SkuName": "Azure plan",
        "ProductName": "Azure plan", "PublisherName": "Microsoft", "PublisherId": "", "SubscriptionDescription": "Azure plan",
        "SubscriptionId": "9e8d7c6b-3333-4333-8333-333333333333", "ChargeStartDate": "2026-11-01",
        "ChargeEndDate": "2026-11-30", "UsageDate": "2026-11-03", "MeterType": "1 Compute Hour",
        "MeterCategory": "Virtual Machines", "MeterId": "a1b2c3d4-4444-4444-8444-444444444444",
        "MeterSubCategory": "Dsv5 Series", "MeterName": "D4s v5", "MeterRegion": "EU West", "Unit": "1 Hour",
        "ResourceLocation": "westeurope", "ConsumedService": "Microsoft.Compute", "ResourceGroup": "prod-rg",
        "ResourceURI": "/subscriptions/9e8d7c6b-3333-4333-8333-333333333333/resourceGroups/prod-rg/providers/"
        "Microsoft.Compute/virtualMachines/web-01",
        "ChargeType": "new", "UnitPrice": "0.192", "Quantity": "24", "UnitType": "1 Hour",
        "BillingPreTaxTotal": "4.608", "BillingCurrency": "EUR", "PricingPreTaxTotal": "4.608",
        "PricingCurrency": "EUR", "ServiceInfo1": "", "ServiceInfo2": "", "Tags": '{"env":"prod"}',
        "AdditionalInfo": '{"ImageType":"Canonical","ServiceType":"Standard_D4s_v5"}', "EffectiveUnitPrice": "0.192",
        "PCToBCExchangeRate": "1", "PCToBCExchangeRateDate": "2026-10-31",
        "EntitlementId": "9e8d7c6b-3333-4333-8333-333333333333", "EntitlementDescription": "Azure plan",
        "PartnerEarnedCreditPercentage": "0", "CreditPercentage": "0", "CreditType": "None", "BenefitId": "",
        "BenefitOrderId": "", "BenefitType": "",
    }  # fmt: skip
    return line | cells


def write(path: Path, columns: list[str], lines: list[dict[str, str]]) -> Path:
    """The file as Microsoft's export writes it (csv.DictWriter, every cell quoted only when it must be)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(lines)
    return path


def invoice_file(
    tmp_path: Path, name: str, lines: list[dict[str, str]], columns: list[str] | None = None
) -> Path:
    return write(tmp_path / name, columns or INVOICE_COLUMNS, lines)


def usage_file(
    tmp_path: Path, name: str, lines: list[dict[str, str]], columns: list[str] | None = None
) -> Path:
    return write(tmp_path / name, columns or USAGE_COLUMNS, lines)


def rates_file(tmp_path: Path, name: str, lines: list[list[str]]) -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([RATES, *lines])
    return path


def invoice(path: Path, **options: Any) -> ImportReport:
    return import_csv(BILLING, "partner-center-invoice", path, **options)


def usage(path: Path, **options: Any) -> ImportReport:
    return import_csv(BILLING, "partner-center-usage", path, **options)


def stored() -> list[PartnerCenterLine]:
    with read_session() as session:
        return list(session.scalars(select(PartnerCenterLine).order_by(PartnerCenterLine.id)))


def state() -> dict[str, Any]:
    """Every row the imports can touch, so 'nothing written' compares whole tables."""
    with read_session() as session:
        return {
            "lines": [
                (line.import_id, line.line_no, line.invoice_number, line.period, line.cost_units)
                for line in session.scalars(select(PartnerCenterLine).order_by(PartnerCenterLine.id))
            ],
            "imports": session.execute(select(PartnerCenterImport.id, PartnerCenterImport.sha256)).all(),
            "rates": session.execute(
                select(ExchangeRate.currency, ExchangeRate.rate_date, ExchangeRate.rate)
            ).all(),
            "events": session.scalar(select(func.count()).select_from(AuditEvent)),
        }


def ok(report: ImportReport) -> ImportReport:
    assert report.ok, report.errors
    return report


def at_once(work: Callable[[], ImportReport], copies: int = 2) -> list[ImportReport | BaseException]:
    """`work` in `copies` threads released together by one barrier; each one's report or exception."""
    barrier = threading.Barrier(copies)
    results: list[ImportReport | BaseException] = []

    def run() -> None:
        barrier.wait(timeout=60)
        try:
            results.append(work())
        except BaseException as exc:  # reported by the test, never lost in a thread
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
