"""The audit log: every event, newest first, filtered in SQL and read a page at a time, with times shown in the
support offering's time zone (UTC until an offering is set up).

A customer's events are those whose target is the customer (`customer:<id>`: payments) or one of its invoices
(`invoice:<number>`: credit notes); imports and user changes name no customer and never match a customer filter.
Dates are calendar days in the display time zone, both ends included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, func, literal, or_, select

from data_access.audit import Event, UnrecognisedEvent, parse_event
from data_access.db import read_session
from data_access.documents.exports import csv_bytes
from data_access.models import AuditEvent, Customer, Invoice, SupportOffering
from data_access.permissions import Actor, requires

COLUMNS = ["occurred_at", "actor", "roles", "action", "target", "details"]


@dataclass(frozen=True)
class AuditPage:
    """One page of matching events (newest first), how many match in all, and the zone their times are in."""

    events: pd.DataFrame
    total: int
    time_zone: str

    @property
    def more(self) -> int:
        return max(self.total - len(self.events), 0)


@dataclass(frozen=True)
class AuditFilters:
    actors: list[str]
    actions: list[str]


def display_time_zone() -> str:
    """The support offering's time zone, in which times are shown (UTC until an offering is set up)."""
    with read_session() as session:
        zone = session.scalar(select(SupportOffering.time_zone).order_by(SupportOffering.id).limit(1))
    return zone or "UTC"


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _conditions(
    *,
    actor_name: str | None,
    action: str | None,
    customer_id: str | None,
    start: date | None,
    end: date | None,
    zone: ZoneInfo,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if actor_name:
        conditions.append(AuditEvent.actor == actor_name)
    if action:
        conditions.append(AuditEvent.permission == action)
    if customer_id:
        its_invoices = (
            select(literal("invoice:").concat(Invoice.number))
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Customer.external_id == customer_id)
        )
        conditions.append(
            or_(AuditEvent.target == f"customer:{customer_id}", AuditEvent.target.in_(its_invoices))
        )
    if start:
        conditions.append(AuditEvent.occurred_at >= _day_start(start, zone))
    if end:
        conditions.append(AuditEvent.occurred_at < _day_start(end + timedelta(days=1), zone))
    return conditions


def _details_text(event: Event | UnrecognisedEvent) -> str:
    details = event.to_details()
    return "" if details is None else json.dumps(details, ensure_ascii=False, default=str)


@requires("audit.view")
def audit_events(
    actor: Actor,
    *,
    actor_name: str | None = None,
    action: str | None = None,
    customer_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> AuditPage:
    """Events matching every filter given, newest first, at most `limit` of them from `offset`, with the count of
    all that match; action is the permission the event was done under, details one line of JSON."""
    zone_name = display_time_zone()
    zone = ZoneInfo(zone_name)
    conditions = _conditions(
        actor_name=actor_name, action=action, customer_id=customer_id, start=start, end=end, zone=zone
    )
    with read_session() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
        rows = session.execute(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
            .offset(offset)
        ).scalars()
        records = [
            {
                "occurred_at": event.occurred_at,
                "actor": event.actor,
                "roles": ", ".join(event.roles or []),
                "action": event.permission,
                "target": event.target,
                "details": _details_text(parse_event(event.permission, event.details)),
            }
            for event in rows
        ]
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(zone_name)
    return AuditPage(events=frame, total=int(total), time_zone=zone_name)


@requires("audit.view")
def audit_filters(actor: Actor) -> AuditFilters:
    """Every actor and every action that occurs in the log, each in order, to filter it by."""
    with read_session() as session:
        actors = session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor))
        actions = session.scalars(select(AuditEvent.permission).distinct().order_by(AuditEvent.permission))
        return AuditFilters(actors=list(actors), actions=list(actions))


@requires("audit.view")
def export_csv(actor: Actor, frame: pd.DataFrame) -> bytes:
    """The events exactly as shown (columns, rows, order) as UTF-8 CSV with a byte-order mark; times are ISO 8601
    with their UTC offset, details the same JSON text, and a target or detail that starts like a formula opens as
    text."""
    shown = frame.copy()
    for name in shown.columns:
        if isinstance(shown[name].dtype, pd.DatetimeTZDtype):
            shown[name] = shown[name].map(lambda moment: moment.isoformat())
    return csv_bytes(shown)
