"""Exchange rates to the reporting currency (`BILLING_DESK_REPORTING_CURRENCY`, USD by default): the rate of a
currency on a day is the one dated on or before it. Per-currency figures stay as they are; a converted total is
their sum, each multiplied by its rate, rounded half up to the cent once at the end. A total that needs a rate
Billing Desk does not have is not given: it names the missing currencies instead (never a guess)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, SQLColumnExpression, case, cast, func, literal, null, select
from sqlalchemy.orm import Session

from data_access import config
from data_access.db import read_session
from data_access.models import ExchangeRate
from data_access.money import CENT


def reporting_currency() -> str:
    return config.settings().reporting_currency


@dataclass(frozen=True)
class Converted:
    """A total in the reporting currency, or None with the currencies whose rate was missing."""

    amount: Decimal | None
    currency: str
    on: date
    missing: tuple[str, ...] = ()
    rate_dates: Mapping[str, date] = field(default_factory=dict)

    def explain(self) -> str:
        """A sentence saying which rates a converted figure used, or which it lacks."""
        if self.missing:
            return (
                f"No {self.currency} total: no exchange rate on or before {self.on.isoformat()} for "
                f"{', '.join(self.missing)}. Import exchange rates (Import page, kind exchange-rates)."
            )
        used = ", ".join(f"{c} {d.isoformat()}" for c, d in sorted(self.rate_dates.items()))
        return f"In {self.currency} at the rates on or before {self.on.isoformat()}" + (
            f" ({used})." if used else "."
        )


@dataclass(frozen=True)
class Rates:
    """The rate of each currency on one day (the latest on or before it), into `reporting`."""

    reporting: str
    on: date
    rates: Mapping[str, tuple[date, Decimal]]

    def rate(self, currency: str) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        found = self.rates.get(currency)
        return None if found is None else found[1]

    def convert(self, amount: Decimal, currency: str) -> Decimal | None:
        """One amount in the reporting currency, rounded half up to the cent; None when the rate is missing."""
        rate = self.rate(currency)
        return None if rate is None else (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)

    def total(self, amounts: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]]) -> Converted:
        """Per-currency amounts added up in the reporting currency: exact products, rounded once."""
        pairs = list(amounts.items()) if isinstance(amounts, Mapping) else list(amounts)
        missing = sorted({c for c, _ in pairs if self.rate(c) is None})
        used = {c: self.rates[c][0] for c, _ in pairs if c != self.reporting and c in self.rates}
        if missing:
            return Converted(None, self.reporting, self.on, tuple(missing), used)
        exact = sum((amount * (self.rate(c) or Decimal(0)) for c, amount in pairs), Decimal(0))
        return Converted(exact.quantize(CENT, rounding=ROUND_HALF_UP), self.reporting, self.on, (), used)


def rates_on(session: Session, on: date, reporting: str | None = None) -> Rates:
    """Every currency's latest rate dated on or before `on` (one row per currency; a handful of currencies)."""
    latest = (
        select(ExchangeRate.currency, func.max(ExchangeRate.rate_date).label("rate_date"))
        .where(ExchangeRate.rate_date <= on)
        .group_by(ExchangeRate.currency)
        .subquery()
    )
    rows = session.execute(
        select(ExchangeRate.currency, ExchangeRate.rate_date, ExchangeRate.rate).join(
            latest,
            (latest.c.currency == ExchangeRate.currency) & (latest.c.rate_date == ExchangeRate.rate_date),
        )
    )
    found = {row.currency: (row.rate_date, Decimal(row.rate)) for row in rows}
    return Rates(reporting or reporting_currency(), on, found)


def rates_at(on: date) -> Rates:
    """`rates_on` in its own read session, for pages and reports."""
    with read_session() as session:
        return rates_on(session, on)


def rate_in_sql(rates: Rates, currency: SQLColumnExpression[str]) -> ColumnElement[Decimal]:
    """Each row's rate as an exact SQL number (NULL where there is none), so a ranking by converted amounts is
    ordered and cut in the database: a CASE over the handful of currencies with a rate."""
    known = {**{code: rate for code, (_, rate) in rates.rates.items()}, rates.reporting: Decimal(1)}
    whens = [(currency == code, cast(literal(str(rate)), Numeric())) for code, rate in sorted(known.items())]
    return case(*whens, else_=null())


def ranked_amount(
    rates: Rates, amount: SQLColumnExpression[Any], currency: SQLColumnExpression[str]
) -> tuple[ColumnElement[int], ColumnElement[Any]]:
    """What a ranking by converted amounts orders by: 1 where the row's currency has no rate (0 otherwise), and
    the amount in the reporting currency (its own amount where there is no rate)."""
    rate = rate_in_sql(rates, currency)
    return case((rate.is_(None), 1), else_=0), func.coalesce(amount * rate, amount)


def converted_first(
    rates: Rates, amount: SQLColumnExpression[Any], currency: SQLColumnExpression[str]
) -> list[ColumnElement[Any]]:
    """ORDER BY terms for the largest amount first in the reporting currency: rows whose currency has no rate
    after the others (ordered among themselves by their own amounts)."""
    unrated, converted = ranked_amount(rates, amount, currency)
    return [unrated, converted.desc()]
