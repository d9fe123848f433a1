"""Acting on an overdue account: contacts, reminders, promises, payment plans, disputes and notes.

Each action checks its permission, writes in one transaction and audits in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from data_access import clock, ledger
from data_access.actions import collections_run
from data_access.audit import (
    CallLogged,
    DisputeOpened,
    DisputeResolved,
    EmailLogged,
    Event,
    Installment,
    NoteAdded,
    PaymentPlanSetUp,
    PromiseRecorded,
    record_event,
)
from data_access.config import InvalidSetting
from data_access.db import read_session, transaction
from data_access.enums import ActivityKind
from data_access.errors import InvalidAction
from data_access.mail import outbox, reminders
from data_access.models import CollectionsActivity, Customer, Invoice
from data_access.money import day as iso_day
from data_access.money import from_cents, to_cents
from data_access.permissions import Actor, requires

CONTACT_KINDS = (ActivityKind.CALL.value, ActivityKind.EMAIL.value)


@requires("collections.act")
def log_contact(actor: Actor, *, customer_id: str, kind: str, notes: str) -> int:
    """A call or an e-mail with the customer, with what was said."""
    if kind not in CONTACT_KINDS:
        raise InvalidAction(f"{kind!r} is not a kind of contact; log a call or an email.")
    text = _required(notes, f"Say what the {'call' if kind == ActivityKind.CALL else 'email'} was about.")
    logged = CallLogged if kind == ActivityKind.CALL else EmailLogged
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        activity = _record(session, actor, customer, kind=kind, notes=text)
        _audit(session, actor, customer, logged(activity_id=activity.id, notes=text))
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because=f"{kind} logged")
        return activity.id


@requires("collections.act")
def send_reminder(actor: Actor, *, customer_id: str, as_of: date) -> str:
    """The message of the account's current stage, filled in and recorded as sent, and queued as an e-mail to the
    billing contact with the overdue invoices and the statement attached (once per stage; without an address it
    is recorded only); no stage, no reminder. Returns the message."""
    with transaction() as session:
        return reminders.one_reminder(session, actor, customer_id, as_of=as_of).reminder.text


@dataclass(frozen=True)
class SentReminder:
    """A reminder sent from the page: its text, and its e-mail's delivery state (None: not e-mailed, and why)."""

    stage: str
    text: str
    emailed: outbox.MessageState | None
    not_emailed: str | None

    def delivery(self) -> str:
        if self.emailed is None:
            return f"Not e-mailed ({self.not_emailed}); the reminder is recorded as sent by other means."
        return self.emailed.sentence() + (f" {self.not_emailed}" if self.not_emailed else "")


@requires("collections.act")
def email_reminder(actor: Actor, *, customer_id: str, as_of: date) -> SentReminder:
    """send_reminder, and its e-mail delivered at once: sent, written to the outbox folder, or queued for a retry
    with the server's reply."""
    with transaction() as session:
        queued = reminders.one_reminder(session, actor, customer_id, as_of=as_of)
    reminder = queued.reminder
    if queued.message_id is None:
        return SentReminder(reminder.stage, reminder.text, None, reminder.skipped)
    try:
        return SentReminder(reminder.stage, reminder.text, outbox.deliver_one(queued.message_id), None)
    except InvalidSetting as problem:
        return SentReminder(reminder.stage, reminder.text, outbox.state(queued.message_id), str(problem))


@dataclass(frozen=True)
class SentAll:
    """What "send all due" did: reminders queued, customers skipped (and why), and the outbox's delivery."""

    queued: int
    skipped: tuple[str, ...]
    delivery: outbox.Delivery | None
    problem: str | None

    @property
    def all_delivered(self) -> bool:
        """Nothing failed or waits for a retry (customers skipped aside)."""
        done = self.delivery
        return self.problem is None and done is not None and not done.failed and not done.retrying

    def sentence(self) -> str:
        said = [f"{self.queued} reminder{'' if self.queued == 1 else 's'} queued."]
        if self.delivery is not None:
            said.append("Outbox: " + self.delivery.sentence())
        if self.problem:
            said.append(f"Nothing was delivered: {self.problem}")
        if self.skipped:
            said.append(f"Not e-mailed: {'; '.join(self.skipped)}.")
        return " ".join(said)


