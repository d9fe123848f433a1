"""The overview's headline figures and trends, each computed in SQL for one currency at an as-of date.

A figure is computed only for an actor who may open the page behind it (receivables, suspensions, tickets,
escalations, Microsoft payables); the others come back as None, so the page and `report overview` show the same.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from data_access import clock
from data_access.db import read_session
from data_access.enums import TicketStatus
from data_access.models import (
    CreditNote,
    Escalation,
    Invoice,
    Payment,
    PaymentAllocation,
    Ticket,
)
from data_access.money import from_cents
from data_access.permissions import Actor, allowed, requires
from data_access.queries import microsoft_payables, tickets
from data_access.queries import month_ends as month_ends_kept
from data_access.queries.aging import AgingFilter, aging_summary
from data_access.queries.exchange_rates import rates_on, reporting_currency
from data_access.queries.receivables import ConvertedReceivables, converted_receivables
from data_access.queries.suspensions import suspended_at_end_of

CLOSED_TICKET = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


CLOSED_ESCALATION = ("resolved", "closed")


TREND_MONTHS = 12


@dataclass(frozen=True)
class Figures:
    """Headline figures at one date; None where the actor may not see the page behind the figure."""

    as_of: date
    currency: str | None
    total_receivables: Decimal | None
    overdue: Decimal | None
    overdue_share: Decimal | None
    dso_days: Decimal | None
    collected_this_month: Decimal | None
    suspended_subscriptions: int | None
    open_tickets: int | None
    sla_breaches: int | None
    open_escalations: int | None
    next_microsoft_payment: microsoft_payables.NextPayment | None


@dataclass(frozen=True)
class Overview:
    now: Figures
    last_month: Figures
    converted: ConvertedReceivables | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `report overview` keys (DESIGN.md), the receivables of every currency converted to the reporting
        currency (null when a rate is missing), plus the same figures a month earlier for the change."""
        figures = _figures_dict(self.now)
        figures.update(_converted_dict(self.converted))
        figures["last_month"] = _figures_dict(self.last_month)
        return figures


def _converted_dict(converted: ConvertedReceivables | None) -> dict[str, Any]:
    total = None if converted is None else converted.total
    return {
        "reporting_currency": reporting_currency() if total is None else total.currency,
        "total_receivables_converted": None if converted is None else converted.total.amount,
        "overdue_converted": None if converted is None else converted.overdue.amount,
        "rates_on": None if total is None else total.on,
        "rates_missing": None if total is None else list(total.missing),
    }


def _figures_dict(figures: Figures) -> dict[str, Any]:
    payment = figures.next_microsoft_payment
    return {
        "as_of": figures.as_of,
        "currency": figures.currency,
        "total_receivables": figures.total_receivables,
        "overdue": figures.overdue,
        "overdue_share": figures.overdue_share,
        "dso_days": figures.dso_days,
        "collected_this_month": figures.collected_this_month,
        "suspended_subscriptions": figures.suspended_subscriptions,
        "open_tickets": figures.open_tickets,
        "sla_breaches": figures.sla_breaches,
        "open_escalations": figures.open_escalations,
        "next_microsoft_payment": None
        if payment is None
        else {"due_date": payment.due_date, "amount": payment.amount, "currency": payment.currency,
              "number": payment.number},
    }  # fmt: skip


