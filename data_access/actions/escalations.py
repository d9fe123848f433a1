"""Escalating a ticket to Microsoft and following the case's status; what becomes of the open cases when their
ticket is resolved or closed.

A ticket has at most one open escalation unless the agent confirms another case on purpose. An escalation stays
open under a resolved or closed ticket only with a stated reason: resolving or closing the ticket asks whether
Microsoft's case is resolved (then it is resolved in the same transaction) or why it stays open (recorded on the
case and in the audit event)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data_access.audit import (
    EscalatedState,
    EscalationCreated,
    EscalationsSettledWithTicket,
    EscalationState,
    EscalationStatusChanged,
    SettledEscalation,
    TicketState,
    record_event,
)
from data_access.checks import clean_text
from data_access.db import transaction
from data_access.enums import EscalationKind, EscalationStatus, Severity, SupportVehicle, TicketStatus
from data_access.errors import InvalidAction, NotFound
from data_access.models import Escalation, Ticket
from data_access.permissions import Actor, require, requires
from data_access.queries.escalations import STATUSES, entitlements

FINISHED = (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)


CLOSED_TICKET = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


REASON_LIMIT = 500
CASE_NUMBER_LENGTH = 64
"""The escalations column's length: refused here in a sentence, alike on SQLite and PostgreSQL."""
NOTE_LENGTH = 5_000
"""One note, as given when escalating or moving a case; the notes gather them one line each."""


@requires("ticket.escalate")
def escalate(
    actor: Actor,
    *,
    ticket_id: str,
    kind: str,
    vehicle: str | None,
    case_number: str,
    severity: str,
    notes: str = "",
    now: datetime | None = None,
    confirm_another: bool = False,
) -> int:
    """Open a Microsoft case for an unresolved ticket: commercial without a vehicle, technical through an entitled
    vehicle; the case number is Microsoft's and used once. The ticket becomes escalated. A ticket that already has
    an open escalation gets a second one only with `confirm_another`."""
    when = now or datetime.now(UTC)
    number = clean_text(case_number, "The Microsoft case number", CASE_NUMBER_LENGTH) or ""
    note = _note(notes)
    chosen = (vehicle or "").strip() or None
    if kind not in EscalationKind.values():
        raise InvalidAction(f"{kind!r} is not a kind of escalation; escalate commercially or technically.")
    if severity not in Severity.values():
        raise InvalidAction(f"{severity!r} is not a severity; choose one of {', '.join(Severity.values())}.")
    if not number:
        raise InvalidAction("Give the Microsoft case number the escalation was opened under.")
    if kind == EscalationKind.COMMERCIAL and chosen is not None:
        raise InvalidAction(
            f"A commercial escalation goes to Microsoft without a support vehicle; leave {chosen} out or "
            "escalate technically."
        )
    if kind == EscalationKind.TECHNICAL and chosen is None:
        raise InvalidAction("A technical escalation needs the support vehicle it goes through.")
    if chosen is not None and chosen not in SupportVehicle.values():
        raise InvalidAction(
            f"{chosen!r} is not a Microsoft support vehicle; choose one of {', '.join(SupportVehicle.values())}."
        )
    with transaction() as session:
        ticket = session.scalar(
            select(Ticket).where(Ticket.external_id == ticket_id.strip()).with_for_update()
        )
        if ticket is None:
            raise NotFound(f"There is no ticket with id {ticket_id.strip()!r}.")
        if ticket.status in CLOSED_TICKET:
            raise InvalidAction(
                f"Ticket {ticket.external_id} is {ticket.status}; reopen it before escalating it to Microsoft."
            )
        if chosen is not None:
            _entitled(session, chosen)
        _unused(session, number)
        still_open = open_escalations(session, ticket.id)
        if still_open and not confirm_another:
            raise InvalidAction(
                f"Ticket {ticket.external_id} already has an open escalation to Microsoft "
                f"({_cases(still_open)}); confirm that case {number} is a second case before escalating again."
            )
        before = ticket.status
        escalation = Escalation(
            ticket_id=ticket.id,
            kind=kind,
            vehicle=chosen,
            microsoft_case_number=number,
            severity=severity,
            status=EscalationStatus.SUBMITTED.value,
            notes=note,
            submitted_at=when,
            status_changed_at=when,
            created_by=actor.username,
        )
        session.add(escalation)
        ticket.status = TicketStatus.ESCALATED.value
        try:
            session.flush()
        except IntegrityError:
            raise InvalidAction(
                f"Microsoft case {number} is already recorded on another escalation; check the case number."
            ) from None
        record_event(
            session,
            actor,
            EscalationCreated(
                escalation_id=escalation.id,
                kind=kind,
                vehicle=chosen,
                case_number=number,
                severity=severity,
                notes=escalation.notes,
                before=TicketState(ticket_status=before),
                after=EscalatedState(ticket_status=ticket.status, escalation_status=escalation.status),
            ),
            target=f"ticket:{ticket.external_id}",
        )
        return escalation.id


