"""Money is integer cents in the database and Decimal everywhere else; never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from data_access.errors import InvalidAction

CENT = Decimal("0.01")


class InvalidAmount(InvalidAction):
    pass


def to_cents(value: Decimal | int | str) -> int:
    """Exact conversion; refuses fractions of a cent and anything that is not a number."""
    if isinstance(value, float):
        raise InvalidAmount("Amounts must be exact decimals, not floating point numbers.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not an amount.")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(f"{value} has more than two decimal places.")
    return int(cents)


def from_cents(cents: int | Decimal | None) -> Decimal:
    """PostgreSQL's SUM(bigint) arrives as Decimal, SQLite's as int; both come out as Decimal with 2 places."""
    return (Decimal(cents or 0) / 100).quantize(CENT)