def month_earlier(day: date) -> date:
    """The same day a month earlier, or that month's last day when it is shorter (31 March -> 28/29 Feb)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def main_currency() -> str | None:
    """The currency most open invoices are in (the partner's home currency in practice)."""
    query = (
        select(Invoice.currency)
        .where(Invoice.open_cents > literal_column("0"))
        .group_by(Invoice.currency)
        .order_by(func.count().desc(), Invoice.currency)
        .limit(1)
    )
    with read_session() as session:
        found = session.scalar(query)
        if found is None:
            found = session.scalar(
                select(Invoice.currency).group_by(Invoice.currency).order_by(func.count().desc())
            )
    return found


Receivables = tuple[Decimal, Decimal, Decimal, Decimal]  # total, overdue, DSO days, collected this month


def _receivables(dates: Sequence[date], currency: str) -> dict[date, Receivables]:
    """Total, overdue, DSO and collected this month at each date, each a sum over an index range."""
    sums = []
    for as_of in dates:
        invoiced = select(func.coalesce(func.sum(Invoice.amount_cents), 0)).where(
            Invoice.currency == currency,
            Invoice.issue_date > as_of - timedelta(days=90),
            Invoice.issue_date <= as_of,
        )
        month_start = as_of.replace(day=1)
        collected = select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
            Payment.currency == currency,
            Payment.received_on >= month_start,
            Payment.received_on <= as_of,
        )
        # A payment reversed (returned by the bank) is money given back on the day of the reversal.
        returned = select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
            Payment.currency == currency,
            Payment.reversed_on >= month_start,
            Payment.reversed_on <= as_of,
        )
        sums += [invoiced.scalar_subquery(), collected.scalar_subquery(), returned.scalar_subquery()]
    ends = sorted(set(dates))
    with read_session() as session:
        # What was open and overdue at each date: the trend's index-range sums, at these dates as month ends.
        open_sums = dict(zip(ends, _trend_by_ranges(session, ends[-1], currency, ends), strict=True))
        other_sums = session.execute(select(*sums)).one()
    found = {}
    for n, as_of in enumerate(dates):
        open_cents, overdue_cents = open_sums[as_of]
        invoiced_cents, collected_cents, returned_cents = other_sums[3 * n : 3 * n + 3]
        total, invoiced_amount = from_cents(open_cents), from_cents(invoiced_cents)
        dso = (total / invoiced_amount * 90).quantize(Decimal("0.1")) if invoiced_amount else Decimal("0.0")
        collected_then = from_cents(collected_cents) - from_cents(returned_cents)
        found[as_of] = (total, from_cents(overdue_cents), dso, collected_then)
    return found


def _moment(as_of: date) -> datetime:
    """Now for today's figures; the end of the day for a past date."""
    return min(datetime.now(UTC), _end_of(as_of))


def _count(query: Any) -> int:
    with read_session() as session:
        return int(session.scalar(query) or 0)


def _open_tickets(as_of: date) -> int:
    end = _end_of(as_of)
    still_open = or_(
        Ticket.resolved_at >= end, and_(Ticket.resolved_at.is_(None), Ticket.status.not_in(CLOSED_TICKET))
    )
    return _count(select(func.count()).select_from(Ticket).where(Ticket.created_at < end, still_open))


def _open_escalations(as_of: date) -> int:
    end = _end_of(as_of)
    still_open = or_(
        Escalation.resolved_at >= end,
        and_(Escalation.resolved_at.is_(None), Escalation.status.not_in(CLOSED_ESCALATION)),
    )
    query = select(func.count()).select_from(Escalation).where(Escalation.submitted_at < end, still_open)
    return _count(query)


def _suspended(as_of: date) -> int:
    """Subscriptions suspended at the end of the date (`suspensions.suspended_at_end_of`: from the suspension and
    reinstatement audit events), not those suspended today."""
    with read_session() as session:
        return len(suspended_at_end_of(session, as_of))


def figures_at(
    actor: Actor, as_of: date, currency: str | None, *, receivables_then: Receivables | None = None
) -> Figures:
    """Every headline figure the actor may see, at one date, in one currency (`receivables_then`: its receivables
    figures, when already read with another date's)."""
    receivables = allowed(actor, "receivables.view") and currency is not None
    if receivables and currency and receivables_then is None:
        receivables_then = _receivables([as_of], currency)[as_of]
    total, overdue, dso, collected = receivables_then if receivables and receivables_then else (None,) * 4
    share = (overdue / total).quantize(Decimal("0.0001")) if total and overdue is not None else Decimal("0")
    return Figures(
        as_of=as_of,
        currency=currency,
        total_receivables=total,
        overdue=overdue,
        overdue_share=share if receivables else None,
        dso_days=dso,
        collected_this_month=collected,
        suspended_subscriptions=_suspended(as_of) if allowed(actor, "subscription.suspend") else None,
        open_tickets=_open_tickets(as_of) if allowed(actor, "tickets.view") else None,
        sla_breaches=tickets.sla_breaches(actor, now=_moment(as_of))
        if allowed(actor, "tickets.view")
        else None,
        open_escalations=_open_escalations(as_of) if allowed(actor, "escalations.view") else None,
        next_microsoft_payment=microsoft_payables.next_microsoft_payment(actor, as_of=as_of)
        if allowed(actor, "payables.view")
        else None,
    )


