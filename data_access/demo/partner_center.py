"""Exchange rates, and what Microsoft billed the partner as Partner Center's reconciliation files tell it, as the
imports would have stored them.

Microsoft bills the partner in each customer's own currency, one invoice per currency and month, so a customer's
cost and revenue compare without a rate; the rates (business days, into US dollars) are for totals across
currencies. Every subscription the demo invoices in one of the last `BILLED_MONTHS` closed months has a
cycleCharge line on that month's Microsoft invoice (Azure plans: a daily rated usage line a day), and the current
month's lines are unbilled. Cost is 80-90% of what the customer is invoiced, except for a few leaks placed on
purpose: seats billed above the quantity Billing Desk holds, tenants that are not customers, a month billed to a
customer below its cost, a subscription Billing Desk does not know; suspended subscriptions go on being billed, as
new commerce does. Everything draws from `draw.partner_center`, so the rows drawn before stay as they were.
"""

from __future__ import annotations

import calendar
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from data_access.csv_import.partner_center import UNITS, plain_decimal, to_units
from data_access.demo.accounts import DemoCustomer, DemoSubscription
from data_access.demo.catalog import MARKETS, SKUS, local_price
from data_access.demo.draw import BILLING, MONTHS, Draw, Row
from data_access.enums import SubscriptionStatus

REPORTING = "USD"
BILLED_MONTHS = 6
CENT = Decimal("0.01")
AZURE = "Azure plan"
# (meter, US list price per unit, share of a subscription's daily cost); the first meter is always there.
METERS = (
    ("D4s v5", Decimal("0.192"), 80),
    ("P10 LRS Disk", Decimal("0.0263"), 15),
    ("Standard Data Transfer Out", Decimal("0.087"), 5),
)
STRANGERS = (
    ("Harbourview Dental Group", "harbourviewdental.com", 12),
    ("Quinlan & Pryce LLP", "quinlanpryce.com", 25),
)
"""Tenants Microsoft bills the partner for that are nobody's tenant in Billing Desk."""


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def exchange_rates(draw: Draw) -> list[Row]:
    """Every business day's rate into US dollars, a random walk around each market's usual level."""
    rng = draw.partner_center
    usual = {m.currency: Decimal(m.usd_percent) / 100 for m in MARKETS.values() if m.currency != REPORTING}
    level = {currency: float(rate) for currency, rate in sorted(usual.items())}
    rows: list[Row] = []
    day = draw.first_month - timedelta(days=7)
    while day <= draw.today:
        if day.weekday() < 5:
            for currency, value in level.items():
                value += rng.gauss(0, 0.0035) * value + 0.03 * (float(usual[currency]) - value)
                level[currency] = value
                rows.append(
                    {"id": len(rows) + 1, "rate_date": day, "currency": currency, "rate": f"{value:.4f}"}
                )
        day += timedelta(days=1)
    return rows


@dataclass
class File:
    """One imported file: its row in partner_center_imports and its lines."""

    source: str
    currency: str
    number: str | None
    name: str
    at: datetime
    lines: list[Row] = field(default_factory=list)


@dataclass
class PartnerCenter:
    rates: list[Row]
    imports: list[Row]
    lines: list[Row]
    imported: list[tuple[str, str, int, datetime]]
    """(kind, file, rows, when) of every file imported, for the audit trail."""


