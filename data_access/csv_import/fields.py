"""Parsing one CSV cell: each parser returns the value or raises BadValue with a reason a person can act on.

Numbers and dates take ASCII digits only (Python's own parsers also read superscript and other scripts' digits);
amounts are at most money.MAX_AMOUNT, quantities at most checks.MAX_QUANTITY, dates fall in FIRST_DAY..LAST_DAY.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from data_access import checks
from data_access.money import MAX_AMOUNT


class BadValue(ValueError):
    """The cell cannot be read; the message names the column and says why."""


Parser = Callable[[str, str], Any]
_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def cut(value: str, limit: int = 40) -> str:
    """A cell as a message repeats it: cut short when long."""
    return value if len(value) <= limit else value[:limit] + "…"


def shown(value: str) -> str:
    """A cell as a message quotes it."""
    return repr(cut(value))


def text(max_length: int) -> Parser:
    def parse(column: str, value: str) -> str:
        if len(value) > max_length:
            raise BadValue(f"{column} is longer than {max_length} characters")
        return value

    return parse


def currency(column: str, value: str) -> str:
    code = checks.currency_code(value)
    if code is None:
        raise BadValue(f"{column} {shown(value)} is not an ISO 4217 currency code (e.g. USD, EUR)")
    return code


def country(column: str, value: str) -> str:
    code = checks.country_code(value)
    if code is None:
        raise BadValue(f"{column} {shown(value)} is not a two-letter country code (ISO 3166, e.g. US, DE)")
    return code


def tenant(column: str, value: str) -> str:
    guid = checks.tenant_id(value)
    if guid is None:
        raise BadValue(
            f"{column} {shown(value)} is not a tenant id (a GUID like 8f2d2c4e-0000-4000-8000-000000000001)"
        )
    return guid


def email(max_length: int) -> Parser:
    def parse(column: str, value: str) -> str:
        if len(value) > max_length or not checks.valid_email(value):
            raise BadValue(f"{column} {shown(value)} is not an e-mail address")
        return value

    return parse


def cents(column: str, value: str) -> int:
    """A non-negative amount with a dot decimal, at most two decimals and at most MAX_AMOUNT, as integer cents."""
    if not _AMOUNT.fullmatch(value):
        raise BadValue(f"{column} {shown(value)} is not an amount (digits with a dot decimal, e.g. 1234.50)")
    amount = Decimal(value)
    if amount < 0:
        raise BadValue(f"{column} {cut(value)} is negative")
    if amount > MAX_AMOUNT:
        raise BadValue(f"{column} {cut(value)} is more than the largest amount, {MAX_AMOUNT:,}")
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise BadValue(f"{column} {cut(value)} has more than two decimal places")
    return int(scaled)


def whole_number(column: str, value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise BadValue(f"{column} {shown(value)} is not a whole number of zero or more")
    if len(value.lstrip("0")) > len(str(checks.MAX_QUANTITY)) or int(value) > checks.MAX_QUANTITY:
        raise BadValue(f"{column} {cut(value)} is more than {checks.MAX_QUANTITY:,}")
    return int(value)


def boolean(column: str, value: str) -> bool:
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise BadValue(f"{column} {shown(value)} is not true/false/yes/no/1/0") from None


def _in_range(column: str, value: str, day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadValue(f"{column} {shown(value)} is not between {FIRST_DAY} and {LAST_DAY}")


def day(date_format: str | None) -> Parser:
    """ISO dates (2026-11-24), or the --date-format given (e.g. %m/%d/%Y)."""

    def parse(column: str, value: str) -> date:
        try:
            if not value.isascii():
                raise ValueError(value)
            if date_format:
                parsed = datetime.strptime(value, date_format).date()  # noqa: DTZ007 - a calendar date, no time
            elif _ISO_DAY.fullmatch(value):
                parsed = date.fromisoformat(value)
            else:
                raise ValueError(value)
        except ValueError:
            expected = date_format or "YYYY-MM-DD"
            raise BadValue(f"{column} {shown(value)} is not a date in the form {expected}") from None
        _in_range(column, value, parsed)
        return parsed

    return parse


def timestamp(date_format: str | None) -> Parser:
    """ISO 8601 (UTC when it carries no offset); with --date-format also that date, optionally with a time."""

    def parse(column: str, value: str) -> datetime:
        moment: datetime | None = None
        if value.isascii():
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = _with_format(value, date_format)
        if moment is None:
            raise BadValue(f"{column} {shown(value)} is not an ISO 8601 time, e.g. 2026-11-24T09:30:00Z")
        _in_range(column, value, moment.date())
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
            raise BadValue(
                f"{column} {shown(value)} is not a {what}; use one of: {', '.join(values)}"
            ) from None

    return parse


def _fold(value: str) -> str:
    return " ".join(value.replace("_", " ").replace("-", " ").lower().split())
