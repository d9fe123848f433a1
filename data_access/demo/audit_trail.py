"""The audit trail of the demo's history: for every row the app would have written through an action, the typed
event that action records (data_access.audit), by the user who did it and dated when it happened in the story.

The rows are drawn directly (replaying two years through the actions one transaction at a time would take
minutes, and most actions refuse a past date), so the events are built here from the same event dataclasses and
in the same shape `record_event` stores: actor, sorted roles, permission, target, details. Times come from
`draw.story`, never after the demo's today.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from data_access.audit import (
    CallLogged,
    CreditNoteIssued,
    DataImported,
    DisputeOpened,
    DisputeResolved,
    EmailLogged,
    EscalatedState,
    EscalationCreated,
    EscalationState,
    EscalationStatusChanged,
    Event,
    Installment,
    NoteAdded,
    OfferingRecord,
    OfferingSaved,
    PartnerCenterRecord,
    PartnerProfileSaved,
    PartnerRecord,
    PaymentPlanSetUp,
    PaymentRecorded,
    PolicyRecord,
    PolicySaved,
    PromiseRecorded,
    ReminderSent,
    StageRecord,
    SubscriptionReinstated,
    SubscriptionState,
    SubscriptionSuspended,
    TargetRecord,
    TicketCreated,
    TicketResolved,
    TicketResponded,
    TicketState,
    TicketStatusChanged,
)
from data_access.demo.accounts import DemoCustomer, DemoInvoice
from data_access.demo.collections_history import PastSuspension
from data_access.demo.draw import BILLING, Draw, Row
from data_access.demo.ledger import Ledger
from data_access.demo.policy import STATEMENT_INTRO
from data_access.enums import ActivityKind, EscalationStatus, SubscriptionStatus, TicketStatus
from data_access.money import from_cents
from data_access.permissions import BILLING_ADMIN, HELPDESK_AGENT, Actor
from data_access.rules.suspension import PartnerCenterStep

BILLING_ACTOR = Actor.of(BILLING, [BILLING_ADMIN])
HELPDESK = "helpdesk"
REINSTATED_REASON = "Invoice {number} paid in full; access restored."
FIRST_STATEMENT_INTRO = STATEMENT_INTRO.rsplit(" Access to", 1)[0]
"""The statement as first saved, before billing added the sentence on suspension a month ago."""


def ticket_actor(username: str | None) -> Actor:
    """Billing works its own tickets as a Billing admin; everyone else on the helpdesk as a Helpdesk agent."""
    if username == BILLING:
        return BILLING_ACTOR
    return Actor.of(username or HELPDESK, [HELPDESK_AGENT])


PARTNER_FIELDS = (
    "name", "address", "tax_id", "contact_email", "contact_phone", "bank_name", "bank_account", "bank_bic",
    "payment_reference",
)  # fmt: skip


@dataclass(frozen=True)
class Story:
    """Everything the trail is told from: the rows as drawn and what the drawing knew about them."""

    customers: list[DemoCustomer]
    invoices: list[DemoInvoice]
    ledger: Ledger
    activities: list[Row]
    policy: Row
    partner: Row
    stages: list[Row]
    offering: Row
    targets: list[Row]
    tickets: list[Row]
    escalations: list[Row]
    microsoft_invoices: list[Row]
    past_suspensions: list[PastSuspension]
    imported_files: list[tuple[str, str, int, datetime]] = field(default_factory=list)
    """(kind, file, rows, when) of files whose import the story tells as it is (rates, Partner Center)."""


class AuditTrail:
    def __init__(self, draw: Draw, story: Story) -> None:
        self.draw = draw
        self.story = story
        self.entries: list[tuple[datetime, int, Row]] = []
        self.customer_ids = {c.id: str(c.row["external_id"]) for c in story.customers}
        self.invoice_numbers = {i.id: i.number for i in story.invoices}

    def rows(self) -> list[Row]:
        """Every event, numbered in the order it happened."""
        self.imports()
        self.policies()
        self.payments()
        self.credit_notes()
        self.collections()
        self.suspensions()
        self.tickets()
        self.entries.sort(key=lambda entry: entry[:2])
        rows = [row for _at, _sequence, row in self.entries]
        for number, row in enumerate(rows, start=1):
            row["id"] = number
        return rows

    def add(self, actor: Actor, event: Event, *, target: str, at: datetime) -> None:
        """The row `record_event` would add, dated `at` (never after the start of the demo's today)."""
        occurred_at = min(at, self.draw.horizon)
        row: Row = {
            "occurred_at": occurred_at,
            "actor": actor.username,
            "roles": sorted(actor.roles),
            "permission": event.permission,
            "target": target,
            "details": event.to_details(),
        }
        self.entries.append((occurred_at, len(self.entries), row))

    def when(self, day: date) -> datetime:
        return self.draw.office_time(day, self.draw.story)

    def imports(self) -> None:
        """Customers and their subscriptions came in by CSV as they were onboarded, invoices month by month,
        the partner's own bill from Microsoft once each month had closed, and the exchange rates and Partner
        Center files when the story says."""
        first = self.draw.first_month
        onboarded: dict[date, list[DemoCustomer]] = {}
        for customer in self.story.customers:
            created = customer.row["created_at"].date()
            onboarded.setdefault(max(created, first - timedelta(days=7)), []).append(customer)
        for day, customers in sorted(onboarded.items()):
            month = f"{day:%Y-%m-%d}"
            at = self.when(day)
            count = len(customers)
            subscriptions = sum(len(c.subscriptions) for c in customers)
            self.imported("customers", f"customers-{month}.csv", count, at)
            self.imported(
                "subscriptions", f"subscriptions-{month}.csv", subscriptions, at + timedelta(minutes=5)
            )
        by_month: dict[date, int] = {}
        for invoice in self.story.invoices:
            by_month[invoice.issue_date] = by_month.get(invoice.issue_date, 0) + 1
        for day, count in sorted(by_month.items()):
            self.imported("invoices", f"invoices-{day:%Y-%m}.csv", count, self.when(day))
        bills: dict[date, int] = {}
        for bill in self.story.microsoft_invoices:
            bills[bill["period_end"]] = bills.get(bill["period_end"], 0) + 1
        for period_end, count in sorted(bills.items()):
            day = period_end + timedelta(days=3)
            if day < self.draw.today:
                self.imported("microsoft-invoices", f"microsoft-invoices-{period_end:%Y-%m}.csv", count,
                              self.when(day))  # fmt: skip
        for kind, file, rows, at in self.story.imported_files:
            self.imported(kind, file, rows, at)

    def imported(self, kind: str, file: str, rows: int, at: datetime) -> None:
        event = DataImported(file=file, rows=rows, added=rows, updated=0, skipped=0)
        self.add(BILLING_ACTOR, event, target=f"import:{kind}", at=at)

    def policies(self) -> None:
        """The collections policy and the support offering as billing last saved them."""
        policy = self.story.policy
        record = PolicyRecord(
            minimum_overdue=from_cents(policy["minimum_overdue_cents"]),
            grace_days_before_suspension=policy["grace_days_before_suspension"],
            disputes_stop_clock=policy["disputes_stop_clock"],
            statement_intro=policy["statement_intro"],
            stages=tuple(
                StageRecord(
                    name=s["name"],
                    days_past_due=s["days_past_due"],
                    action=s["action"],
                    message_template=s["message_template"],
                )
                for s in self.story.stages
            ),
        )
        first = replace(record, statement_intro=FIRST_STATEMENT_INTRO)
        target = f"collections_policy:{policy['id']}"
        set_up = self.when(self.draw.first_month - timedelta(days=10))
        self.add(BILLING_ACTOR, PolicySaved(before=None, after=first), target=target, at=set_up)
        last = Actor.of(policy["updated_by"], [BILLING_ADMIN])
        self.add(last, PolicySaved(before=first, after=record), target=target, at=policy["updated_at"])
        offering = self.story.offering
        saved = OfferingSaved(
            before=None,
            after=OfferingRecord(
                time_zone=offering["time_zone"],
                business_hours={
                    day: None if hours is None else tuple(hours)
                    for day, hours in offering["business_hours"].items()
                },
                entitlements=tuple(offering["entitlements"]),
                targets=tuple(
                    TargetRecord(
                        severity=t["severity"],
                        first_response_hours=t["first_response_hours"],
                        resolution_hours=t["resolution_hours"],
                    )
                    for t in self.story.targets
                ),
            ),
        )
        self.add(BILLING_ACTOR, saved, target="support-offering", at=offering["updated_at"])
        partner = self.story.partner
        profile = PartnerRecord(**{field: partner[field] for field in PARTNER_FIELDS}, logo=None)
        self.add(
            BILLING_ACTOR,
            PartnerProfileSaved(before=None, after=profile),
            target="partner-profile",
            at=partner["updated_at"],
        )

    def payments(self) -> None:
        for payment in self.story.ledger.payments:
            invoice_id = payment["invoice_id"]
            event = PaymentRecorded(
                payment_id=payment["id"],
                amount=from_cents(payment["amount_cents"]),
                received_on=payment["received_on"],
                invoice_number=self.invoice_numbers[invoice_id] if invoice_id else None,
                reference=payment["reference"],
                unapplied=from_cents(payment["unapplied_cents"]),
            )
            target = f"customer:{self.customer_ids[payment['customer_id']]}"
            self.add(BILLING_ACTOR, event, target=target, at=payment["recorded_at"])

    def credit_notes(self) -> None:
        for note in self.story.ledger.credit_notes:
            before, after = self.story.ledger.credit_open[note["id"]]
            event = CreditNoteIssued(
                credit_note=note["number"],
                amount=from_cents(note["amount_cents"]),
                open_before=from_cents(before),
                open_after=from_cents(after),
                reason=note["reason"],
            )
            target = f"invoice:{self.invoice_numbers[note['invoice_id']]}"
            self.add(BILLING_ACTOR, event, target=target, at=self.when(note["issued_on"]))

    def collections(self) -> None:
        for row in self.story.activities:
            event = activity_event(row, self.invoice_numbers)
            invoice = self.invoice_numbers.get(row["invoice_id"])
            disputes = (ActivityKind.DISPUTE_OPENED.value, ActivityKind.DISPUTE_RESOLVED.value)
            target = (
                f"invoice:{invoice}"
                if row["kind"] in disputes and invoice
                else f"customer:{self.customer_ids[row['customer_id']]}"
            )
            self.add(Actor.of(row["actor"], [BILLING_ADMIN]), event, target=target, at=row["occurred_at"])

    def suspensions(self) -> None:
        """Every subscription suspended now, and the ones suspended for a while and reinstated once paid."""
        for customer in self.story.customers:
            for subscription in customer.subscriptions:
                row = subscription.row
                if row["status"] == SubscriptionStatus.SUSPENDED.value:
                    self.suspended(customer, row, row["suspension_reason"], row["suspended_at"])
        for past in self.story.past_suspensions:
            row = past.subscription.row
            reason = f"Non-payment: invoice {past.invoice.number} more than 45 days past due"
            self.suspended(past.customer, row, reason, past.suspended_at)
            before = SubscriptionState(
                status=SubscriptionStatus.SUSPENDED.value,
                suspension_reason=reason,
                suspended_by=BILLING,
                suspended_at=past.suspended_at,
            )
            self.add(
                BILLING_ACTOR,
                SubscriptionReinstated(
                    customer_id=str(past.customer.row["external_id"]),
                    customer_name=past.customer.row["name"],
                    product=row["product"],
                    reason=REINSTATED_REASON.format(number=past.invoice.number),
                    before=before,
                    after=SubscriptionState(
                        status=SubscriptionStatus.ACTIVE.value,
                        suspension_reason=None,
                        suspended_by=None,
                        suspended_at=None,
                    ),
                    partner_center=told(past.customer, row, SubscriptionStatus.ACTIVE.value),
                ),
                target=f"subscription:{row['external_id']}",
                at=past.reinstated_at,
            )

    def suspended(self, customer: DemoCustomer, row: Row, reason: str, at: datetime) -> None:
        overdue, days = self.story.ledger.overdue_on(customer, at.date())
        event = SubscriptionSuspended(
            customer_id=str(customer.row["external_id"]),
            customer_name=customer.row["name"],
            product=row["product"],
            reason=reason,
            as_of=at.date(),
            overdue=from_cents(overdue),
            currency=customer.currency,
            days_past_due=days,
            before=SubscriptionState(
                status=SubscriptionStatus.ACTIVE.value,
                suspension_reason=None,
                suspended_by=None,
                suspended_at=None,
            ),
            after=SubscriptionState(
                status=SubscriptionStatus.SUSPENDED.value,
                suspension_reason=reason,
                suspended_by=BILLING,
                suspended_at=at,
            ),
            partner_center=told(customer, row, SubscriptionStatus.SUSPENDED.value),
        )
        self.add(BILLING_ACTOR, event, target=f"subscription:{row['external_id']}", at=at)

    def tickets(self) -> None:
        """Each ticket from its creation: first response, escalation to Microsoft and the case's moves, waiting on
        the customer, resolution and closing, in the order the times say."""
        escalated = {row["ticket_id"]: row for row in self.story.escalations}
        for ticket in self.story.tickets:
            self.ticket(ticket, escalated.get(ticket["id"]))

    def ticket(self, ticket: Row, escalation: Row | None) -> None:
        actor = ticket_actor(ticket["assignee"])
        target = f"ticket:{ticket['external_id']}"
        created = TicketCreated(
            customer_id=self.customer_ids[ticket["customer_id"]],
            title=ticket["title"],
            category=ticket["category"],
            severity=ticket["severity"],
            channel=ticket["channel"],
            assignee=ticket["assignee"],
            created_at=ticket["created_at"],
        )
        self.add(actor, created, target=target, at=ticket["created_at"])
        status = TicketStatus.NEW.value
        responded = ticket["first_response_at"]
        if responded is None:
            return
        self.add(
            actor,
            TicketResponded(
                first_response_at=responded, status_before=status, status_after=TicketStatus.OPEN.value
            ),
            target=target,
            at=responded,
        )
        status = TicketStatus.OPEN.value
        if escalation is not None:
            self.escalated(ticket, escalation, status)
            status = TicketStatus.ESCALATED.value
        final = ticket["status"]
        resolved = ticket["resolved_at"]
        if resolved is not None:
            self.add(
                actor, TicketResolved(resolved_at=resolved, status_before=status), target=target, at=resolved
            )
            if final == TicketStatus.CLOSED.value:
                closed = resolved + min(timedelta(hours=48), (self.draw.horizon - resolved) / 2)
                self.add(
                    actor,
                    TicketStatusChanged(before=TicketStatus.RESOLVED.value, after=final),
                    target=target,
                    at=closed,
                )
        elif final != status:
            moved = responded + (self.draw.horizon - responded) / 2
            if escalation is not None:
                moved = max(moved, escalation["status_changed_at"])
            self.add(actor, TicketStatusChanged(before=status, after=final), target=target, at=moved)

    def escalated(self, ticket: Row, escalation: Row, status: str) -> None:
        actor = ticket_actor(escalation["created_by"])
        opened = EscalationCreated(
            escalation_id=escalation["id"],
            kind=escalation["kind"],
            vehicle=escalation["vehicle"],
            case_number=escalation["microsoft_case_number"],
            severity=escalation["severity"],
            notes=escalation["notes"],
            before=TicketState(ticket_status=status),
            after=EscalatedState(
                ticket_status=TicketStatus.ESCALATED.value, escalation_status=EscalationStatus.SUBMITTED.value
            ),
        )
        self.add(actor, opened, target=f"ticket:{ticket['external_id']}", at=escalation["submitted_at"])
        moves: list[tuple[datetime, str]] = []
        final = escalation["status"]
        resolved_at = escalation["resolved_at"]
        if final in (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value):
            moves.append((resolved_at, EscalationStatus.RESOLVED.value))
        if final != EscalationStatus.RESOLVED.value and final != EscalationStatus.SUBMITTED.value:
            moves.append((escalation["status_changed_at"], final))
        state = EscalationState(status=EscalationStatus.SUBMITTED.value, resolved_at=None)
        for at, moved_to in moves:
            after = EscalationState(
                status=moved_to, resolved_at=resolved_at if moved_to in FINISHED else None
            )
            changed = EscalationStatusChanged(
                case_number=escalation["microsoft_case_number"], notes=None, before=state, after=after
            )
            self.add(actor, changed, target=f"escalation:{escalation['id']}", at=at)
            state = after


FINISHED = (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)


def told(customer: DemoCustomer, row: Row, status: str) -> PartnerCenterRecord:
    step = PartnerCenterStep(customer.row["tenant_id"], row["external_id"], status)
    return PartnerCenterRecord(
        tenant_id=step.tenant_id,
        subscription_id=step.subscription_id,
        status=step.status,
        instruction=step.instruction(),
    )


def activity_event(row: Row, invoice_numbers: dict[int, str]) -> Event:
    """The event the collections action that writes such an activity records with it."""
    kind, number, notes = row["kind"], row["id"], row["notes"]
    details = row["details"] or {}
    if kind == ActivityKind.REMINDER_SENT.value:
        return ReminderSent(activity_id=number, notes=notes, stage=details["stage"], text=details["text"])
    if kind == ActivityKind.CALL.value:
        return CallLogged(activity_id=number, notes=notes)
    if kind == ActivityKind.EMAIL.value:
        return EmailLogged(activity_id=number, notes=notes)
    if kind == ActivityKind.PROMISE_TO_PAY.value:
        return PromiseRecorded(
            activity_id=number,
            notes=notes,
            promised_amount=from_cents(row["promised_amount_cents"]),
            promised_for=row["promised_for"],
        )
    if kind == ActivityKind.PAYMENT_PLAN.value:
        plan = tuple(
            Installment(due_on=date.fromisoformat(i["due_on"]), amount=Decimal(i["amount"]))
            for i in details["installments"]
        )
        return PaymentPlanSetUp(
            activity_id=number, notes=notes, installments=plan, total=Decimal(details["total"])
        )
    if kind == ActivityKind.DISPUTE_OPENED.value:
        return DisputeOpened(
            activity_id=number, notes=notes, invoice_number=invoice_numbers[row["invoice_id"]]
        )
    if kind == ActivityKind.DISPUTE_RESOLVED.value:
        return DisputeResolved(
            activity_id=number, notes=notes, invoice_number=invoice_numbers[row["invoice_id"]]
        )
    if kind == ActivityKind.NOTE.value:
        return NoteAdded(activity_id=number, notes=notes)
    raise ValueError(f"No collections action writes a {kind!r} activity.")