@requires("collections.act")
def send_all_due(
    actor: Actor, *, as_of: date, progress: Callable[[str, int, int], None] | None = None
) -> SentAll:
    """Every reminder and final notice due at as_of e-mailed: queued a customer at a time (each with its
    activity, audit event and stored state, at most once per stage), then the outbox delivered; customers
    without a usable address are skipped and named. `progress` hears (what, done, total)."""
    with read_session() as session:
        ids = reminders.due_customer_ids(session, as_of)
    queued, skipped = 0, []
    for number, customer_pk in enumerate(ids, start=1):
        with transaction() as session:
            customer = session.get_one(Customer, customer_pk)
            result = reminders.remind(session, actor, customer, as_of=as_of, due_only=True, unsent_too=False)
        if result is not None and result.outcome == "queued":
            queued += 1
        elif result is not None and result.outcome == "skipped":
            skipped.append(f"{result.reminder.customer_name}: {result.reminder.skipped}")
        if progress:
            progress("Queuing reminders", number, len(ids))
    try:
        delivery = outbox.deliver_due(
            progress=(lambda done, total: progress("Sending", done, total)) if progress else None
        )
    except InvalidSetting as problem:
        return SentAll(queued, tuple(skipped), None, str(problem))
    return SentAll(queued, tuple(skipped), delivery, None)


@requires("collections.act")
def record_promise(
    actor: Actor, *, customer_id: str, amount: Decimal, promised_for: date, today: date | None = None
) -> int:
    """A promise to pay: a positive amount, no more than the customer's open balance, by a date not yet past."""
    cents = to_cents(amount)
    day = today or clock.today()
    if cents <= 0:
        raise InvalidAction("A promise to pay must be for a positive amount.")
    if promised_for < day:
        raise InvalidAction(f"The promised date {iso_day(promised_for)} is in the past; promises look ahead.")
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        _within_open_balance(session, customer, cents, "The promise")
        activity = _record(
            session,
            actor,
            customer,
            kind=ActivityKind.PROMISE_TO_PAY,
            promised_amount_cents=cents,
            promised_for=promised_for,
        )
        promise = PromiseRecorded(
            activity_id=activity.id, promised_amount=from_cents(cents), promised_for=promised_for
        )
        _audit(session, actor, customer, promise)
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="promise to pay")
        return activity.id


@requires("collections.act")
def set_up_payment_plan(
    actor: Actor,
    *,
    customer_id: str,
    installments: list[tuple[date, Decimal]],
    notes: str = "",
    today: date | None = None,
) -> int:
    """Installments with positive amounts on increasing dates from today on, adding up to no more than is open."""
    day = today or clock.today()
    if not installments:
        raise InvalidAction("A payment plan needs at least one installment.")
    cents = [to_cents(amount) for _, amount in installments]
    dates = [due for due, _ in installments]
    if any(c <= 0 for c in cents):
        raise InvalidAction("Every installment must be a positive amount.")
    if dates[0] < day:
        raise InvalidAction(f"The first installment, on {iso_day(dates[0])}, is in the past.")
    if any(later <= earlier for earlier, later in pairwise(dates)):
        raise InvalidAction("Each installment must fall due after the one before it.")
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        _within_open_balance(session, customer, sum(cents), "The payment plan")
        plan = tuple(
            Installment(due_on=due, amount=from_cents(c)) for due, c in zip(dates, cents, strict=True)
        )
        total = from_cents(sum(cents))
        text = notes.strip() or None
        terms = [{"due_on": i.due_on.isoformat(), "amount": str(i.amount)} for i in plan]
        activity = _record(
            session,
            actor,
            customer,
            kind=ActivityKind.PAYMENT_PLAN,
            notes=text,
            details={"installments": terms, "total": str(total)},
        )
        event = PaymentPlanSetUp(activity_id=activity.id, notes=text, installments=plan, total=total)
        _audit(session, actor, customer, event)
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="payment plan")
        return activity.id


