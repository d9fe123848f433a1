"""The one random generator and the day every part of the demo is dated from."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Row = dict[str, Any]

MONTHS = 24
OFFICE = ZoneInfo("America/New_York")
BILLING = "billing"


def add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class Draw:
    """Every part of the demo draws from `rng` in a fixed order: the same seed and day give the same rows. The
    story told about those rows afterwards (past suspensions, the times of audit events) draws from `story`, so
    telling it leaves the rows drawn from `rng` as they were; exchange rates and Partner Center's files draw from
    `partner_center`, likewise."""

    def __init__(self, *, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.story = random.Random(f"story:{seed}")
        self.partner_center = random.Random(f"partner-center:{seed}")
        self.today = today
        self.yesterday = today - timedelta(days=1)
        self.horizon = datetime.combine(today, time(0), UTC)
        self.first_month = add_months(today.replace(day=1), -(MONTHS - 1))

    def month(self, index: int) -> date:
        """The first day of billing month `index`, counted from the oldest of the `MONTHS` months."""
        return add_months(self.first_month, index)

    def office_time(self, day: date, rng: random.Random | None = None) -> datetime:
        """A moment on `day` between 08:00 and 18:00 in New York, in UTC (still the same day in UTC)."""
        minute = (rng or self.rng).randint(8 * 60, 18 * 60 - 1)
        return datetime.combine(day, time(minute // 60, minute % 60), OFFICE).astimezone(UTC)
