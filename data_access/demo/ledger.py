"""The demo's ledger: planned credit notes and payments replayed into rows, so open balances add up."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from data_access.demo.accounts import DemoCustomer, DemoInvoice
from data_access.demo.draw import Row
from data_access.demo.payments import CreditPlan, PaymentPlan, PaymentPlanner


class Ledger:
    """Payment, allocation and credit note rows, numbered in the order the replay writes them."""

    def __init__(self) -> None:
        self.payments: list[Row] = []
        self.allocations: list[Row] = []
        self.credit_notes: list[Row] = []
        self.credit_open: dict[int, tuple[int, int]] = {}
        """Per credit note id, its invoice's open cents before and after it (for its audit event)."""
        self._settled: dict[int, list[tuple[date, int]]] | None = None

    def replay(self, planner: PaymentPlanner, invoices: list[DemoInvoice]) -> None:
        """Credit notes and payments in date order, under the same rules as `data_access.ledger`."""
        for _day, _rank, _sequence, plan in sorted(planner.plans, key=lambda entry: entry[:3]):
            if isinstance(plan, CreditPlan):
                self.replay_credit(plan)
            else:
                self.replay_payment(plan)
        self.ensure_unapplied_credit(planner, invoices)

    def replay_credit(self, plan: CreditPlan) -> None:
        invoice = plan.invoice
        cents = min(plan.cents or invoice.open_cents, invoice.open_cents)
        if cents <= 0:
            return
        before = invoice.open_cents
        invoice.open_cents -= cents
        if invoice.open_cents == 0:
            invoice.settled_on = plan.day
        number = len(self.credit_notes) + 1
        self.credit_open[number] = (before, invoice.open_cents)
        self.credit_notes.append(
            {
                "id": number,
                "number": f"CN-{plan.day.year}-{number:06d}",
                "invoice_id": invoice.id,
                "issued_on": plan.day,
                "amount_cents": cents,
                "reason": plan.reason,
                **_copied(invoice),
            }
        )

    def replay_payment(self, plan: PaymentPlan) -> None:
        invoice = plan.invoice
        cents = {
            "rest": invoice.open_cents,
            "part": min(plan.cents, invoice.open_cents),
            "short": invoice.open_cents - plan.cents,
            "over": invoice.open_cents + plan.cents,
            "again": invoice.amount_cents,
        }[plan.rule]
        if cents <= 0:
            return
        payment: Row = {
            "id": len(self.payments) + 1,
            "customer_id": invoice.customer.id,
            "invoice_id": invoice.id if plan.named else None,
            "received_on": plan.day,
            "amount_cents": cents,
            "currency": invoice.customer.currency,
            "unapplied_cents": cents,
            "reference": plan.reference,
            "recorded_at": plan.recorded_at,
        }
        self.payments.append(payment)
        if plan.named:
            targets = [invoice] if invoice.open_cents > 0 else []
        else:
            targets = sorted(
                (i for i in invoice.customer.invoices if i.open_cents > 0 and i.issue_date <= plan.day),
                key=lambda i: (i.due_date, i.issue_date, i.id),
            )
        for target in targets:
            if payment["unapplied_cents"] == 0:
                break
            applied = min(target.open_cents, payment["unapplied_cents"])
            target.open_cents -= applied
            payment["unapplied_cents"] -= applied
            if target.open_cents == 0:
                target.settled_on = plan.day
            self.allocations.append(
                {
                    "id": len(self.allocations) + 1,
                    "payment_id": payment["id"],
                    "invoice_id": target.id,
                    "applied_on": max(plan.day, target.issue_date),
                    "amount_cents": applied,
                    **_copied(target),
                }
            )

    def ensure_unapplied_credit(self, planner: PaymentPlanner, invoices: list[DemoInvoice]) -> None:
        """At least one customer holds unapplied credit whatever the draw: a duplicate payment of a paid invoice."""
        if any(payment["unapplied_cents"] > 0 for payment in self.payments):
            return
        paid = [i for i in invoices if i.settled_on is not None and i.customer.target is None]
        if paid:
            invoice = paid[-1]
            yesterday = planner.draw.yesterday
            day = min(invoice.settled_on or yesterday, yesterday)
            self.replay_payment(planner.pay(day, invoice, "again"))

    def overdue_on(self, customer: DemoCustomer, day: date) -> tuple[int, int]:
        """The customer's overdue cents at the end of `day` (open, undisputed invoices due before it) and how many
        days past due the oldest of them was then; (0, 0) when nothing was overdue."""
        if self._settled is None:
            settled: defaultdict[int, list[tuple[date, int]]] = defaultdict(list)
            for row in self.allocations:
                settled[row["invoice_id"]].append((row["applied_on"], row["amount_cents"]))
            for row in self.credit_notes:
                settled[row["invoice_id"]].append((row["issued_on"], row["amount_cents"]))
            self._settled = settled
        overdue, oldest = 0, None
        for invoice in customer.invoices:
            if invoice.due_date >= day or invoice.disputed:
                continue
            paid = sum(cents for on, cents in self._settled.get(invoice.id, []) if on <= day)
            if invoice.amount_cents - paid > 0:
                overdue += invoice.amount_cents - paid
                oldest = invoice.due_date if oldest is None else min(oldest, invoice.due_date)
        return overdue, (day - oldest).days if oldest else 0


def _copied(invoice: DemoInvoice) -> Row:
    return {
        "customer_id": invoice.customer.id,
        "currency": invoice.customer.currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
    }
