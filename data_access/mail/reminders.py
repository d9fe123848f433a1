"""Collections reminders by e-mail: one consolidated message per customer and stage, queued in the outbox in the
same transaction as the reminder_sent activity and its audit event.

A reminder is the message of the customer's stage (the policy's customer-facing text, filled in), the customer's
overdue invoices in their currency (number, due date, amount open, days past due) with the total the stage quotes,
any overdue invoice in dispute named apart, the partner's payment details, and the statement of account attached
(from the oldest invoice still open to the day of the reminder). Figures are the policy engine's, read from the
ledger (`ledger.open_at`). It goes to the customer's billing contact; a customer without a usable address is
skipped, and the preview says why.

Once: a reminder's outbox key is `reminder:{customer pk}:{stage}:{day the stage was entered}`, so a stage is
e-mailed at most once however often, and from however many servers at once, it is queued; a second attempt does
nothing and says so. The Message-ID is made from the key, so a retried delivery carries the same one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import formataddr
from typing import Literal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.actions.collections_run import refresh
from data_access.audit import ReminderSent, record_event
from data_access.db import read_session
from data_access.documents.statement import statement, statement_pdf
from data_access.enums import ActivityKind, StageAction
from data_access.errors import InvalidAction
from data_access.mail import outbox
from data_access.mail.smtp import email_address, mail_from
from data_access.models import CollectionsActivity, CollectionState, Customer, OutboxMessage
from data_access.money import day, from_cents, money
from data_access.permissions import Actor, require, requires
from data_access.queries import assessments
from data_access.queries.collections_state import is_current
from data_access.queries.partner import PartnerDetails, read_partner
from data_access.rules import policy

REMINDER_ACTIONS: frozenset[str] = frozenset({StageAction.REMINDER.value, StageAction.FINAL_NOTICE.value})
DEFAULT_SENDER = "billing-desk@localhost"
KIND = "reminder"
PREVIEW_COLUMNS = [
    "customer_id",
    "customer_name",
    "to",
    "stage",
    "currency",
    "total",
    "invoices",
    "sends",
    "why_not",
]

Outcome = Literal["queued", "recorded", "already queued", "skipped"]


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    due_date: date
    open: Decimal
    days_past_due: int


@dataclass(frozen=True)
class Reminder:
    """One customer's reminder for their current stage, as it is e-mailed; `skipped` says why it cannot be."""

    customer_pk: int
    customer_id: str
    customer_name: str
    to: str | None
    stage: str
    action: str
    stage_entered_on: date
    as_of: date
    currency: str
    invoices: tuple[InvoiceLine, ...]
    disputed: tuple[InvoiceLine, ...]
    total: Decimal
    message: str
    payment_details: str
    skipped: str | None

    @property
    def text(self) -> str:
        """What the reminder_sent activity records: the stage's message and the payment details."""
        return self.message + self.payment_details

    @property
    def key(self) -> str:
        return reminder_key(self.customer_pk, self.stage, self.stage_entered_on)


@dataclass(frozen=True)
class Queued:
    """What asking for one customer's reminder did: `queued` (e-mail in the outbox, activity recorded),
    `recorded` (no address: the activity recorded, nothing e-mailed), `skipped` (no address: nothing done, see
    `reminder.skipped`) or `already queued` (nothing done)."""

    reminder: Reminder
    outcome: Outcome
    message_id: int | None
    activity_id: int | None


def reminder_key(customer_pk: int, stage: str, entered_on: date) -> str:
    return f"reminder:{customer_pk}:{stage}:{entered_on.isoformat()}"


def payment_details(partner: PartnerDetails | None) -> str:
    """What a reminder ends with: how to pay the partner and whom to ask, signed with the partner's name (the
    partner profile); nothing before the profile is set."""
    if partner is None:
        return ""
    lines = ["", ""]
    if partner.remittance_lines:
        ending = "" if partner.name.endswith(".") else "."  # "Northwind Ltd." ends the sentence itself
        lines += [f"How to pay: by bank transfer to {partner.name}{ending}", *partner.remittance_lines]
    if partner.contact_line:
        lines.append(f"Questions: {partner.contact_line}")
    lines.append(partner.name)
    return "\n".join(lines)