def receivables_converted(as_of: date) -> ConvertedReceivables:
    """What was open and overdue at the as-of date in every currency, converted at that date's rates."""
    with read_session() as session:
        rates = rates_on(session, as_of)
    return converted_receivables(aging_summary(AgingFilter(as_of=as_of)), rates)


@requires("overview.view")
def overview(actor: Actor, *, as_of: date, currency: str | None = None, convert: bool = True) -> Overview:
    """Headline figures at the as-of date and the same day a month earlier, for the change since last month;
    with the receivables of every currency in the reporting currency unless `convert` is False (the page converts
    the aging it has already read instead of reading it again)."""
    chosen = currency or main_currency()
    before = month_earlier(as_of)
    sees_receivables = allowed(actor, "receivables.view")
    both = _receivables([before, as_of], chosen) if chosen and sees_receivables else {}
    return Overview(
        now=figures_at(actor, as_of, chosen, receivables_then=both.get(as_of)),
        last_month=figures_at(actor, before, chosen, receivables_then=both.get(before)),
        converted=receivables_converted(as_of) if convert and sees_receivables else None,
    )


def month_ends(as_of: date, months: int = TREND_MONTHS) -> list[date]:
    """The last day of each of the months before as_of's month, then as_of itself: the trend's points."""
    ends = [as_of]
    first = as_of.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        ends.insert(0, first.replace(day=calendar.monthrange(first.year, first.month)[1]))
    return ends


def _first_end_after(day: SQLColumnExpression[date], ends: Sequence[date]) -> ColumnElement[int]:
    """k such that day < ends[k] and not day < ends[k-1]: at that month end and the later ones it was overdue."""
    return case(*((day < end, k) for k, end in enumerate(ends)), else_=len(ends))


def _in_month(day: SQLColumnExpression[date], ends: Sequence[date], k: int) -> list[ColumnElement[bool]]:
    """day in (ends[k-1], ends[k]], for k from 1; the last k = len(ends) is every day after the last end."""
    return [day > ends[k - 1], *([day <= ends[k]] if k < len(ends) else [])]


def _trend_parts(as_of: date, currency: str, ends: Sequence[date]) -> list[Any]:
    """Rows (part, month, due, cents): 'moved', the payments and credit notes dated in each month after the first
    end; 'invoiced', the amounts invoiced in each; 'open', what is open now by the first end it was overdue at;
    'late', per month, the payments and credit notes dated in it on invoices already due at the end before it,
    by the first end they were overdue at. Each a sum over an index range, grouped only where it must be."""
    movements: list[tuple[Any, Any]] = [
        (PaymentAllocation, PaymentAllocation.applied_on),
        (CreditNote, CreditNote.issued_on),
    ]
    months = range(1, len(ends) + 1)
    parts: list[Any] = []
    for table, day in movements:
        mine = (table.currency == currency, table.issue_date <= as_of)
        for k in months:
            within = (*_in_month(day, ends, k), *mine)
            parts.append(
                select(literal("moved"), literal(k), literal(-1), func.sum(table.amount_cents)).where(*within)
            )
            due = _first_end_after(table.due_date, ends[:k])
            parts.append(
                select(literal("late"), literal(k), due, func.sum(table.amount_cents))
                .where(*within, table.due_date < ends[k - 1])
                .group_by(due)
            )
    for k in months:
        parts.append(
            select(literal("invoiced"), literal(k), literal(-1), func.sum(Invoice.amount_cents)).where(
                *_in_month(Invoice.issue_date, ends, k),
                Invoice.currency == currency,
                Invoice.issue_date <= as_of,
            )
        )
    # What is open now, by the first end it was overdue at: a range of the open-invoice index each, unsorted.
    for k in range(len(ends) + 1):
        due_between = [*([Invoice.due_date >= ends[k - 1]] if k else []),
                       *([Invoice.due_date < ends[k]] if k < len(ends) else [])]  # fmt: skip
        parts.append(
            select(literal("open"), literal(-1), literal(k), func.sum(Invoice.open_cents)).where(
                Invoice.open_cents > literal_column("0"), *due_between, Invoice.currency == currency,
                Invoice.issue_date <= as_of,
            )
        )  # fmt: skip
    return parts


