"""Helpdesk tickets: the list with each ticket's SLA clocks, the volumes and attainment report, and the actions an
agent takes on a ticket (create, assign, respond, change status, resolve, reopen).

SLA clocks count business hours of the support offering (`data_access.sla`). When no support offering is set up
the clocks run on `DEFAULT_CALENDAR`, around the clock in UTC, with `DEFAULT_TARGETS`; an offering that lacks a
target for a severity uses the default target for it. Each action checks its permission (`ticket.create` or
`ticket.update`), runs in one transaction and writes its audit event in it; bad input is refused with
`InvalidAction` (`NotFound` for an unknown customer or ticket) before anything is written.

Periods are UTC calendar days; a week starts on Monday and is named by that Monday, a month by its first day.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.db import read_session
from data_access.enums import Severity, TicketCategory, TicketStatus
from data_access.errors import InvalidAction
from data_access.models import Customer, Holiday, SupportOffering, SupportTarget, Ticket
from data_access.permissions import Actor, requires
from data_access.rules.sla import WEEKDAYS, Calendar, business_hours_between, ticket_sla

DEFAULT_CALENDAR = Calendar.from_offering("UTC", {day: ["00:00", "24:00"] for day in WEEKDAYS})


"""Used when no support offering is set up: open around the clock, in UTC, no holidays."""


DEFAULT_TARGETS: dict[str, tuple[timedelta, timedelta]] = {
    Severity.CRITICAL.value: (timedelta(hours=1), timedelta(hours=8)),
    Severity.MODERATE.value: (timedelta(hours=4), timedelta(hours=24)),
    Severity.MINIMAL.value: (timedelta(hours=8), timedelta(hours=40)),
}


"""First-response and resolution targets by severity when the offering sets none."""


DONE = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


REPORT_COLUMNS = [
    "period",
    "opened",
    "resolved",
    "first_response_median_hours",
    "resolution_median_hours",
    "first_response_sla_met",
    "resolution_sla_met",
]


REPORT_GROUPINGS = ("day", "week", "month", "category", "severity", "channel")


ATTRIBUTES = ("category", "severity", "channel")


NO_CHANNEL = "(none)"


UNKNOWN_SENDER = "Unknown sender (triage)"
"""The customer shown for a ticket whose e-mail matched no customer, until an agent names one."""


TICKET_COLUMNS = [
    "ticket_id",
    "customer_id",
    "customer_name",
    "title",
    "description",
    "category",
    "severity",
    "status",
    "channel",
    "assignee",
    "created_at",
    "first_response_at",
    "resolved_at",
    "first_response_due",
    "resolution_due",
    "first_response_state",
    "resolution_state",
    "age",
]


DETAIL_COLUMNS = [
    "ticket_id",
    "customer_id",
    "category",
    "severity",
    "status",
    "channel",
    "created_at",
    "first_response_at",
    "first_response_due",
    "first_response_state",
    "resolved_at",
    "resolution_due",
    "resolution_state",
]


DETAIL_STATES = {"met": "met", "breached": "breached", "at risk": "at risk", "on track": "running"}
"""The report's names for `sla.State`: a clock neither done nor at risk is "running"."""


AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("under 1 day", timedelta(days=1)),
    ("1-3 days", timedelta(days=3)),
    ("3-7 days", timedelta(days=7)),
    ("7-30 days", timedelta(days=30)),
    ("over 30 days", None),
)


Targets = dict[str, tuple[timedelta, timedelta]]


def support_calendar(session: Session) -> tuple[Calendar, Targets]:
    """The offering's business-hours calendar (holidays included) and its (first response, resolution) targets
    by severity value; `DEFAULT_CALENDAR` and `DEFAULT_TARGETS` where nothing is set up."""
    offering = session.scalar(select(SupportOffering).order_by(SupportOffering.id).limit(1))
    if offering is None:
        return DEFAULT_CALENDAR, dict(DEFAULT_TARGETS)
    days = session.scalars(select(Holiday.day).where(Holiday.offering_id == offering.id))
    calendar = Calendar.from_offering(offering.time_zone, offering.business_hours, days)
    targets = dict(DEFAULT_TARGETS)
    for target in session.scalars(select(SupportTarget).where(SupportTarget.offering_id == offering.id)):
        targets[target.severity] = (
            timedelta(hours=target.first_response_hours),
            timedelta(hours=target.resolution_hours),
        )
    return calendar, targets


