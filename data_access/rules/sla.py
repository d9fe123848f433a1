"""SLA clocks that run in business hours only: due times, elapsed and remaining business time, breach and risk.

Pure: a calendar and aware datetimes in, UTC datetimes and frozen dataclasses out; no database, no Streamlit, no
clock of its own (the caller says what "now" is).

Business time. The support offering opens on each weekday from its opening to its closing time on the wall
clock of its own time zone; every other moment is closed. Business time is real time elapsed while open, so a
business day lasts as long as the clocks say: 08:00-18:00 is ten hours on a day the clocks change overnight,
while 00:00-04:00 is three hours on a spring-forward night and five on a fall-back night. A closing time of
"24:00" is midnight at the end of the day.

Wall clock times the clocks change. An opening or closing time the clocks skip (02:30 on a spring-forward
night) is read with the offset before the change, so it falls as much later as the clocks jump (03:30); a time
the clocks show twice (01:30 on a fall-back night) is its first occurrence.

Holidays are local dates: the offering stays closed for the whole of a holiday's business hours.

Boundaries. An open period includes its opening and excludes its closing instant, so no business time passes
between closing and the next opening. The due time is the earliest instant at which the target's business
time has elapsed: a ticket opened while closed starts counting at the next opening, one whose time runs out
exactly at closing is due at closing (not at the next opening), and a zero target is due when opened.

States. A clock is met when the work is done at or before the due time and breached when it is done after it,
or when it is not done and now is past the due time. Otherwise it is at risk once the business time elapsed
reaches the at-risk share of the target (inclusive), and on track before that. Elapsed business time runs
from opening to the moment the work was done, or to now while it is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from data_access.errors import InvalidAction

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


SEARCH_LIMIT = timedelta(days=3 * 366)


State = Literal["met", "breached", "at risk", "on track"]


_CLOCK_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


_MIDNIGHT = time(0)


_ONE_DAY = timedelta(days=1)


_NO_TIME = timedelta(0)


@dataclass(frozen=True)
class Calendar:
    """Weekly opening hours (weekday 0 is Monday; missing or None is closed) in a time zone, less holidays.

    A closing time of 00:00 means midnight at the end of the day.
    """

    time_zone: str
    hours: Mapping[int, tuple[time, time] | None]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.time_zone)
        for weekday, span in self.hours.items():
            if weekday not in range(7):
                raise InvalidAction(f"Weekday {weekday} is not a day of the week (0 is Monday, 6 is Sunday).")
            if span is not None and not _opens_before_closing(*span):
                raise InvalidAction(
                    f"On {WEEKDAYS[weekday]} the opening time must come before the closing time."
                )
        if not any(self.hours.values()):
            raise InvalidAction("The support calendar needs business hours on at least one day of the week.")

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return _zone(self.time_zone)

    @classmethod
    def from_offering(
        cls, time_zone: str, business_hours: Mapping[str, Any], holiday_days: Iterable[date] = ()
    ) -> Calendar:
        """The calendar of a support offering: {"mon": ["08:00", "18:00"], ..., "sun": None}, closed if missing."""
        unknown = sorted(set(business_hours) - set(WEEKDAYS))
        if unknown:
            raise InvalidAction(
                f"Business hours name unknown days ({', '.join(map(str, unknown))}); use {', '.join(WEEKDAYS)}."
            )
        hours: dict[int, tuple[time, time] | None] = {}
        for weekday, name in enumerate(WEEKDAYS):
            span = business_hours.get(name)
            if span is None:
                hours[weekday] = None
                continue
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise InvalidAction(
                    f"Business hours on {name} must be an opening and a closing time, or empty when closed."
                )
            hours[weekday] = (
                _clock_time(name, span[0], closing=False),
                _clock_time(name, span[1], closing=True),
            )
        return cls(time_zone, hours, frozenset(holiday_days))


@dataclass(frozen=True)
class SlaStatus:
    """One SLA clock of a ticket; remaining is negative by the business time it ran over."""

    due_at: datetime
    elapsed: timedelta
    remaining: timedelta
    state: State

    @property
    def breached(self) -> bool:
        """The target was missed."""
        return self.state == "breached"

    @property
    def at_risk(self) -> bool:
        """The work is still open and most of the target's business time is used up."""
        return self.state == "at risk"


@dataclass(frozen=True)
class TicketSla:
    first_response: SlaStatus
    resolution: SlaStatus


def closed_too_long(calendar: Calendar) -> date | None:
    """The first holiday of a run of holidays that leaves the calendar without business hours for longer than the
    clocks look ahead (`SEARCH_LIMIT`), so no due time could be found from it; None when there is none."""
    open_days = {weekday for weekday, span in calendar.hours.items() if span}
    if not open_days:
        return None
    closed = {day for day in calendar.holidays if day.weekday() in open_days}

    def next_open(day: date, step: timedelta) -> date | None:
        try:
            day += step
            while day.weekday() not in open_days:
                day += step
        except OverflowError:
            return None
        return day

    for first in sorted(closed):
        if next_open(first, -_ONE_DAY) in closed:
            continue  # not the start of its run
        last = first
        while (following := next_open(last, _ONE_DAY)) in closed:
            last = following
        if (following or date.max) - first > SEARCH_LIMIT - 7 * _ONE_DAY:
            return first
    return None


