"""What the partner owes Microsoft, and whether customers' money arrives in time to pay it.

Every figure is as it stood at an as-of date: a Microsoft invoice paid after that date was still unpaid then;
customer receivables are what was open on each invoice then (`ledger.open_at`, the aging rule). Per-currency
figures are never added together; cash cover also gives the receivables of every currency converted to the
Microsoft invoice's currency through the reporting currency, at the as-of date's rates, or says which rate is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, case, func, or_, select

from data_access import ledger
from data_access.db import read_session
from data_access.models import MicrosoftInvoice, Payment
from data_access.money import CENT, from_cents
from data_access.permissions import Actor, requires
from data_access.queries.exchange_rates import Rates, rates_on

INVOICE_COLUMNS = [
    "number",
    "period_start",
    "period_end",
    "amount",
    "currency",
    "due_date",
    "paid_on",
    "status",
    "days_until_due",
]


MONTHLY_COLUMNS = ["month", "currency", "microsoft_payables", "collections"]


@dataclass(frozen=True)
class NextPayment:
    """The earliest Microsoft invoice unpaid at the as-of date; `overdue` once its due date has passed."""

    number: str
    due_date: date
    amount: Decimal
    currency: str
    overdue: bool
    days_until_due: int


@dataclass(frozen=True)
class CashCover:
    """Receivables in one currency due on or before `pay_by`, against the Microsoft bills due by then."""

    currency: str
    as_of: date
    pay_by: date
    due_before: Decimal
    already_overdue: Decimal
    not_yet_due: Decimal
    microsoft_due: Decimal
    cover_ratio: Decimal | None


@dataclass(frozen=True)
class ConvertedCover:
    """Receivables of every currency due by `pay_by`, converted to the Microsoft invoice's currency through the
    reporting currency (amount x rate(its currency) / rate(bill's currency)); the amounts are None and `missing`
    names the currencies without a rate when one is lacking."""

    currency: str
    reporting: str
    on: date
    due_before: Decimal | None
    already_overdue: Decimal | None
    cover_ratio: Decimal | None
    missing: tuple[str, ...] = ()
    rate_dates: dict[str, date] = field(default_factory=dict)

    def explain(self) -> str:
        """A sentence saying which rates the converted figures used, or which are missing."""
        if self.missing:
            return (
                f"No {self.currency} figure for every currency: no exchange rate on or before "
                f"{self.on.isoformat()} for {', '.join(self.missing)}. Import exchange rates (Import page, kind "
                "exchange-rates)."
            )
        through = "" if self.currency == self.reporting else f" through {self.reporting}"
        used = ", ".join(f"{c} {d.isoformat()}" for c, d in sorted(self.rate_dates.items()))
        return (
            f"Every currency in {self.currency}{through} at the rates on or before {self.on.isoformat()}"
            + (f" ({used})." if used else ".")
        )


def _converted(
    split: dict[str, dict[int, Decimal]], rates: Rates, currency: str, microsoft_due: Decimal
) -> ConvertedCover:
    """Each currency's receivables x its rate / the bill currency's rate: exact, rounded half up once per figure."""
    wanted = sorted({*split, currency})
    missing = tuple(code for code in wanted if rates.rate(code) is None)
    used = {code: rates.rates[code][0] for code in wanted if code != rates.reporting and code in rates.rates}
    bill_rate = rates.rate(currency)
    if missing or bill_rate is None:
        return ConvertedCover(currency, rates.reporting, rates.on, None, None, None, missing, used)

    def total(parts: tuple[int, ...]) -> Decimal:
        exact = sum(
            (amount * (rates.rate(code) or Decimal(0)) for code, by in split.items()
             for overdue, amount in by.items() if overdue in parts),
            Decimal(0),
        )  # fmt: skip
        return (exact / bill_rate).quantize(CENT, rounding=ROUND_HALF_UP)

    due_before, already_overdue = total((0, 1)), total((1,))
    ratio = due_before / microsoft_due if microsoft_due else None
    return ConvertedCover(currency, rates.reporting, rates.on, due_before, already_overdue, ratio, (), used)


def _unpaid_at(as_of: date) -> ColumnElement[bool]:
    return or_(MicrosoftInvoice.paid_on.is_(None), MicrosoftInvoice.paid_on > as_of)


@requires("payables.view")
def microsoft_invoices(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """Every Microsoft invoice, newest due first, with its status at as_of: paid (on or before as_of), overdue
    (due before as_of and unpaid) or due; a payment dated after as_of is not shown yet."""
    paid = and_(MicrosoftInvoice.paid_on.is_not(None), MicrosoftInvoice.paid_on <= as_of)
    query = select(
        MicrosoftInvoice.number,
        MicrosoftInvoice.period_start,
        MicrosoftInvoice.period_end,
        MicrosoftInvoice.amount_cents,
        MicrosoftInvoice.currency,
        MicrosoftInvoice.due_date,
        case((paid, MicrosoftInvoice.paid_on), else_=None).label("paid_on"),
        case((paid, "paid"), (MicrosoftInvoice.due_date < as_of, "overdue"), else_="due").label("status"),
    ).order_by(MicrosoftInvoice.due_date.desc(), MicrosoftInvoice.number)
    with read_session() as session:
        rows = session.execute(query).all()
    records = [
        {
            "number": row.number,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "amount": from_cents(row.amount_cents),
            "currency": row.currency,
            "due_date": row.due_date,
            "paid_on": row.paid_on,
            "status": row.status,
            "days_until_due": None if row.status == "paid" else (row.due_date - as_of).days,
        }
        for row in rows
    ]
    frame = pd.DataFrame(records, columns=INVOICE_COLUMNS)
    frame["days_until_due"] = frame["days_until_due"].astype("Int64")
    return frame


@requires("payables.view")
def next_microsoft_payment(actor: Actor, *, as_of: date) -> NextPayment | None:
    """The Microsoft invoice to pay first: the earliest due of those unpaid at as_of, overdue ones first."""
    query = (
        select(
            MicrosoftInvoice.number,
            MicrosoftInvoice.due_date,
            MicrosoftInvoice.amount_cents,
            MicrosoftInvoice.currency,
        )
        .where(_unpaid_at(as_of))
        .order_by(MicrosoftInvoice.due_date, MicrosoftInvoice.number)
        .limit(1)
    )
    with read_session() as session:
        row = session.execute(query).first()
    if row is None:
        return None
    return NextPayment(
        number=row.number,
        due_date=row.due_date,
        amount=from_cents(row.amount_cents),
        currency=row.currency,
        overdue=row.due_date < as_of,
        days_until_due=(row.due_date - as_of).days,
    )


def _receivables_due_by(as_of: date, pay_by: date, currency: str | None) -> Select[*tuple[Any, ...]]:
    """Cents open at as_of (`ledger.open_at`) on customer invoices due on or before pay_by, per currency and
    whether overdue at as_of."""
    rows = ledger.open_at(as_of, currency=currency).subquery("open_at")
    overdue = case((rows.c.due_date < as_of, 1), else_=0).label("overdue")
    return (
        select(rows.c.currency, overdue, func.sum(rows.c.open_cents).label("cents"))
        .where(rows.c.due_date <= pay_by)
        .group_by(rows.c.currency, overdue)
    )


def _split_by_overdue(as_of: date, pay_by: date, currency: str | None) -> dict[str, dict[int, Decimal]]:
    """{currency: {1: already overdue, 0: not yet due}} for customer invoices due on or before pay_by."""
    found: dict[str, dict[int, Decimal]] = {}
    with read_session() as session:
        for row in session.execute(_receivables_due_by(as_of, pay_by, currency)):
            found.setdefault(row.currency, {})[int(row.overdue)] = from_cents(row.cents)
    return found


@requires("payables.view")
def receivables_due_by(actor: Actor, *, as_of: date, pay_by: date) -> pd.DataFrame:
    """Customer receivables open at as_of and due on or before pay_by, one row per currency (never converted):
    currency, due_before, already_overdue (due before as_of), not_yet_due."""
    records = []
    for currency, split in sorted(_split_by_overdue(as_of, pay_by, None).items()):
        overdue, not_yet = split.get(1, Decimal("0.00")), split.get(0, Decimal("0.00"))
        records.append(
            {"currency": currency, "due_before": overdue + not_yet, "already_overdue": overdue,
             "not_yet_due": not_yet}
        )  # fmt: skip
    return pd.DataFrame(records, columns=["currency", "due_before", "already_overdue", "not_yet_due"])


@requires("payables.view")
def cash_cover(actor: Actor, *, as_of: date, pay_by: date, currency: str) -> CashCover:
    """Receivables in the currency due on or before pay_by (overdue at as_of, or not yet due) against
    the Microsoft invoices in it unpaid at as_of and due by pay_by; cover ratio = receivables / Microsoft."""
    currency = currency.upper()
    microsoft_due = _microsoft_due(as_of, pay_by, currency)
    split = _split_by_overdue(as_of, pay_by, currency).get(currency, {})
    already_overdue, not_yet_due = split.get(1, Decimal("0.00")), split.get(0, Decimal("0.00"))
    due_before = already_overdue + not_yet_due
    return CashCover(
        currency=currency,
        as_of=as_of,
        pay_by=pay_by,
        due_before=due_before,
        already_overdue=already_overdue,
        not_yet_due=not_yet_due,
        microsoft_due=microsoft_due,
        cover_ratio=due_before / microsoft_due if microsoft_due else None,
    )


@requires("payables.view")
def cash_cover_every_currency(actor: Actor, *, as_of: date, pay_by: date, currency: str) -> ConvertedCover:
    """`cash_cover` with the receivables of every currency due by pay_by, each converted to the Microsoft
    invoice's currency through the reporting currency at as_of's rates (amount x rate(its currency) /
    rate(currency)); no figure, naming the currencies, when a rate is missing."""
    currency = currency.upper()
    microsoft_due = _microsoft_due(as_of, pay_by, currency)
    with read_session() as session:
        rates = rates_on(session, as_of)
    return _converted(_split_by_overdue(as_of, pay_by, None), rates, currency, microsoft_due)


def _microsoft_due(as_of: date, pay_by: date, currency: str) -> Decimal:
    """The Microsoft invoices in the currency unpaid at as_of and due on or before pay_by."""
    microsoft = select(func.sum(MicrosoftInvoice.amount_cents)).where(
        _unpaid_at(as_of), MicrosoftInvoice.currency == currency, MicrosoftInvoice.due_date <= pay_by
    )
    with read_session() as session:
        return from_cents(session.scalar(microsoft))


def _month_starts(as_of: date, months: int) -> list[date]:
    """The first day of each of the `months` calendar months that end with as_of's month, oldest first."""
    starts = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _month_bucket(
    day: SQLColumnExpression[date] | SQLColumnExpression[date | None], starts: list[date]
) -> ColumnElement[int]:
    """The index of the month a date falls in, from cut-off dates made in Python: one SQL for SQLite's ISO
    text dates and PostgreSQL's dates alike (the caller keeps dates before the first month out)."""
    whens = [(day >= start, index) for index, start in reversed(list(enumerate(starts)))]
    return case(*whens, else_=0)


def _microsoft_currency() -> str | None:
    """The currency most Microsoft invoices are in (a partner is billed in one, as a rule)."""
    query = (
        select(MicrosoftInvoice.currency)
        .group_by(MicrosoftInvoice.currency)
        .order_by(func.count().desc(), MicrosoftInvoice.currency)
        .limit(1)
    )
    with read_session() as session:
        return session.scalar(query)


@requires("payables.view")
def monthly_payables_and_collections(
    actor: Actor, *, as_of: date, months: int = 12, currency: str | None = None
) -> pd.DataFrame:
    """Per calendar month up to as_of's, in one currency (by default the one most Microsoft invoices are in):
    Microsoft invoices by due-date month, since that is when the cash must leave (the service period says what
    was consumed, not when it is paid), against customer payments by date received, up to as_of."""
    currency = (currency or _microsoft_currency() or "").upper()
    if months < 1 or not currency:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    starts = _month_starts(as_of, months)
    last = starts[-1]
    after_last = date(last.year + 1, 1, 1) if last.month == 12 else date(last.year, last.month + 1, 1)
    payables_month = _month_bucket(MicrosoftInvoice.due_date, starts).label("month")
    payables = (
        select(payables_month, func.sum(MicrosoftInvoice.amount_cents).label("cents"))
        .where(
            MicrosoftInvoice.currency == currency,
            MicrosoftInvoice.due_date >= starts[0],
            MicrosoftInvoice.due_date < after_last,
        )
        .group_by(payables_month)
    )
    collections_month = _month_bucket(Payment.received_on, starts).label("month")
    collections = (
        select(collections_month, func.sum(Payment.amount_cents).label("cents"))
        .where(Payment.currency == currency, Payment.received_on >= starts[0], Payment.received_on <= as_of)
        .group_by(collections_month)
    )
    returned_month = _month_bucket(Payment.reversed_on, starts).label("month")
    returned = (
        select(returned_month, func.sum(Payment.amount_cents).label("cents"))
        .where(Payment.currency == currency, Payment.reversed_on >= starts[0], Payment.reversed_on <= as_of)
        .group_by(returned_month)
    )
    with read_session() as session:
        paid_out = {int(row.month): row.cents for row in session.execute(payables)}
        received = {int(row.month): row.cents for row in session.execute(collections)}
        for row in session.execute(returned):
            received[int(row.month)] = received.get(int(row.month), 0) - row.cents
    records = [
        {
            "month": start,
            "currency": currency,
            "microsoft_payables": from_cents(paid_out.get(index)),
            "collections": from_cents(received.get(index)),
        }
        for index, start in enumerate(starts)
    ]
    return pd.DataFrame(records, columns=MONTHLY_COLUMNS)
