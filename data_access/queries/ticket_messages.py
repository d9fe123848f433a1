"""A ticket's e-mail conversation: the customer's messages and the agents' replies in the order the desk took them
in or wrote them, each reply with its delivery state from the outbox, each message with its attachments; a file's
content for download; and where a reply goes.

A ticket's reference is its id in square brackets (`[TCK-000123]`): every reply carries it in its subject, and a
customer's e-mail whose subject names it is added to that ticket (see actions/ticket_mail.py).

A reply goes to the address the customer last wrote from (their Reply-To, else their From), or, on a ticket that
no e-mail started, to the customer's billing contact. It carries Reply-To: the address the customer first wrote
to, so their answer comes back to the support mailbox whatever address the desk sends from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.checks import valid_email
from data_access.config import settings
from data_access.db import read_session
from data_access.errors import InvalidAction, NotFound
from data_access.models import Customer, OutboxMessage, Ticket, TicketAttachment, TicketMessage
from data_access.permissions import Actor, requires
from data_access.queries.outbox import delivery_state


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    name: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class ConversationMessage:
    """One e-mail of the conversation; `delivery` is a reply's state in words (sent when, waiting for a retry and
    why, failed and why), `delivery_status` the outbox's status (queued, sending, sent, failed)."""

    id: int
    direction: str
    sender: str | None
    recipients: str
    subject: str
    body: str
    notes: str | None
    recorded_at: datetime
    dated_at: datetime | None
    author: str | None
    delivery: str | None
    delivery_status: str | None
    attachments: tuple[AttachmentInfo, ...]


@dataclass(frozen=True)
class AttachmentFile:
    name: str
    content_type: str
    data: bytes


def reference(external_id: str) -> str:
    """What a reply's subject carries, and a customer's subject may name, to find the ticket: "[TCK-000123]"."""
    return f"[{external_id}]"


def addresses(text: str) -> Iterator[str]:
    """The valid addresses in a header value ("Ann <ann@contoso.example>, bob@contoso.example"), lower case."""
    for _, address in getaddresses([text]):
        if valid_email(address):
            yield address.lower()


def ticket_by_external_id(session: Session, ticket_id: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.external_id == ticket_id))
    if ticket is None:
        raise NotFound(f"There is no ticket with id {ticket_id!r}.")
    return ticket


def last_incoming(session: Session, ticket: Ticket) -> TicketMessage | None:
    return session.scalar(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.direction == "in")
        .order_by(TicketMessage.recorded_at.desc(), TicketMessage.id.desc())
        .limit(1)
    )


def reply_address(session: Session, ticket: Ticket) -> str | None:
    """Where an agent's reply goes: the customer's latest e-mail's Reply-To or From address, else the customer's
    billing contact; None when neither is known."""
    latest = last_incoming(session, ticket)
    if latest is not None:
        for text in (latest.reply_to, latest.sender):
            found = next(iter(addresses(text or "")), None)
            if found:
                return found
    if ticket.customer_id is not None:
        contact = session.scalar(
            select(Customer.billing_contact_email).where(Customer.id == ticket.customer_id)
        )
        return next(iter(addresses(contact or "")), None)
    return None


def desk_address(session: Session, ticket: Ticket) -> str | None:
    """The address the customer first wrote to (their own left out), which replies name as Reply-To."""
    first = session.scalar(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.direction == "in")
        .order_by(TicketMessage.recorded_at, TicketMessage.id)
        .limit(1)
    )
    if first is None:
        return None
    own = set(addresses(f"{first.sender or ''}, {first.reply_to or ''}"))
    return next((found for found in addresses(first.recipients) if found not in own), None)


@requires("tickets.view")
def conversation(actor: Actor, *, ticket_id: str) -> tuple[ConversationMessage, ...]:
    """The ticket's e-mails in the order they were taken in or written, replies with their delivery state."""
    with read_session() as session:
        ticket = ticket_by_external_id(session, ticket_id)
        found = session.execute(
            select(TicketMessage, OutboxMessage)
            .outerjoin(OutboxMessage, OutboxMessage.id == TicketMessage.outbox_message_id)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.recorded_at, TicketMessage.id)
        ).all()
        files: dict[int, list[AttachmentInfo]] = {}
        listed = select(
            TicketAttachment.id,
            TicketAttachment.ticket_message_id,
            TicketAttachment.file_name,
            TicketAttachment.content_type,
            TicketAttachment.size_bytes,
        ).where(TicketAttachment.ticket_message_id.in_([message.id for message, _ in found]))
        for row in session.execute(listed.order_by(TicketAttachment.id)):
            files.setdefault(row.ticket_message_id, []).append(
                AttachmentInfo(row.id, row.file_name, row.content_type, int(row.size_bytes))
            )
        return tuple(
            ConversationMessage(
                id=message.id,
                direction=message.direction,
                sender=message.sender,
                recipients=message.recipients,
                subject=message.subject,
                body=message.body,
                notes=message.notes,
                recorded_at=message.recorded_at,
                dated_at=message.dated_at,
                author=message.author,
                delivery=delivery_state(queued) if queued is not None else None,
                delivery_status=queued.status if queued is not None else None,
                attachments=tuple(files.get(message.id, ())),
            )
            for message, queued in found
        )


@requires("tickets.view")
def reply_target(actor: Actor, *, ticket_id: str) -> str | None:
    """The address an agent's reply on this ticket would go to now (None: no address is known)."""
    with read_session() as session:
        return reply_address(session, ticket_by_external_id(session, ticket_id))


@requires("tickets.view")
def attachment_file(actor: Actor, *, attachment_id: int) -> AttachmentFile:
    """An attachment's name, type and content, from the database or BILLING_DESK_ATTACHMENTS_DIR."""
    with read_session() as session:
        found = session.get(TicketAttachment, attachment_id)
        if found is None:
            raise NotFound(f"There is no attachment number {attachment_id}.")
        name, content_type, content, path = found.file_name, found.content_type, found.content, found.path
    if content is not None:
        return AttachmentFile(name, content_type, content)
    folder = settings().attachments_dir
    if folder is None or path is None:
        raise InvalidAction(
            f"{name} is kept as a file, but BILLING_DESK_ATTACHMENTS_DIR is not set; set it to the folder the "
            "attachments were written to."
        )
    try:
        return AttachmentFile(name, content_type, (folder / path).read_bytes())
    except OSError as error:
        raise InvalidAction(
            f"{name} could not be read from {folder / path} ({error.strerror or error}); check "
            "BILLING_DESK_ATTACHMENTS_DIR."
        ) from None
