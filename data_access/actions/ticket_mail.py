"""Support by e-mail: what a customer's message does (`take`, and `fetch_mail`, which takes every unread message of
the support mailbox), and an agent's reply (`reply`, `send_reply`).

A message is taken once: its Message-ID (or, without one, an id made from its content) is written to received_mail
under a unique key in the same transaction as what it does, so a second fetch, a copy delivered twice or two
fetches at once create nothing twice; the mailbox marks it read only after that commit. What it does:

- It answers a ticket when its In-Reply-To or References name a message of that ticket, or else its subject names
  the ticket's reference (`[TCK-000123]`), and its sender has a part in the ticket (wrote or was sent one of its
  messages, is the customer's billing contact, or writes from the customer's domain). It is added to that ticket
  as the customer's reply; a ticket pending the customer, or resolved, is open again (an automatic reply, such as
  an out-of-office, changes nothing). A reply to a closed ticket opens a new one that names it.
- Otherwise it becomes a ticket: channel email, category other, severity minimal, title the subject, description
  the text. The customer is the one whose billing contact is the sender's address, else the one whose domain is
  the sender's domain; none, or more than one: a ticket without a customer, for triage ("Unknown sender").
- A message the desk sent itself, or one that cannot be stored, is refused: recorded with the reason, audited, and
  flagged in the mailbox for a person to look at. Nothing blocks the mailbox.

Attachments are kept with the message: their content in the database, or, with BILLING_DESK_ATTACHMENTS_DIR set,
in that folder under their SHA-256 (written before the commit; a file the commit did not keep is harmless).

An agent's reply is queued in the outbox (kind ticket_reply, key unique per reply) in the same transaction as its
place in the conversation and its audit event; its subject carries the ticket's reference. The first reply is the
ticket's first response; a new ticket becomes open.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.actions.tickets import _next_external_id, _ticket
from data_access.audit import (
    AgentReplyQueued,
    CustomerReplyAdded,
    MailRefused,
    TicketCreatedFromEmail,
    TicketCustomerSet,
    record_event,
)
from data_access.checks import clean_text
from data_access.config import InvalidSetting, settings
from data_access.db import DatabaseRefused, transaction
from data_access.enums import Severity, TicketCategory, TicketStatus
from data_access.errors import InvalidAction
from data_access.mail import inbox, outbox
from data_access.mail.inbox import Attachment, Fetched, Incoming, Outcome
from data_access.mail.reminders import sender as desk_sender
from data_access.mail.smtp import mail_from
from data_access.models import (
    Customer,
    OutboxMessage,
    ReceivedMail,
    Ticket,
    TicketAttachment,
    TicketMessage,
)
from data_access.permissions import Actor, requires
from data_access.queries.partner import read_partner
from data_access.queries.ticket_messages import (
    addresses,
    desk_address,
    last_incoming,
    reference,
    reply_address,
)
from data_access.queries.tickets import _aware

KIND = "ticket_reply"
CATEGORY = TicketCategory.OTHER.value
SEVERITY = Severity.MINIMAL.value
MAX_REPLY = 20_000
QUOTED_LINES = 40
ATTEMPTS = 3
"""Tries at storing a message whose ticket number another ticket took at the same moment, before refusing it."""
_REFERENCE = re.compile(r"\[([A-Za-z0-9][A-Za-z0-9._-]{0,63})\]")
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@requires("ticket.create")
def fetch_mail(actor: Actor, *, limit: int | None = None) -> Fetched:
    """Every unread message of the support mailbox (BILLING_DESK_IMAP_URL) taken, oldest first, and marked read
    once stored; InvalidSetting or MailboxError (sentences) when the mailbox, or a setting the fetch needs, cannot
    be used: then the message in hand and the rest stay unread."""
    mail_from()  # a bad BILLING_DESK_MAIL_FROM is refused before any message is touched
    return inbox.fetch_new(lambda incoming: take(actor, incoming), limit=limit)


@requires("ticket.create")
def take(actor: Actor, incoming: Incoming) -> Outcome:
    """The message stored as a new ticket or a reply on one, or refused with its reason; "duplicate" when its
    Message-ID was taken before. Database trouble or a setting that cannot be used (not a fault of this message)
    is raised: nothing was written and the message stays unread."""
    problem = "it could not be stored"
    for _ in range(ATTEMPTS):
        try:
            return _take(actor, incoming)
        except DatabaseRefused as refused:  # e.g. a ticket number taken at the same moment: try again
            problem = str(refused)
        except (SQLAlchemyError, InvalidSetting):
            raise
        except Exception as error:  # whatever this one message trips on must not hold up the mailbox
            problem = f"it could not be stored ({type(error).__name__}: {error})"
            break
    return _refuse(actor, incoming, problem)


def _take(actor: Actor, incoming: Incoming) -> Outcome:
    now = datetime.now(UTC)
    with transaction() as session:
        if _taken(session, incoming.message_id):
            return "duplicate"
        own = _own_message(session, incoming)
        if own is not None:
            return _refused_here(session, actor, incoming, own)
        if not _claim(session, incoming, now):
            return "duplicate"  # another fetch took it a moment ago
        answered, note = _answered(session, incoming)
        if answered is not None and answered.status == TicketStatus.CLOSED.value and not incoming.automatic:
            note = f"It answers {answered.external_id}, which is closed, so it opened this ticket."
            answered = None
        if answered is None:
            ticket = _new_ticket(session, actor, incoming, now)
            outcome: Outcome = "ticket"
        else:
            ticket = answered
            outcome = "reply"
        message = _keep(session, ticket, incoming, now, note)
        session.execute(
            update(ReceivedMail)
            .where(ReceivedMail.message_id == incoming.message_id)
            .values(outcome=outcome, ticket_id=ticket.id)
        )
        if outcome == "reply":
            _reopen_for(session, actor, ticket, incoming, message)
        return outcome


def _taken(session: Session, message_id: str) -> bool:
    return (
        session.scalar(select(ReceivedMail.id).where(ReceivedMail.message_id == message_id)) is not None
        or session.scalar(select(TicketMessage.id).where(TicketMessage.message_id == message_id)) is not None
    )


def _claim(
    session: Session, incoming: Incoming, now: datetime, *, outcome: str = "ticket", reason: str | None = None
) -> bool:
    """The Message-ID taken for this transaction; False when another has it (on PostgreSQL the insert waits for
    that one's commit, then does nothing)."""
    row = {
        "message_id": incoming.message_id, "taken_at": now, "outcome": outcome,
        "sender": (incoming.from_header or incoming.sender or "")[:500] or None,
        "subject": incoming.subject[:300], "reason": reason,
    }  # fmt: skip
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = session.scalar(
        insert(ReceivedMail).values(**row).on_conflict_do_nothing().returning(ReceivedMail.id)
    )
    return added is not None


def _own_message(session: Session, incoming: Incoming) -> str | None:
    """Why the message is the desk's own (a copy of what it sent, or mail from its own address), else None."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == incoming.message_id)):
        return "it is a copy of an e-mail this desk sent"
    own = next(iter(addresses(desk_sender(read_partner(session)))), None)
    if incoming.sender is not None and incoming.sender == own:
        return f"it comes from this desk's own address ({own}), and answering it could start a loop"
    return None


def _refused_here(session: Session, actor: Actor, incoming: Incoming, reason: str) -> Outcome:
    if not _claim(session, incoming, datetime.now(UTC), outcome="refused", reason=reason):
        return "duplicate"
    event = MailRefused(
        message_id=incoming.message_id, sender=incoming.sender, subject=incoming.subject, reason=reason
    )
    record_event(session, actor, event, target=f"mail:{incoming.message_id}")
    return "refused"


def _refuse(actor: Actor, incoming: Incoming, problem: str) -> Outcome:
    """Record the refusal in a transaction of its own (what failed left nothing behind)."""
    with transaction() as session:
        if _taken(session, incoming.message_id):
            return "duplicate"
        return _refused_here(session, actor, incoming, problem[:2000])


def _answered(session: Session, incoming: Incoming) -> tuple[Ticket | None, str | None]:
    """The ticket the message answers, and a note when it names one its sender has no part in."""
    threads = incoming.threads()
    if threads:
        rows = session.execute(
            select(TicketMessage.message_id, TicketMessage.ticket_id).where(
                TicketMessage.message_id.in_(threads)
            )
        )
        found = {message_id: ticket_id for message_id, ticket_id in rows}
        for message_id in threads:
            if message_id in found:
                ticket = session.get_one(Ticket, found[message_id])
                if _takes_part(session, ticket, incoming):
                    return ticket, None
    named = list(dict.fromkeys(_REFERENCE.findall(incoming.subject)))
    if not named:
        return None, None
    tickets = {t.external_id: t for t in session.scalars(select(Ticket).where(Ticket.external_id.in_(named)))}
    for external_id in named:
        if external_id in tickets:
            ticket = tickets[external_id]
            if _takes_part(session, ticket, incoming):
                return ticket, None
            return None, (
                f"Its subject names {external_id}, but its sender has no part in that ticket, so it opened this "
                "ticket instead."
            )
    return None, None


def _takes_part(session: Session, ticket: Ticket, incoming: Incoming) -> bool:
    """The sender wrote or was sent one of the ticket's e-mails, or is its customer's contact or domain."""
    if incoming.sender is None:
        return False
    rows = session.execute(
        select(TicketMessage.sender, TicketMessage.reply_to, TicketMessage.recipients).where(
            TicketMessage.ticket_id == ticket.id
        )
    )
    for sender, reply_to, recipients in rows:
        if incoming.sender in addresses(f"{sender or ''}, {reply_to or ''}, {recipients}"):
            return True
    if ticket.customer_id is None:
        return False
    customer = session.get_one(Customer, ticket.customer_id)
    contact = (customer.billing_contact_email or "").strip().lower()
    domain = (customer.domain or "").strip().lower()
    return incoming.sender == contact or (bool(domain) and incoming.sender_domain == domain)


def _customer(session: Session, incoming: Incoming) -> tuple[Customer | None, str]:
    """The sender's customer, and how it was found: by billing contact address, else by domain."""
    if incoming.sender is None:
        return None, "no sender"
    by_address = list(
        session.scalars(
            select(Customer)
            .where(func.lower(func.trim(Customer.billing_contact_email)) == incoming.sender)
            .order_by(Customer.id)
            .limit(2)
        )
    )
    if len(by_address) == 1:
        return by_address[0], "billing contact address"
    by_domain = list(
        session.scalars(
            select(Customer)
            .where(func.lower(Customer.domain) == incoming.sender_domain)
            .order_by(Customer.id)
            .limit(2)
        )
    )
    if len(by_domain) == 1 and (not by_address or by_domain[0] in by_address):
        return by_domain[0], "domain"
    if by_address or by_domain:
        return None, "more than one customer"
    return None, "unknown sender"


def _new_ticket(session: Session, actor: Actor, incoming: Incoming, now: datetime) -> Ticket:
    customer, matched_by = _customer(session, incoming)
    subject = " ".join(incoming.subject.split())
    title = subject or f"E-mail from {incoming.sender or 'an unknown sender'} without a subject"
    ticket = Ticket(
        external_id=_next_external_id(session),
        customer_id=customer.id if customer else None,
        title=title[:300],
        description=incoming.text.strip() or None,
        category=CATEGORY,
        severity=SEVERITY,
        status=TicketStatus.NEW.value,
        channel="email",
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    created = TicketCreatedFromEmail(
        customer_id=customer.external_id if customer else None,
        matched_by=matched_by,
        title=ticket.title,
        sender=incoming.sender,
        message_id=incoming.message_id,
        attachments=len(incoming.attachments),
        created_at=now,
    )
    record_event(session, actor, created, target=f"ticket:{ticket.external_id}")
    return ticket


def _keep(
    session: Session, ticket: Ticket, incoming: Incoming, now: datetime, note: str | None
) -> TicketMessage:
    notes = [*incoming.notes, *([note] if note else [])]
    message = TicketMessage(
        ticket_id=ticket.id,
        direction="in",
        message_id=incoming.message_id,
        in_reply_to=incoming.in_reply_to,
        reference_ids=" ".join(incoming.references) or None,
        sender=(incoming.from_header or incoming.sender or "")[:500] or None,
        reply_to=incoming.reply_to,
        recipients=incoming.recipients,
        subject=incoming.subject[:300],
        body=incoming.text.strip(),
        notes="\n".join(notes) or None,
        dated_at=incoming.dated_at,
        recorded_at=now,
    )
    session.add(message)
    session.flush()
    folder = settings().attachments_dir
    for attachment in incoming.attachments:
        session.add(_attachment(message.id, attachment, folder))
    return message


def _attachment(message_id: int, attachment: Attachment, folder: Path | None) -> TicketAttachment:
    digest = hashlib.sha256(attachment.data).hexdigest()
    row = TicketAttachment(
        ticket_message_id=message_id,
        file_name=attachment.name[:255],
        content_type=attachment.content_type[:100],
        size_bytes=len(attachment.data),
        sha256=digest,
    )
    if folder is None:
        row.content = attachment.data
        return row
    relative = f"{digest[:2]}/{digest}"
    target = folder / relative
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{digest}.{os.getpid()}.partial")
            partial.write_bytes(attachment.data)
            partial.replace(target)
    except OSError as error:
        raise InvalidSetting(
            f"BILLING_DESK_ATTACHMENTS_DIR is {str(folder)!r}, where attachments cannot be written "
            f"({error.strerror or error}); make it a folder the app may write to."
        ) from None
    row.path = relative
    return row


def _reopen_for(
    session: Session, actor: Actor, ticket: Ticket, incoming: Incoming, message: TicketMessage
) -> None:
    before = ticket.status
    if not incoming.automatic and before in (
        TicketStatus.PENDING_CUSTOMER.value,
        TicketStatus.RESOLVED.value,
    ):
        ticket.status = TicketStatus.OPEN.value
        ticket.resolved_at = None
    added = CustomerReplyAdded(
        sender=incoming.sender,
        message_id=message.message_id,
        attachments=len(incoming.attachments),
        status_before=before,
        status_after=ticket.status,
    )
    record_event(session, actor, added, target=f"ticket:{ticket.external_id}")


# An agent's reply


@dataclass(frozen=True)
class Replied:
    ticket_message_id: int
    outbox_message_id: int
    to: str
    subject: str


@dataclass(frozen=True)
class SentReply:
    """A reply queued, and where its delivery stands (or why it could not be tried: a bad SMTP setting)."""

    replied: Replied
    state: outbox.MessageState
    problem: str | None

    def sentence(self) -> str:
        said = self.state.sentence()
        return f"{said} {self.problem}" if self.problem else said


@requires("ticket.update")
def reply(
    actor: Actor,
    *,
    ticket_id: str,
    text: str,
    pending_customer: bool = False,
    submission: str | None = None,
    now: datetime | None = None,
) -> Replied:
    """The agent's reply queued for the customer (once per `submission`, the form's token), with the ticket's
    reference in its subject; the first reply is the ticket's first response; with `pending_customer` the ticket
    then waits for the customer."""
    body = clean_text(text, "The reply", MAX_REPLY, multiline=True)
    if body is None:
        raise InvalidAction("Write the reply before sending it.")
    at = _aware(now)
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.status == TicketStatus.CLOSED.value:
            raise InvalidAction(f"Ticket {ticket_id} is closed; reopen it before replying.")
        to = reply_address(session, ticket)
        if to is None:
            raise InvalidAction(
                f"Ticket {ticket_id} has no e-mail address to reply to: no e-mail came in on it and "
                + (
                    "its customer has no billing contact e-mail."
                    if ticket.customer_id
                    else "it has no customer."
                )
            )
        latest = last_incoming(session, ticket)
        sender = desk_sender(read_partner(session))
        subject = _subject(ticket, latest)
        key = f"ticket-reply:{ticket.id}:{submission or uuid.uuid4().hex}"
        headers = _headers(session, ticket, latest)
        queued = outbox.queue(
            session,
            key=key,
            kind=KIND,
            sender=sender,
            to=to,
            subject=subject,
            body=body + _quote(latest),
            created_by=actor.username,
            customer_id=ticket.customer_id,
            ticket_id=ticket.id,
            headers=headers,
        )
        if queued is None:
            raise InvalidAction(f"This reply on ticket {ticket_id} was sent already.")
        message = TicketMessage(
            ticket_id=ticket.id,
            direction="out",
            message_id=outbox.message_id_for(key, sender),
            in_reply_to=headers.get("In-Reply-To"),
            reference_ids=headers.get("References"),
            sender=sender[:500],
            reply_to=headers.get("Reply-To"),
            recipients=to,
            subject=subject[:300],
            body=body,
            recorded_at=at,
            author=actor.username,
            outbox_message_id=queued,
        )
        session.add(message)
        session.flush()
        before = ticket.status
        first = None
        if ticket.first_response_at is None:
            first = ticket.first_response_at = max(at, ticket.created_at)
        if ticket.status == TicketStatus.NEW.value:
            ticket.status = TicketStatus.OPEN.value
        if pending_customer and ticket.status in (TicketStatus.OPEN.value, TicketStatus.ESCALATED.value):
            ticket.status = TicketStatus.PENDING_CUSTOMER.value
        event = AgentReplyQueued(
            outbox_message=queued,
            to=to,
            subject=subject,
            first_response_at=first,
            status_before=before,
            status_after=ticket.status,
        )
        record_event(session, actor, event, target=f"ticket:{ticket.external_id}")
        return Replied(message.id, queued, to, subject)


@requires("ticket.update")
def send_reply(
    actor: Actor, *, ticket_id: str, text: str, pending_customer: bool = False, submission: str | None = None
) -> SentReply:
    """`reply`, then its delivery tried at once (sent, written to the outbox folder, or queued for a retry)."""
    replied = reply(
        actor, ticket_id=ticket_id, text=text, pending_customer=pending_customer, submission=submission
    )
    try:
        return SentReply(replied, outbox.deliver_one(replied.outbox_message_id), None)
    except InvalidSetting as problem:
        return SentReply(replied, outbox.state(replied.outbox_message_id), str(problem))


def _subject(ticket: Ticket, latest: TicketMessage | None) -> str:
    """ "Re: <what the customer wrote> [TCK-000123]", the reference at the end where no mail program cuts it."""
    topic = _REPLY_PREFIX.sub("", latest.subject if latest is not None and latest.subject else ticket.title)
    topic = " ".join(topic.replace(reference(ticket.external_id), " ").split()) or ticket.title
    suffix = f" {reference(ticket.external_id)}"
    lead = "Re: " if latest is not None else ""
    return lead + topic[: 300 - len(lead) - len(suffix)] + suffix


def _headers(session: Session, ticket: Ticket, latest: TicketMessage | None) -> dict[str, str]:
    """A person wrote it (Auto-Submitted: no); it answers the customer's latest e-mail (In-Reply-To, References);
    answers come back to the address the customer wrote to (Reply-To)."""
    headers = {"Auto-Submitted": "no"}
    if latest is not None:
        chain = [*(latest.reference_ids or "").split(), latest.message_id][-20:]
        headers["In-Reply-To"] = latest.message_id
        headers["References"] = " ".join(dict.fromkeys(chain))
    desk = desk_address(session, ticket)
    if desk is not None:
        headers["Reply-To"] = desk
    return headers


def _quote(latest: TicketMessage | None) -> str:
    if latest is None or not latest.body.strip():
        return ""
    lines = latest.body.strip().split("\n")
    quoted = [f"> {line}".rstrip() for line in lines[:QUOTED_LINES]]
    if len(lines) > QUOTED_LINES:
        quoted.append("> [...]")
    when = latest.dated_at or latest.recorded_at
    return f"\n\nOn {when:%Y-%m-%d %H:%M} UTC, {latest.sender or 'the customer'} wrote:\n" + "\n".join(quoted)


# Triage


@requires("ticket.update")
def set_customer(actor: Actor, *, ticket_id: str, customer_id: str) -> None:
    """Give a ticket from an unknown sender its customer (a ticket that has one keeps it)."""
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        customer = ledger.customer_by_external_id(session, customer_id.strip())
        if ticket.customer_id is not None:
            current = session.get_one(Customer, ticket.customer_id)
            raise InvalidAction(
                f"Ticket {ticket_id} is already the ticket of {current.name} ({current.external_id})."
            )
        ticket.customer_id = customer.id
        event = TicketCustomerSet(customer_id=customer.external_id)
        record_event(session, actor, event, target=f"ticket:{ticket.external_id}")
