"""The partner's support offering: business hours, contact methods, targets and the holidays it skips."""

from __future__ import annotations

from datetime import date, timedelta

from data_access.demo.draw import BILLING, OFFICE, Draw, Row, add_months
from data_access.enums import Severity, SupportVehicle

SUPPORT_TARGETS: dict[Severity, tuple[int, int]] = {
    Severity.CRITICAL: (1, 8),
    Severity.MODERATE: (4, 24),
    Severity.MINIMAL: (8, 40),
}


def support_offering(draw: Draw) -> Row:
    return {
        "id": 1,
        "name": "Partner support for Microsoft cloud customers",
        "time_zone": OFFICE.key,
        "business_hours": {
            **{day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            "sat": None,
            "sun": None,
        },
        "contact_methods": [
            {"method": "phone", "value": "+1 800 555 0142", "availability": "Mon-Fri 08:00-18:00 ET"},
            {"method": "email", "value": "support@billingdesk.example", "availability": "Any time"},
            {
                "method": "portal",
                "value": "https://support.billingdesk.example",
                "availability": "Any time",
            },
        ],
        "pricing": (
            "Billing, licensing and subscription requests are included with every subscription. Technical "
            "support in business hours is included; critical incidents outside business hours are billed at "
            "USD 150.00 per hour. Escalations to Microsoft carry no extra charge."
        ),
        "pricing_rates": [
            {
                "item": "Critical incident outside business hours",
                "currency": "USD",
                "amount": "150.00",
                "unit": "hour",
            }
        ],
        "entitlements": [
            SupportVehicle.ADVANCED.value,
            SupportVehicle.PREMIER.value,
            SupportVehicle.SIGNATURE.value,
        ],
        "updated_at": draw.horizon - timedelta(days=45, hours=10),
        "updated_by": BILLING,
    }


def support_targets() -> list[Row]:
    return [
        {
            "id": number,
            "offering_id": 1,
            "severity": severity.value,
            "first_response_hours": first,
            "resolution_hours": resolve,
        }
        for number, (severity, (first, resolve)) in enumerate(SUPPORT_TARGETS.items(), start=1)
    ]


def holidays(draw: Draw) -> list[Row]:
    """US holidays from a year ago to a year ahead, so the SLA clock skips them over the ticket history."""
    window = (draw.today - timedelta(days=365), draw.today + timedelta(days=365))
    days = [
        (day, name)
        for year in range(draw.today.year - 1, draw.today.year + 2)
        for day, name in _us_holidays(year)
        if window[0] <= day <= window[1]
    ]
    return [{"id": n, "offering_id": 1, "day": day, "name": name} for n, (day, name) in enumerate(days, 1)]


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = add_months(date(year, month, 1), 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def _us_holidays(year: int) -> list[tuple[date, str]]:
    return [
        (_observed(date(year, 1, 1)), "New Year's Day"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (_observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (_observed(date(year, 12, 25)), "Christmas Day"),
    ]
