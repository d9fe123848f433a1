"""The business date: the server's local calendar day (a payment cannot be dated after it)."""

from datetime import UTC, date, datetime


def today() -> date:
    return datetime.now(UTC).astimezone().date()
