"""SLA clocks in business hours: by hand across weekends, holidays, DST changes and zones, and by property."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_access.errors import InvalidAction
from data_access.rules.sla import (
    Calendar,
    SlaStatus,
    add_business_hours,
    business_hours_between,
    sla_status,
    ticket_sla,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS_8_TO_6: dict[str, Any] = {
    **{day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": None,
    "sun": None,
}
US_2026 = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 11, 27),
        date(2026, 12, 25),
    }
)
UK_2026 = frozenset(
    {date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4), date(2026, 12, 25), date(2026, 12, 28)}
)
OFFICE = Calendar.from_offering("America/New_York", WEEKDAYS_8_TO_6)
OFFICE_WITH_HOLIDAYS = Calendar.from_offering("America/New_York", WEEKDAYS_8_TO_6, US_2026)
H = timedelta(hours=1)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def ldn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def sundays(zone: str, opening: str, closing: str) -> Calendar:
    return Calendar.from_offering(zone, {"sun": [opening, closing]})


# Weekends and business days


def test_friday_evening_ticket_is_due_monday_and_not_late_on_saturday() -> None:
    opened = ny(2026, 1, 9, 19)
    assert add_business_hours(OFFICE, opened, 4 * H) == ny(2026, 1, 12, 12) == utc(2026, 1, 12, 17)
    saturday = sla_status(OFFICE, opened_at=opened, target=4 * H, done_at=None, now=ny(2026, 1, 10, 15))
    assert saturday.state == "on track"
    assert not saturday.breached
    assert (saturday.elapsed, saturday.remaining) == (timedelta(0), 4 * H)


def test_ticket_opened_inside_hours_carries_over_to_the_next_morning() -> None:
    assert add_business_hours(OFFICE, ny(2026, 1, 13, 16), 4 * H) == utc(2026, 1, 14, 15)


def test_result_is_utc() -> None:
    due = add_business_hours(OFFICE, ny(2026, 1, 13, 16), 4 * H)
    assert due.tzinfo is UTC


def test_start_exactly_at_opening_and_landing_exactly_at_closing() -> None:
    assert add_business_hours(OFFICE, ny(2026, 1, 12, 8), 10 * H) == ny(2026, 1, 12, 18)
    assert business_hours_between(OFFICE, ny(2026, 1, 12, 8), ny(2026, 1, 12, 18)) == 10 * H


def test_start_exactly_at_closing_counts_from_the_next_opening() -> None:
    assert add_business_hours(OFFICE, ny(2026, 1, 12, 18), H) == ny(2026, 1, 13, 9)
    assert business_hours_between(OFFICE, ny(2026, 1, 12, 18), ny(2026, 1, 13, 8)) == timedelta(0)


def test_zero_target_is_due_when_opened_even_while_closed() -> None:
    assert add_business_hours(OFFICE, ny(2026, 1, 10, 12), timedelta(0)) == ny(2026, 1, 10, 12)


def test_end_before_start_measures_backwards() -> None:
    assert business_hours_between(OFFICE, ny(2026, 1, 13, 10), ny(2026, 1, 12, 17)) == -3 * H


def test_a_full_week_has_fifty_hours() -> None:
    assert business_hours_between(OFFICE, ny(2026, 1, 10), ny(2026, 1, 17)) == 50 * H


# Holidays and long tickets


def test_holiday_on_a_weekday_is_skipped() -> None:
    # Thursday 16:00 + 4 h: two hours on Thursday, Friday 3 July is a holiday, Monday from 08:00.
    assert add_business_hours(OFFICE_WITH_HOLIDAYS, ny(2026, 7, 2, 16), 4 * H) == ny(2026, 7, 6, 10)
    assert add_business_hours(OFFICE, ny(2026, 7, 2, 16), 4 * H) == ny(2026, 7, 3, 10)


def test_forty_hours_across_a_holiday_week() -> None:
    holiday_week = frozenset(date(2026, 12, day) for day in range(21, 26))
    calendar = Calendar.from_offering("America/New_York", WEEKDAYS_8_TO_6, holiday_week)
    opened = ny(2026, 12, 18, 17)
    # One hour on Friday, nothing the week of the 21st, then 10 + 10 + 10 + 9 hours from Monday the 28th.
    assert add_business_hours(calendar, opened, 40 * H) == ny(2026, 12, 31, 17) == utc(2026, 12, 31, 22)
    mid_holidays = sla_status(
        calendar, opened_at=opened, target=40 * H, done_at=None, now=ny(2026, 12, 23, 12)
    )
    assert (mid_holidays.elapsed, mid_holidays.state) == (H, "on track")


def test_two_hundred_hours_span_four_weeks_and_a_holiday() -> None:
    opened = ny(2026, 2, 2, 8)
    assert add_business_hours(OFFICE, opened, 200 * H) == ny(2026, 2, 27, 18)
    assert (
        add_business_hours(OFFICE_WITH_HOLIDAYS, opened, 200 * H) == ny(2026, 3, 2, 18) == utc(2026, 3, 2, 23)
    )


def test_holidays_are_local_dates_not_utc_dates() -> None:
    evenings = {day: ["18:00", "24:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    calendar = Calendar.from_offering("America/New_York", evenings, {date(2026, 7, 3)})
    # Thursday evening runs into UTC Friday and counts; Friday evening is the holiday though UTC says Saturday.
    assert business_hours_between(calendar, utc(2026, 7, 3), utc(2026, 7, 3, 4)) == 4 * H
    assert business_hours_between(calendar, utc(2026, 7, 4), utc(2026, 7, 4, 4)) == timedelta(0)
    assert business_hours_between(calendar, ny(2026, 7, 2, 18), ny(2026, 7, 3, 0)) == 6 * H


def test_closing_at_24_00_runs_to_midnight() -> None:
    calendar = Calendar.from_offering("UTC", {"mon": ["20:00", "24:00"], "tue": ["00:00", "02:00"]})
    assert business_hours_between(calendar, utc(2026, 1, 12), utc(2026, 1, 14)) == 6 * H
    assert add_business_hours(calendar, utc(2026, 1, 12, 23), 2 * H) == utc(2026, 1, 13, 1)


# Daylight saving time


def test_office_hours_keep_their_wall_clock_across_new_york_dst() -> None:
    # Friday 16:00 EST + 4 h: two hours on Friday, then Monday 10:00 EDT, which is 14:00 UTC, not 15:00.
    assert add_business_hours(OFFICE, ny(2026, 3, 6, 16), 4 * H) == utc(2026, 3, 9, 14)
    assert add_business_hours(OFFICE, ny(2026, 10, 30, 16), 4 * H) == utc(2026, 11, 2, 15)
    assert business_hours_between(OFFICE, ny(2026, 3, 6, 8), ny(2026, 3, 9, 18)) == 20 * H
    assert business_hours_between(OFFICE, ny(2026, 10, 30, 8), ny(2026, 11, 2, 18)) == 20 * H


def test_office_hours_keep_their_wall_clock_across_london_dst() -> None:
    calendar = Calendar.from_offering(
        "Europe/London", {day: ["09:00", "17:30"] for day in ("mon", "tue", "wed", "thu", "fri")}
    )
    # Friday 17:00 GMT + 4 h: half an hour on Friday, then Monday 12:30 BST, which is 11:30 UTC.
    assert add_business_hours(calendar, ldn(2026, 3, 27, 17), 4 * H) == utc(2026, 3, 30, 11, 30)
    assert add_business_hours(calendar, ldn(2026, 10, 23, 17), 4 * H) == utc(2026, 10, 26, 12, 30)


def test_new_york_spring_forward_night_is_an_hour_short() -> None:
    calendar = sundays("America/New_York", "00:00", "04:00")
    assert business_hours_between(calendar, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)) == 3 * H
    assert business_hours_between(calendar, utc(2026, 3, 14, 12), utc(2026, 3, 16, 12)) == 4 * H
    opened = ny(2026, 3, 8, 0)
    assert opened == utc(2026, 3, 8, 5)
    assert add_business_hours(calendar, opened, 2 * H) == ny(2026, 3, 8, 3) == utc(2026, 3, 8, 7)
    assert add_business_hours(calendar, opened, 3 * H) == ny(2026, 3, 8, 4) == utc(2026, 3, 8, 8)
    assert add_business_hours(calendar, opened, 3 * H + 30 * timedelta(minutes=1)) == utc(2026, 3, 15, 4, 30)


def test_new_york_fall_back_night_is_an_hour_long() -> None:
    calendar = sundays("America/New_York", "00:00", "04:00")
    opened = ny(2026, 11, 1, 0)
    assert opened == utc(2026, 11, 1, 4)
    assert business_hours_between(calendar, opened, ny(2026, 11, 1, 4)) == 5 * H
    # After one hour it is 01:00 EDT, after two 01:00 EST: the same wall clock twice (fold 0, then 1).
    one, two = (add_business_hours(calendar, opened, n * H) for n in (1, 2))
    assert (one, two) == (utc(2026, 11, 1, 5), utc(2026, 11, 1, 6))
    assert [(due.astimezone(NEW_YORK).hour, due.astimezone(NEW_YORK).fold) for due in (one, two)] == [
        (1, 0),
        (1, 1),
    ]
    assert add_business_hours(calendar, opened, 5 * H) == utc(2026, 11, 1, 9)


def test_london_spring_forward_and_fall_back_nights() -> None:
    calendar = sundays("Europe/London", "00:00", "04:00")
    assert business_hours_between(calendar, utc(2026, 3, 28, 12), utc(2026, 3, 30)) == 3 * H
    assert add_business_hours(calendar, ldn(2026, 3, 29, 0), 3 * H) == utc(2026, 3, 29, 3)
    assert business_hours_between(calendar, utc(2026, 10, 24, 12), utc(2026, 10, 26)) == 5 * H
    assert ldn(2026, 10, 25, 0) == utc(2026, 10, 24, 23)
    assert add_business_hours(calendar, ldn(2026, 10, 25, 0), 5 * H) == utc(2026, 10, 25, 4)


def test_opening_time_the_clocks_skip_falls_as_much_later_as_they_jump() -> None:
    calendar = sundays("America/New_York", "02:30", "05:00")
    # 02:30 does not exist on 8 March: read as EST it is 07:30 UTC (03:30 EDT); 05:00 EDT is 09:00 UTC.
    assert business_hours_between(calendar, utc(2026, 3, 8), utc(2026, 3, 9)) == timedelta(hours=1.5)
    assert business_hours_between(calendar, utc(2026, 3, 1), utc(2026, 3, 2)) == timedelta(hours=2.5)
    assert add_business_hours(calendar, utc(2026, 3, 8), H) == utc(2026, 3, 8, 8, 30)


def test_opening_time_the_clocks_show_twice_is_its_first_occurrence() -> None:
    calendar = sundays("America/New_York", "01:30", "03:00")
    # 01:30 EDT is 05:30 UTC; 03:00 EST is 08:00 UTC.
    assert business_hours_between(calendar, utc(2026, 11, 1), utc(2026, 11, 2)) == timedelta(hours=2.5)
    assert business_hours_between(calendar, utc(2026, 10, 25), utc(2026, 10, 26)) == timedelta(hours=1.5)


def test_hours_wholly_inside_the_skipped_hour_are_closed_that_night() -> None:
    calendar = sundays("America/New_York", "02:00", "03:00")
    assert business_hours_between(calendar, utc(2026, 3, 8), utc(2026, 3, 9)) == timedelta(0)
    assert add_business_hours(calendar, utc(2026, 3, 8), H) == ny(2026, 3, 15, 3)


# Zones ahead of UTC


def test_calendar_east_of_utc_with_utc_input() -> None:
    calendar = Calendar.from_offering(
        "Asia/Tokyo", {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    )
    # Sunday 23:30 UTC is Monday 08:30 in Tokyo: the clock starts at 09:00 JST, midnight UTC.
    assert add_business_hours(calendar, utc(2026, 1, 11, 23, 30), H) == utc(2026, 1, 12, 1)
    # Friday 08:00 UTC is 17:00 in Tokyo, closing time: nothing more until Monday.
    assert add_business_hours(calendar, utc(2026, 1, 9, 8), H) == utc(2026, 1, 12, 1)
    assert business_hours_between(calendar, utc(2026, 1, 9, 8), utc(2026, 1, 11, 23, 59)) == timedelta(0)
    assert business_hours_between(calendar, utc(2026, 1, 12), utc(2026, 1, 12, 8)) == 8 * H
    with_holiday = Calendar.from_offering(
        "Asia/Tokyo", {"mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"]}, {date(2026, 1, 12)}
    )
    assert add_business_hours(with_holiday, utc(2026, 1, 9, 8), H) == datetime(2026, 1, 13, 10, tzinfo=TOKYO)


def test_aware_input_in_any_zone_is_the_same_instant() -> None:
    opened = ny(2026, 1, 9, 19)
    assert add_business_hours(OFFICE, opened.astimezone(TOKYO), 4 * H) == add_business_hours(
        OFFICE, opened, 4 * H
    )


# Status


OPENED = ny(2026, 1, 12, 8)


def status(
    now: datetime, done_at: datetime | None = None, share: float | Decimal = Decimal("0.75")
) -> SlaStatus:
    return sla_status(OFFICE, opened_at=OPENED, target=4 * H, done_at=done_at, now=now, at_risk_share=share)


def test_status_on_track_then_at_risk_from_the_share() -> None:
    early = status(ny(2026, 1, 12, 9))
    assert (early.due_at, early.elapsed, early.remaining, early.state) == (
        utc(2026, 1, 12, 17),
        H,
        3 * H,
        "on track",
    )
    assert status(ny(2026, 1, 12, 10, 59, 59)).state == "on track"
    at_share = status(ny(2026, 1, 12, 11))
    assert (at_share.state, at_share.at_risk) == ("at risk", True)


def test_status_at_due_is_at_risk_and_a_moment_later_breached() -> None:
    due = status(ny(2026, 1, 12, 12))
    assert (due.state, due.remaining) == ("at risk", timedelta(0))
    late = status(ny(2026, 1, 12, 12) + timedelta(microseconds=1))
    assert (late.state, late.breached, late.remaining) == ("breached", True, -timedelta(microseconds=1))
    afternoon = status(ny(2026, 1, 12, 13))
    assert (afternoon.elapsed, afternoon.remaining, afternoon.state) == (5 * H, -H, "breached")
    next_day = status(ny(2026, 1, 13, 9))
    assert (next_day.elapsed, next_day.remaining, next_day.state) == (11 * H, -7 * H, "breached")


def test_status_done_at_or_before_due_is_met_after_due_breached() -> None:
    later = ny(2026, 1, 20)
    assert status(later, done_at=ny(2026, 1, 12, 12)).state == "met"
    early = status(later, done_at=ny(2026, 1, 12, 10))
    assert (early.state, early.elapsed, early.remaining) == ("met", 2 * H, 2 * H)
    assert status(later, done_at=ny(2026, 1, 12, 12, 1)).state == "breached"


def test_due_at_closing_is_breached_that_evening_though_no_business_time_passed() -> None:
    evening = sla_status(OFFICE, opened_at=OPENED, target=10 * H, done_at=None, now=ny(2026, 1, 12, 20))
    assert (evening.elapsed, evening.state) == (10 * H, "breached")


def test_share_may_be_decimal_or_float() -> None:
    assert status(ny(2026, 1, 12, 10), share=Decimal("0.5")).state == "at risk"
    assert status(ny(2026, 1, 12, 10), share=0.5).state == "at risk"
    assert status(ny(2026, 1, 12, 9, 59), share=0.5).state == "on track"


def test_now_before_opening_has_no_elapsed_time() -> None:
    assert status(ny(2026, 1, 11)).elapsed == timedelta(0)


def test_ticket_shows_both_clocks_and_resolution_answers_first_response() -> None:
    clocks = ticket_sla(
        OFFICE,
        opened_at=OPENED,
        first_response_at=ny(2026, 1, 12, 8, 30),
        resolved_at=None,
        first_response_target=H,
        resolution_target=8 * H,
        now=ny(2026, 1, 12, 15),
    )
    assert (clocks.first_response.state, clocks.first_response.due_at) == ("met", ny(2026, 1, 12, 9))
    assert (clocks.resolution.due_at, clocks.resolution.state) == (ny(2026, 1, 12, 16), "at risk")
    resolved = ticket_sla(
        OFFICE,
        opened_at=OPENED,
        first_response_at=None,
        resolved_at=ny(2026, 1, 12, 8, 45),
        first_response_target=H,
        resolution_target=8 * H,
        now=ny(2026, 1, 13),
    )
    assert (resolved.first_response.state, resolved.resolution.state) == ("met", "met")


# Refusals


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"monday": ["08:00", "18:00"]}, "unknown days (monday)"),
        ({"mon": ["8am", "18:00"]}, "times like 08:00, not '8am'"),
        ({"mon": ["08:00", "25:00"]}, "times like 08:00"),
        ({"mon": ["24:00", "18:00"]}, "times like 08:00"),
        ({"mon": ["08:00", 18]}, "times like 08:00"),
        ({"mon": ["18:00", "08:00"]}, "opening time must come before the closing time"),
        ({"mon": ["08:00", "08:00"]}, "opening time must come before the closing time"),
        ({"mon": "08:00-18:00"}, "an opening and a closing time"),
        ({"mon": ["08:00"]}, "an opening and a closing time"),
        ({day: None for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, "at least one day"),
        ({}, "at least one day"),
    ],
)
def test_invalid_business_hours_are_refused_with_a_sentence(hours: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidAction, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        Calendar.from_offering("America/New_York", hours)
    assert str(refused.value).endswith(".")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidAction, match="time zone 'Mars/Olympus' is not known"):
        Calendar.from_offering("Mars/Olympus", WEEKDAYS_8_TO_6)


def test_calendar_built_directly_is_checked_too() -> None:
    with pytest.raises(InvalidAction, match="not a day of the week"):
        Calendar("UTC", {7: (time(8), time(18))})
    with pytest.raises(InvalidAction, match="at least one day"):
        Calendar("UTC", {0: None})


def test_naive_times_and_negative_targets_are_refused() -> None:
    with pytest.raises(InvalidAction, match="must carry a time zone"):
        add_business_hours(OFFICE, datetime(2026, 1, 12, 8), H)
    with pytest.raises(InvalidAction, match="cannot be negative"):
        add_business_hours(OFFICE, OPENED, -H)
    with pytest.raises(InvalidAction, match="positive amount"):
        sla_status(OFFICE, opened_at=OPENED, target=timedelta(0), done_at=None, now=OPENED)
    with pytest.raises(InvalidAction, match="at-risk share"):
        status(OPENED, share=1.5)


def test_holidays_on_every_open_day_for_years_stop_the_search() -> None:
    saturdays = frozenset(date(2026, 1, 3) + timedelta(weeks=n) for n in range(5 * 53))
    calendar = Calendar.from_offering("UTC", {"sat": ["09:00", "17:00"]}, saturdays)
    with pytest.raises(InvalidAction, match="no business hours for three years after 2026-01-01"):
        add_business_hours(calendar, utc(2026, 1, 1), H)
    assert business_hours_between(calendar, utc(2026, 1, 1), utc(2027, 1, 1)) == timedelta(0)


# Properties

PROPERTY_CALENDARS = (
    OFFICE_WITH_HOLIDAYS,
    Calendar.from_offering(
        "Europe/London", {day: ["09:00", "17:30"] for day in ("mon", "tue", "wed", "thu", "fri")}, UK_2026
    ),
    Calendar.from_offering("America/New_York", {**WEEKDAYS_8_TO_6, "sun": ["00:00", "04:00"]}, US_2026),
    Calendar.from_offering("Europe/London", {"sat": ["00:30", "02:30"], "sun": ["00:30", "02:30"]}),
)
calendars = st.sampled_from(PROPERTY_CALENDARS)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)
targets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))
PROPERTY = settings(max_examples=100)


@PROPERTY
@given(calendars, instants, targets)
def test_elapsed_until_due_is_the_target(calendar: Calendar, start: datetime, target: timedelta) -> None:
    due = add_business_hours(calendar, start, target)
    assert due >= start
    assert business_hours_between(calendar, start, due) == target


@PROPERTY
@given(calendars, instants, instants, targets)
def test_later_start_is_never_due_earlier(
    calendar: Calendar, one: datetime, other: datetime, target: timedelta
) -> None:
    early, late = sorted((one, other))
    assert add_business_hours(calendar, early, target) <= add_business_hours(calendar, late, target)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_elapsed_is_additive(calendar: Calendar, one: datetime, two: datetime, three: datetime) -> None:
    a, b, c = sorted((one, two, three))
    assert business_hours_between(calendar, a, b) + business_hours_between(calendar, b, c) == (
        business_hours_between(calendar, a, c)
    )
