"""What Microsoft bills the partner (Partner Center's reconciliation lines) against what customers are invoiced.

A line's charge date is its ChargeStartDate (invoice file) or UsageDate (usage file); its month is its `period`.
Lines match a customer by tenant id and a subscription by Partner Center's SubscriptionId. Cost and revenue are
summed exactly in SQL per customer, month and currency, and rounded half up to the cent once, at the end of each
group's sum; margin is the rounded revenue less the rounded cost, so a row adds up as shown. A converted figure
uses the rates on or before the month's last day (or the report's end, if earlier): each month's exact sum times
its rate, added up and rounded once; it is None when a rate is missing, never a guess. Per-line lists show the
file's exact amounts (eight decimal places).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, ColumnElement, Date, and_, case, cast, exists, extract, func, or_, select
from sqlalchemy.orm import Session

from data_access.csv_import.partner_center import UNITS, from_units, plain_decimal, units_sum
from data_access.db import read_session
from data_access.enums import SubscriptionStatus
from data_access.errors import InvalidAction
from data_access.ledger import customer_by_external_id
from data_access.models import Customer, Invoice, MicrosoftInvoice, PartnerCenterLine, Subscription
from data_access.money import CENT, from_cents
from data_access.permissions import Actor, requires
from data_access.queries.exchange_rates import Rates, rates_on, reporting_currency

MARGIN_COLUMNS = ["customer_id", "customer_name", "month", "currency", "microsoft_cost", "revenue", "margin",
                  "margin_pct", "reporting_currency", "microsoft_cost_converted", "revenue_converted",
                  "margin_converted", "rate_date"]  # fmt: skip
LEAKAGE_COLUMNS = ["kind", "customer_id", "customer_name", "customer_tenant", "subscription_id", "month",
                   "currency", "amount", "detail"]  # fmt: skip
UNMATCHED_COLUMNS = ["problem", "line_id", "source", "invoice_number", "customer_tenant", "customer_name",
                     "subscription_ref", "charge_date", "currency", "cost"]  # fmt: skip
LINE_COLUMNS = ["source", "invoice_number", "subscription_id", "product", "sku", "charge_type", "charge_date",
                "quantity", "unit_price", "cost", "currency"]  # fmt: skip
SUBSCRIPTION_COST_COLUMNS = ["subscription_id", "product", "sku", "status", "quantity", "max_billed_quantity",
                             "currency", "cost"]  # fmt: skip
SUSPENSION_COST_COLUMNS = ["subscription_id", "suspended_on", "currency", "cost"]
RECONCILIATION_COLUMNS = ["invoice_number", "currency", "lines", "subtotal", "tax", "total", "recorded_amount",
                          "difference", "status"]  # fmt: skip

SEATS_ABOVE_OURS = "seats above ours"
BILLED_WHILE_SUSPENDED = "billed while suspended"
NOT_OUR_CUSTOMER = "not our customer"
BILLED_BELOW_COST = "billed below cost"
LEAKAGE_KINDS = (SEATS_ABOVE_OURS, BILLED_WHILE_SUSPENDED, NOT_OUR_CUSTOMER, BILLED_BELOW_COST)
BY = ("customer", "month")

_Line = PartnerCenterLine
_UNITS = int(UNITS)
_PERCENT = Decimal("0.01")


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _charge_date() -> ColumnElement[date]:
    return func.coalesce(_Line.usage_date, _Line.charge_start)


def _in_range(start: date, end: date) -> ColumnElement[bool]:
    """Charged within [start, end]; the period bounds let the database use the period index."""
    charged = _charge_date()
    return and_(
        _Line.period >= start.replace(day=1),
        _Line.period <= end.replace(day=1),
        charged >= start,
        charged <= end,
    )


def _utc_day(session: Session, moment: Any) -> ColumnElement[date]:
    """The UTC day of a stored UTC time (SQLite keeps it as text, where CAST would read a number)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(moment, Date)
    return func.date(moment)


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidAction(f"The end {end.isoformat()} is before the start {start.isoformat()}.")


@dataclass
class _Cell:
    """One customer's cost and revenue in one month and currency, exact."""

    customer_id: str
    customer_name: str
    month: date
    currency: str
    cost: Decimal = Decimal(0)
    revenue: Decimal = Decimal(0)


