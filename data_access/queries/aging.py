"""Receivables aging, aggregated in SQL.

What was open per invoice at the as-of date is `ledger.open_at` (the one reading of it); which bucket an invoice
falls in is `rules.buckets` (its cut-off dates, compared in SQL, so one SQL text serves SQLite's ISO dates and
PostgreSQL's dates alike). Both reports aggregate over `open_at` as a subquery: today's aging reads the open
invoices only (from their partial index); a past date adds the rows dated since, summed per invoice first, so an
invoice whose balance at the date was zero is neither counted nor listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from data_access import clock, ledger
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import Customer, Invoice
from data_access.money import from_cents
from data_access.queries.exchange_rates import Rates, converted_first, rates_on
from data_access.rules.buckets import DEFAULT_BUCKETS, bucket_labels, cutoffs, validate_buckets

Basis = Literal["due", "issue"]


BASES: tuple[str, ...] = ("due", "issue")


@dataclass(frozen=True)
class AgingFilter:
    """What to age: the as-of date, the date the age counts from, the buckets, and which invoices."""

    as_of: date
    basis: Basis = "due"
    buckets: tuple[int, ...] = DEFAULT_BUCKETS
    currency: str | None = None
    account_manager: str | None = None
    country: str | None = None
    customer_ids: tuple[str, ...] = field(default=())
    disputed_only: bool = False

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise InvalidAction(f"Basis must be 'due' or 'issue', not {self.basis!r}.")
        validate_buckets(self.buckets)

    @property
    def labels(self) -> list[str]:
        return bucket_labels(self.buckets)


def _bucket_index(basis_date: SQLColumnExpression[date], flt: AgingFilter) -> ColumnElement[int]:
    """`rules.buckets.bucket_index` in SQL: 0 for current (not yet due, or issued on the as-of date for the
    issue basis), then one per bucket, by comparing the basis date with the buckets' cut-off dates."""
    limits = cutoffs(flt.as_of, flt.buckets)
    return case(*((basis_date >= limit, index) for index, limit in enumerate(limits)), else_=len(limits))


def _customer_filter(flt: AgingFilter) -> Select[int] | None:
    conditions = []
    if flt.account_manager:
        conditions.append(Customer.account_manager == flt.account_manager)
    if flt.country:
        conditions.append(Customer.country == flt.country.upper())
    if flt.customer_ids:
        conditions.append(Customer.external_id.in_(flt.customer_ids))
    if not conditions:
        return None
    return select(Customer.id).where(and_(*conditions))


def _open_rows(flt: AgingFilter, customers: Select[int] | None = None) -> Subquery:
    """`ledger.open_at` for the filter (one row per invoice with a balance at the as-of date), with its bucket;
    `customers` replaces the filter's choice of customers (a query of customer pks)."""
    customers = _customer_filter(flt) if customers is None else customers
    query: Select[Any] = ledger.open_at(flt.as_of, customer_ids=customers, currency=flt.currency)
    if flt.disputed_only:
        query = query.where(Invoice.disputed.is_(True))
    rows = query.subquery("open_at_rows")
    basis_date = rows.c.due_date if flt.basis == "due" else rows.c.issue_date
    return select(
        rows.c.customer_id,
        rows.c.currency,
        basis_date.label("basis_date"),
        _bucket_index(basis_date, flt).label("bucket"),
        rows.c.open_cents,
    ).subquery("aged")


def _summary_query(flt: AgingFilter) -> Select[*tuple[Any, ...]]:
    """Sums and invoice counts per currency and bucket (one `open_at` row per invoice: COUNT(*) counts them)."""
    rows = _open_rows(flt)
    return select(
        rows.c.currency,
        rows.c.bucket,
        func.sum(rows.c.open_cents).label("cents"),
        func.count().label("invoices"),
    ).group_by(rows.c.currency, rows.c.bucket)