class Billing:
    """Draws the lines of one month at a time into the files they arrive in."""

    def __init__(self, draw: Draw, customers: list[DemoCustomer]) -> None:
        self.draw = draw
        self.rng = draw.partner_center
        self.customers = customers
        self.files: dict[tuple[str, str], File] = {}
        self.factor: dict[str, Decimal] = {}
        live = [
            (c, s)
            for c in customers
            for s in c.subscriptions
            if s.row["sku"] != AZURE
            and s.row["status"] == SubscriptionStatus.ACTIVE.value
            and s.row["quantity"] >= 10
        ]
        self.rng.shuffle(live)
        self.over_seats = {s.row["external_id"]: self.rng.randint(2, 8) for _c, s in live[:3]}
        """Partner Center bills more seats than Billing Desk holds (an addition made there, never recorded)."""
        losses = [c for c in customers if c.target is None and c.start <= MONTHS - BILLED_MONTHS - 1]
        self.rng.shuffle(losses)
        self.losses = {(c.id, MONTHS - self.rng.randint(2, BILLED_MONTHS + 1)) for c in losses[:2]}
        """A Microsoft price rise not passed on: this customer's cost above what it was invoiced that month."""
        self.strangers = [
            ({"tenant_id": self.guid(), "name": name, "domain": domain}, self.guid(), seats)
            for name, domain, seats in STRANGERS
        ]
        self.unrecorded = (self.rng.choice([c for c in customers if c.start == 0]), self.guid())
        """A subscription bought in Partner Center for a customer and never recorded in Billing Desk."""
        azure = [s.row["external_id"] for c in customers for s in c.subscriptions if s.row["sku"] == AZURE]
        self.metered = set(self.rng.sample(azure, min(5, len(azure))))
        """The Azure plans whose usage shows more than their virtual machines."""

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def month(self, month: int, numbers: dict[str, str], at: datetime) -> list[File]:
        """The month's files, one per source and currency: billed with `numbers` (currency -> invoice number),
        unbilled without."""
        self.files = {}
        self.at, self.numbers = at, numbers
        start = self.draw.month(month)
        for customer in self.customers:
            for subscription in customer.subscriptions:
                if subscription.charges[month] <= 0:
                    continue
                factor = self._factor(customer, subscription, month)
                if subscription.row["sku"] == AZURE:
                    self._usage(customer, subscription, month, factor)
                    continue
                quantity = subscription.row["quantity"]
                if month >= MONTHS - 3:
                    quantity += self.over_seats.get(subscription.row["external_id"], 0)
                price = Decimal(subscription.row["unit_price_cents"]) / 100 * factor
                self._charge(start, customer.row, subscription.row, quantity, price)
        if month >= MONTHS - 3:
            for stranger, reference, seats in self.strangers:
                subscription_row = {"external_id": reference, "sku": "Microsoft 365 Business Standard"}
                self._charge(start, stranger, subscription_row, seats, Decimal("10.625"))
        if month >= MONTHS - 2:
            customer, reference = self.unrecorded
            list_price = local_price(SKUS["Teams Rooms Pro"].usd_cents, customer.market)
            subscription_row = {"external_id": reference, "sku": "Teams Rooms Pro"}
            self._charge(
                start, customer.row, subscription_row, 2, Decimal(list_price) / 100 * Decimal("0.85")
            )
        return list(self.files.values())

    def file(self, source: str, currency: str, start: date) -> File:
        found = self.files.get((source, currency))
        if found is None:
            number = self.numbers.get(currency)
            kind = "invoice-reconciliation" if source == "invoice" else "daily-rated-usage"
            label = number or f"unbilled-{start:%Y-%m}-{currency}"
            at = self.at + timedelta(minutes=len(self.files) * 2)
            found = self.files[source, currency] = File(source, currency, number, f"{label}-{kind}.csv", at)
        return found

    def _factor(self, customer: DemoCustomer, subscription: DemoSubscription, month: int) -> Decimal:
        if (customer.id, month) in self.losses:
            return Decimal(self.rng.randint(108, 112)) / 100
        key = subscription.row["external_id"]
        if key not in self.factor:
            self.factor[key] = Decimal(self.rng.randint(80, 90)) / 100
        return self.factor[key]

    def _charge(self, start: date, customer: Row, subscription: Row, quantity: int, price: Decimal) -> None:
        unit = price.quantize(Decimal("0.0001"))
        currency = customer.get("currency", REPORTING)
        file = self.file("invoice", currency, start)
        file.lines.append(
            {
                "source": "invoice", "line_no": len(file.lines) + 2, "invoice_number": file.number, "period": start,
                "customer_tenant": customer["tenant_id"], "customer_name": customer["name"],
                "customer_domain": customer["domain"], "reseller_mpn_id": None,
                "subscription_ref": subscription["external_id"], "product_name": subscription["sku"],
                "sku_name": subscription["sku"], "meter_name": None, "charge_type": "cycleCharge",
                "charge_start": start, "charge_end": month_end(start), "usage_date": None,
                "quantity_units": quantity * int(UNITS), "unit_price": str(plain_decimal(unit)),
                "cost_units": to_units((unit * quantity).quantize(CENT)), "tax_units": 0, "currency": currency,
                "reference_id": None,
            }
        )  # fmt: skip

    def _usage(
        self, customer: DemoCustomer, subscription: DemoSubscription, month: int, factor: Decimal
    ) -> None:
        start = self.draw.month(month)
        end = month_end(start)
        file = self.file("usage", customer.currency, start)
        monthly = Decimal(subscription.charges[month]) / 100 * factor
        level = Decimal(customer.market.price_percent) / 100
        meters = METERS if subscription.row["external_id"] in self.metered else METERS[:1]
        share = sum(weight for _name, _price, weight in meters)
        last = min(end, self.draw.yesterday)
        day = start
        while day <= last:
            daily = monthly / end.day * Decimal(self.rng.randint(90, 110)) / 100
            for meter, usd, weight in meters:
                price = (usd * level).quantize(Decimal("0.0001"))
                quantity = (daily * weight / share / price).quantize(Decimal("0.000001"))
                file.lines.append(
                    {
                        "source": "usage", "line_no": len(file.lines) + 2, "invoice_number": file.number,
                        "period": start, "customer_tenant": customer.row["tenant_id"],
                        "customer_name": customer.row["name"], "customer_domain": customer.row["domain"],
                        "reseller_mpn_id": None, "subscription_ref": subscription.row["external_id"],
                        "product_name": AZURE, "sku_name": AZURE, "meter_name": meter, "charge_type": "new",
                        "charge_start": start, "charge_end": end, "usage_date": day,
                        "quantity_units": to_units(quantity), "unit_price": str(plain_decimal(price)),
                        "cost_units": to_units((quantity * price).quantize(Decimal("0.00000001"))), "tax_units": None,
                        "currency": customer.currency, "reference_id": None,
                    }
                )  # fmt: skip
            day += timedelta(days=1)