def sender(partner: PartnerDetails | None) -> str:
    """The From header: BILLING_DESK_MAIL_FROM, else the partner profile's contact e-mail under the partner's
    name, else billing-desk@localhost."""
    configured = mail_from()
    if configured:
        return configured
    if partner is not None and (address := email_address(partner.contact_email)):
        return formataddr((partner.name, address))
    return DEFAULT_SENDER


def compose(
    customer: Customer,
    found: assessments.CustomerAccount,
    *,
    as_of: date,
    rules: policy.Policy,
    partner: PartnerDetails | None,
) -> Reminder | None:
    """The customer's reminder for the stage the engine puts them in at as_of under the policy (`rules`), signed
    with the partner's payment details; None when they are in no stage."""
    assessment = found.assessment
    stage, entered_on = assessment.stage, assessment.entered_stage_on
    if stage is None or entered_on is None:
        return None
    overdue = sorted(
        (i for i in found.account.invoices if i.open_cents > 0 and i.due_date < as_of),
        key=lambda i: (i.due_date, i.number),
    )
    lines = [_line(i, as_of) for i in overdue if not (rules.disputes_stop_clock and i.disputed)]
    disputed = [_line(i, as_of) for i in overdue if i.disputed and rules.disputes_stop_clock]
    context = policy.message_context(assessment, customer_name=customer.name, currency=customer.currency)
    to = email_address(customer.billing_contact_email)
    skipped = None
    if not customer.billing_contact_email:
        skipped = "no billing contact e-mail"
    elif to is None:
        skipped = f"the billing contact e-mail {customer.billing_contact_email!r} is not an address"
    return Reminder(
        customer_pk=customer.id,
        customer_id=customer.external_id,
        customer_name=customer.name,
        to=to,
        stage=stage.name,
        action=stage.action,
        stage_entered_on=entered_on,
        as_of=as_of,
        currency=customer.currency,
        invoices=tuple(lines),
        disputed=tuple(disputed),
        total=sum((line.open for line in lines), Decimal("0.00")),
        message=policy.render_message(stage, context),
        payment_details=payment_details(partner),
        skipped=skipped,
    )


def _line(invoice: policy.OpenInvoice, as_of: date) -> InvoiceLine:
    return InvoiceLine(
        number=invoice.number,
        due_date=invoice.due_date,
        open=from_cents(invoice.open_cents),
        days_past_due=(as_of - invoice.due_date).days,
    )


def subject(reminder: Reminder, partner: PartnerDetails | None) -> str:
    owed = money(reminder.total, reminder.currency)
    whose = f"your account with {partner.name}" if partner else f"account {reminder.customer_id}"
    return f"{reminder.stage}: {owed} overdue on {whose}"[:300]


def body(reminder: Reminder, period: tuple[date, date]) -> str:
    """The e-mail's text: the stage's message, the overdue invoices and their total, disputes apart, the
    statement attached, then the payment details."""
    width = max([len("Invoice"), *(len(line.number) for line in reminder.invoices)])
    table = [
        f"Overdue invoices ({reminder.currency}):",
        f"{'Invoice':<{width}}  {'Due date':<10}  {'Days past due':>13}  {'Amount open':>16}",
        *(
            f"{line.number:<{width}}  {day(line.due_date):<10}  {line.days_past_due:>13}  {money(line.open):>16}"
            for line in reminder.invoices
        ),
        f"Total overdue: {money(reminder.total, reminder.currency)}",
    ]
    parts = [reminder.message.rstrip(), "\n".join(table)]
    if reminder.disputed:
        named = ", ".join(
            f"{line.number} ({money(line.open, reminder.currency)})" for line in reminder.disputed
        )
        parts.append(f"In dispute, so not in the total above until the dispute is settled: {named}.")
    parts.append(f"Your statement of account from {day(period[0])} to {day(period[1])} is attached.")
    return "\n\n".join(parts) + reminder.payment_details + "\n"


def _period(session: Session, customer: Customer, as_of: date) -> tuple[date, date]:
    """From the issue date of the oldest invoice open at as_of (every open invoice is a line of the statement)
    to as_of; the first of the month when nothing is open."""
    chosen = select(Customer.id).where(Customer.id == customer.id)
    rows = ledger.open_at(as_of, customer_ids=chosen).subquery("open_at")
    oldest = session.scalar(select(func.min(rows.c.issue_date)))
    return (min(oldest, as_of) if oldest else as_of.replace(day=1)), as_of


