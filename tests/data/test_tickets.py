"""Tickets: due times follow the support offering's business hours, the report agrees with a plain-Python count,
and each action writes its change and one audit event in one transaction, or nothing at all when refused."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from data_access.actions.tickets import assign, change_status, create_ticket, reopen, resolve, respond
from data_access.db import read_session
from data_access.demo.support import SUPPORT_TARGETS
from data_access.errors import InvalidAction, NotFound
from data_access.models import AuditEvent, Ticket
from data_access.permissions import Actor, PermissionDenied
from data_access.queries.tickets import (
    DEFAULT_CALENDAR,
    DEFAULT_TARGETS,
    REPORT_COLUMNS,
    OpenClocks,
    open_clocks,
    sla_breaches,
    support_calendar,
    tickets,
    tickets_report,
)
from data_access.rules.sla import Calendar, add_business_hours, business_hours_between
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, SALES, USERMGR

ZONE = "America/New_York"
HOURS = {**{day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}, "sat": None, "sun": None}
HOLIDAY = date(2026, 11, 26)  # Thanksgiving, a Thursday
CALENDAR = Calendar.from_offering(ZONE, HOURS, [HOLIDAY])
TARGETS = {s.value: (timedelta(hours=f), timedelta(hours=r)) for s, (f, r) in SUPPORT_TARGETS.items()}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def db(database: str) -> str:
    """The demo support offering (New York business hours, one holiday) and two customers."""
    factories.support_offering(time_zone=ZONE, business_hours=HOURS, holidays={HOLIDAY: "Thanksgiving Day"})
    factories.customer("C-001")
    factories.customer("C-002")
    return database


def create(
    created: datetime,
    *,
    customer: str = "C-001",
    category: str = "billing question",
    severity: str = "moderate",
    channel: str = "email",
    actor: Actor = HELPDESK,
) -> str:
    return create_ticket(
        actor,
        customer_id=customer,
        title=f"Question raised {created:%d %b %H:%M}",
        description="Please explain.",
        category=category,
        severity=severity,
        channel=channel,
        now=created,
    )


def counts() -> tuple[int, int]:
    with read_session() as session:
        return (
            session.scalar(select(func.count()).select_from(Ticket)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def stored(ticket_id: str) -> Ticket:
    with read_session() as session:
        found = session.scalar(select(Ticket).where(Ticket.external_id == ticket_id))
        assert found is not None
        return found


def events() -> list[AuditEvent]:
    with read_session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_support_calendar_reads_the_offering(db: str) -> None:
    with read_session() as session:
        calendar, targets = support_calendar(session)
    assert calendar == CALENDAR
    assert targets == TARGETS


def test_without_an_offering_the_clock_runs_around_the_clock(database: str) -> None:
    with read_session() as session:
        calendar, targets = support_calendar(session)
    assert calendar is DEFAULT_CALENDAR
    assert targets == DEFAULT_TARGETS
    factories.customer("C-001")
    created = utc(2026, 11, 21, 12)  # a Saturday
    ticket_id = create(created, severity="critical")
    row = tickets(SALES, now=created).iloc[0]
    assert row.ticket_id == ticket_id
    assert row.first_response_due == created + timedelta(hours=1)
    assert row.resolution_due == created + timedelta(hours=8)


def test_due_times_count_business_hours_and_skip_holidays(db: str) -> None:
    friday_evening = utc(2026, 11, 20, 22)  # 17:00 in New York
    wednesday = utc(2026, 11, 25, 20)  # 15:00 in New York, the day before Thanksgiving
    late = create(friday_evening)
    before_holiday = create(wednesday, severity="minimal")
    now = utc(2026, 11, 23, 14)  # Monday 09:00 in New York
    listed = tickets(HELPDESK, now=now).set_index("ticket_id")
    first, resolution = TARGETS["moderate"]
    assert listed.first_response_due[late] == add_business_hours(CALENDAR, friday_evening, first)
    assert listed.first_response_due[late] == utc(2026, 11, 23, 16)  # Monday 11:00 in New York
    assert listed.resolution_due[late] == add_business_hours(CALENDAR, friday_evening, resolution)
    # 1 hour on Friday and 1 on Monday of 4; at risk from 75% of the target (3 hours, Monday 10:00)
    assert listed.first_response_state[late] == "on track"
    later = tickets(HELPDESK, now=utc(2026, 11, 23, 15)).set_index("ticket_id")
    assert later.first_response_state[late] == "at risk"
    assert (
        tickets(HELPDESK, now=utc(2026, 11, 23, 16, 1)).set_index("ticket_id").first_response_state[late]
        == "breached"
    )
    minimal_first, _ = TARGETS["minimal"]
    # 3 hours on Wednesday, Thanksgiving skipped, 5 hours on Friday
    assert listed.first_response_due[before_holiday] == utc(2026, 11, 27, 18)
    assert listed.first_response_due[before_holiday] == add_business_hours(CALENDAR, wednesday, minimal_first)
    assert listed.age[late] == now - friday_evening


def test_list_filters(db: str) -> None:
    first = create(utc(2026, 11, 2, 14), category="technical", severity="critical")
    second = create(utc(2026, 11, 3, 14), customer="C-002")
    resolve(HELPDESK, ticket_id=second, now=utc(2026, 11, 3, 16))
    now = utc(2026, 11, 4, 12)
    assert list(tickets(SALES, now=now).ticket_id) == [second, first]
    assert list(tickets(SALES, now=now, category="Technical").ticket_id) == [first]
    assert list(tickets(SALES, now=now, severity="moderate").ticket_id) == [second]
    assert list(tickets(SALES, now=now, status="resolved").ticket_id) == [second]
    assert list(tickets(SALES, now=now, open_only=True).ticket_id) == [first]
    assert list(tickets(SALES, now=now, customer_id="C-002").ticket_id) == [second]
    with pytest.raises(NotFound, match="no customer"):
        tickets(SALES, now=now, customer_id="C-404")
    with pytest.raises(InvalidAction, match="pending customer"):
        tickets(SALES, now=now, status="waiting")


# (created, category, severity, channel, responded after hours or None, resolved after hours or None)
SCENARIO: list[tuple[datetime, str, str, str, float | None, float | None]] = [
    (utc(2026, 11, 2, 14), "billing question", "moderate", "email", 1, 5),
    (utc(2026, 11, 3, 21), "billing question", "critical", "phone", 2, 30),
    (utc(2026, 11, 5, 13), "invoice dispute", "minimal", "web", 10, None),
    (utc(2026, 11, 6, 22), "technical", "moderate", "chat", 64, 70),
    (utc(2026, 11, 9, 15), "technical", "critical", "email", 0.5, 3),
    (utc(2026, 11, 10, 16), "payment", "moderate", "email", None, 2),
    (utc(2026, 11, 12, 14), "other", "minimal", "phone", None, None),
    (utc(2026, 11, 16, 14), "billing question", "moderate", "web", 3, 200),
    (utc(2026, 10, 30, 14), "payment", "critical", "email", 80, 100),  # opened before the range
]
START, END = date(2026, 11, 2), date(2026, 11, 15)


def seed_scenario() -> list[dict[str, Any]]:
    made = []
    for created, category, severity, channel, responded, resolved in SCENARIO:
        ticket_id = create(created, category=category, severity=severity, channel=channel)
        response = created + timedelta(hours=responded) if responded is not None else None
        resolution = created + timedelta(hours=resolved) if resolved is not None else None
        if response is not None:
            respond(HELPDESK, ticket_id=ticket_id, now=response)
        if resolution is not None:
            resolve(HELPDESK, ticket_id=ticket_id, now=resolution)
        made.append({"created": created, "category": category, "severity": severity, "channel": channel,
                     "response": response or resolution, "resolution": resolution})  # fmt: skip
    return made


def expected_report(made: list[dict[str, Any]], key: Any, periods: list[Any]) -> list[dict[str, Any]]:
    low = datetime(START.year, START.month, START.day, tzinfo=UTC)
    high = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    rows = []
    for period in periods:
        opened = [t for t in made if low <= t["created"] < high and key(t, t["created"]) == period]
        responses = [t for t in made if t["response"] and low <= t["response"] < high
                     and key(t, t["response"]) == period]  # fmt: skip
        resolutions = [t for t in made if t["resolution"] and low <= t["resolution"] < high
                       and key(t, t["resolution"]) == period]  # fmt: skip

        def hours(t: dict[str, Any], done: str) -> float:
            return business_hours_between(CALENDAR, t["created"], t[done]) / timedelta(hours=1)

        def met(t: dict[str, Any], done: str, index: int) -> bool:
            return bool(t[done] <= add_business_hours(CALENDAR, t["created"], TARGETS[t["severity"]][index]))

        rows.append({
            "period": period,
            "opened": len(opened),
            "resolved": len(resolutions),
            "first_response_median_hours": round(statistics.median(hours(t, "response") for t in responses), 2)
            if responses else None,
            "resolution_median_hours": round(statistics.median(hours(t, "resolution") for t in resolutions), 2)
            if resolutions else None,
            "first_response_sla_met": round(sum(met(t, "response", 0) for t in responses) / len(responses), 4)
            if responses else None,
            "resolution_sla_met": round(sum(met(t, "resolution", 1) for t in resolutions) / len(resolutions), 4)
            if resolutions else None,
        })  # fmt: skip
    return rows


def as_records(frame: Any) -> list[dict[str, Any]]:
    return [
        {key: (None if isinstance(value, float) and value != value else value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


def test_report_by_week_agrees_with_a_plain_count(db: str) -> None:
    made = seed_scenario()
    report = tickets_report(SALES, start=START, end=END, by="week")
    assert list(report.columns) == [
        "period",
        "opened",
        "resolved",
        "first_response_median_hours",
        "resolution_median_hours",
        "first_response_sla_met",
        "resolution_sla_met",
    ]
    weeks = [date(2026, 11, 2), date(2026, 11, 9)]

    def monday(_t: dict[str, Any], moment: datetime) -> date:
        return moment.date() - timedelta(days=moment.weekday())

    assert as_records(report) == expected_report(made, monday, weeks)
    assert report.opened.sum() == 7


def test_report_by_category_agrees_with_a_plain_count(db: str) -> None:
    made = seed_scenario()
    report = tickets_report(HELPDESK, start=START, end=END, by="category")
    assert list(report.columns) == REPORT_COLUMNS
    categories = [
        "billing question",
        "invoice dispute",
        "payment",
        "subscription change",
        "technical",
        "other",
    ]
    assert as_records(report) == expected_report(made, lambda t, _moment: t["category"], categories)


def test_report_by_day_lists_every_day_and_refuses_unknown_groupings(db: str) -> None:
    seed_scenario()
    report = tickets_report(SALES, start=START, end=END, by="day")
    assert list(report.period) == [START + timedelta(days=n) for n in range(14)]
    assert tickets_report(SALES, start=START, end=END, by="month").period.tolist() == [date(2026, 11, 1)]
    with pytest.raises(InvalidAction, match="day, week, month, category, severity, channel"):
        tickets_report(SALES, start=START, end=END, by="year")


def test_sla_breaches_counts_open_tickets_past_a_due_time(db: str) -> None:
    late = create(utc(2026, 11, 2, 14), severity="critical")  # first response due 15:00 UTC
    on_time = create(utc(2026, 11, 2, 14, 30), severity="minimal")
    answered = create(utc(2026, 11, 2, 14), severity="critical")
    respond(HELPDESK, ticket_id=answered, now=utc(2026, 11, 2, 14, 30))
    done_late = create(utc(2026, 11, 2, 13), severity="critical")
    resolve(HELPDESK, ticket_id=done_late, now=utc(2026, 11, 5, 13))
    now = utc(2026, 11, 2, 16)
    # At 16:00 on 2 November done_late was still open (resolved three days later) and past its first-response
    # due time: it counts as it stood then, not as it stands now.
    assert sla_breaches(SALES, now=now) == 2
    assert open_clocks(SALES, now=now) == OpenClocks(open=4, breached=2, at_risk=0)
    later = open_clocks(SALES, now=utc(2026, 11, 6, 9))  # done_late resolved by then; the others all late
    assert (later.open, later.breached) == (3, 3)
    listed = tickets(SALES, now=now).set_index("ticket_id")
    assert listed.first_response_state[late] == "breached"
    assert listed.first_response_state[on_time] == "on track"
    assert listed.resolution_state[done_late] == "breached"


def test_each_action_is_audited(db: str) -> None:
    ticket_id = create(utc(2026, 11, 2, 14))
    assign(BILLING, ticket_id=ticket_id, assignee="helpdesk")
    respond(HELPDESK, ticket_id=ticket_id, now=utc(2026, 11, 2, 15))
    assert stored(ticket_id).status == "open"
    change_status(HELPDESK, ticket_id=ticket_id, status="pending_customer")
    resolve(HELPDESK, ticket_id=ticket_id, now=utc(2026, 11, 3, 15))
    reopen(HELPDESK, ticket_id=ticket_id)
    ticket = stored(ticket_id)
    assert (ticket.status, ticket.resolved_at, ticket.assignee) == ("open", None, "helpdesk")
    assert ticket.first_response_at == utc(2026, 11, 2, 15)
    found = events()
    assert [(e.actor, e.permission, e.target, e.details["action"]) for e in found] == [
        ("helpdesk", "ticket.create", f"ticket:{ticket_id}", "create"),
        ("billing", "ticket.update", f"ticket:{ticket_id}", "assign"),
        ("helpdesk", "ticket.update", f"ticket:{ticket_id}", "respond"),
        ("helpdesk", "ticket.update", f"ticket:{ticket_id}", "change status"),
        ("helpdesk", "ticket.update", f"ticket:{ticket_id}", "resolve"),
        ("helpdesk", "ticket.update", f"ticket:{ticket_id}", "reopen"),
    ]
    assert found[3].details["before"] == "open" and found[3].details["after"] == "pending customer"
    assert ticket_id.startswith("TCK-")


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"customer_id": "C-404"}, NotFound, "no customer with id 'C-404'"),
        ({"title": "   "}, InvalidAction, "title"),
        ({"category": "refund"}, InvalidAction, "billing question, invoice dispute, payment"),
        ({"severity": "urgent"}, InvalidAction, "critical, moderate, minimal"),
        ({"channel": " "}, InvalidAction, "channel"),
        ({"now": datetime(2026, 11, 2, 14)}, InvalidAction, "time zone"),
    ],
)
def test_bad_tickets_are_refused_and_write_nothing(
    db: str, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    given: dict[str, Any] = {
        "customer_id": "C-001",
        "title": "Invoice question",
        "description": "",
        "category": "billing question",
        "severity": "moderate",
        "channel": "email",
        "now": utc(2026, 11, 2, 14),
    }
    with pytest.raises(error, match=message):
        create_ticket(HELPDESK, **{**given, **changes})
    assert counts() == (0, 0)


def test_bad_updates_are_refused_and_write_nothing(db: str) -> None:
    ticket_id = create(utc(2026, 11, 2, 14))
    resolve(HELPDESK, ticket_id=ticket_id, now=utc(2026, 11, 2, 16))
    before = counts()
    with pytest.raises(InvalidAction, match="already resolved"):
        resolve(HELPDESK, ticket_id=ticket_id, now=utc(2026, 11, 2, 17))
    with pytest.raises(NotFound, match="no ticket with id 'TCK-404'"):
        assign(HELPDESK, ticket_id="TCK-404", assignee="helpdesk")
    with pytest.raises(InvalidAction, match="new, open, pending customer, escalated, resolved, closed"):
        change_status(HELPDESK, ticket_id=ticket_id, status="done")
    with pytest.raises(InvalidAction, match="reopen it first"):
        change_status(HELPDESK, ticket_id=ticket_id, status="open")
    with pytest.raises(InvalidAction, match="resolved"):
        respond(HELPDESK, ticket_id=ticket_id, now=utc(2026, 11, 2, 17))
    with pytest.raises(InvalidAction, match="Name the agent"):
        assign(HELPDESK, ticket_id=ticket_id, assignee=" ")
    other = create(utc(2026, 11, 3, 14))
    with pytest.raises(InvalidAction, match="nothing to reopen"):
        reopen(HELPDESK, ticket_id=other)
    with pytest.raises(InvalidAction, match="Resolve"):
        change_status(HELPDESK, ticket_id=other, status="resolved")
    with pytest.raises(InvalidAction, match="before the ticket was opened"):
        respond(HELPDESK, ticket_id=other, now=utc(2026, 11, 3, 13))
    mid = counts()
    respond(HELPDESK, ticket_id=other, now=utc(2026, 11, 3, 15))
    with pytest.raises(InvalidAction, match="already had its first response"):
        respond(HELPDESK, ticket_id=other, now=utc(2026, 11, 3, 16))
    assert before[0] + 1 == mid[0] and before[1] + 1 == mid[1]
    assert counts() == (mid[0], mid[1] + 1)
    assert stored(ticket_id).resolved_at == utc(2026, 11, 2, 16)


def test_sales_agents_read_but_do_not_act(db: str) -> None:
    ticket_id = create(utc(2026, 11, 2, 14))
    now = utc(2026, 11, 3, 12)
    assert len(tickets(SALES, now=now)) == 1
    assert sla_breaches(SALES, now=now) == 1
    assert len(tickets_report(SALES, start=START, end=END, by="severity")) == 3
    before = counts()
    with pytest.raises(PermissionDenied, match=r"ticket\.create"):
        create(utc(2026, 11, 2, 15), actor=SALES)
    for action, kwargs in (
        (assign, {"assignee": "sales"}),
        (respond, {}),
        (change_status, {"status": "escalated"}),
        (resolve, {}),
        (reopen, {}),
    ):
        with pytest.raises(PermissionDenied, match=r"ticket\.update"):
            action(SALES, ticket_id=ticket_id, **kwargs)  # type: ignore[operator]
    assert counts() == before
    nobody = USERMGR
    with pytest.raises(PermissionDenied, match=r"tickets\.view"):
        tickets(nobody, now=now)
    with pytest.raises(PermissionDenied, match=r"tickets\.view"):
        sla_breaches(nobody, now=now)