def _summary_by_ranges(flt: AgingFilter) -> Select[*tuple[Any, ...]] | None:
    """Today's summary by due date as one range of the open-invoice index per bucket, each grouped by currency
    alone: the same sums as `_summary_query` without a bucket worked out and sorted for every open invoice (a third
    of the time at 5M invoices on SQLite). None for a past date or the issue basis, which `_summary_query` reads."""
    if flt.as_of < clock.today() or flt.basis != "due" or flt.disputed_only:
        return None
    limits = cutoffs(flt.as_of, flt.buckets)
    open_now: Select[Any] = ledger.open_at(
        flt.as_of, customer_ids=_customer_filter(flt), currency=flt.currency
    )
    parts = []
    for index in range(len(limits) + 1):
        within = [*([Invoice.due_date >= limits[index]] if index < len(limits) else []),
                  *([Invoice.due_date < limits[index - 1]] if index else [])]  # fmt: skip
        rows = open_now.where(*within).subquery(f"bucket_{index}")
        parts.append(
            select(rows.c.currency, literal(index).label("bucket"), func.sum(rows.c.open_cents).label("cents"),
                   func.count().label("invoices")).group_by(rows.c.currency)
        )  # fmt: skip
    return union_all(*parts)  # type: ignore[return-value]


@contextmanager
def _aging_session() -> Iterator[Session]:
    """A read session; on PostgreSQL without parallel workers, whose start-up costs more than a scan of the
    open-invoice index saves (measured in bench/aging.py)."""
    with read_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        yield session


def aging_summary(flt: AgingFilter) -> pd.DataFrame:
    """Columns currency, bucket, amount, invoices: every bucket for every currency with anything open."""
    with _aging_session() as session:
        query = _summary_by_ranges(flt)
        rows = session.execute(_summary_query(flt) if query is None else query)
        found = {(r.currency, r.bucket): (r.cents, r.invoices) for r in rows}
    labels = flt.labels
    records = []
    for currency in sorted({currency for currency, _ in found}):
        for index, label in enumerate(labels):
            cents, invoices = found.get((currency, index), (0, 0))
            records.append(
                {
                    "currency": currency,
                    "bucket": label,
                    "amount": from_cents(cents),
                    "invoices": int(invoices),
                }
            )
    return pd.DataFrame(records, columns=["currency", "bucket", "amount", "invoices"])


def aging_by_customer(flt: AgingFilter) -> pd.DataFrame:
    """One row per customer and currency: customer_id, customer_name, currency, one column per bucket, total."""
    return _customer_rows(flt, largest_overdue_first=False).table.drop(columns="overdue")


@dataclass(frozen=True)
class CustomerRows:
    """Rows of the aging by customer (with `overdue`: total minus current), and how many the whole table has."""

    table: pd.DataFrame
    matching: int


def aging_by_customer_largest_overdue_first(
    flt: AgingFilter, *, limit: int | None = None, search: str = ""
) -> CustomerRows:
    """The aging by customer with `overdue` (total minus current), largest overdue first in the reporting
    currency at the as-of date's rates (rows in a currency without a rate after the others), then by customer and
    currency (so equal amounts always come in the same order); only the first `limit` rows, summed and ordered in
    SQL, so a first screen never builds the whole table. `search` keeps the customers whose id or name contains
    it (any case); `matching` counts every row the table has with it."""
    return _customer_rows(flt, largest_overdue_first=True, limit=limit, search=search)


def _search_filter(flt: AgingFilter, search: str) -> Select[int] | None:
    customers = _customer_filter(flt)
    term = search.strip()
    if not term:
        return customers
    found = or_(
        Customer.external_id.icontains(term, autoescape=True), Customer.name.icontains(term, autoescape=True)
    )
    return (customers if customers is not None else select(Customer.id)).where(found)


def _per_customer(flt: AgingFilter, customers: Select[int] | None) -> Subquery:
    """Each bucket's cents (b0, b1, ...), the total and the overdue (total minus current) per customer pk and
    currency, one conditional sum per bucket."""
    rows = _open_rows(flt, customers)
    per_bucket = [
        func.sum(case((rows.c.bucket == index, rows.c.open_cents), else_=literal_column("0"))).label(
            f"b{index}"
        )
        for index in range(len(flt.labels))
    ]
    total = func.sum(rows.c.open_cents)
    return (
        select(rows.c.customer_id, rows.c.currency, *per_bucket, total.label("total"),
               (total - per_bucket[0]).label("overdue"))
        .group_by(rows.c.customer_id, rows.c.currency)
        .subquery("per_customer")
    )  # fmt: skip