def _cells(session: Session, start: date, end: date, currency: str | None) -> list[_Cell]:
    cost = (
        select(Customer.external_id, Customer.name, _Line.period, _Line.currency,
               units_sum(_Line.cost_units).label("units"))
        .join(Customer, Customer.tenant_id == _Line.customer_tenant)
        .where(_in_range(start, end))
        .group_by(Customer.id, Customer.external_id, Customer.name, _Line.period, _Line.currency)
    )  # fmt: skip
    year, month = extract("year", Invoice.issue_date), extract("month", Invoice.issue_date)
    revenue = (
        select(Customer.external_id, Customer.name, year.label("year"), month.label("month"), Invoice.currency,
               func.sum(Invoice.amount_cents).label("cents"))
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.voided_on.is_(None), Invoice.issue_date >= start, Invoice.issue_date <= end)
        .group_by(Customer.id, Customer.external_id, Customer.name, year, month, Invoice.currency)
    )  # fmt: skip
    if currency is not None:
        cost = cost.where(_Line.currency == currency)
        revenue = revenue.where(Invoice.currency == currency)
    cells: dict[tuple[str, date, str], _Cell] = {}

    def cell(customer_id: str, name: str, month: date, currency: str) -> _Cell:
        key = (customer_id, month, currency)
        if key not in cells:
            cells[key] = _Cell(customer_id, name, month, currency)
        return cells[key]

    for row in session.execute(cost):
        cell(row.external_id, row.name, row.period, row.currency).cost += from_units(row.units)
    for earned in session.execute(revenue):
        first = date(int(earned.year), int(earned.month), 1)
        cell(earned.external_id, earned.name, first, earned.currency).revenue += from_cents(earned.cents)
    return [cells[key] for key in sorted(cells)]


class _RateBook:
    """The rates on each month's rate day, read once per day."""

    def __init__(self, session: Session, end: date) -> None:
        self.session, self.end = session, end
        self.read: dict[date, Rates] = {}

    def day(self, month: date) -> date:
        return min(_month_end(month), self.end)

    def on(self, month: date) -> Rates:
        day = self.day(month)
        if day not in self.read:
            self.read[day] = rates_on(self.session, day)
        return self.read[day]


def _pct(margin: Decimal, revenue: Decimal) -> Decimal | None:
    return None if revenue == 0 else (margin / revenue * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP)


def _row(key: dict[str, Any], cells: Sequence[_Cell], book: _RateBook, reporting: str) -> dict[str, Any]:
    cost = _cents(sum((c.cost for c in cells), Decimal(0)))
    revenue = _cents(sum((c.revenue for c in cells), Decimal(0)))
    rates = [book.on(c.month).rate(c.currency) for c in cells]
    cost_converted = revenue_converted = margin_converted = None
    if all(rate is not None for rate in rates):
        known = [rate or Decimal(0) for rate in rates]
        cost_converted = _cents(sum((c.cost * r for c, r in zip(cells, known, strict=True)), Decimal(0)))
        revenue_converted = _cents(
            sum((c.revenue * r for c, r in zip(cells, known, strict=True)), Decimal(0))
        )
        margin_converted = revenue_converted - cost_converted
    return key | {
        "microsoft_cost": cost,
        "revenue": revenue,
        "margin": revenue - cost,
        "margin_pct": _pct(revenue - cost, revenue),
        "reporting_currency": reporting,
        "microsoft_cost_converted": cost_converted,
        "revenue_converted": revenue_converted,
        "margin_converted": margin_converted,
        "rate_date": max(book.day(c.month) for c in cells),
    }


def _grouped(cells: Iterable[_Cell], by: str | None) -> dict[tuple[Any, ...], list[_Cell]]:
    groups: dict[tuple[Any, ...], list[_Cell]] = {}
    for c in cells:
        if by == "customer":
            key: tuple[Any, ...] = (c.customer_id, c.customer_name, c.currency)
        elif by == "month":
            key = (_month(c.month), c.currency)
        else:
            key = (c.customer_id, c.customer_name, _month(c.month), c.currency)
        groups.setdefault(key, []).append(c)
    return dict(sorted(groups.items()))


