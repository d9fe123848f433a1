"""Exchange rates, and what Microsoft billed the partner as Partner Center's reconciliation files tell it, as the
imports would have stored them.

The partner is billed in US dollars: each line's price list is the customer's market (PricingCurrency), converted
at the day's rate. Every subscription the demo invoices in one of the last `BILLED_MONTHS` closed months has a
cycleCharge line on that month's Microsoft invoice (Azure plans: a daily rated usage line a day), and the current
month's lines are unbilled. Cost is 80-90% of what the customer is invoiced, except for a few leaks placed on
purpose: seats billed above the quantity Billing Desk holds, a tenant that is not a customer, a month billed to a
customer below its cost, subscriptions Billing Desk does not know; suspended subscriptions go on being billed, as
new commerce does. Everything draws from `draw.partner_center`, so the rows drawn before stay as they were.
"""

from __future__ import annotations

import calendar
import hashlib
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from data_access.demo.accounts import DemoCustomer, DemoSubscription
from data_access.demo.catalog import MARKETS
from data_access.demo.draw import BILLING, MONTHS, Draw, Row
from data_access.enums import SubscriptionStatus

REPORTING = "USD"
BILLED_MONTHS = 6
UNITS = Decimal("100000000")
CENT = Decimal("0.01")
AZURE = "Azure plan"
# (meter, USD per unit, share of a subscription's daily cost); the first meter of each is always there.
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


def units(amount: Decimal) -> int:
    return int((amount * UNITS).to_integral_value(rounding=ROUND_HALF_EVEN))


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


@dataclass
class Rates:
    """Business-day rates into US dollars, a random walk around each market's usual level."""

    days: list[date] = field(default_factory=list)
    by_day: list[dict[str, Decimal]] = field(default_factory=list)

    def on(self, day: date, currency: str) -> Decimal:
        if currency == REPORTING:
            return Decimal(1)
        return self.by_day[bisect_right(self.days, day) - 1][currency]


def exchange_rates(draw: Draw) -> tuple[Rates, list[Row]]:
    rng = draw.partner_center
    usual = {m.currency: Decimal(m.usd_percent) / 100 for m in MARKETS.values() if m.currency != REPORTING}
    level = {currency: float(rate) for currency, rate in sorted(usual.items())}
    rates, rows = Rates(), list[Row]()
    day = draw.first_month - timedelta(days=7)
    while day <= draw.today:
        if day.weekday() < 5:
            today: dict[str, Decimal] = {}
            for currency, value in level.items():
                value += rng.gauss(0, 0.0035) * value + 0.03 * (float(usual[currency]) - value)
                level[currency] = value
                today[currency] = Decimal(f"{value:.4f}")
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "rate_date": day,
                        "currency": currency,
                        "rate": str(today[currency]),
                    }
                )
            rates.days.append(day)
            rates.by_day.append(today)
        day += timedelta(days=1)
    return rates, rows