def _first_end_on_or_after(day: SQLColumnExpression[date], ends: Sequence[date]) -> ColumnElement[int]:
    """k such that day <= ends[k] and day > ends[k-1]; len(ends) for a day after the last."""
    return case(*((day <= end, k) for k, end in enumerate(ends)), else_=len(ends))


def _trend_grouped(
    session: Session, as_of: date, currency: str, ends: Sequence[date]
) -> list[tuple[int, int]]:
    """(open, overdue) cents at each end in one grouped pass over what is open now and the payments and credit
    notes dated after the first end, each by the end it was issued by, overdue at and settled after."""
    cells: dict[tuple[int, int, int], int] = {}
    open_now: Any = select(
        _first_end_on_or_after(Invoice.issue_date, ends).label("issued"),
        _first_end_after(Invoice.due_date, ends).label("due"),
        literal_column(str(len(ends))).label("settled"),
        func.sum(Invoice.open_cents).label("cents"),
    ).where(
        Invoice.open_cents > literal_column("0"), Invoice.currency == currency, Invoice.issue_date <= as_of
    )
    queries = [open_now.group_by(literal_column("issued"), literal_column("due"))]
    for table, when in (
        (PaymentAllocation, PaymentAllocation.applied_on),
        (CreditNote, CreditNote.issued_on),
    ):
        queries.append(
            select(
                _first_end_on_or_after(table.issue_date, ends).label("issued"),
                _first_end_after(table.due_date, ends).label("due"),
                _first_end_on_or_after(when, ends).label("settled"),
                func.sum(table.amount_cents).label("cents"),
            )
            .where(when > ends[0], table.currency == currency, table.issue_date <= as_of)
            .group_by(literal_column("issued"), literal_column("due"), literal_column("settled"))
        )
    for query in queries:
        for row in session.execute(query):
            key = (row.issued, row.due, row.settled)
            cells[key] = cells.get(key, 0) + int(row.cents)
    points = []
    for k in range(len(ends)):
        open_cents = sum(c for (issued, _due, settled), c in cells.items() if issued <= k < settled)
        overdue_cents = sum(
            c for (issued, due, settled), c in cells.items() if issued <= k < settled and due <= k
        )
        points.append((open_cents, overdue_cents))
    return points


def _trend_by_ranges(
    session: Session, as_of: date, currency: str, ends: Sequence[date]
) -> list[tuple[int, int]]:
    """(open, overdue) cents at each end from index-range sums (`_trend_parts`), none grouping every row.

    Open at an end E = open now + payments and credit notes dated after E - amounts invoiced after E (all on
    invoices issued by as_of): an invoice issued after E has all its payments and credit notes dated after E, and
    they add up to its amount less what is open on it now (the ledger keeps open = amount - both). Overdue at E
    = open now on invoices due before E + payments and credit notes dated after E on invoices due before E: only
    those paid late across a month end, read per month of payment."""
    moved, invoiced = [0] * (len(ends) + 1), [0] * (len(ends) + 1)
    open_due, late = [0] * (len(ends) + 1), [[0] * (len(ends) + 1) for _ in range(len(ends) + 1)]
    for part, month, due, cents in session.execute(union_all(*_trend_parts(as_of, currency, ends))):
        cents = int(cents or 0)
        if part == "moved":
            moved[month] += cents
        elif part == "invoiced":
            invoiced[month] += cents
        elif part == "open":
            open_due[due] += cents
        else:
            late[month][due] += cents
    open_now = sum(open_due)
    points = []
    for k in range(len(ends)):
        open_cents = open_now + sum(moved[k + 1 :]) - sum(invoiced[k + 1 :])
        overdue_cents = sum(open_due[: k + 1]) + sum(late[month][due] for month in range(k + 1, len(ends) + 1)
                                                      for due in range(k + 1))  # fmt: skip
        points.append((open_cents, overdue_cents))
    return points


