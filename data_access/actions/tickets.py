"""What an agent does on a ticket: create, assign, respond, change status, resolve, reopen.

Resolving or closing a ticket with an open escalation to Microsoft needs the answer to "is Microsoft's case
resolved?" (`microsoft_resolved`, and `open_reason` when it is not); see `escalations.settle_with_ticket`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.actions.escalations import settle_with_ticket
from data_access.audit import (
    Event,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketResponded,
    TicketStatusChanged,
    record_event,
)
from data_access.db import transaction
from data_access.enums import Severity, TicketCategory, TicketStatus
from data_access.errors import InvalidAction, NotFound
from data_access.models import Ticket
from data_access.money import moment
from data_access.permissions import Actor, requires
from data_access.queries.tickets import DONE, _aware, _choice

# Status changes change_status makes; resolving goes through resolve, reopening through reopen.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    TicketStatus.NEW.value: ("open", "pending customer", "escalated"),
    TicketStatus.OPEN.value: ("pending customer", "escalated"),
    TicketStatus.PENDING_CUSTOMER.value: ("open", "escalated"),
    TicketStatus.ESCALATED.value: ("open", "pending customer"),
    TicketStatus.RESOLVED.value: ("closed",),
    TicketStatus.CLOSED.value: (),
}


def _ticket(session: Session, ticket_id: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.external_id == ticket_id).with_for_update())
    if ticket is None:
        raise NotFound(f"There is no ticket with id {ticket_id!r}.")
    return ticket


def _audit(session: Session, actor: Actor, ticket: Ticket, event: Event) -> None:
    record_event(session, actor, event, target=f"ticket:{ticket.external_id}")


def _next_external_id(session: Session) -> str:
    number = (session.scalar(select(func.max(Ticket.id))) or 0) + 1
    while session.scalar(select(Ticket.id).where(Ticket.external_id == f"TCK-{number:06d}")) is not None:
        number += 1
    return f"TCK-{number:06d}"


@requires("ticket.create")
def create_ticket(
    actor: Actor,
    *,
    customer_id: str,
    title: str,
    description: str,
    category: str,
    severity: str,
    channel: str,
    assignee: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new ticket for the customer, opened at now (default: the current time); returns its id (TCK-000123)."""
    heading = " ".join(title.split())
    if not heading:
        raise InvalidAction("Give the ticket a title.")
    if len(heading) > 300:
        raise InvalidAction("A ticket title can be at most 300 characters.")
    chosen_category = _choice(category, "category", TicketCategory.values())
    chosen_severity = _choice(severity, "severity", Severity.values())
    via = " ".join(channel.split()).lower()
    if not via:
        raise InvalidAction("Say through which channel the customer asked (email, phone, web, chat).")
    if len(via) > 30:
        raise InvalidAction("A channel name can be at most 30 characters.")
    owner = (assignee or "").strip() or None
    opened = _aware(now)
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id.strip())
        ticket = Ticket(
            external_id=_next_external_id(session),
            customer_id=customer.id,
            title=heading,
            description=description.strip() or None,
            category=chosen_category,
            severity=chosen_severity,
            status=TicketStatus.NEW.value,
            channel=via,
            assignee=owner,
            created_at=opened,
        )
        session.add(ticket)
        session.flush()
        created = TicketCreated(
            customer_id=customer.external_id,
            title=heading,
            category=chosen_category,
            severity=chosen_severity,
            channel=via,
            assignee=owner,
            created_at=opened,
        )
        _audit(session, actor, ticket, created)
        return ticket.external_id


@requires("ticket.update")
def assign(actor: Actor, *, ticket_id: str, assignee: str) -> None:
    """Give the ticket to an agent (a username); closed tickets stay as they are."""
    owner = assignee.strip()
    if not owner:
        raise InvalidAction("Name the agent to assign the ticket to.")
    if len(owner) > 100:
        raise InvalidAction("An assignee's name can be at most 100 characters.")
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.status == TicketStatus.CLOSED.value:
            raise InvalidAction(f"Ticket {ticket_id} is closed; reopen it before assigning it.")
        if ticket.assignee == owner:
            raise InvalidAction(f"Ticket {ticket_id} is already assigned to {owner}.")
        before = ticket.assignee
        ticket.assignee = owner
        _audit(session, actor, ticket, TicketAssigned(before=before, after=owner))


