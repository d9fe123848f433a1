"""When and how customers pay and which invoices get credit notes, planned before the ledger replays them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from data_access.demo.accounts import DemoCustomer, DemoInvoice
from data_access.demo.draw import Draw

PAYMENT_METHODS: dict[str, str] = {"USD": "ACH", "GBP": "BACS", "EUR": "SEPA", "AUD": "EFT", "CAD": "EFT"}


@dataclass(frozen=True)
class PaymentPlan:
    """How much to pay is decided when the payment is replayed: `rule` is rest, part, short, over or again."""

    day: date
    invoice: DemoInvoice
    rule: str
    cents: int
    named: bool
    reference: str
    recorded_at: datetime


@dataclass(frozen=True)
class CreditPlan:
    day: date
    invoice: DemoInvoice
    cents: int
    reason: str


class PaymentPlanner:
    """Plans in the order drawn; the ledger replays them by day, a day's credit notes before its payments."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.plans: list[tuple[date, int, int, PaymentPlan | CreditPlan]] = []
        self.dispute_opened: dict[int, date] = {}

    def pay(
        self, day: date, invoice: DemoInvoice, rule: str = "rest", cents: int = 0, *, named: bool = True
    ) -> PaymentPlan:
        method = PAYMENT_METHODS[invoice.customer.currency] if self.draw.rng.random() < 0.9 else "CARD"
        reference = f"{method} {self.draw.rng.randint(10_000_000, 99_999_999)}"
        if named:
            reference = f"{reference} {invoice.number}"
        plan = PaymentPlan(day, invoice, rule, cents, named, reference, self.draw.office_time(day))
        self.plans.append((day, 1, len(self.plans), plan))
        return plan

    def credit(self, day: date, invoice: DemoInvoice, cents: int, reason: str) -> None:
        if day <= self.draw.today:
            self.plans.append((day, 0, len(self.plans), CreditPlan(day, invoice, cents, reason)))

    def plan(self, customers: list[DemoCustomer]) -> None:
        for customer in customers:
            if customer.stop is not None:
                self.plan_stopped_payer(customer, customer.stop - customer.start)
                continue
            disputed: DemoInvoice | None = None
            if customer.disputes:
                recent = [
                    i for i in customer.invoices[-6:-1] if i.due_date < self.draw.today - timedelta(days=5)
                ]
                disputed = self.draw.rng.choice(recent) if recent else None
            for invoice in customer.invoices:
                if invoice is disputed:
                    self.plan_dispute(invoice)
                else:
                    self.plan_invoice(customer, invoice)

    def plan_stopped_payer(self, customer: DemoCustomer, stop: int) -> None:
        rng = self.draw.rng
        for invoice in customer.invoices[:stop]:
            day = max(
                invoice.issue_date + timedelta(days=1), invoice.due_date + timedelta(days=rng.randint(-10, 3))
            )
            self.pay(min(day, self.draw.yesterday), invoice)
        unpaid = customer.invoices[stop]
        latest = min(unpaid.due_date + timedelta(days=10), self.draw.yesterday)
        earliest = unpaid.issue_date + timedelta(days=1)
        if rng.random() < 0.35 and earliest <= latest:
            day = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
            self.pay(day, unpaid, "part", unpaid.amount_cents * rng.randint(20, 50) // 100)

    def plan_dispute(self, invoice: DemoInvoice) -> None:
        """A disputed invoice stays open; half the customers pay the part they do not dispute."""
        rng = self.draw.rng
        invoice.disputed = True
        opened = invoice.issue_date + timedelta(days=rng.randint(3, 12))
        self.dispute_opened[invoice.id] = min(opened, self.draw.yesterday)
        if rng.random() < 0.5:
            day = min(invoice.due_date + timedelta(days=rng.randint(-5, 5)), self.draw.yesterday)
            self.pay(
                max(day, invoice.issue_date + timedelta(days=1)),
                invoice,
                "part",
                invoice.amount_cents * rng.randint(60, 85) // 100,
            )

    def plan_invoice(self, customer: DemoCustomer, invoice: DemoInvoice) -> None:
        rng = self.draw.rng
        lag = rng.randint(15, 60) if customer.late else rng.randint(-12, 4)
        day = max(invoice.issue_date + timedelta(days=1), invoice.due_date + timedelta(days=lag))
        corrected = 0
        roll = rng.random()
        if roll < 0.03:
            credited_on = invoice.issue_date + timedelta(days=rng.randint(1, 10))
            corrected = invoice.amount_cents * rng.randint(3, 15) // 100
            reason = "pricing correction" if roll < 0.02 else "service credit"
            if corrected > 0:
                self.credit(credited_on, invoice, corrected, reason)
                day = max(day, credited_on + timedelta(days=1))
        if day > self.draw.yesterday:
            return
        named = not customer.unreferenced and (customer.disputes or rng.random() > 0.01)
        roll = rng.random()
        if roll < 0.04:
            first = invoice.amount_cents * rng.randint(40, 70) // 100
            earlier = max(invoice.issue_date + timedelta(days=1), day - timedelta(days=rng.randint(5, 20)))
            self.pay(earlier, invoice, "part", first, named=named)
            self.pay(day, invoice, named=named)
        elif roll < 0.05:
            shortfall = min(rng.randint(100, 2_500), invoice.amount_cents // 2)
            self.pay(day, invoice, "short", shortfall, named=named)
            self.credit(day + timedelta(days=rng.randint(20, 60)), invoice, 0, "write-off")
        elif roll < 0.0515 or (corrected and roll < 0.1):
            self.pay(day, invoice, "over", corrected or rng.randint(500, 20_000))
        elif roll < 0.0525:
            self.pay(day, invoice, named=named)
            self.pay(day, invoice, "again")
        else:
            self.pay(day, invoice, named=named)