def _by_code_point(session: Session, column: Any) -> Any:
    """The column ordered as Python orders text (code points): SQLite compares bytes, PostgreSQL's "C" collation
    too."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def _largest_overdue(
    session: Session, flt: AgingFilter, customers: Select[int] | None, limit: int, rates: Rates
) -> tuple[list[tuple[int, str]], int]:
    """The first `limit` (customer pk, currency) of the table, largest overdue first, and how many rows it has:
    only the total and the overdue are summed for every customer here (two sums instead of one per bucket)."""
    rows = _open_rows(flt, customers)
    current = cutoffs(flt.as_of, flt.buckets)[0]
    overdue = func.sum(case((rows.c.basis_date < current, rows.c.open_cents), else_=literal_column("0")))
    totals = (
        select(rows.c.customer_id, rows.c.currency, overdue.label("overdue"))
        .group_by(rows.c.customer_id, rows.c.currency)
        .subquery("totals")
    )
    query = (
        select(totals.c.customer_id, totals.c.currency, func.count().over().label("matching"))
        .join(Customer, Customer.id == totals.c.customer_id)
        .order_by(
            *converted_first(rates, totals.c.overdue, totals.c.currency),
            _by_code_point(session, Customer.external_id),
            _by_code_point(session, totals.c.currency),
        )
        .limit(limit)
    )
    found = session.execute(query).all()
    return [(row.customer_id, row.currency) for row in found], int(found[0].matching) if found else 0


def _customer_rows(
    flt: AgingFilter, *, largest_overdue_first: bool, limit: int | None = None, search: str = ""
) -> CustomerRows:
    """Each bucket's cents per customer and currency summed in SQL, joined to the customer and ordered in SQL. A
    first screen (a limit, largest overdue first) picks its rows by their overdue alone, then sums the buckets
    of those customers only; the whole table carries its row count as a window count."""
    customers = _search_filter(flt, search)
    columns = ["customer_id", "customer_name", "currency", *flt.labels, "total", "overdue"]
    with _aging_session() as session:
        rates = rates_on(session, flt.as_of) if largest_overdue_first else None
        chosen: list[tuple[int, str]] | None = None
        if rates is not None and limit is not None:
            chosen, matching = _largest_overdue(session, flt, customers, limit, rates)
            if not chosen:
                return CustomerRows(pd.DataFrame([], columns=columns), matching)
            customers = select(Customer.id).where(Customer.id.in_(sorted({pk for pk, _ in chosen})))
        per_customer = _per_customer(flt, customers)
        order: list[Any] = [
            _by_code_point(session, Customer.external_id),
            _by_code_point(session, per_customer.c.currency),
        ]
        if rates is not None:
            order[:0] = converted_first(rates, per_customer.c.overdue, per_customer.c.currency)
        query = (
            select(
                per_customer.c.customer_id,
                Customer.external_id,
                Customer.name,
                per_customer.c.currency,
                *(per_customer.c[f"b{index}"] for index in range(len(flt.labels))),
                per_customer.c.total,
                per_customer.c.overdue,
            )
            .join(per_customer, per_customer.c.customer_id == Customer.id)
            .order_by(*order)
        )
        found = session.execute(query).all()
    records = {
        (row.customer_id, row.currency): [row.external_id, row.name, row.currency,
                                          *(from_cents(cents) for cents in row[4 : 4 + len(flt.labels) + 2])]
        for row in found
    }  # fmt: skip
    if chosen is None:
        return CustomerRows(pd.DataFrame(list(records.values()), columns=columns), len(records))
    # A key gone between the two reads (a payment committed in between) is left out rather than shown stale.
    shown = [records[key] for key in chosen if key in records]
    return CustomerRows(pd.DataFrame(shown, columns=columns), matching)
