"""What the receivables page needs beside the aging itself: one customer's open invoices and the money against
them at an as-of date, the filter choices, the default buckets, and exports of a table exactly as shown.

A customer's invoices open at the as-of date are `ledger.open_at` for that customer (the rule the aging sums),
each put in its bucket by `rules.buckets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Select, literal, select, union_all
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.config import settings
from data_access.db import read_session
from data_access.documents.exports import csv_bytes, xlsx_bytes
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents
from data_access.permissions import Actor, requires
from data_access.queries import assessments, stages
from data_access.queries.aging import (
    AgingFilter,
    Basis,
    CustomerRows,
    aging_by_customer,
    aging_by_customer_largest_overdue_first,
    aging_summary,
)
from data_access.queries.exchange_rates import Converted, Rates
from data_access.rules.buckets import DEFAULT_BUCKETS, bucket_of, parse_buckets, validate_buckets

BUCKETS_SETTING = "BILLING_DESK_AGING_BUCKETS"


OPEN_INVOICE_COLUMNS = [
    "invoice_number", "currency", "issue_date", "due_date", "days_past_due", "days_since_issue", "bucket",
    "amount", "open_at_as_of", "disputed",
]  # fmt: skip


MOVEMENT_COLUMNS = ["date", "kind", "invoice_number", "amount", "reference", "reason"]


# The receivables page's first screen: the customers with the largest overdue amounts.
FIRST_SCREEN_ROWS = 200


def default_buckets() -> tuple[int, ...]:
    """Bucket edges from BILLING_DESK_AGING_BUCKETS (e.g. '30,60,90,120'), else the aging report's defaults."""
    configured = (settings().aging_buckets or "").strip()
    if not configured:
        return DEFAULT_BUCKETS
    try:
        return parse_buckets(configured)
    except InvalidAction as exc:
        raise InvalidAction(f"The setting {BUCKETS_SETTING} is not usable: {exc}") from None


@requires("receivables.view")
def has_invoices(actor: Actor) -> bool:
    """Whether any customer invoice has been recorded at all (a new partner's database has none)."""
    with read_session() as session:
        return session.scalar(select(Invoice.id).limit(1)) is not None


@requires("receivables.view")
def account_managers(actor: Actor) -> list[str]:
    """Every account manager named on a customer, in order, to filter receivables by."""
    return _distinct(Customer.account_manager)


@requires("receivables.view")
def countries(actor: Actor) -> list[str]:
    """Every customer country (ISO code), in order, to filter receivables by."""
    return _distinct(Customer.country)


def _distinct(column: Any) -> list[str]:
    with read_session() as session:
        return list(session.scalars(select(column).where(column.is_not(None)).distinct().order_by(column)))


@dataclass(frozen=True)
class ConvertedReceivables:
    """Open receivables and the overdue part of them, every currency converted to the reporting currency."""

    total: Converted
    overdue: Converted


def converted_receivables(summary: pd.DataFrame, rates: Rates) -> ConvertedReceivables:
    """An aging summary by due date (currency, bucket, amount) added up across currencies at `rates`: overdue is
    every bucket but current; a currency without a rate leaves the totals unknown, naming it."""
    totals: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for code, bucket, amount in zip(summary.currency, summary.bucket, summary.amount, strict=True):
        totals[code] = totals.get(code, Decimal(0)) + amount
        overdue[code] = overdue.get(code, Decimal(0)) + (amount if bucket != "current" else Decimal(0))
    return ConvertedReceivables(total=rates.total(totals), overdue=rates.total(overdue))


def largest_overdue_first(by_customer: pd.DataFrame, rates: Rates | None = None) -> pd.DataFrame:
    """The by-customer aging with `overdue` (total minus current) added, largest overdue first (in the reporting
    currency at `rates`, rows in a currency without a rate after the others), then by customer and currency, so
    equal amounts always come in the same order: the order `receivables_largest_overdue_first` keeps in SQL."""
    overdue = [
        total - current for total, current in zip(by_customer["total"], by_customer["current"], strict=True)
    ]
    table = by_customer.assign(overdue=overdue)

    def key(customer_id: str, currency: str, amount: Decimal) -> tuple[Any, ...]:
        rate = Decimal(1) if rates is None else rates.rate(currency)
        return (rate is None, -amount * (rate or Decimal(1)), customer_id, currency)

    keys = [key(*row) for row in zip(table.customer_id, table.currency, table.overdue, strict=True)]
    return table.iloc[sorted(range(len(table)), key=keys.__getitem__)].reset_index(drop=True)


def _open_invoices(
    customer_pk: int, as_of: date, currency: str | None, disputed_only: bool
) -> Select[tuple[Any, ...]]:
    """One row per invoice of the customer with what was open on it at the as-of date (`ledger.open_at`; zero
    balances left out): id, number, currency, issue_date, due_date, amount_cents, disputed, open_cents_then."""
    customer = select(Customer.id).where(Customer.id == customer_pk)
    query: Select[Any] = ledger.open_at(as_of, customer_ids=customer, currency=currency)
    if disputed_only:
        query = query.where(Invoice.disputed.is_(True))
    rows = query.subquery("customer_open_at")
    return select(
        rows.c.invoice_id.label("id"),
        rows.c.number,
        rows.c.currency,
        rows.c.issue_date,
        rows.c.due_date,
        rows.c.amount_cents,
        rows.c.disputed,
        rows.c.open_cents.label("open_cents_then"),
    )


def _customer_pk(session: Session, customer_id: str) -> int:
    return ledger.customer_by_external_id(session, customer_id).id