def _choice(value: str | None, kind: str, allowed: Iterable[str]) -> str:
    """A listed value, matched case-insensitively with spaces or underscores alike."""
    values = list(allowed)
    wanted = " ".join((value or "").replace("_", " ").lower().split())
    for known in values:
        if known.lower() == wanted:
            return known
    raise InvalidAction(f"{value!r} is not a ticket {kind}; use one of: {', '.join(values)}.")


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidAction("Ticket times must carry a time zone.")
    return moment.astimezone(UTC)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class _Clocks:
    first_response_due: datetime
    resolution_due: datetime
    first_response_state: str
    resolution_state: str


def _clocks(calendar: Calendar, targets: Targets, ticket: Any, now: datetime) -> _Clocks:
    first, resolution = targets[ticket.severity]
    sla = ticket_sla(
        calendar,
        opened_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        first_response_target=first,
        resolution_target=resolution,
        now=now,
    )
    return _Clocks(
        sla.first_response.due_at, sla.resolution.due_at, sla.first_response.state, sla.resolution.state
    )


@requires("tickets.view")
def tickets(
    actor: Actor,
    *,
    now: datetime,
    status: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    customer_id: str | None = None,
    open_only: bool = False,
    limit: int = 500,
) -> pd.DataFrame:
    """Tickets newest first with both SLA clocks at now (due times in UTC; state met, breached, at risk or on
    track) and age (real time from opening to resolution, or to now while unresolved)."""
    now = _aware(now)
    query = (
        select(Ticket, Customer.external_id.label("customer"), Customer.name.label("customer_name"))
        .outerjoin(Customer, Customer.id == Ticket.customer_id)  # a ticket from an unknown sender has none
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Ticket.status == _choice(status, "status", TicketStatus.values()))
    if category is not None:
        query = query.where(Ticket.category == _choice(category, "category", TicketCategory.values()))
    if severity is not None:
        query = query.where(Ticket.severity == _choice(severity, "severity", Severity.values()))
    if open_only:
        query = query.where(Ticket.status.not_in(DONE))
    with read_session() as session:
        if customer_id is not None:
            query = query.where(Ticket.customer_id == ledger.customer_by_external_id(session, customer_id).id)
        calendar, targets = support_calendar(session)
        found = session.execute(query).all()
    rows = []
    for ticket, customer, customer_name in found:
        clocks = _clocks(calendar, targets, ticket, now)
        rows.append({
            "ticket_id": ticket.external_id,
            "customer_id": customer,
            "customer_name": customer_name if customer is not None else UNKNOWN_SENDER,
            "title": ticket.title,
            "description": ticket.description,
            "category": ticket.category,
            "severity": ticket.severity,
            "status": ticket.status,
            "channel": ticket.channel,
            "assignee": ticket.assignee,
            "created_at": ticket.created_at,
            "first_response_at": ticket.first_response_at,
            "resolved_at": ticket.resolved_at,
            "first_response_due": clocks.first_response_due,
            "resolution_due": clocks.resolution_due,
            "first_response_state": clocks.first_response_state,
            "resolution_state": clocks.resolution_state,
            "age": (ticket.resolved_at or now) - ticket.created_at,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=TICKET_COLUMNS)


@dataclass(frozen=True)
class OpenClocks:
    """The open backlog at now: how many tickets, how many with a breached clock, how many at risk (none
    breached)."""

    open: int
    breached: int
    at_risk: int


def open_then(now: datetime) -> ColumnElement[bool]:
    """Tickets open at `now`: created by then and not resolved by then (resolved later, or not resolved and
    neither resolved nor closed now; a ticket closed without a resolution time counts as closed)."""
    not_resolved = or_(
        Ticket.resolved_at > now, and_(Ticket.resolved_at.is_(None), Ticket.status.not_in(DONE))
    )
    return and_(Ticket.created_at <= now, not_resolved)


@requires("tickets.view")
def tickets_detail(
    actor: Actor, *, start: date, end: date, now: datetime, batch: int = 2_000
) -> pd.DataFrame:
    """One row per ticket created from start to end (UTC days, both included), oldest first, with both SLA
    clocks at now: due times from the offering's business hours, states met, breached, at risk or running
    (`DETAIL_STATES`); times ISO 8601 in the offering's time zone with its offset; no customer for triage.

    Only the range's tickets are read, `batch` rows at a time; the clocks are computed per ticket as the Tickets
    page computes them (a resolution without a first response also stops the first-response clock)."""
    if end < start:
        raise InvalidAction("The report's first day must come before its last day.")
    now = _aware(now)
    query = (
        select(
            Ticket.external_id,
            Customer.external_id.label("customer"),
            Ticket.category,
            Ticket.severity,
            Ticket.status,
            Ticket.channel,
            Ticket.created_at,
            Ticket.first_response_at,
            Ticket.resolved_at,
        )
        .outerjoin(Customer, Customer.id == Ticket.customer_id)  # a triage ticket has none yet
        .where(Ticket.created_at >= _start(start), Ticket.created_at < _start(end + timedelta(days=1)))
        .order_by(Ticket.created_at, Ticket.id)
        .execution_options(yield_per=batch)
    )
    rows = []
    with read_session() as session:
        calendar, targets = support_calendar(session)

        def local(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(calendar.zone).isoformat(timespec="seconds")

        for chunk in session.execute(query).partitions():
            for t in chunk:
                clocks = _clocks(calendar, targets, t, now)
                rows.append({
                    "ticket_id": t.external_id,
                    "customer_id": t.customer,
                    "category": t.category,
                    "severity": t.severity,
                    "status": t.status,
                    "channel": t.channel,
                    "created_at": local(t.created_at),
                    "first_response_at": local(t.first_response_at),
                    "first_response_due": local(clocks.first_response_due),
                    "first_response_state": DETAIL_STATES[clocks.first_response_state],
                    "resolved_at": local(t.resolved_at),
                    "resolution_due": local(clocks.resolution_due),
                    "resolution_state": DETAIL_STATES[clocks.resolution_state],
                })  # fmt: skip
    return pd.DataFrame(rows, columns=DETAIL_COLUMNS, dtype=object)


def _open_clocks(now: datetime) -> OpenClocks:
    """The tickets open at now with their clocks as they stood then: a first response or resolution recorded
    after now had not happened yet."""
    query = select(Ticket.severity, Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at).where(
        open_then(now)
    )
    breached = at_risk = total = 0
    with read_session() as session:
        calendar, targets = support_calendar(session)
        for ticket in session.execute(query):
            total += 1
            responded = ticket.first_response_at
            then = SimpleNamespace(
                severity=ticket.severity,
                created_at=ticket.created_at,
                first_response_at=responded if responded is not None and responded <= now else None,
                resolved_at=None,
            )
            clocks = _clocks(calendar, targets, then, now)
            states = {clocks.first_response_state, clocks.resolution_state}
            if "breached" in states:
                breached += 1
            elif "at risk" in states:
                at_risk += 1
    return OpenClocks(open=total, breached=breached, at_risk=at_risk)


@requires("tickets.view")
def open_clocks(actor: Actor, *, now: datetime) -> OpenClocks:
    """Tickets open at now (created by then, not resolved by then), breaching and at risk then."""
    return _open_clocks(_aware(now))


@requires("tickets.view")
def sla_breaches(actor: Actor, *, now: datetime) -> int:
    """Tickets open at now (created by then, not resolved by then; `open_then`) whose first-response or
    resolution clock had breached by now."""
    return _open_clocks(_aware(now)).breached


@requires("tickets.view")
def backlog_by_age(actor: Actor, *, now: datetime) -> pd.DataFrame:
    """Open tickets at now by age bucket (`AGE_BUCKETS`, real time since opening) and severity, counted in SQL."""
    now = _aware(now)
    bucket_of = _age_bucket(Ticket.created_at, now)
    query = (
        select(bucket_of.label("bucket"), Ticket.severity, func.count().label("tickets"))
        .where(open_then(now))
        .group_by(literal_column("bucket"), Ticket.severity)
    )
    with read_session() as session:
        rows = [
            {"age": AGE_BUCKETS[r.bucket][0], "severity": r.severity, "tickets": int(r.tickets)}
            for r in session.execute(query)
        ]
    frame = pd.DataFrame(rows, columns=["age", "severity", "tickets"])
    order = {name: k for k, (name, _) in enumerate(AGE_BUCKETS)}
    return frame.sort_values(["age", "severity"], key=lambda s: s.map(order) if s.name == "age" else s)


def _age_bucket(created: Any, now: datetime) -> ColumnElement[int]:
    whens = [(created > now - limit, k) for k, (_, limit) in enumerate(AGE_BUCKETS) if limit is not None]
    return case(*whens, else_=len(AGE_BUCKETS) - 1)


def _period(by: str) -> Callable[[date], date]:
    if by == "week":
        return lambda day: day - timedelta(days=day.weekday())
    if by == "month":
        return lambda day: day.replace(day=1)
    return lambda day: day


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _key(by: str, day: date, values: dict[str, Any]) -> Any:
    if by in ATTRIBUTES:
        return values[by] if values[by] is not None else NO_CHANNEL
    return _period(by)(day)


def _median(hours: list[float]) -> float | None:
    return round(statistics.median(hours), 2) if hours else None


def _share(met: list[bool]) -> float | None:
    return round(sum(met) / len(met), 4) if met else None


@requires("tickets.view")
def tickets_report(
    actor: Actor, *, start: date, end: date, by: str = "week", split: str | None = None
) -> pd.DataFrame:
    """Volumes and SLA attainment from start to end (UTC days, both included), one row per `by` value.

    - `period`: the day, the Monday of the week, the first day of the month, or the category, severity or
      channel ("(none)" for no channel). Days, weeks and months run over the whole range, with zeros; every
      category and severity is listed; channels as they occur.
    - `opened`: tickets created in the range (grouped by when, or what, they were opened).
    - `resolved`: tickets resolved in the range (grouped by the time of resolution, or by their attribute).
    - `first_response_median_hours`, `first_response_sla_met`: over the tickets whose first response (or, with
      none, their resolution, as `sla.ticket_sla` counts it) falls in the range and in the period: the median
      business hours from opening to that response, rounded to 2 places, and the share (0..1, 4 places)
      responded to by the due time. None where no ticket's clock stopped.
    - `resolution_median_hours`, `resolution_sla_met`: the same over the tickets resolved in the range.

    Counts are grouped in SQL by UTC day and attribute; the business-hours clocks are computed per ticket, for
    the tickets whose first response or resolution falls in the range only. With `split` (category, severity or
    channel) each row is further split by that attribute, in a column of that name after `period`.
    """
    if by not in REPORT_GROUPINGS:
        raise InvalidAction(
            f"{by!r} is not a way to group the report; use one of: {', '.join(REPORT_GROUPINGS)}."
        )
    if split is not None and (split not in ATTRIBUTES or split == by):
        raise InvalidAction(
            f"The report can be split by {', '.join(a for a in ATTRIBUTES if a != by)}, not {split!r}."
        )
    if end < start:
        raise InvalidAction("The report's first day must come before its last day.")

    def key(day: date, values: dict[str, Any]) -> tuple[Any, ...]:
        main = _key(by, day, values)
        return (main,) if split is None else (main, _key(split, day, values))

    cells = _cells(start, end, key)
    if split is None:
        for main in _all_periods(by, start, end):
            cells.setdefault((main,), _empty_cell())
    ordered = sorted(
        cells, key=lambda k: tuple(_sort_key(by if n == 0 else str(split), v) for n, v in enumerate(k))
    )
    rows = []
    for k in ordered:
        found = cells[k]
        row: dict[str, Any] = {"period": k[0]}
        if split is not None:
            row[split] = k[1]
        row.update({
            "opened": found["opened"],
            "resolved": found["resolved"],
            "first_response_median_hours": _median(found["first"]),
            "resolution_median_hours": _median(found["resolution"]),
            "first_response_sla_met": _share(found["first_met"]),
            "resolution_sla_met": _share(found["resolution_met"]),
        })  # fmt: skip
        rows.append(row)
    columns = REPORT_COLUMNS if split is None else ["period", split, *REPORT_COLUMNS[1:]]
    return pd.DataFrame(rows, columns=columns)


def _empty_cell() -> dict[str, Any]:
    return {"opened": 0, "resolved": 0, "first": [], "first_met": [], "resolution": [], "resolution_met": []}


@dataclass(frozen=True)
class Attainment:
    """Shares (0..1) of the clocks that stopped in a range that met their target; None when none stopped."""

    first_response: float | None
    resolution: float | None


@requires("tickets.view")
def sla_attainment(actor: Actor, *, start: date, end: date) -> Attainment:
    """First-response and resolution attainment over the whole range, counted as `tickets_report` counts it."""
    found = _cells(start, end, lambda _day, _values: ("all",)).get(("all",), _empty_cell())
    return Attainment(first_response=_share(found["first_met"]), resolution=_share(found["resolution_met"]))


@requires("tickets.view")
def display_time_zone(actor: Actor) -> str:
    """The support offering's time zone, in which due times are shown (UTC without an offering)."""
    with read_session() as session:
        return support_calendar(session)[0].time_zone


def _cells(
    start: date, end: date, key: Callable[[date, dict[str, Any]], tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Counts and per-ticket clocks from start to end (UTC days, both included), gathered under key(day, ticket
    attributes): opened by creation, resolved by resolution, first response and resolution clocks by when they
    stopped."""
    low, high = _start(start), _start(end + timedelta(days=1))
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}

    def cell(k: tuple[Any, ...]) -> dict[str, Any]:
        return cells.setdefault(k, _empty_cell())

    def counted(when: Any) -> Select[Any]:
        day = func.date(when)
        return (
            select(
                day.label("day"), Ticket.category, Ticket.severity, Ticket.channel, func.count().label("n")
            )
            .where(when >= low, when < high)
            .group_by(day, Ticket.category, Ticket.severity, Ticket.channel)
        )

    responded = func.coalesce(Ticket.first_response_at, Ticket.resolved_at)
    finished = select(
        Ticket.severity,
        Ticket.category,
        Ticket.channel,
        Ticket.created_at,
        Ticket.first_response_at,
        Ticket.resolved_at,
    ).where(
        or_(
            and_(responded >= low, responded < high),
            and_(Ticket.resolved_at >= low, Ticket.resolved_at < high),
        )
    )
    with read_session() as session:
        calendar, targets = support_calendar(session)
        for column, when in (("opened", Ticket.created_at), ("resolved", Ticket.resolved_at)):
            for r in session.execute(counted(when)):
                values = {"category": r.category, "severity": r.severity, "channel": r.channel}
                cell(key(_as_date(r.day), values))[column] += int(r.n)
        clocked = session.execute(finished).all()
    for t in clocked:
        values = {"category": t.category, "severity": t.severity, "channel": t.channel}
        clocks = _clocks(calendar, targets, t, high)
        response = t.first_response_at or t.resolved_at
        if response is not None and low <= response < high:
            hours = business_hours_between(calendar, t.created_at, response) / timedelta(hours=1)
            target = cell(key(response.date(), values))
            target["first"].append(max(hours, 0.0))
            target["first_met"].append(clocks.first_response_state == "met")
        if t.resolved_at is not None and low <= t.resolved_at < high:
            hours = business_hours_between(calendar, t.created_at, t.resolved_at) / timedelta(hours=1)
            target = cell(key(t.resolved_at.date(), values))
            target["resolution"].append(max(hours, 0.0))
            target["resolution_met"].append(clocks.resolution_state == "met")
    return cells


def _all_periods(by: str, start: date, end: date) -> list[Any]:
    if by == "category":
        return TicketCategory.values()
    if by == "severity":
        return Severity.values()
    if by == "channel":
        return []
    period = _period(by)
    found: list[date] = []
    day = start
    while day <= end:
        if not found or found[-1] != period(day):
            found.append(period(day))
        day += timedelta(days=1)
    return found


def _sort_key(by: str, value: Any) -> tuple[int, str]:
    if by == "category":
        order = TicketCategory.values()
    elif by == "severity":
        order = Severity.values()
    else:
        return (0, str(value))
    return (order.index(value) if value in order else len(order), str(value))