def _attachment(actor: Actor, customer: Customer, period: tuple[date, date]) -> tuple[str, bytes]:
    document = statement(actor, customer_id=customer.external_id, start=period[0], end=period[1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"statement-{customer.external_id}-{period[1].isoformat()}.pdf")
    return name, statement_pdf(document)


def queued_already(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))


def remind(
    session: Session, actor: Actor, customer: Customer, *, as_of: date, due_only: bool, unsent_too: bool
) -> Queued | None:
    """Queue the customer's reminder for their current stage (None: no stage, or, with due_only, no reminder or
    final notice due now), with its activity and audit event and the customer's stored state refreshed, all in
    the caller's transaction. Without an address, `unsent_too` records the reminder anyway (a reminder sent by
    other means); otherwise it is skipped and nothing is written."""
    require(actor, "collections.act")
    found = assessments.assess_customers(session, [customer], as_of)[0]
    if due_only and found.assessment.due_now not in REMINDER_ACTIONS:
        return None
    partner = read_partner(session)
    reminder = compose(customer, found, as_of=as_of, rules=assessments.load_policy(session), partner=partner)
    if reminder is None:
        return None
    if reminder.to is None:
        if not unsent_too:
            return Queued(reminder, "skipped", None, None)
        activity = _record(session, actor, customer, reminder, emailed_to=None)
        return Queued(reminder, "recorded", None, activity)
    if queued_already(session, reminder.key) is not None:
        return Queued(reminder, "already queued", None, None)
    period = _period(session, customer, as_of)
    attachment_name, attachment = _attachment(actor, customer, period)
    message_id = outbox.queue(
        session,
        key=reminder.key,
        kind=KIND,
        sender=sender(partner),
        to=formataddr((customer.billing_contact_name or "", reminder.to)),
        subject=subject(reminder, partner),
        body=body(reminder, period),
        created_by=actor.username,
        attachment=outbox.Attachment(attachment_name, "application/pdf", attachment),
        customer_id=customer.id,
        stage=reminder.stage,
        stage_entered_on=reminder.stage_entered_on,
    )
    if message_id is None:  # queued a moment ago by another server: only the writer records the activity
        return Queued(reminder, "already queued", None, None)
    activity = _record(session, actor, customer, reminder, emailed_to=reminder.to)
    message = session.get_one(OutboxMessage, message_id)
    message.activity_id = activity
    return Queued(reminder, "queued", message_id, activity)


def _record(
    session: Session, actor: Actor, customer: Customer, reminder: Reminder, *, emailed_to: str | None
) -> int:
    activity = CollectionsActivity(
        customer_id=customer.id,
        kind=ActivityKind.REMINDER_SENT.value,
        occurred_at=datetime.now(UTC),
        actor=actor.username,
        details={"stage": reminder.stage, "text": reminder.text},
    )
    session.add(activity)
    session.flush()
    notes = f"E-mailed to {emailed_to} ({reminder.key})" if emailed_to else None
    event = ReminderSent(activity_id=activity.id, notes=notes, stage=reminder.stage, text=reminder.text)
    record_event(session, actor, event, target=f"customer:{customer.external_id}")
    refresh(session, [customer.id], as_of=reminder.as_of, because="reminder sent")
    return activity.id


def queue_reminder(
    session: Session, actor: Actor, customer: Customer, *, as_of: date
) -> OutboxMessage | None:
    """The customer's reminder or final notice queued when one is due now, with its activity, audit event and
    refreshed state, in the caller's transaction; None when none is due, the customer has no address, or the
    stage's reminder was queued already."""
    queued = remind(session, actor, customer, as_of=as_of, due_only=True, unsent_too=False)
    if queued is None or queued.message_id is None:
        return None
    return session.get_one(OutboxMessage, queued.message_id)


def due_customer_ids(session: Session, as_of: date) -> list[int]:
    """Customers a reminder or final notice is due for at as_of: from the stored collections state when it is
    current for that day, else assessed now (a past date, or a state not yet brought up to date)."""
    stored = _stored_due_ids(session, as_of)
    if stored is not None:
        return stored
    return [
        found.account.customer_id
        for found in assessments.assess_overdue(session, as_of)
        if found.assessment.due_now in REMINDER_ACTIONS
    ]