@requires("receivables.view")
def customer_open_invoices(
    actor: Actor,
    *,
    customer_id: str,
    as_of: date,
    basis: Basis = "due",
    buckets: tuple[int, ...] = DEFAULT_BUCKETS,
    currency: str | None = None,
    disputed_only: bool = False,
) -> pd.DataFrame:
    """A customer's invoices open at the as-of date, oldest due first, each in the aging bucket the report puts
    it in; their `open_at_as_of` adds up to the customer's row of the aging by customer."""
    validate_buckets(buckets)
    with read_session() as session:
        rows = session.execute(
            _open_invoices(_customer_pk(session, customer_id), as_of, currency, disputed_only).order_by(
                "due_date", "issue_date", "number"
            )
        ).all()
    records = []
    for row in rows:
        overdue_days = (as_of - row.due_date).days
        issue_days = (as_of - row.issue_date).days
        records.append(
            {
                "invoice_number": row.number,
                "currency": row.currency,
                "issue_date": row.issue_date,
                "due_date": row.due_date,
                "days_past_due": max(overdue_days, 0),
                "days_since_issue": issue_days,
                "bucket": bucket_of(overdue_days if basis == "due" else issue_days, buckets),
                "amount": from_cents(row.amount_cents),
                "open_at_as_of": from_cents(row.open_cents_then),
                "disputed": bool(row.disputed),
            }
        )
    return pd.DataFrame(records, columns=OPEN_INVOICE_COLUMNS)


@requires("receivables.view")
def customer_movements(
    actor: Actor,
    *,
    customer_id: str,
    as_of: date,
    currency: str | None = None,
    disputed_only: bool = False,
) -> pd.DataFrame:
    """Payments (the part applied to each invoice) and credit notes dated on or before the as-of date against
    the customer's invoices still open then, in date order; later ones had not happened yet at that date."""
    with read_session() as session:
        still_open = _open_invoices(
            _customer_pk(session, customer_id), as_of, currency, disputed_only
        ).subquery()
        payments = (
            select(
                PaymentAllocation.applied_on.label("day"),
                literal("payment").label("kind"),
                still_open.c.number,
                PaymentAllocation.amount_cents.label("cents"),
                Payment.reference.label("reference"),
                literal(None).label("reason"),
            )
            .join(still_open, still_open.c.id == PaymentAllocation.invoice_id)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.applied_on <= as_of)
        )
        credits = (
            select(
                CreditNote.issued_on,
                literal("credit note"),
                still_open.c.number,
                CreditNote.amount_cents,
                CreditNote.number,
                CreditNote.reason,
            )
            .join(still_open, still_open.c.id == CreditNote.invoice_id)
            .where(CreditNote.issued_on <= as_of)
        )
        both = union_all(payments, credits).subquery("movements")
        rows = session.execute(select(both).order_by(both.c.day, both.c.number, both.c.kind)).all()
    records = [
        {
            "date": row.day,
            "kind": row.kind,
            "invoice_number": row.number,
            "amount": from_cents(row.cents),
            "reference": row.reference,
            "reason": row.reason,
        }
        for row in rows
    ]
    return pd.DataFrame(records, columns=MOVEMENT_COLUMNS)


@requires("receivables.export")
def export_csv(actor: Actor, frame: pd.DataFrame) -> bytes:
    """The table exactly as shown (columns, rows, order) as UTF-8 CSV with a byte-order mark, so Excel reads
    accented names right; amounts are exact decimals (1234.50), dates ISO, and a name or reference that starts
    like a formula opens as text."""
    return csv_bytes(frame)


@requires("receivables.export")
def export_xlsx(actor: Actor, frame: pd.DataFrame, *, sheet: str = "Receivables") -> bytes:
    """The table exactly as shown (columns, rows, order) as an Excel workbook: amounts as numbers that add up,
    text as text, never a formula."""
    return xlsx_bytes(frame, sheet=sheet)


@requires("receivables.view")
def collections_stage_names(actor: Actor) -> list[str]:
    """Read-only: the policy's stage names in order, to offer as a filter before anything is assessed."""
    return assessments.stage_names()


@requires("receivables.view")
def collections_stages(actor: Actor, *, as_of: date) -> tuple[list[str], dict[str, str]]:
    """Read-only: the policy's stages and each overdue customer's stage at the as-of date, to filter by."""
    return assessments.stages_at(as_of)


@requires("receivables.view")
def customers_in_stage(actor: Actor, *, as_of: date, stage: str) -> tuple[str, ...]:
    """Read-only: the ids of the customers overdue at the as-of date who stand at the collections stage ('no stage':
    at none), in order, to filter by (from the stored state when it answers for the date)."""
    return tuple(stages.customers_in_stage(as_of, stage))


@requires("receivables.view")
def receivables_summary(actor: Actor, flt: AgingFilter) -> pd.DataFrame:
    """The aging summary (currency, bucket, amount, invoices) for those who may read receivables."""
    return aging_summary(flt)


@requires("receivables.view")
def receivables_by_customer(actor: Actor, flt: AgingFilter) -> pd.DataFrame:
    """The aging by customer for those who may read receivables."""
    return aging_by_customer(flt)


@requires("receivables.view")
def receivables_largest_overdue_first(
    actor: Actor, flt: AgingFilter, *, rows: int | None = FIRST_SCREEN_ROWS, search: str = ""
) -> CustomerRows:
    """The aging by customer, largest overdue first: its first `rows` rows (None: every row) and how many it has,
    summed, ordered and cut in SQL, so the page's first screen never builds a table of every customer; `search`
    keeps the customers whose id or name contains it."""
    return aging_by_customer_largest_overdue_first(flt, limit=rows, search=search)