@requires("receivables.view")
def receivables_trend(
    actor: Actor, *, as_of: date, currency: str, months: int = TREND_MONTHS
) -> pd.DataFrame:
    """Receivables and overdue at each month end (what was open then, as aging reads it), then at as_of. Past
    month ends come from those kept in `receivables_month_ends` (data_access.queries.month_ends); the others are what is
    open now plus the payments and credit notes dated after each end, and the past ones are kept for the next
    reader. PostgreSQL groups them in one pass (it groups by hashing: measured fastest there); SQLite groups by
    sorting every row, so it sums index ranges instead (twice as fast there, a third slower on PostgreSQL)."""
    ends = month_ends(as_of, months)
    keepable = [end for end in ends[:-1] if end < clock.today()]
    with read_session() as session:
        read_at = month_ends_kept.ledger_version(session)  # before what is summed: a later write stops keep()
        found = month_ends_kept.stored(session, currency, keepable)
        missing = [end for end in ends if end not in found]
        grouped = session.get_bind().dialect.name == "postgresql"
        computed = dict(
            zip(missing, (_trend_grouped if grouped else _trend_by_ranges)(session, as_of, currency, missing),
                strict=True)
        )  # fmt: skip
    month_ends_kept.keep(currency, {end: computed[end] for end in keepable if end in computed}, read_at)
    points = {**found, **computed}
    records = [
        {"month_end": end, "currency": currency, "receivables": from_cents(points[end][0]),
         "overdue": from_cents(points[end][1])}
        for end in ends
    ]  # fmt: skip
    return pd.DataFrame(records, columns=["month_end", "currency", "receivables", "overdue"])


def _week_starts(as_of: date, weeks: int) -> list[date]:
    monday = as_of - timedelta(days=as_of.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


@requires("tickets.view")
def ticket_volume(actor: Actor, *, as_of: date, weeks: int = 12) -> pd.DataFrame:
    """Tickets opened per week (weeks start on Monday, UTC) by category, over the last `weeks` weeks."""
    starts = _week_starts(as_of, weeks)
    bounds = [datetime.combine(start, time(), tzinfo=UTC) for start in starts]
    week = case(*((Ticket.created_at < bound, k - 1) for k, bound in enumerate(bounds[1:], start=1)),
                else_=len(bounds) - 1)  # fmt: skip
    query = (
        select(week.label("week"), Ticket.category, func.count().label("tickets"))
        .where(Ticket.created_at >= bounds[0], Ticket.created_at < _end_of(as_of))
        .group_by(literal_column("week"), Ticket.category)
    )
    with read_session() as session:
        rows = [{"week": starts[r.week], "category": r.category, "tickets": int(r.tickets)}
                for r in session.execute(query)]  # fmt: skip
    return pd.DataFrame(rows, columns=["week", "category", "tickets"])


@requires("escalations.view")
def escalations_by_status(actor: Actor) -> pd.DataFrame:
    """Escalations to Microsoft by status and support vehicle (commercial ones have none)."""
    vehicle = func.coalesce(Escalation.vehicle, "Commercial")
    query = select(Escalation.status, vehicle.label("vehicle"), func.count().label("escalations")).group_by(
        Escalation.status, vehicle
    )
    with read_session() as session:
        rows = [{"status": r.status, "vehicle": r.vehicle, "escalations": int(r.escalations)}
                for r in session.execute(query)]  # fmt: skip
    return pd.DataFrame(rows, columns=["status", "vehicle", "escalations"])


def overview_frame(result: Overview) -> pd.DataFrame:
    """One row per headline figure: its value now and a month earlier (for csv and table output)."""
    now, before = result.as_dict(), _figures_dict(result.last_month)
    rows = []
    for key in ("currency", "total_receivables", "overdue", "overdue_share", "dso_days", "collected_this_month",
                "suspended_subscriptions", "open_tickets", "sla_breaches", "open_escalations"):  # fmt: skip
        rows.append({"figure": key, "value": now[key], "last_month": before[key]})
    for key in ("reporting_currency", "total_receivables_converted", "overdue_converted", "rates_on"):
        rows.append({"figure": key, "value": now[key], "last_month": None})
    for part in ("due_date", "amount"):
        rows.append({
            "figure": f"next_microsoft_payment.{part}",
            "value": (now["next_microsoft_payment"] or {}).get(part),
            "last_month": (before["next_microsoft_payment"] or {}).get(part),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["figure", "value", "last_month"])
