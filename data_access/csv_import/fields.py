"""Parsing one CSV cell: each parser returns the value or raises BadValue with a reason a person can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class BadValue(ValueError):
    """The cell cannot be read; the message names the column and says why."""


Parser = Callable[[str, str], Any]
_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def text(max_length: int) -> Parser:
    def parse(column: str, value: str) -> str:
        if len(value) > max_length:
            raise BadValue(f"{column} is longer than {max_length} characters")
        return value

    return parse


def code(length: int, what: str) -> Parser:
    def parse(column: str, value: str) -> str:
        if len(value) != length or not value.isalpha():
            raise BadValue(f"{column} {value!r} is not a {what}")
        return value.upper()

    return parse


def cents(column: str, value: str) -> int:
    """A non-negative amount with a dot decimal and at most two decimals, as integer cents."""
    if not _AMOUNT.match(value):
        raise BadValue(f"{column} {value!r} is not an amount (digits with a dot decimal, e.g. 1234.50)")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadValue(f"{column} {value!r} is not an amount") from None
    if amount < 0:
        raise BadValue(f"{column} {value} is negative")
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise BadValue(f"{column} {value} has more than two decimal places")
    return int(scaled)


def whole_number(column: str, value: str) -> int:
    if not value.isdigit():
        raise BadValue(f"{column} {value!r} is not a whole number of zero or more")
    return int(value)


def boolean(column: str, value: str) -> bool:
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise BadValue(f"{column} {value!r} is not true/false/yes/no/1/0") from None


def day(date_format: str | None) -> Parser:
    """ISO dates (2026-11-24), or the --date-format given (e.g. %m/%d/%Y)."""

    def parse(column: str, value: str) -> date:
        try:
            if date_format:
                return datetime.strptime(value, date_format).date()  # noqa: DTZ007 - a calendar date, no time
            return date.fromisoformat(value)
        except ValueError:
            expected = date_format or "YYYY-MM-DD"
            raise BadValue(f"{column} {value!r} is not a date in the form {expected}") from None

    return parse


def timestamp(date_format: str | None) -> Parser:
    """ISO 8601 (UTC when it carries no offset); with --date-format also that date, optionally with a time."""

    def parse(column: str, value: str) -> datetime:
        moment: datetime | None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = _with_format(value, date_format)
        if moment is None:
            raise BadValue(f"{column} {value!r} is not an ISO 8601 time, e.g. 2026-11-24T09:30:00Z")
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    return parse


def _with_format(value: str, date_format: str | None) -> datetime | None:
    if not date_format:
        return None
    for suffix in ("", " %H:%M", " %H:%M:%S"):
        try:
            return datetime.strptime(value, date_format + suffix)  # noqa: DTZ007 - made UTC by the caller
        except ValueError:
            continue
    return None


def choice(values: Sequence[str], what: str) -> Parser:
    """One of the listed values, matched case-insensitively with spaces or underscores alike."""
    canonical = {_fold(value): value for value in values}

    def parse(column: str, value: str) -> str:
        try:
            return canonical[_fold(value)]
        except KeyError:
            raise BadValue(f"{column} {value!r} is not a {what}; use one of: {', '.join(values)}") from None

    return parse


def _fold(value: str) -> str:
    return " ".join(value.replace("_", " ").replace("-", " ").lower().split())