@requires("margin.view")
def margin_report(
    actor: Actor, start: date, end: date, *, by: str | None = None, currency: str | None = None
) -> pd.DataFrame:
    """Microsoft's cost (lines charged in [start, end], of matched customers) against customer invoices issued in
    [start, end] (voided ones left out), per customer, month and currency; by customer or by month sums the
    other; converted at each month's rates, None where a rate is missing."""
    _check_range(start, end)
    if by is not None and by not in BY:
        raise InvalidAction(f"{by!r} is not a grouping; use customer or month.")
    names = {"customer": ["customer_id", "customer_name", "currency"], "month": ["month", "currency"]}
    key_names = names.get(by or "", ["customer_id", "customer_name", "month", "currency"])
    with read_session() as session:
        cells = _cells(session, start, end, currency.upper() if currency else None)
        book = _RateBook(session, end)
        reporting = reporting_currency()
        records = [
            _row(dict(zip(key_names, key, strict=True)), group, book, reporting)
            for key, group in _grouped(cells, by).items()
        ]
    dropped = {"customer": ["month"], "month": ["customer_id", "customer_name"]}.get(by or "", [])
    columns = [name for name in MARGIN_COLUMNS if name not in dropped]
    return pd.DataFrame(records, columns=pd.Index(columns), dtype=object)


def _leak(kind: str, *, customer_id: str, customer_name: str | None, tenant: str | None, subscription: str | None,
          month: date, currency: str, amount: Decimal | None, detail: str) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "customer_id": customer_id, "customer_name": customer_name or "",
            "customer_tenant": tenant or "", "subscription_id": subscription or "", "month": _month(month),
            "currency": currency, "amount": amount, "detail": detail}  # fmt: skip


