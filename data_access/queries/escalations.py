"""Escalations to Microsoft: a ticket escalated commercially (open to every CSP partner) or technically through a
support vehicle the partner is entitled to, and the board the helpdesk follows them on.

Each action checks `ticket.escalate`, runs in one transaction and writes its audit event in it; bad input is
refused with `InvalidAction` before anything is written. Times are UTC; `now` may be injected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.db import read_session
from data_access.enums import EscalationKind, EscalationStatus, SupportVehicle
from data_access.models import Customer, Escalation, SupportOffering, Ticket
from data_access.permissions import Actor, requires
from data_access.queries.tickets import UNKNOWN_SENDER

COMMERCIAL = "Commercial"


STATUSES: tuple[str, ...] = tuple(EscalationStatus.values())


BOARD_COLUMNS = [
    "id",
    "ticket",
    "ticket_title",
    "customer_id",
    "customer",
    "kind",
    "vehicle",
    "case_number",
    "severity",
    "status",
    "submitted_at",
    "status_changed_at",
    "age",
    "time_in_status",
    "waiting_on_partner",
]


@dataclass(frozen=True)
class TicketEscalation:
    """One of a ticket's escalations to Microsoft, as the ticket shows it."""

    id: int
    case_number: str
    kind: str
    vehicle: str
    severity: str
    status: str
    submitted_at: datetime
    notes: str | None

    @property
    def open(self) -> bool:
        """Microsoft's case is neither resolved nor closed."""
        return self.status not in (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)


@requires("escalations.view")
def ticket_escalations(actor: Actor, *, ticket_id: str) -> tuple[TicketEscalation, ...]:
    """A ticket's escalations to Microsoft, oldest first, whatever their status (none for an unknown ticket)."""
    query = (
        select(Escalation)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(Ticket.external_id == ticket_id)
        .order_by(Escalation.submitted_at, Escalation.id)
    )
    with read_session() as session:
        return tuple(
            TicketEscalation(
                id=e.id,
                case_number=e.microsoft_case_number,
                kind=e.kind,
                vehicle=e.vehicle or COMMERCIAL,
                severity=e.severity,
                status=e.status,
                submitted_at=e.submitted_at,
                notes=e.notes,
            )
            for e in session.scalars(query)
        )


def entitlements(session: Session) -> tuple[str, ...]:
    """The technical support vehicles the partner's support offering lists; none set up means none."""
    listed = session.scalar(select(SupportOffering.entitlements).order_by(SupportOffering.id).limit(1)) or []
    return tuple(vehicle for vehicle in SupportVehicle.values() if vehicle in listed)


@requires("escalations.view")
def available_vehicles(actor: Actor) -> tuple[str, ...]:
    """The technical support vehicles an escalation may go through (commercial escalations need none)."""
    with read_session() as session:
        return entitlements(session)


@requires("escalations.view")
def board(
    actor: Actor, *, now: datetime, vehicle: str | None = None, customer_id: str | None = None
) -> pd.DataFrame:
    """Every escalation with its age (since submitted) and time in its status at `now`, in status order, oldest
    first; `vehicle` is a support vehicle or "Commercial"; waiting on the partner is flagged."""
    query = (
        select(Escalation, Ticket.external_id, Ticket.title, Customer.external_id, Customer.name)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)  # a triage ticket has none yet
        .order_by(Escalation.submitted_at, Escalation.id)
    )
    if vehicle == COMMERCIAL:
        query = query.where(Escalation.kind == EscalationKind.COMMERCIAL.value)
    elif vehicle is not None:
        query = query.where(Escalation.vehicle == vehicle)
    if customer_id is not None:
        query = query.where(Customer.external_id == customer_id)
    with read_session() as session:
        found = session.execute(query).all()
    rows = [
        _board_row(escalation, ticket, title, cid, name, now)
        for escalation, ticket, title, cid, name in found
    ]
    rows.sort(key=lambda row: STATUSES.index(row["status"]))
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def _board_row(
    escalation: Escalation, ticket: str, title: str, customer_id: str | None, name: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "ticket": ticket,
        "ticket_title": title,
        "customer_id": customer_id,
        "customer": name if customer_id is not None else UNKNOWN_SENDER,
        "kind": escalation.kind,
        "vehicle": escalation.vehicle or COMMERCIAL,
        "case_number": escalation.microsoft_case_number,
        "severity": escalation.severity,
        "status": escalation.status,
        "submitted_at": escalation.submitted_at,
        "status_changed_at": escalation.status_changed_at,
        "age": now - escalation.submitted_at,
        "time_in_status": now - escalation.status_changed_at,
        "waiting_on_partner": escalation.status == EscalationStatus.WAITING_ON_PARTNER,
    }


def duration(span: timedelta) -> str:
    """A span as days and hours ("3d 4h", "5h", "0h"), the way the board shows ages."""
    hours = max(int(span.total_seconds() // 3600), 0)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else f"{hours}h"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
