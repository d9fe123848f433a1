"""Collections history: suspensions for non-payment, and the reminders, calls, promises and disputes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from data_access.demo.accounts import DemoCustomer, DemoInvoice, DemoSubscription
from data_access.demo.draw import BILLING, Draw, Row
from data_access.demo.ledger import Ledger
from data_access.demo.policy import GRACE_DAYS, MINIMUM_OVERDUE_CENTS, POLICY_STAGES, SUSPENSION_DAYS
from data_access.enums import ActivityKind, SubscriptionStatus
from data_access.money import from_cents, money


def reminder(stage: int, customer: DemoCustomer, overdue_cents: int, days: int, oldest: DemoInvoice) -> Row:
    """What the app stores with a reminder it sends: the stage's name and its message filled in."""
    _days, _action, name, template = POLICY_STAGES[stage]
    text = template.format(
        customer_name=customer.row["name"],
        currency=customer.currency,
        overdue_amount=money(from_cents(overdue_cents)),
        days_past_due=days,
        oldest_invoice=oldest.number,
    )
    return {"stage": name, "text": text}


@dataclass(frozen=True)
class PastSuspension:
    """A subscription suspended while an invoice was long overdue, and reinstated once it was paid."""

    customer: DemoCustomer
    subscription: DemoSubscription
    invoice: DemoInvoice
    suspended_at: datetime
    reinstated_at: datetime


def suspended_and_reinstated(
    draw: Draw, customers: list[DemoCustomer], ledger: Ledger
) -> list[PastSuspension]:
    """Some late payers lost one subscription during the last year while an invoice sat past suspension plus grace,
    and got it back when they paid; drawn from `draw.story`, so the rows drawn before stay as they were."""
    rng = draw.story
    earliest = SUSPENSION_DAYS + GRACE_DAYS
    year_ago = draw.today - timedelta(days=365)
    past: list[PastSuspension] = []
    for customer in customers:
        if not customer.late or customer.exempt or customer.target is not None:
            continue
        live = [s for s in customer.subscriptions if s.row["status"] == SubscriptionStatus.ACTIVE.value]
        candidates = [
            i
            for i in customer.invoices
            if i.settled_on is not None
            and i.due_date >= year_ago
            and (i.settled_on - i.due_date).days > earliest + 2
            and i.settled_on < draw.yesterday
        ]
        if not live or not candidates or rng.random() >= 0.35:
            continue
        invoice = candidates[0]
        assert invoice.settled_on is not None
        day = invoice.due_date + timedelta(
            days=rng.randint(earliest, (invoice.settled_on - invoice.due_date).days - 1)
        )
        overdue, days = ledger.overdue_on(customer, day)
        if overdue < MINIMUM_OVERDUE_CENTS or days < earliest:
            continue
        suspended_at = draw.office_time(day, rng)
        reinstated_at = draw.office_time(invoice.settled_on + timedelta(days=rng.randint(0, 1)), rng)
        past.append(PastSuspension(customer, live[0], invoice, suspended_at, reinstated_at))
    return past


def suspend_for_non_payment(draw: Draw, customers: list[DemoCustomer]) -> dict[int, datetime]:
    """Deep arrears lose access to everything live; some customers past suspension plus grace lose their suite."""
    rng = draw.rng
    suspended: dict[int, datetime] = {}
    for customer in customers:
        overdue = customer.overdue(draw.today)
        if customer.target is None or customer.exempt or not overdue:
            continue
        days = (draw.today - overdue[0].due_date).days
        if days <= SUSPENSION_DAYS + GRACE_DAYS or (days < 90 and rng.random() < 0.5):
            continue
        live = [s for s in customer.subscriptions if s.row["status"] == SubscriptionStatus.ACTIVE.value]
        chosen = live if days >= 90 else live[:1]
        earliest = SUSPENSION_DAYS + GRACE_DAYS
        when = draw.office_time(overdue[0].due_date + timedelta(days=rng.randint(earliest, days - 1)))
        for subscription in chosen:
            subscription.row.update(
                status=SubscriptionStatus.SUSPENDED.value,
                suspension_reason=f"Non-payment: invoice {overdue[0].number} more than "
                f"{SUSPENSION_DAYS} days past due",
                suspended_by=BILLING,
                suspended_at=when,
            )
        if chosen:
            suspended[customer.id] = when
    return suspended