@requires("ticket.escalate")
def update_status(
    actor: Actor, *, escalation_id: int, status: str, notes: str = "", now: datetime | None = None
) -> None:
    """Move an escalation to another status; a closed escalation stays closed, and a change must change
    something. Resolving or closing stamps the resolution time; reopening clears it."""
    when = now or datetime.now(UTC)
    if status not in STATUSES:
        raise InvalidAction(f"{status!r} is not an escalation status; choose one of {', '.join(STATUSES)}.")
    text = _note(notes)
    with transaction() as session:
        # The ticket first, as resolving or closing it does, so that one of the two sees what the other did.
        its_ticket = select(Escalation.ticket_id).where(Escalation.id == escalation_id).scalar_subquery()
        ticket = session.scalar(select(Ticket).where(Ticket.id == its_ticket).with_for_update())
        escalation = session.scalar(
            select(Escalation).where(Escalation.id == escalation_id).with_for_update()
        )
        if escalation is None or ticket is None:
            raise NotFound(f"There is no escalation with id {escalation_id}.")
        case = escalation.microsoft_case_number
        if escalation.status == EscalationStatus.CLOSED:
            raise InvalidAction(f"Escalation {case} is closed; open a new escalation instead.")
        if escalation.status == status:
            raise InvalidAction(f"Escalation {case} is already {status}.")
        if ticket.status in CLOSED_TICKET and status not in FINISHED and not text:
            raise InvalidAction(
                f"Ticket {ticket.external_id} is {ticket.status}; say in the notes why Microsoft's case {case} "
                f"is {status} again under it."
            )
        before = EscalationState(status=escalation.status, resolved_at=escalation.resolved_at)
        escalation.status = status
        escalation.status_changed_at = when
        if status in FINISHED:
            escalation.resolved_at = escalation.resolved_at or when
        else:
            escalation.resolved_at = None
        if text:
            line = f"{when:%Y-%m-%d %H:%M} UTC, {actor.username} ({status}): {text}"
            escalation.notes = f"{escalation.notes}\n{line}" if escalation.notes else line
        record_event(
            session,
            actor,
            EscalationStatusChanged(
                case_number=case,
                notes=text or None,
                before=before,
                after=EscalationState(status=status, resolved_at=escalation.resolved_at),
            ),
            target=f"escalation:{escalation.id}",
        )


def open_escalations(session: Session, ticket_id: int) -> list[Escalation]:
    """A ticket's escalations that are neither resolved nor closed, oldest first, locked for the transaction."""
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.ticket_id == ticket_id, Escalation.status.not_in(FINISHED))
            .order_by(Escalation.submitted_at, Escalation.id)
            .with_for_update()
        )
    )


def settle_with_ticket(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    *,
    becoming: str,
    at: datetime,
    microsoft_resolved: bool | None,
    open_reason: str,
) -> None:
    """Inside the transaction that resolves or closes `ticket`: its open escalations are resolved with it when
    Microsoft's case is resolved, or kept open with the reason stated; no answer, or no reason, is refused. Audited
    as `EscalationsSettledWithTicket` (under ticket.escalate) beside the ticket's own event."""
    still_open = open_escalations(session, ticket.id)
    if not still_open:
        return
    require(actor, "ticket.escalate")
    cases = _cases(still_open)
    if microsoft_resolved is None:
        raise InvalidAction(
            f"Ticket {ticket.external_id} has an open escalation to Microsoft ({cases}); say whether Microsoft's "
            f"case is resolved before the ticket is {becoming}."
        )
    reason = " ".join(open_reason.split())
    if not microsoft_resolved and not reason:
        raise InvalidAction(
            f"Say why Microsoft's case {' and '.join(e.microsoft_case_number for e in still_open)} stays open: "
            f"an escalation stays open under a {becoming} ticket only with a reason."
        )
    if len(reason) > REASON_LIMIT:
        raise InvalidAction(f"Keep the reason to at most {REASON_LIMIT} characters.")
    settled = []
    for escalation in still_open:
        before = escalation.status
        if microsoft_resolved:
            escalation.status = EscalationStatus.RESOLVED.value
            escalation.status_changed_at = at
            escalation.resolved_at = at
            line = f"{at:%Y-%m-%d %H:%M} UTC, {actor.username} (resolved): resolved with ticket {ticket.external_id}"
        else:
            line = (
                f"{at:%Y-%m-%d %H:%M} UTC, {actor.username} ({before}): kept open when ticket "
                f"{ticket.external_id} was {becoming}: {reason}"
            )
        escalation.notes = f"{escalation.notes}\n{line}" if escalation.notes else line
        settled.append(
            SettledEscalation(
                escalation_id=escalation.id,
                case_number=escalation.microsoft_case_number,
                status_before=before,
                status_after=escalation.status,
                reason=None if microsoft_resolved else reason,
            )
        )
    record_event(
        session,
        actor,
        EscalationsSettledWithTicket(ticket_status=becoming, escalations=tuple(settled)),
        target=f"ticket:{ticket.external_id}",
    )


def _note(notes: str) -> str | None:
    return clean_text(notes, "The note", NOTE_LENGTH, multiline=True)


def _cases(escalations: list[Escalation]) -> str:
    return "; ".join(f"case {e.microsoft_case_number}, {e.status}" for e in escalations)


def _entitled(session: Session, vehicle: str) -> None:
    held = entitlements(session)
    if vehicle not in held:
        instead = f"commercially or through {' or '.join(held)}" if held else "commercially"
        raise InvalidAction(f"The partner has no {vehicle} entitlement; escalate {instead}.")


def _unused(session: Session, number: str) -> None:
    taken = session.scalar(
        select(Ticket.external_id)
        .join(Escalation, Escalation.ticket_id == Ticket.id)
        .where(Escalation.microsoft_case_number == number)
    )
    if taken is not None:
        raise InvalidAction(
            f"Microsoft case {number} is already recorded on an escalation of ticket {taken}; "
            "check the case number."
        )