@dataclass
class File:
    """One imported file: its row in partner_center_imports and its lines."""

    source: str
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

    def __init__(self, draw: Draw, customers: list[DemoCustomer], rates: Rates) -> None:
        self.draw = draw
        self.rng = draw.partner_center
        self.rates = rates
        self.customers = customers
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

    def month(self, month: int, invoice: File, usage: File, number: str | None) -> None:
        start = self.draw.month(month)
        end = month_end(start)
        for customer in self.customers:
            for subscription in customer.subscriptions:
                if subscription.charges[month] <= 0:
                    continue
                factor = self._factor(customer, subscription, month)
                if subscription.row["sku"] == AZURE:
                    self._usage(customer, subscription, month, factor, usage, number)
                else:
                    quantity = subscription.row["quantity"]
                    if month >= MONTHS - 3:
                        quantity += self.over_seats.get(subscription.row["external_id"], 0)
                    price = Decimal(subscription.row["unit_price_cents"]) / 100
                    usd = (price * self.rates.on(start, customer.currency) * factor).quantize(
                        Decimal("0.0001")
                    )
                    self._charge(invoice, number, start, end, customer.row, subscription.row, quantity, usd)
        if month >= MONTHS - 3:
            for stranger, reference, seats in self.strangers:
                subscription_row = {"external_id": reference, "sku": "Microsoft 365 Business Standard"}
                self._charge(
                    invoice, number, start, end, stranger, subscription_row, seats, Decimal("10.6250")
                )
        if month >= MONTHS - 2:
            customer, reference = self.unrecorded
            subscription_row = {"external_id": reference, "sku": "Teams Rooms Pro"}
            self._charge(invoice, number, start, end, customer.row, subscription_row, 2, Decimal("34.0000"))

    def _factor(self, customer: DemoCustomer, subscription: DemoSubscription, month: int) -> Decimal:
        if (customer.id, month) in self.losses:
            return Decimal(self.rng.randint(108, 112)) / 100
        key = subscription.row["external_id"]
        if key not in self.factor:
            self.factor[key] = Decimal(self.rng.randint(80, 90)) / 100
        return self.factor[key]

    def _charge(self, file: File, number: str | None, start: date, end: date, customer: Row, subscription: Row,
                quantity: int, unit_usd: Decimal) -> None:  # fmt: skip
        file.lines.append(
            {
                "source": "invoice", "line_no": len(file.lines) + 2, "invoice_number": number, "period": start,
                "customer_tenant": customer["tenant_id"], "customer_name": customer["name"],
                "customer_domain": customer["domain"], "reseller_mpn_id": None,
                "subscription_ref": subscription["external_id"], "product_name": subscription["sku"],
                "sku_name": subscription["sku"], "meter_name": None, "charge_type": "cycleCharge",
                "charge_start": start, "charge_end": end, "usage_date": None, "quantity_units": quantity * int(UNITS),
                "unit_price": str(unit_usd), "cost_units": units((unit_usd * quantity).quantize(CENT)), "tax_units": 0,
                "currency": REPORTING, "reference_id": None,
            }
        )  # fmt: skip

    def _usage(self, customer: DemoCustomer, subscription: DemoSubscription, month: int, factor: Decimal,
               file: File, number: str | None) -> None:  # fmt: skip
        start = self.draw.month(month)
        end = month_end(start)
        monthly = (
            Decimal(subscription.charges[month]) / 100 * self.rates.on(start, customer.currency) * factor
        )
        meters = METERS if subscription.row["external_id"] in self.metered else METERS[:1]
        share = sum(weight for _name, _price, weight in meters)
        last = min(end, self.draw.yesterday)
        day = start
        while day <= last:
            daily = monthly / end.day * Decimal(self.rng.randint(90, 110)) / 100
            for meter, price, weight in meters:
                quantity = (daily * weight / share / price).quantize(Decimal("0.000001"))
                file.lines.append(
                    {
                        "source": "usage", "line_no": len(file.lines) + 2, "invoice_number": number,
                        "period": start, "customer_tenant": customer.row["tenant_id"],
                        "customer_name": customer.row["name"], "customer_domain": customer.row["domain"],
                        "reseller_mpn_id": None, "subscription_ref": subscription.row["external_id"],
                        "product_name": AZURE, "sku_name": AZURE, "meter_name": meter, "charge_type": "new",
                        "charge_start": start, "charge_end": end, "usage_date": day,
                        "quantity_units": units(quantity), "unit_price": str(price),
                        "cost_units": units((quantity * price).quantize(Decimal("0.00000001"))), "tax_units": None,
                        "currency": REPORTING, "reference_id": None,
                    }
                )  # fmt: skip
            day += timedelta(days=1)


def partner_center(draw: Draw, customers: list[DemoCustomer], payables: list[Row]) -> PartnerCenter:
    """Rates and reconciliation lines; the Microsoft invoices of the billed months take their lines' totals."""
    rates, rate_rows = exchange_rates(draw)
    billing = Billing(draw, customers, rates)
    rng = draw.partner_center
    files: list[File] = []
    for month in range(MONTHS - 1 - BILLED_MONTHS, MONTHS):
        start = draw.month(month)
        bill = payables[month] if month < len(payables) else None
        arrives = month_end(start) + timedelta(days=rng.randint(3, 5))
        billed = bill is not None and arrives < draw.today
        if billed:
            assert bill is not None
            at = draw.office_time(arrives, rng)
            number, label = bill["number"], bill["number"]
        else:
            at = min(draw.office_time(max(start, draw.yesterday), rng), draw.horizon)
            number, label = None, f"unbilled-{start:%Y-%m}"
        invoice = File("invoice", f"{label}-invoice-reconciliation.csv", at)
        usage = File("usage", f"{label}-daily-rated-usage.csv", at + timedelta(minutes=3))
        billing.month(month, invoice, usage, number)
        files += [invoice, usage]
        if billed:
            assert bill is not None
            total = sum(line["cost_units"] + (line["tax_units"] or 0) for line in invoice.lines + usage.lines)
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