class CollectionsHistory:
    """What billing did about each customer's overdue invoices, up to yesterday."""

    def __init__(
        self,
        draw: Draw,
        *,
        dispute_opened: dict[int, date],
        suspended: dict[int, datetime],
        past: Sequence[PastSuspension] = (),
    ) -> None:
        self.draw = draw
        self.dispute_opened = dispute_opened
        self.suspended = suspended
        self.past = list(past)
        self.activities: list[Row] = []

    def record(
        self, customers: list[DemoCustomer], invoices: list[DemoInvoice], credit_notes: list[Row]
    ) -> list[Row]:
        """Every activity before today, numbered in the order it happened."""
        for customer in customers:
            self.past_chasing(customer)
            overdue = customer.overdue(self.draw.today)
            if not customer.exempt and sum(i.open_cents for i in overdue) >= MINIMUM_OVERDUE_CENTS:
                self.current_chasing(customer, overdue)
            for invoice in customer.invoices:
                if invoice.id in self.dispute_opened:
                    self.activity(
                        customer,
                        self.dispute_opened[invoice.id],
                        ActivityKind.DISPUTE_OPENED,
                        f"Customer disputes invoice {invoice.number}; clock stopped while we check.",
                        invoice=invoice,
                    )
        self.resolved_disputes(customers, invoices, credit_notes)
        for past in self.past:
            what = f"{past.subscription.row['product']} ({past.subscription.row['external_id']})"
            self.activity(
                past.customer,
                past.suspended_at.date(),
                ActivityKind.NOTE,
                f"{what} suspended for non-payment of invoice {past.invoice.number}.",
                occurred_at=past.suspended_at,
            )
            self.activity(
                past.customer,
                past.reinstated_at.date(),
                ActivityKind.NOTE,
                f"{what} reinstated: invoice {past.invoice.number} paid.",
                occurred_at=past.reinstated_at,
            )
        self.activities.sort(key=lambda row: (row["occurred_at"], row["customer_id"]))
        for number, row in enumerate(self.activities, start=1):
            row["id"] = number
        return self.activities

    def activity(
        self,
        customer: DemoCustomer,
        day: date,
        kind: ActivityKind,
        notes: str,
        *,
        invoice: DemoInvoice | None = None,
        occurred_at: datetime | None = None,
        promised_amount_cents: int | None = None,
        promised_for: date | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if day >= self.draw.today:
            return
        self.activities.append(
            {
                "customer_id": customer.id,
                "invoice_id": invoice.id if invoice else None,
                "kind": kind.value,
                "occurred_at": occurred_at or self.draw.office_time(day),
                "actor": BILLING,
                "notes": notes,
                "promised_amount_cents": promised_amount_cents,
                "promised_for": promised_for,
                "details": details,
            }
        )

    def past_chasing(self, customer: DemoCustomer) -> None:
        """Reminders and calls that chased invoices paid late during the last year."""
        if customer.exempt:
            return
        year_ago = self.draw.today - timedelta(days=365)
        for invoice in customer.invoices:
            if invoice.settled_on is None or invoice.due_date < year_ago:
                continue
            late = (invoice.settled_on - invoice.due_date).days
            if late < 2 or invoice.amount_cents < MINIMUM_OVERDUE_CENTS:
                continue
            self.activity(
                customer,
                invoice.due_date + timedelta(days=1),
                ActivityKind.REMINDER_SENT,
                f"Friendly reminder sent for invoice {invoice.number}.",
                invoice=invoice,
                details=reminder(0, customer, invoice.amount_cents, 1, invoice),
            )
            if late > 15:
                self.activity(
                    customer,
                    invoice.due_date + timedelta(days=15),
                    ActivityKind.REMINDER_SENT,
                    f"Second reminder sent for invoice {invoice.number}.",
                    invoice=invoice,
                    details=reminder(1, customer, invoice.amount_cents, 15, invoice),
                )
            if late > 25 and self.draw.rng.random() < 0.6:
                self.activity(
                    customer,
                    invoice.due_date + timedelta(days=self.draw.rng.randint(16, late - 1)),
                    ActivityKind.CALL,
                    f"Called {customer.row['billing_contact_name']}: payment run scheduled.",
                    invoice=invoice,
                )

    def current_chasing(self, customer: DemoCustomer, overdue: list[DemoInvoice]) -> None:
        """What billing has done so far about today's overdue balance, stage by stage of the policy."""
        rng = self.draw.rng
        oldest = overdue[0]
        days = (self.draw.today - oldest.due_date).days
        due = oldest.due_date
        open_cents = sum(i.open_cents for i in overdue)
        amount = f"{customer.currency} {from_cents(open_cents)}"
        for stage, (offset, _action, name, _template) in enumerate(POLICY_STAGES[:3]):
            if days > offset:
                self.activity(
                    customer,
                    due + timedelta(days=offset),
                    ActivityKind.REMINDER_SENT,
                    f"{name} sent: {amount} past due.",
                    invoice=oldest,
                    details=reminder(stage, customer, open_cents, offset, oldest),
                )
        if days > 20:
            self.activity(
                customer,
                due + timedelta(days=rng.randint(16, 20)),
                ActivityKind.CALL,
                rng.choice(
                    (
                        "Left a voicemail for accounts payable.",
                        "Spoke to the billing contact; invoice is with their approver.",
                        "No answer; will try again next week.",
                    )
                ),
                invoice=oldest,
            )
        if days > 25 and rng.random() < 0.6:
            promised_on = due + timedelta(days=rng.randint(21, days - 1))
            self.activity(
                customer,
                promised_on,
                ActivityKind.PROMISE_TO_PAY,
                f"Promised to pay invoice {oldest.number}.",
                invoice=oldest,
                promised_amount_cents=oldest.open_cents,
                promised_for=promised_on + timedelta(days=rng.randint(5, 14)),
            )
        if days > SUSPENSION_DAYS:
            self.activity(
                customer,
                due + timedelta(days=SUSPENSION_DAYS),
                ActivityKind.EMAIL,
                "Suspension warning emailed to the billing contact and the account manager.",
                invoice=oldest,
            )
        if customer.id in self.suspended:
            when = self.suspended[customer.id]
            self.activity(
                customer,
                when.date(),
                ActivityKind.NOTE,
                "Subscriptions suspended for non-payment.",
                occurred_at=when,
            )
        if days > 90:
            if rng.random() < 0.5:
                agreed = due + timedelta(days=rng.randint(91, days)) if days > 91 else self.draw.yesterday
                share = open_cents // 3
                parts = (share, share, open_cents - 2 * share)
                terms = [
                    {
                        "due_on": (agreed + timedelta(days=14 + 30 * n)).isoformat(),
                        "amount": str(from_cents(c)),
                    }
                    for n, c in enumerate(parts)
                ]
                self.activity(
                    customer,
                    agreed,
                    ActivityKind.PAYMENT_PLAN,
                    "Agreed a three-month payment plan.",
                    details={"installments": terms, "total": str(from_cents(open_cents))},
                )
            else:
                self.activity(
                    customer,
                    due + timedelta(days=90),
                    ActivityKind.NOTE,
                    "Reviewing for cancellation and referral to a collection agency.",
                )

    def resolved_disputes(
        self, customers: list[DemoCustomer], invoices: list[DemoInvoice], credit_notes: list[Row]
    ) -> None:
        """Half the pricing corrections settled a dispute the customer had raised."""
        by_id = {customer.id: customer for customer in customers}
        invoices_by_id = {invoice.id: invoice for invoice in invoices}
        for note in credit_notes:
            if note["reason"] != "pricing correction" or self.draw.rng.random() < 0.5:
                continue
            customer, invoice = by_id[note["customer_id"]], invoices_by_id[note["invoice_id"]]
            opened = max(invoice.issue_date, note["issued_on"] - timedelta(days=self.draw.rng.randint(1, 6)))
            self.activity(
                customer,
                opened,
                ActivityKind.DISPUTE_OPENED,
                f"Customer queries the price on invoice {invoice.number}.",
                invoice=invoice,
            )
            self.activity(
                customer,
                note["issued_on"],
                ActivityKind.DISPUTE_RESOLVED,
                f"Resolved with credit note {note['number']}.",
                invoice=invoice,
            )