def _seats_above_ours(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    ours = cast(Subscription.quantity, BigInteger) * _UNITS
    query = (
        select(Customer.external_id, Customer.name, _Line.customer_tenant, Subscription.external_id.label("sub"),
               Subscription.quantity, _Line.period, _Line.currency, _Line.quantity_units,
               units_sum(_Line.cost_units).label("units"))
        .join(Subscription, Subscription.external_id == _Line.subscription_ref)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(_in_range(start, end), _Line.source == "invoice", func.lower(_Line.charge_type) == "cyclecharge",
               _Line.quantity_units > ours)
        .group_by(Customer.external_id, Customer.name, _Line.customer_tenant, Subscription.external_id,
                  Subscription.quantity, _Line.period, _Line.currency, _Line.quantity_units)
    )  # fmt: skip
    found = []
    for row in session.execute(query):
        billed, held = from_units(row.quantity_units), Decimal(row.quantity)
        amount = _cents(from_units(row.units) * (billed - held) / billed)
        found.append(_leak(
            SEATS_ABOVE_OURS, customer_id=row.external_id, customer_name=row.name, tenant=row.customer_tenant,
            subscription=row.sub, month=row.period, currency=row.currency, amount=amount,
            detail=f"Microsoft bills {plain_decimal(billed)} seats, we hold {row.quantity}",
        ))  # fmt: skip
    return found


def _billed_while_suspended(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    query = (
        select(Customer.external_id, Customer.name, _Line.customer_tenant, Subscription.external_id.label("sub"),
               Subscription.suspended_at, _Line.period, _Line.currency, func.count().label("lines"),
               units_sum(_Line.cost_units).label("units"))
        .join(Subscription, Subscription.external_id == _Line.subscription_ref)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(_in_range(start, end), Subscription.status == SubscriptionStatus.SUSPENDED.value,
               _charge_date() >= _utc_day(session, Subscription.suspended_at))
        .group_by(Customer.external_id, Customer.name, _Line.customer_tenant, Subscription.external_id,
                  Subscription.suspended_at, _Line.period, _Line.currency)
    )  # fmt: skip
    return [
        _leak(BILLED_WHILE_SUSPENDED, customer_id=row.external_id, customer_name=row.name,
              tenant=row.customer_tenant, subscription=row.sub, month=row.period, currency=row.currency,
              amount=_cents(from_units(row.units)),
              detail=f"{row.lines} line(s) charged on or after the suspension on {row.suspended_at.date()}")
        for row in session.execute(query)
    ]  # fmt: skip


def _not_our_customer(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    query = (
        select(_Line.customer_tenant, func.max(_Line.customer_name).label("name"), _Line.period, _Line.currency,
               func.count().label("lines"), units_sum(_Line.cost_units).label("units"))
        .where(_in_range(start, end), ~exists().where(Customer.tenant_id == _Line.customer_tenant))
        .group_by(_Line.customer_tenant, _Line.period, _Line.currency)
    )  # fmt: skip
    return [
        _leak(NOT_OUR_CUSTOMER, customer_id="", customer_name=row.name, tenant=row.customer_tenant,
              subscription=None, month=row.period, currency=row.currency, amount=_cents(from_units(row.units)),
              detail=f"{row.lines} line(s) for tenant {row.customer_tenant}, which is no customer of ours")
        for row in session.execute(query)
    ]  # fmt: skip


def _billed_below_cost(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    book = _RateBook(session, end)
    months: dict[tuple[str, date], list[_Cell]] = {}
    for c in _cells(session, start, end, None):
        months.setdefault((c.customer_id, c.month), []).append(c)
    found = []
    for (customer_id, month), cells in months.items():
        name = cells[0].customer_name
        if len(cells) == 1:
            cost, revenue, currency = _cents(cells[0].cost), cells[0].revenue, cells[0].currency
            if revenue < cost:
                found.append(_leak(
                    BILLED_BELOW_COST, customer_id=customer_id, customer_name=name, tenant=None, subscription=None,
                    month=month, currency=currency, amount=cost - revenue,
                    detail=f"Invoiced {revenue} {currency} against Microsoft's {cost} {currency}",
                ))  # fmt: skip
            continue
        rates = book.on(month)
        cost_total = rates.total([(c.currency, c.cost) for c in cells])
        revenue_total = rates.total([(c.currency, c.revenue) for c in cells])
        reporting = rates.reporting
        if cost_total.amount is None or revenue_total.amount is None:
            missing = cost_total if cost_total.amount is None else revenue_total
            found.append(_leak(
                BILLED_BELOW_COST, customer_id=customer_id, customer_name=name, tenant=None, subscription=None,
                month=month, currency=reporting, amount=None, detail=f"Not compared. {missing.explain()}",
            ))  # fmt: skip
        elif revenue_total.amount < cost_total.amount:
            found.append(_leak(
                BILLED_BELOW_COST, customer_id=customer_id, customer_name=name, tenant=None, subscription=None,
                month=month, currency=reporting, amount=cost_total.amount - revenue_total.amount,
                detail=f"Invoiced {revenue_total.amount} {reporting} against Microsoft's {cost_total.amount} "
                f"{reporting}. {cost_total.explain()}",
            ))  # fmt: skip
    return found


@requires("margin.view")
def leakage(actor: Actor, start: date, end: date) -> pd.DataFrame:
    """Where Microsoft bills more than the partner recovers, per subscription or customer and month, for charges
    in [start, end]: more seats than we hold (cycle charges), charges on or after a current suspension's day,
    tenants that are no customer of ours, and customer-months invoiced below Microsoft's cost (compared in the
    reporting currency when more than one currency is involved; not compared, and said so, without a rate)."""
    _check_range(start, end)
    with read_session() as session:
        records = [
            *_seats_above_ours(session, start, end),
            *_billed_while_suspended(session, start, end),
            *_not_our_customer(session, start, end),
            *_billed_below_cost(session, start, end),
        ]
    order = {kind: index for index, kind in enumerate(LEAKAGE_KINDS)}
    records.sort(key=lambda r: (order[r["kind"]], r["customer_id"], r["customer_tenant"], r["month"],
                                r["subscription_id"], r["currency"]))  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(LEAKAGE_COLUMNS), dtype=object)


@requires("margin.view")
def unmatched_lines(actor: Actor, start: date, end: date, *, limit: int | None = None) -> pd.DataFrame:
    """Each line charged in [start, end] whose tenant is no customer of ours, or whose customer is ours but whose
    subscription is not; only those lines leave the database (the first `limit` of them when given)."""
    _check_range(start, end)
    is_customer = exists().where(Customer.tenant_id == _Line.customer_tenant)
    is_subscription = exists().where(Subscription.external_id == _Line.subscription_ref)
    our_name = (
        select(func.min(Customer.name)).where(Customer.tenant_id == _Line.customer_tenant).scalar_subquery()
    )
    problem = case((~is_customer, "no such customer"), else_="no such subscription")
    query = (
        select(problem.label("problem"), _Line.id, _Line.source, _Line.invoice_number, _Line.customer_tenant,
               func.coalesce(our_name, _Line.customer_name).label("name"), _Line.subscription_ref,
               _charge_date().label("charge_date"), _Line.currency, _Line.cost_units)
        .where(_in_range(start, end), or_(~is_customer, ~is_subscription))
        .order_by(problem, _charge_date(), _Line.id)
        .limit(limit)
    )  # fmt: skip
    with read_session() as session:
        rows = session.execute(query).all()
    records = [
        (row.problem, row.id, row.source, row.invoice_number, row.customer_tenant, row.name, row.subscription_ref,
         _as_date(row.charge_date), row.currency, from_units(row.cost_units))
        for row in rows
    ]  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(UNMATCHED_COLUMNS), dtype=object)


def _as_date(value: date | str) -> date:
    """COALESCE of two dates comes back from SQLite as text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


@requires("margin.view")
def customer_margin_lines(
    actor: Actor, customer_id: str, start: date, end: date, *, limit: int | None = None
) -> pd.DataFrame:
    """The customer's Partner Center lines charged in [start, end] (by tenant id), oldest first, exact (the first
    `limit` of them when given)."""
    _check_range(start, end)
    with read_session() as session:
        tenant = customer_by_external_id(session, customer_id).tenant_id
        rows = session.execute(
            select(_Line.source, _Line.invoice_number, _Line.subscription_ref, _Line.product_name,
                   func.coalesce(_Line.meter_name, _Line.sku_name).label("sku"), _Line.charge_type,
                   _charge_date().label("charge_date"), _Line.quantity_units, _Line.unit_price, _Line.cost_units,
                   _Line.currency)
            .where(_Line.customer_tenant == tenant, _in_range(start, end))
            .order_by(_charge_date(), _Line.source, _Line.id)
            .limit(limit)
        ).all() if tenant else []  # fmt: skip
    records = [
        (row.source, row.invoice_number, row.subscription_ref, row.product_name, row.sku, row.charge_type,
         _as_date(row.charge_date), None if row.quantity_units is None else plain_decimal(from_units(row.quantity_units)),
         None if row.unit_price is None else Decimal(row.unit_price), from_units(row.cost_units), row.currency)
        for row in rows
    ]  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(LINE_COLUMNS), dtype=object)


@requires("margin.view")
def customer_subscription_costs(actor: Actor, customer_id: str, start: date, end: date) -> pd.DataFrame:
    """Each of the customer's subscriptions with what Microsoft charged on it in [start, end] per currency, and
    the most seats an invoice line billed against the seats we hold; one with no charges has cost 0.00."""
    _check_range(start, end)
    billed = case((_Line.source == "invoice", _Line.quantity_units), else_=None)
    charges = (
        select(_Line.subscription_ref, _Line.currency, units_sum(_Line.cost_units).label("units"),
               func.max(billed).label("billed"))
        .where(_in_range(start, end))
        .group_by(_Line.subscription_ref, _Line.currency)
        .subquery()
    )  # fmt: skip
    with read_session() as session:
        customer = customer_by_external_id(session, customer_id)
        rows = session.execute(
            select(Subscription.external_id, Subscription.product, Subscription.sku, Subscription.status,
                   Subscription.quantity, charges.c.billed, charges.c.currency, charges.c.units)
            .outerjoin(charges, charges.c.subscription_ref == Subscription.external_id)
            .where(Subscription.customer_id == customer.id)
            .order_by(Subscription.external_id, charges.c.currency)
        ).all()  # fmt: skip
    records = [
        (row.external_id, row.product, row.sku, row.status, row.quantity,
         None if row.billed is None else plain_decimal(from_units(row.billed)), row.currency, _cents(from_units(row.units)))
        for row in rows
    ]  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(SUBSCRIPTION_COST_COLUMNS), dtype=object)


@requires("collections.view")
def suspension_costs(actor: Actor, subscription_ids: list[str] | None = None) -> pd.DataFrame:
    """What Microsoft has charged, per currency, on each currently suspended subscription since the day it was
    suspended (UTC): in new commerce a suspended subscription is billed until cancelled or expired."""
    if subscription_ids is not None and not subscription_ids:
        return pd.DataFrame(columns=pd.Index(SUSPENSION_COST_COLUMNS), dtype=object)
    with read_session() as session:
        since = _utc_day(session, Subscription.suspended_at)
        query = (
            select(Subscription.external_id, Subscription.suspended_at, _Line.currency,
                   units_sum(_Line.cost_units).label("units"))
            .outerjoin(_Line, and_(_Line.subscription_ref == Subscription.external_id, _charge_date() >= since))
            .where(Subscription.status == SubscriptionStatus.SUSPENDED.value)
            .group_by(Subscription.external_id, Subscription.suspended_at, _Line.currency)
            .order_by(Subscription.external_id, _Line.currency)
        )  # fmt: skip
        if subscription_ids is not None:
            query = query.where(Subscription.external_id.in_(list(subscription_ids)))
        rows = session.execute(query).all()
    records = [
        (row.external_id, None if row.suspended_at is None else row.suspended_at.date(), row.currency,
         _cents(from_units(row.units)))
        for row in rows
    ]  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(SUSPENSION_COST_COLUMNS), dtype=object)


PERIOD_COST_COLUMNS = ["subscription_id", "suspended_on", "reinstated_on", "currency", "cost"]


@requires("collections.view")
def suspension_period_costs(actor: Actor, periods: Sequence[tuple[str, date, date | None]]) -> pd.DataFrame:
    """What Microsoft charged on each subscription during each of its suspensions: lines dated on or after the day
    it was suspended and before the day it was reinstated (to today when it is still suspended), per currency,
    exact and rounded to the cent once. `periods` are (subscription id, suspended on, reinstated on or None);
    only the lines of those subscriptions leave the database."""
    wanted = [p for p in periods if p[0]]
    if not wanted:
        return pd.DataFrame(columns=pd.Index(PERIOD_COST_COLUMNS), dtype=object)
    subscriptions = sorted({p[0] for p in wanted})
    earliest = min(p[1] for p in wanted)
    by_subscription: dict[str, list[tuple[str, date, date | None]]] = {}
    for period in wanted:
        by_subscription.setdefault(period[0], []).append(period)
    units: dict[tuple[str, date, date | None, str], int] = {}
    charged_on = _charge_date()
    with read_session() as session:
        for first in range(0, len(subscriptions), 500):
            rows = session.execute(  # a day's charges summed in SQL (daily usage has a line per meter)
                select(_Line.subscription_ref, charged_on.label("charge_date"), _Line.currency,
                       units_sum(_Line.cost_units).label("units"))
                .where(_Line.subscription_ref.in_(subscriptions[first : first + 500]), charged_on >= earliest)
                .group_by(_Line.subscription_ref, charged_on, _Line.currency)
            )  # fmt: skip
            for row in rows:
                charged = _as_date(row.charge_date)
                for sub, since, until in by_subscription[row.subscription_ref]:
                    if since <= charged and (until is None or charged < until):
                        key = (sub, since, until, row.currency)
                        units[key] = units.get(key, 0) + int(row.units)
    records = [(sub, since, until, currency, _cents(from_units(total)))
               for (sub, since, until, currency), total in sorted(units.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3]))]  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(PERIOD_COST_COLUMNS), dtype=object)


@requires("margin.view")
def reconciliation_invoices(actor: Actor) -> pd.DataFrame:
    """Each Microsoft invoice number in the billed reconciliation lines (the invoice file's and the daily rated
    usage file's, which carry the same InvoiceNumber), per currency: its subtotal and tax as the files have them,
    and whether the total matches the Microsoft invoice recorded under that number (the sum that
    actions.reconciliation records)."""
    lines = (
        select(_Line.invoice_number, _Line.currency, func.count().label("lines"),
               units_sum(_Line.cost_units).label("cost"), units_sum(_Line.tax_units).label("tax"))
        .where(_Line.invoice_number.is_not(None))
        .group_by(_Line.invoice_number, _Line.currency)
        .subquery()
    )  # fmt: skip
    query = (
        select(lines, MicrosoftInvoice.amount_cents, MicrosoftInvoice.currency.label("recorded_currency"))
        .outerjoin(MicrosoftInvoice, MicrosoftInvoice.number == lines.c.invoice_number)
        .order_by(lines.c.invoice_number, lines.c.currency)
    )
    with read_session() as session:
        rows = session.execute(query).all()
    records = []
    for row in rows:
        subtotal, tax = from_units(row.cost), from_units(row.tax)
        total = _cents(subtotal + tax)
        recorded = None if row.amount_cents is None else from_cents(row.amount_cents)
        same_currency = row.recorded_currency == row.currency
        difference = total - recorded if recorded is not None and same_currency else None
        status = "not recorded" if recorded is None else "matches" if difference == 0 else "differs"
        records.append((row.invoice_number, row.currency, row.lines, _cents(subtotal), _cents(tax), total,
                        recorded, difference, status))  # fmt: skip
    return pd.DataFrame(records, columns=pd.Index(RECONCILIATION_COLUMNS), dtype=object)
