"""Audit events: one small frozen dataclass per kind of event, added to the caller's session so it commits or rolls
back with the change it describes.

A kind names the permission its action is done under (`permission`) and is stored as the JSON `details` of an
`AuditEvent` row: its fields in the order declared, money as a decimal string, days and times in ISO 8601, records
as objects, tuples as lists. Kinds that share a permission tell themselves apart by a fixed field (`action` or
`kind`) or by their keys. `parse_event` reads stored details back into their kind; details that no kind reads back
exactly (an older shape, an unknown permission) come back as an `UnrecognisedEvent` holding them as stored.
"""

from __future__ import annotations

import json
import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from sqlalchemy.orm import Session

from data_access.models import AuditEvent
from data_access.permissions import Actor

_KINDS: dict[str, list[type[Event]]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    """One kind of audit event; `permission` is the permission its action is done under."""

    permission: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _KINDS.setdefault(cls.permission, []).append(cls)

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = _dump(self)
        return details


@dataclass(frozen=True)
class UnrecognisedEvent:
    """Stored details no kind reads back exactly, kept as they are."""

    permission: str
    details: dict[str, Any] | None

    def to_details(self) -> dict[str, Any] | None:
        return self.details


def record_event(session: Session, actor: Actor, event: Event, *, target: str) -> AuditEvent:
    row = AuditEvent(
        actor=actor.username,
        roles=sorted(actor.roles),
        permission=event.permission,
        target=target,
        details=event.to_details(),
    )
    session.add(row)
    return row


def parse_event(permission: str, details: dict[str, Any] | None) -> Event | UnrecognisedEvent:
    """The kind of event whose stored form the details are, exactly; else an UnrecognisedEvent with them."""
    stored = json.dumps(details, sort_keys=False)
    for kind in _KINDS.get(permission, ()):
        try:
            event: Event = _build(kind, details)
        except _Mismatch:
            continue
        if json.dumps(event.to_details(), sort_keys=False) == stored:
            return event
    return UnrecognisedEvent(permission, details)


def event_kinds() -> list[type[Event]]:
    return [kind for kinds in _KINDS.values() for kind in kinds]


# Records nested in events


@dataclass(frozen=True, kw_only=True)
class Installment:
    due_on: date
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class TicketState:
    ticket_status: str


@dataclass(frozen=True, kw_only=True)
class EscalatedState:
    ticket_status: str
    escalation_status: str


@dataclass(frozen=True, kw_only=True)
class EscalationState:
    status: str
    resolved_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class SettledEscalation:
    """An open escalation as its ticket was resolved or closed: resolved with it, or kept open for a reason."""

    escalation_id: int
    case_number: str
    status_before: str
    status_after: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class SubscriptionState:
    status: str
    suspension_reason: str | None
    suspended_by: str | None
    suspended_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class PartnerCenterRecord:
    """What the partner was told to set in Partner Center, and the sentence they were shown."""

    tenant_id: str | None
    subscription_id: str
    status: str
    instruction: str


@dataclass(frozen=True, kw_only=True)
class StageRecord:
    name: str
    days_past_due: int
    action: str
    message_template: str


@dataclass(frozen=True, kw_only=True)
class PolicyRecord:
    minimum_overdue: Decimal
    grace_days_before_suspension: int
    disputes_stop_clock: bool
    statement_intro: str
    stages: tuple[StageRecord, ...]


@dataclass(frozen=True, kw_only=True)
class TargetRecord:
    severity: str
    first_response_hours: int
    resolution_hours: int


@dataclass(frozen=True, kw_only=True)
class OfferingSummary:
    """The offering before a save: its business hours were not recorded then."""

    time_zone: str
    entitlements: tuple[str, ...]
    targets: tuple[TargetRecord, ...]


@dataclass(frozen=True, kw_only=True)
class OfferingRecord:
    time_zone: str
    business_hours: dict[str, tuple[str, ...] | None]
    entitlements: tuple[str, ...]
    targets: tuple[TargetRecord, ...]


@dataclass(frozen=True, kw_only=True)
class HolidayRecord:
    day: date
    name: str


@dataclass(frozen=True, kw_only=True)
class ContactRecord:
    method: str
    value: str
    availability: str


@dataclass(frozen=True, kw_only=True)
class PriceRecord:
    item: str
    currency: str
    amount: Decimal
    unit: str


@dataclass(frozen=True, kw_only=True)
class SupportOfferingRecord:
    """The whole support offering as saved (the file `offering set` takes holds the same)."""

    name: str
    time_zone: str
    business_hours: dict[str, tuple[str, ...] | None]
    holidays: tuple[HolidayRecord, ...]
    targets: tuple[TargetRecord, ...]
    entitlements: tuple[str, ...]
    contact_methods: tuple[ContactRecord, ...]
    pricing: str
    pricing_rates: tuple[PriceRecord, ...]


# Money


@dataclass(frozen=True, kw_only=True)
class PaymentRecorded(Event):
    permission = "payment.record"
    payment_id: int
    amount: Decimal
    received_on: date
    invoice_number: str | None
    reference: str | None
    unapplied: Decimal


@dataclass(frozen=True, kw_only=True)
class PaymentReversed(Event):
    permission = "payment.reverse"
    payment_id: int
    amount: Decimal
    received_on: date
    reversed_on: date
    reopened: Decimal
    reason: str


@dataclass(frozen=True, kw_only=True)
class CreditApplied(Event):
    permission = "credit.apply"
    applied: Decimal
    invoices: tuple[str, ...] | Literal["oldest first"]


@dataclass(frozen=True, kw_only=True)
class CreditNoteIssued(Event):
    permission = "credit_note.issue"
    credit_note: str
    amount: Decimal
    open_before: Decimal
    open_after: Decimal
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class CreditNoteReversed(Event):
    permission = "credit_note.reverse"
    credit_note: str
    reversal: str
    amount: Decimal
    reversed_on: date
    open_after: Decimal
    reason: str


# Collections: every kind carries the activity it recorded and its kind


@dataclass(frozen=True, kw_only=True)
class CallLogged(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="call", init=False)
    notes: str


@dataclass(frozen=True, kw_only=True)
class EmailLogged(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="email", init=False)
    notes: str


@dataclass(frozen=True, kw_only=True)
class ReminderSent(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="reminder_sent", init=False)
    notes: str | None = None
    stage: str
    text: str


@dataclass(frozen=True, kw_only=True)
class PromiseRecorded(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="promise_to_pay", init=False)
    notes: str | None = None
    promised_amount: Decimal
    promised_for: date


@dataclass(frozen=True, kw_only=True)
class PaymentPlanSetUp(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="payment_plan", init=False)
    notes: str | None
    installments: tuple[Installment, ...]
    total: Decimal


@dataclass(frozen=True, kw_only=True)
class DisputeOpened(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="dispute_opened", init=False)
    notes: str
    invoice_number: str


@dataclass(frozen=True, kw_only=True)
class DisputeResolved(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="dispute_resolved", init=False)
    notes: str
    invoice_number: str


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    permission = "collections.act"
    activity_id: int
    kind: str = field(default="note", init=False)
    notes: str


@dataclass(frozen=True, kw_only=True)
class CollectionsRunRecorded(Event):
    """The daily collections run (no activity of its own: the reminders it queues record theirs)."""

    permission = "collections.act"
    kind: str = field(default="collections_run", init=False)
    as_of: date
    customers_assessed: int
    stage_changes: int
    send: bool


# Tickets and escalations


@dataclass(frozen=True, kw_only=True)
class TicketCreated(Event):
    permission = "ticket.create"
    action: str = field(default="create", init=False)
    customer_id: str
    title: str
    category: str
    severity: str
    channel: str
    assignee: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class TicketAssigned(Event):
    permission = "ticket.update"
    action: str = field(default="assign", init=False)
    before: str | None
    after: str


@dataclass(frozen=True, kw_only=True)
class TicketResponded(Event):
    permission = "ticket.update"
    action: str = field(default="respond", init=False)
    first_response_at: datetime
    status_before: str
    status_after: str


@dataclass(frozen=True, kw_only=True)
class TicketStatusChanged(Event):
    permission = "ticket.update"
    action: str = field(default="change status", init=False)
    before: str
    after: str


@dataclass(frozen=True, kw_only=True)
class TicketResolved(Event):
    permission = "ticket.update"
    action: str = field(default="resolve", init=False)
    resolved_at: datetime
    status_before: str


@dataclass(frozen=True, kw_only=True)
class TicketReopened(Event):
    permission = "ticket.update"
    action: str = field(default="reopen", init=False)
    status_before: str
    resolved_at_before: datetime | None


# Support by e-mail (the fetch of the support mailbox acts under ticket.create)


@dataclass(frozen=True, kw_only=True)
class TicketCreatedFromEmail(Event):
    """A customer's e-mail became a ticket; customer_id None: nobody matched the sender (a triage ticket)."""

    permission = "ticket.create"
    action: str = field(default="create from e-mail", init=False)
    customer_id: str | None
    matched_by: str
    title: str
    sender: str | None
    message_id: str
    attachments: int
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class CustomerReplyAdded(Event):
    """A customer's e-mail added to the ticket it answers (pending customer or resolved: open again)."""

    permission = "ticket.create"
    action: str = field(default="customer reply", init=False)
    sender: str | None
    message_id: str
    attachments: int
    status_before: str
    status_after: str


@dataclass(frozen=True, kw_only=True)
class MailRefused(Event):
    """An e-mail from the support mailbox that became no ticket, and why (it is flagged in the mailbox)."""

    permission = "ticket.create"
    action: str = field(default="refuse e-mail", init=False)
    message_id: str
    sender: str | None
    subject: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class AgentReplyQueued(Event):
    """An agent's reply, queued in the outbox with the ticket's reference in its subject."""

    permission = "ticket.update"
    action: str = field(default="reply by e-mail", init=False)
    outbox_message: int
    to: str
    subject: str
    first_response_at: datetime | None
    status_before: str
    status_after: str


@dataclass(frozen=True, kw_only=True)
class TicketCustomerSet(Event):
    """A ticket from an unknown sender given its customer."""

    permission = "ticket.update"
    action: str = field(default="set customer", init=False)
    customer_id: str


@dataclass(frozen=True, kw_only=True)
class EscalationCreated(Event):
    permission = "ticket.escalate"
    escalation_id: int
    kind: str
    vehicle: str | None
    case_number: str
    severity: str
    notes: str | None
    before: TicketState
    after: EscalatedState


@dataclass(frozen=True, kw_only=True)
class EscalationStatusChanged(Event):
    permission = "ticket.escalate"
    case_number: str
    notes: str | None
    before: EscalationState
    after: EscalationState


@dataclass(frozen=True, kw_only=True)
class EscalationsSettledWithTicket(Event):
    """The answer to "is Microsoft's case resolved?" given when a ticket with open escalations was resolved or
    closed (`ticket_status`), recorded with the ticket's own event."""

    permission = "ticket.escalate"
    ticket_status: str
    escalations: tuple[SettledEscalation, ...]


# Subscriptions


@dataclass(frozen=True, kw_only=True)
class SubscriptionSuspended(Event):
    permission = "subscription.suspend"
    customer_id: str
    customer_name: str
    product: str
    reason: str
    as_of: date
    overdue: Decimal
    currency: str
    days_past_due: int
    before: SubscriptionState
    after: SubscriptionState
    partner_center: PartnerCenterRecord


@dataclass(frozen=True, kw_only=True)
class SubscriptionReinstated(Event):
    permission = "subscription.reinstate"
    customer_id: str
    customer_name: str
    product: str
    reason: str
    before: SubscriptionState
    after: SubscriptionState
    partner_center: PartnerCenterRecord


# Policies


@dataclass(frozen=True, kw_only=True)
class PolicySaved(Event):
    permission = "policies.edit"
    before: PolicyRecord | None
    after: PolicyRecord


@dataclass(frozen=True, kw_only=True)
class OfferingSaved(Event):
    permission = "policies.edit"
    before: OfferingSummary | None
    after: OfferingRecord


@dataclass(frozen=True, kw_only=True)
class SupportOfferingSaved(Event):
    """The support offering replaced whole (hours, holidays, targets, entitlements, contacts, pricing)."""

    permission = "policies.edit"
    kind: str = field(default="support_offering", init=False)
    before: SupportOfferingRecord | None
    after: SupportOfferingRecord


@dataclass(frozen=True, kw_only=True)
class PartnerRecord:
    """The partner profile as saved; the logo by its type, size and SHA-256, never its bytes."""

    name: str
    address: str | None
    tax_id: str | None
    contact_email: str | None
    contact_phone: str | None
    bank_name: str | None
    bank_account: str | None
    bank_bic: str | None
    payment_reference: str | None
    logo: str | None


@dataclass(frozen=True, kw_only=True)
class PartnerProfileSaved(Event):
    permission = "policies.edit"
    kind: str = field(default="partner_profile", init=False)
    before: PartnerRecord | None
    after: PartnerRecord


# Master data: customers and invoices kept by hand


@dataclass(frozen=True, kw_only=True)
class CustomerEdited(Event):
    """Only the fields that changed, each as people read it (money as a decimal, flags as true/false)."""

    permission = "customer.edit"
    customer_id: str
    before: dict[str, str | None]
    after: dict[str, str | None]


@dataclass(frozen=True, kw_only=True)
class InvoiceRecord:
    customer_id: str
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class InvoiceAdded(Event):
    permission = "invoice.edit"
    action: str = field(default="add", init=False)
    invoice: InvoiceRecord
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class InvoiceCorrected(Event):
    permission = "invoice.edit"
    action: str = field(default="correct", init=False)
    before: InvoiceRecord
    after: InvoiceRecord
    open_after: Decimal
    reason: str


@dataclass(frozen=True, kw_only=True)
class InvoiceVoided(Event):
    permission = "invoice.edit"
    action: str = field(default="void", init=False)
    invoice: InvoiceRecord
    voided_on: date
    reason: str


# Users and sign-in


@dataclass(frozen=True, kw_only=True)
class UserAdded(Event):
    permission = "users.manage"
    action: str = field(default="add", init=False)
    roles: tuple[str, ...]
    name: str


@dataclass(frozen=True, kw_only=True)
class RolesSet(Event):
    permission = "users.manage"
    action: str = field(default="set_roles", init=False)
    roles: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class UserDisabled(Event):
    permission = "users.manage"
    action: str = field(default="disable", init=False)


@dataclass(frozen=True, kw_only=True)
class UserEnabled(Event):
    permission = "users.manage"
    action: str = field(default="enable", init=False)


@dataclass(frozen=True, kw_only=True)
class PasswordReset(Event):
    permission = "users.manage"
    action: str = field(default="reset_password", init=False)


@dataclass(frozen=True, kw_only=True)
class UserUnlocked(Event):
    permission = "users.manage"
    action: str = field(default="unlock", init=False)


@dataclass(frozen=True, kw_only=True)
class OwnPasswordChanged(Event):
    permission = "account.password"
    action: str = field(default="change_own_password", init=False)


@dataclass(frozen=True, kw_only=True)
class LockedOut(Event):
    permission = "auth.lockout"
    failed_attempts: int
    locked_until: datetime


@dataclass(frozen=True, kw_only=True)
class LockoutExpired(Event):
    permission = "auth.unlock"
    by: str = field(default="timer", init=False)


# Imports


@dataclass(frozen=True, kw_only=True)
class DataImported(Event):
    permission = "data.import"
    file: str
    rows: int
    added: int
    updated: int
    skipped: int


@dataclass(frozen=True, kw_only=True)
class MicrosoftInvoiceRecorded(Event):
    """A Microsoft invoice recorded from a billed Partner Center reconciliation file's totals."""

    permission = "data.import"
    number: str
    amount: str
    currency: str
    period_start: str
    period_end: str
    due_date: str
    lines: int


# E-mail (the reminder it carries is audited as ReminderSent when queued)


@dataclass(frozen=True, kw_only=True)
class MessageRetried(Event):
    """An outbox message not delivered, tried again now at a billing admin's request."""

    permission = "collections.act"
    kind: str = field(default="email_retried", init=False)
    message: int
    key: str
    status_before: str
    attempts_before: int
    last_error: str | None


# Reading and writing the stored form


class _Mismatch(Exception):
    pass


def _dump(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _build(kind: Any, stored: Any) -> Any:
    if not isinstance(stored, dict) or set(stored) != {f.name for f in fields(kind)}:
        raise _Mismatch
    hints = _HINTS.get(kind) or _HINTS.setdefault(kind, get_type_hints(kind))
    values: dict[str, Any] = {}
    for f in fields(kind):
        if not f.init:
            if f.default is MISSING or stored[f.name] != f.default:
                raise _Mismatch
            continue
        values[f.name] = _load(hints[f.name], stored[f.name])
    return kind(**values)


def _load(kind: Any, stored: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        for arm in get_args(kind):
            try:
                return _load(arm, stored)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if stored not in get_args(kind):
            raise _Mismatch
        return stored
    if origin is tuple:
        if not isinstance(stored, list):
            raise _Mismatch
        return tuple(_load(get_args(kind)[0], item) for item in stored)
    if origin is dict:
        if not isinstance(stored, dict):
            raise _Mismatch
        return {key: _load(get_args(kind)[1], item) for key, item in stored.items()}
    if kind is type(None):
        if stored is not None:
            raise _Mismatch
        return None
    if is_dataclass(kind):
        return _build(kind, stored)
    if kind in (str, int, bool) and type(stored) is kind:
        return stored
    if kind in (Decimal, date, datetime) and isinstance(stored, str):
        try:
            return Decimal(stored) if kind is Decimal else kind.fromisoformat(stored)
        except (InvalidOperation, ValueError):
            raise _Mismatch from None
    raise _Mismatch