def _stored_due_ids(session: Session, as_of: date) -> list[int] | None:
    if not is_current(session, as_of):
        return None
    return list(
        session.scalars(
            select(CollectionState.customer_id)
            .where(CollectionState.due_now.in_(sorted(REMINDER_ACTIONS)))
            .order_by(CollectionState.customer_id)
        )
    )


def queue_due_reminders(session: Session, actor: Actor, *, as_of: date) -> int:
    """Every reminder and final notice due at as_of queued (one message per customer and stage, at most once),
    each with its activity, audit event and refreshed state, in the caller's transaction; returns how many were
    queued now. Customers without a usable address are left due (the preview says why)."""
    require(actor, "collections.act")
    queued = 0
    for customer in _customers(session, due_customer_ids(session, as_of)):
        if queue_reminder(session, actor, customer, as_of=as_of) is not None:
            queued += 1
    return queued


def _customers(session: Session, ids: Sequence[int]) -> Iterable[Customer]:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        yield from session.scalars(
            select(Customer).where(Customer.id.in_(chunk)).order_by(Customer.external_id)
        )


@requires("collections.view")
def reminders_due(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """Who gets what if every due reminder is sent now: one row per customer a reminder or final notice is due
    for, with the address, stage, total overdue and number of invoices, or why no e-mail goes (no address,
    queued already for this stage)."""
    with read_session() as session:
        ids = due_customer_ids(session, as_of)
        customers = list(_customers(session, ids))
        rules, partner = assessments.load_policy(session), read_partner(session)
        due = [
            reminder
            for customer, found in zip(
                customers, assessments.assess_customers(session, customers, as_of), strict=True
            )
            if found.assessment.due_now in REMINDER_ACTIONS
            and (reminder := compose(customer, found, as_of=as_of, rules=rules, partner=partner)) is not None
        ]
        queued = _queued(session, [reminder.key for reminder in due])
    rows = []
    for reminder in due:
        why_not = reminder.skipped
        if why_not is None and reminder.key in queued:
            status, created_at = queued[reminder.key]
            why_not = f"e-mailed already for this stage ({status}, {day(created_at)})"
        rows.append(
            {
                "customer_id": reminder.customer_id,
                "customer_name": reminder.customer_name,
                "to": reminder.to,
                "stage": reminder.stage,
                "currency": reminder.currency,
                "total": reminder.total,
                "invoices": len(reminder.invoices),
                "sends": why_not is None,
                "why_not": why_not,
            }
        )
    frame = pd.DataFrame(rows, columns=PREVIEW_COLUMNS)
    return frame.sort_values(["sends", "customer_name"], ascending=[False, True], ignore_index=True)


def _queued(session: Session, keys: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    """Of these outbox keys, those queued already: each with its message's status and when it was queued."""
    found: dict[str, tuple[str, datetime]] = {}
    for start in range(0, len(keys), 500):
        query = select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.created_at).where(
            OutboxMessage.key.in_(keys[start : start + 500])
        )
        found.update({key: (status, created_at) for key, status, created_at in session.execute(query)})
    return found


def one_reminder(session: Session, actor: Actor, customer_id: str, *, as_of: date) -> Queued:
    """A billing admin's reminder for one customer, whatever their stage asks: queued for e-mail, or recorded
    without one when there is no address; refused when there is no stage or it was e-mailed for this stage."""
    customer = ledger.customer_by_external_id(session, customer_id)
    queued = remind(session, actor, customer, as_of=as_of, due_only=False, unsent_too=True)
    if queued is None:
        raise InvalidAction(
            f"{customer.name} is in no collections stage on {day(as_of)}, so there is no reminder to send."
        )
    if queued.outcome == "already queued":
        already = queued_already(session, queued.reminder.key)
        when = f" on {day(already.created_at)}" if already else ""
        raise InvalidAction(
            f"The {queued.reminder.stage} reminder was e-mailed to {customer.name}{when} already; a stage's "
            "reminder is e-mailed once (retry it under messages not delivered if it did not arrive)."
        )
    return queued
