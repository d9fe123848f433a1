"""Money is integer cents in the database and Decimal everywhere else; never float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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