@requires("collections.act")
def open_dispute(actor: Actor, *, invoice_number: str, reason: str) -> int:
    """Mark an open invoice disputed, with the customer's reason; an invoice is disputed once at a time."""
    text = _required(reason, "Say why the customer disputes the invoice.")
    with transaction() as session:
        invoice = ledger.invoice_by_number(session, invoice_number, for_update=True)
        if invoice.disputed:
            raise InvalidAction(f"Invoice {invoice.number} is already disputed.")
        if invoice.open_cents <= 0:
            raise InvalidAction(f"Invoice {invoice.number} has nothing open, so there is nothing to dispute.")
        invoice.disputed = True
        customer = session.get_one(Customer, invoice.customer_id)
        activity = _record(
            session, actor, customer, kind=ActivityKind.DISPUTE_OPENED, notes=text, invoice=invoice
        )
        opened = DisputeOpened(activity_id=activity.id, notes=text, invoice_number=invoice.number)
        _audit(session, actor, customer, opened, invoice=invoice)
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="dispute opened")
        return activity.id


@requires("collections.act")
def resolve_dispute(actor: Actor, *, invoice_number: str, resolution: str) -> int:
    """Close the dispute on an invoice, saying how; the invoice counts on the clock again from its due date."""
    text = _required(resolution, "Say how the dispute was resolved.")
    with transaction() as session:
        invoice = ledger.invoice_by_number(session, invoice_number, for_update=True)
        if not invoice.disputed:
            raise InvalidAction(
                f"Invoice {invoice.number} is not disputed, so there is no dispute to resolve."
            )
        invoice.disputed = False
        customer = session.get_one(Customer, invoice.customer_id)
        activity = _record(
            session, actor, customer, kind=ActivityKind.DISPUTE_RESOLVED, notes=text, invoice=invoice
        )
        resolved = DisputeResolved(activity_id=activity.id, notes=text, invoice_number=invoice.number)
        _audit(session, actor, customer, resolved, invoice=invoice)
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="dispute resolved")
        return activity.id


@requires("collections.act")
def add_note(actor: Actor, *, customer_id: str, notes: str) -> int:
    """A note on the account; it must say something."""
    text = _required(notes, "A note cannot be empty.")
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        activity = _record(session, actor, customer, kind=ActivityKind.NOTE, notes=text)
        _audit(session, actor, customer, NoteAdded(activity_id=activity.id, notes=text))
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="note added")
        return activity.id


def _required(text: str, sentence: str) -> str:
    if not text or not text.strip():
        raise InvalidAction(sentence)
    return text.strip()


def _within_open_balance(session: Session, customer: Customer, cents: int, what: str) -> None:
    open_cents = session.scalar(
        select(func.coalesce(func.sum(Invoice.open_cents), 0)).where(
            Invoice.customer_id == customer.id,
            Invoice.currency == customer.currency,
            Invoice.open_cents > literal_column("0"),
        )
    )
    if cents > int(open_cents or 0):
        raise InvalidAction(
            f"{what} ({customer.currency} {from_cents(cents)}) is more than {customer.name}'s open balance "
            f"({customer.currency} {from_cents(open_cents)})."
        )


def _record(
    session: Session,
    actor: Actor,
    customer: Customer,
    *,
    kind: str,
    notes: str | None = None,
    invoice: Invoice | None = None,
    promised_amount_cents: int | None = None,
    promised_for: date | None = None,
    details: dict[str, Any] | None = None,
) -> CollectionsActivity:
    activity = CollectionsActivity(
        customer_id=customer.id,
        invoice_id=invoice.id if invoice else None,
        kind=str(kind),
        occurred_at=datetime.now(UTC),
        actor=actor.username,
        notes=notes,
        promised_amount_cents=promised_amount_cents,
        promised_for=promised_for,
        details=details,
    )
    session.add(activity)
    session.flush()
    return activity


def _audit(
    session: Session, actor: Actor, customer: Customer, event: Event, *, invoice: Invoice | None = None
) -> None:
    target = f"invoice:{invoice.number}" if invoice else f"customer:{customer.external_id}"
    record_event(session, actor, event, target=target)
