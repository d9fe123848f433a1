"""Money is integer cents in the database and Decimal everywhere else; never float. Amounts, days and moments
are shown to people (pages, customer-facing text, PDF statements) by the three formatters at the end, and only by
them; machine-readable output (CSV, JSON) keeps plain decimals and ISO dates."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from data_access.errors import InvalidAction

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000.00")
"""The largest amount one line may carry (an invoice, payment, credit note, price), in its currency's units: at
1e11 cents a line, sums over tens of millions of rows stay far inside 64-bit integers."""
_TYPED = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


class InvalidAmount(InvalidAction):
    pass


def to_cents(value: Decimal | int | str) -> int:
    """Exact conversion; refuses fractions of a cent, amounts beyond MAX_AMOUNT either way, anything that is not
    a number, and typed text other than ASCII digits with an optional sign and dot decimal."""
    if isinstance(value, float):
        raise InvalidAmount("Amounts must be exact decimals, not floating point numbers.")
    if isinstance(value, str) and not _TYPED.fullmatch(value.strip()):
        raise InvalidAmount(f"{value[:40]!r} is not an amount; use the digits 0-9 and a dot for decimals.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not an amount.")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(f"{amount} is more than the largest amount Billing Desk takes, {MAX_AMOUNT:,}.")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(f"{value} has more than two decimal places.")
    return int(cents)


def from_cents(cents: int | Decimal | None) -> Decimal:
    """PostgreSQL's SUM(bigint) arrives as Decimal, SQLite's as int; both come out as Decimal with 2 places."""
    return (Decimal(cents or 0) / 100).quantize(CENT)


def typed_amount(text: str) -> Decimal:
    """An amount a person typed, exact to the cent; thousands separators ("7,905.05") are allowed."""
    if not text.strip():
        raise InvalidAmount("Enter an amount.")
    return from_cents(to_cents(text.replace(",", "")))


def money(value: Decimal | int, currency: str | None = None) -> str:
    """An amount for people: two decimals, thousands separators, after its currency code: "EUR 7,905.05",
    "EUR -12.50"; without a currency only the figure. Never for CSV or JSON, which keep plain decimals."""
    if isinstance(value, float):
        raise TypeError("Amounts are Decimal or whole units, never float.")
    amount = Decimal(value).quantize(CENT)
    figure = f"{amount if amount else abs(amount):,.2f}"
    return f"{currency} {figure}" if currency else figure


def day(value: date) -> str:
    """A calendar day for people, the same everywhere: "2026-12-02"."""
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def moment(value: datetime, zone: str = "UTC") -> str:
    """A point in time for people, in `zone` (the support offering's time zone on pages): "2026-12-02 10:08 UTC".
    A time without an offset is taken as UTC, as the database stores it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    local = value.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone}"