def business_hours_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from start to end; negative when end comes before start."""
    start, end = _utc(start), _utc(end)
    if end < start:
        return -business_hours_between(calendar, end, start)
    elapsed = _NO_TIME
    for opens, closes in _open_periods(calendar, start):
        if opens >= end:
            break
        elapsed += max(_NO_TIME, min(closes, end) - max(opens, start))
    return elapsed


def add_business_hours(calendar: Calendar, start: datetime, hours: timedelta) -> datetime:
    """The earliest UTC instant by which this much business time has elapsed since start."""
    if hours < _NO_TIME:
        raise InvalidAction("A business-hours target cannot be negative.")
    start = _utc(start)
    if hours == _NO_TIME:
        return start
    left = hours
    waiting_since = start
    for opens, closes in _open_periods(calendar, start):
        if closes <= start:
            continue
        if opens - waiting_since > SEARCH_LIMIT:
            raise InvalidAction(
                f"The support calendar has no business hours for three years after "
                f"{waiting_since.astimezone(calendar.zone):%Y-%m-%d}; check its holidays."
            )
        counting_from = max(opens, start)
        if left <= closes - counting_from:
            return counting_from + left
        left -= closes - counting_from
        waiting_since = closes
    raise AssertionError("unreachable: open periods never run out")


def sla_status(
    calendar: Calendar,
    *,
    opened_at: datetime,
    target: timedelta,
    done_at: datetime | None,
    now: datetime,
    at_risk_share: float | Decimal = Decimal("0.75"),
) -> SlaStatus:
    """Where one SLA clock stands at now: due time, business time used and left, and its state."""
    if target <= _NO_TIME:
        raise InvalidAction("An SLA target must be a positive amount of business time.")
    share = Decimal(at_risk_share)
    if not Decimal(0) < share <= Decimal(1):
        raise InvalidAction("The at-risk share must be above 0 and at most 1.")
    due_at = add_business_hours(calendar, opened_at, target)
    stop = _utc(now if done_at is None else done_at)
    elapsed = max(_NO_TIME, business_hours_between(calendar, opened_at, stop))
    state: State
    if done_at is not None:
        state = "met" if _utc(done_at) <= due_at else "breached"
    elif _utc(now) > due_at:
        state = "breached"
    elif _microseconds(elapsed) >= _microseconds(target) * share:
        state = "at risk"
    else:
        state = "on track"
    return SlaStatus(due_at=due_at, elapsed=elapsed, remaining=target - elapsed, state=state)


def ticket_sla(
    calendar: Calendar,
    *,
    opened_at: datetime,
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    first_response_target: timedelta,
    resolution_target: timedelta,
    now: datetime,
    at_risk_share: float | Decimal = Decimal("0.75"),
) -> TicketSla:
    """A ticket's first-response and resolution clocks; a resolution also counts as the first response."""
    responded_at = first_response_at if first_response_at is not None else resolved_at
    return TicketSla(
        first_response=sla_status(
            calendar,
            opened_at=opened_at,
            target=first_response_target,
            done_at=responded_at,
            now=now,
            at_risk_share=at_risk_share,
        ),
        resolution=sla_status(
            calendar,
            opened_at=opened_at,
            target=resolution_target,
            done_at=resolved_at,
            now=now,
            at_risk_share=at_risk_share,
        ),
    )


def _open_periods(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open periods in UTC, in order and without overlap, from the local day before start's."""
    zone = calendar.zone
    day = start.astimezone(zone).date() - _ONE_DAY
    last_close = start - 2 * _ONE_DAY
    while True:
        span = calendar.hours.get(day.weekday())
        if span is not None and day not in calendar.holidays:
            opening, closing = span
            opens = max(last_close, datetime.combine(day, opening, zone).astimezone(UTC))
            closing_day = day + _ONE_DAY if closing == _MIDNIGHT else day
            closes = datetime.combine(closing_day, closing, zone).astimezone(UTC)
            if opens < closes:
                yield opens, closes
                last_close = closes
        day += _ONE_DAY


def _opens_before_closing(opening: time, closing: time) -> bool:
    return closing == _MIDNIGHT or opening < closing


def _clock_time(day: str, value: object, *, closing: bool) -> time:
    if closing and value == "24:00":
        return _MIDNIGHT
    match = _CLOCK_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidAction(f"Business hours on {day} must be times like 08:00, not {value!r}.")
    return time(int(match[1]), int(match[2]))


def known_time_zone(key: str) -> str:
    """The key when it names a time zone of the tz database that an offering can keep; "localtime" (whatever the
    server's clock is set to) and "Factory" (no zone) are not such names, nor is a folder of the database."""
    if key in ("localtime", "Factory") or key not in _time_zone_names():
        raise InvalidAction(_unknown_zone(key))
    return key


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _unknown_zone(key: str) -> str:
    return f"The time zone {key!r} is not known; use a name like America/New_York."


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder, or a name too long
        raise InvalidAction(_unknown_zone(key)) from exc


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidAction("SLA times must carry a time zone.")
    return moment.astimezone(UTC)


def _microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