def partner_center(draw: Draw, customers: list[DemoCustomer], payables: list[Row]) -> PartnerCenter:
    """Rates and reconciliation lines; each Microsoft invoice of the billed months takes its lines' total."""
    rate_rows = exchange_rates(draw)
    billing = Billing(draw, customers)
    rng = draw.partner_center
    files: list[File] = []
    for month in range(MONTHS - 1 - BILLED_MONTHS, MONTHS):
        start = draw.month(month)
        bills = {bill["currency"]: bill for bill in payables if bill["period_start"] == start}
        arrives = month_end(start) + timedelta(days=rng.randint(3, 5))
        if bills and arrives < draw.today:
            at = draw.office_time(arrives, rng)
            numbers = {currency: bill["number"] for currency, bill in bills.items()}
        else:
            at = min(draw.office_time(max(start, draw.yesterday), rng), draw.horizon)
            numbers = {}
        month_files = billing.month(month, numbers, at)
        files += month_files
        for bill in bills.values() if numbers else ():
            billed = [line for file in month_files if file.number == bill["number"] for line in file.lines]
            total = sum(line["cost_units"] + (line["tax_units"] or 0) for line in billed)
            bill["amount_cents"] = int((Decimal(total) / 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))
    imports: list[Row] = []
    lines: list[Row] = []
    imported: list[tuple[str, str, int, datetime]] = []
    for number, file in enumerate(files, start=1):
        digest = hashlib.sha256(f"{file.name}:{len(file.lines)}:{number}".encode()).hexdigest()
        imports.append(
            {
                "id": number, "source": file.source, "sha256": digest, "file_name": file.name,
                "lines": len(file.lines), "replaced": 0, "imported_by": BILLING, "imported_at": file.at,
            }
        )  # fmt: skip
        for line in file.lines:
            lines.append({"id": len(lines) + 1, "import_id": number, **line})
        imported.append((f"partner-center-{file.source}", file.name, len(file.lines), file.at))
    by_month: dict[date, int] = {}
    for row in rate_rows:
        month_of = row["rate_date"].replace(day=1)
        by_month[month_of] = by_month.get(month_of, 0) + 1
    for first, count in sorted(by_month.items()):
        day = min(month_end(first) + timedelta(days=1), draw.yesterday)
        at = min(draw.office_time(day, rng), draw.horizon)
        imported.append(("exchange-rates", f"exchange-rates-{first:%Y-%m}.csv", count, at))
    return PartnerCenter(rate_rows, imports, lines, imported)
