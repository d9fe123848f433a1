"""A demo customer while it is drawn: its row, market, size, subscriptions, invoices and how it pays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from data_access.demo.catalog import Market
from data_access.demo.draw import Row


@dataclass
class DemoSubscription:
    row: Row
    charges: list[int]


@dataclass
class DemoCustomer:
    row: Row
    market: Market
    start: int
    size: str
    seats: int
    subscriptions: list[DemoSubscription] = field(default_factory=list)
    invoices: list[DemoInvoice] = field(default_factory=list)
    late: bool = False
    unreferenced: bool = False
    disputes: bool = False
    target: tuple[int, int] | None = None
    stop: int | None = None

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def currency(self) -> str:
        return str(self.row["currency"])

    @property
    def exempt(self) -> bool:
        return bool(self.row["exempt_from_collections"])

    def monthly_charge(self, month: int) -> int:
        return sum(subscription.charges[month] for subscription in self.subscriptions)

    def overdue(self, today: date) -> list[DemoInvoice]:
        """Open invoices past their due date that the collections clock counts (disputed ones stop it)."""
        return [i for i in self.invoices if i.open_cents > 0 and i.due_date < today and not i.disputed]


@dataclass
class DemoInvoice:
    customer: DemoCustomer
    month: int
    issue_date: date
    due_date: date
    amount_cents: int
    open_cents: int
    disputed: bool = False
    id: int = 0
    number: str = ""
    settled_on: date | None = None

    def row(self) -> Row:
        return {
            "id": self.id,
            "number": self.number,
            "customer_id": self.customer.id,
            "issue_date": self.issue_date,
            "due_date": self.due_date,
            "amount_cents": self.amount_cents,
            "open_cents": self.open_cents,
            "currency": self.customer.currency,
            "disputed": self.disputed,
        }
