"""Receivables aging, aggregated in SQL.

What was open at an as-of date = what is open now + payments applied and credit notes issued after that date,
for invoices issued on or before it. Today's aging therefore reads the open invoices only (a partial index holds
exactly those); a past date adds the rows dated since then, read from indexes that carry the invoice's aging
attributes. Bucket edges become cut-off dates in Python, so one SQL text serves SQLite's ISO dates and
PostgreSQL's dates alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    case,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Customer, Invoice, PaymentAllocation
from data_access.money import from_cents

DEFAULT_BUCKETS: tuple[int, ...] = (30, 60, 90, 120)


Basis = Literal["due", "issue"]


BASES: tuple[str, ...] = ("due", "issue")


def parse_buckets(text: str) -> tuple[int, ...]:
    """Bucket edges in days, strictly increasing and positive, e.g. '30,60,90,120'."""
    try:
        edges = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidAction(
            f"Buckets must be whole numbers of days separated by commas, not {text!r}."
        ) from None
    validate_buckets(edges)
    return edges


def validate_buckets(edges: Sequence[int]) -> None:
    if not edges:
        raise InvalidAction("Give at least one bucket edge, e.g. 30,60,90.")
    if edges[0] < 1 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvalidAction(f"Bucket edges must be positive and increasing, not {','.join(map(str, edges))}.")


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """'current', then '1-30', '31-60', ... and finally '121+' for the default edges."""
    labels = ["current"]
    low = 1
    for edge in edges:
        labels.append(f"{low}-{edge}")
        low = edge + 1
    labels.append(f"{low}+")
    return labels


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
    """0 for current (not yet due, or issued on the as-of date for the issue basis), then one per bucket."""
    whens: list[tuple[ColumnElement[bool], int]] = [(basis_date >= flt.as_of, 0)]
    for position, edge in enumerate(flt.buckets, start=1):
        whens.append((basis_date >= flt.as_of - timedelta(days=edge), position))
    return case(*whens, else_=len(flt.buckets) + 1)


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


@dataclass(frozen=True)
class _Source:
    """The columns an aging source offers; all three tables carry the invoice's aging attributes."""

    customer_id: SQLColumnExpression[int]
    currency: SQLColumnExpression[str]
    invoice_id: SQLColumnExpression[int]
    issue_date: SQLColumnExpression[date]
    due_date: SQLColumnExpression[date]
    cents: SQLColumnExpression[int]
    window: SQLColumnExpression[bool]


def _sources(flt: AgingFilter) -> list[_Source]:
    return [
        # Compared with a literal 0 so that both databases see the partial index's own predicate
        # (`open_cents > 0`); a bound parameter, or a boolean-typed text clause (`... = 1` on SQLite), does not match.
        _Source(Invoice.customer_id, Invoice.currency, Invoice.id, Invoice.issue_date, Invoice.due_date,
                Invoice.open_cents, Invoice.open_cents > literal_column("0")),
        _Source(PaymentAllocation.customer_id, PaymentAllocation.currency, PaymentAllocation.invoice_id,
                PaymentAllocation.issue_date, PaymentAllocation.due_date, PaymentAllocation.amount_cents,
                PaymentAllocation.applied_on > flt.as_of),
        _Source(CreditNote.customer_id, CreditNote.currency, CreditNote.invoice_id, CreditNote.issue_date,
                CreditNote.due_date, CreditNote.amount_cents, CreditNote.issued_on > flt.as_of),
    ]  # fmt: skip


def _source_queries(flt: AgingFilter) -> list[Select[*tuple[Any, ...]]]:
    """Open invoices now, then allocations and credit notes dated after the as-of date, each one row per
    (invoice, amount); together they make up what was open at the as-of date."""
    customers = _customer_filter(flt)
    queries: list[Select[*tuple[Any, ...]]] = []
    for source in _sources(flt):
        basis_date = source.due_date if flt.basis == "due" else source.issue_date
        query: Select[*tuple[Any, ...]] = select(
            source.customer_id.label("customer_id"),
            source.currency.label("currency"),
            source.invoice_id.label("invoice_id"),
            _bucket_index(basis_date, flt).label("bucket"),
            source.cents.label("cents"),
        ).where(source.window, source.issue_date <= flt.as_of)
        if flt.currency:
            query = query.where(source.currency == flt.currency.upper())
        if customers is not None:
            query = query.where(source.customer_id.in_(customers))
        if flt.disputed_only:
            query = query.where(source.invoice_id.in_(select(Invoice.id).where(Invoice.disputed.is_(True))))
        queries.append(query)
    return queries


def _summary_query(flt: AgingFilter) -> Select[*tuple[Any, ...]]:
    """Sums and invoice counts per currency and bucket without COUNT(DISTINCT), which PostgreSQL can only do by
    sorting: open invoices are counted straight off the partial index (one row each); an invoice that only the
    later payments and credits bring back counts once, unless it is still open (counted already)."""
    open_now, *moves = _source_queries(flt)
    now = open_now.subquery("open_now")
    open_part = select(
        now.c.currency, now.c.bucket, func.sum(now.c.cents).label("cents"), func.count().label("invoices")
    ).group_by(now.c.currency, now.c.bucket)
    moved = union_all(*moves).subquery("moved")
    counted_already = moved.c.invoice_id.in_(select(open_now.subquery("still_open").c.invoice_id))
    per_invoice = (
        select(
            moved.c.currency,
            moved.c.bucket,
            func.sum(moved.c.cents).label("cents"),
            case((counted_already, 0), else_=1).label("invoices"),
        )
        .group_by(moved.c.invoice_id, moved.c.currency, moved.c.bucket)
        .subquery("per_invoice")
    )
    moved_part = select(
        per_invoice.c.currency,
        per_invoice.c.bucket,
        func.sum(per_invoice.c.cents).label("cents"),
        func.sum(per_invoice.c.invoices).label("invoices"),
    ).group_by(per_invoice.c.currency, per_invoice.c.bucket)
    both = union_all(open_part, moved_part).subquery("both")
    return select(
        both.c.currency,
        both.c.bucket,
        func.sum(both.c.cents).label("cents"),
        func.sum(both.c.invoices).label("invoices"),
    ).group_by(both.c.currency, both.c.bucket)


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
        found = {(r.currency, r.bucket): (r.cents, r.invoices) for r in session.execute(_summary_query(flt))}
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
    rows = union_all(*_source_queries(flt)).subquery("open_rows")
    per_customer = (
        select(rows.c.customer_id, rows.c.currency, rows.c.bucket, func.sum(rows.c.cents).label("cents"))
        .group_by(rows.c.customer_id, rows.c.currency, rows.c.bucket)
        .subquery("per_customer")
    )
    query = (
        select(
            Customer.external_id,
            Customer.name,
            per_customer.c.currency,
            per_customer.c.bucket,
            per_customer.c.cents,
        )
        .join(per_customer, per_customer.c.customer_id == Customer.id)
        .order_by(Customer.external_id, per_customer.c.currency)
    )
    labels = flt.labels
    table: dict[tuple[str, str, str], list[Decimal]] = {}
    with _aging_session() as session:
        for row in session.execute(query):
            key = (row.external_id, row.name, row.currency)
            amounts = table.setdefault(key, [Decimal("0.00")] * len(labels))
            amounts[row.bucket] = from_cents(row.cents)
    columns = ["customer_id", "customer_name", "currency", *labels, "total"]
    records = [[*key, *amounts, sum(amounts, Decimal("0.00"))] for key, amounts in table.items()]
    return pd.DataFrame(records, columns=columns)