@requires("ticket.update")
def respond(actor: Actor, *, ticket_id: str, now: datetime | None = None) -> None:
    """Record the first response at now (once per ticket); a new ticket becomes open."""
    at = _aware(now)
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.first_response_at is not None:
            raise InvalidAction(
                f"Ticket {ticket_id} already had its first response, at {moment(ticket.first_response_at)}."
            )
        if ticket.status in DONE:
            raise InvalidAction(f"Ticket {ticket_id} is {ticket.status}; reopen it first.")
        if at < ticket.created_at:
            raise InvalidAction(
                f"A response cannot come before the ticket was opened ({moment(ticket.created_at)})."
            )
        before = ticket.status
        ticket.first_response_at = at
        if ticket.status == TicketStatus.NEW.value:
            ticket.status = TicketStatus.OPEN.value
        responded = TicketResponded(first_response_at=at, status_before=before, status_after=ticket.status)
        _audit(session, actor, ticket, responded)


@requires("ticket.update")
def change_status(
    actor: Actor,
    *,
    ticket_id: str,
    status: str,
    microsoft_resolved: bool | None = None,
    open_reason: str = "",
) -> None:
    """Move the ticket along `TRANSITIONS` (resolve with `resolve`, reopen with `reopen`); closing it settles its
    open escalations as the answer says."""
    wanted = _choice(status, "status", TicketStatus.values())
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if wanted == ticket.status:
            raise InvalidAction(f"Ticket {ticket_id} is already {wanted}.")
        if wanted == TicketStatus.RESOLVED.value:
            raise InvalidAction(
                f"Resolve ticket {ticket_id} with “Resolve”, which records when it was resolved."
            )
        allowed = TRANSITIONS[ticket.status]
        if wanted not in allowed:
            hint = "; reopen it first" if ticket.status in DONE else ""
            options = f" It can become: {', '.join(allowed)}." if allowed else ""
            raise InvalidAction(
                f"Ticket {ticket_id} cannot go from {ticket.status} to {wanted}{hint}.{options}"
            )
        before = ticket.status
        ticket.status = wanted
        _audit(session, actor, ticket, TicketStatusChanged(before=before, after=wanted))
        if wanted == TicketStatus.CLOSED.value:
            settle_with_ticket(session, actor, ticket, becoming=wanted, at=datetime.now(UTC),
                               microsoft_resolved=microsoft_resolved, open_reason=open_reason)  # fmt: skip


@requires("ticket.update")
def resolve(
    actor: Actor,
    *,
    ticket_id: str,
    now: datetime | None = None,
    microsoft_resolved: bool | None = None,
    open_reason: str = "",
) -> None:
    """Resolve the ticket at now; refused when it is already resolved or closed. Its open escalations are
    resolved with it, or kept open with a reason, as the answer says."""
    at = _aware(now)
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.status in DONE or ticket.resolved_at is not None:
            raise InvalidAction(
                f"Ticket {ticket_id} is already {ticket.status}; reopen it to resolve it again."
            )
        if at < ticket.created_at:
            raise InvalidAction(
                f"A ticket cannot be resolved before it was opened ({moment(ticket.created_at)})."
            )
        before = ticket.status
        ticket.resolved_at = at
        ticket.status = TicketStatus.RESOLVED.value
        _audit(session, actor, ticket, TicketResolved(resolved_at=at, status_before=before))
        settle_with_ticket(session, actor, ticket, becoming=ticket.status, at=at,
                           microsoft_resolved=microsoft_resolved, open_reason=open_reason)  # fmt: skip


@requires("ticket.update")
def reopen(actor: Actor, *, ticket_id: str) -> None:
    """Reopen a resolved or closed ticket: its resolution time is cleared and it is open again."""
    with transaction() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.status not in DONE:
            raise InvalidAction(
                f"Ticket {ticket_id} is {ticket.status}, not resolved or closed; nothing to reopen."
            )
        before = ticket.status
        resolved_at = ticket.resolved_at
        ticket.resolved_at = None
        ticket.status = TicketStatus.OPEN.value
        _audit(session, actor, ticket, TicketReopened(status_before=before, resolved_at_before=resolved_at))
