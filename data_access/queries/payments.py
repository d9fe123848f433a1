"""Payments received and the unapplied credit on customers' accounts."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, literal_column, select

from data_access.db import read_session
from data_access.models import Customer, Payment, PaymentAllocation
from data_access.money import from_cents
from data_access.permissions import Actor, requires


@requires("receivables.view")
def unapplied_credit(
    actor: Actor, *, customer_ids: tuple[str, ...] = (), currency: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Money received that no open invoice absorbed: it stays on the customer's account, per currency, largest
    first (in one currency, and only the first `limit` rows, when asked)."""
    query = (
        select(
            Customer.external_id.label("customer_id"),
            Customer.name.label("customer_name"),
            Payment.currency,
            func.sum(Payment.unapplied_cents).label("cents"),
        )
        .join(Customer, Customer.id == Payment.customer_id)
        .where(Payment.unapplied_cents > literal_column("0"))
        .group_by(Customer.external_id, Customer.name, Payment.currency)
        .order_by(func.sum(Payment.unapplied_cents).desc(), Customer.external_id, Payment.currency)
        .limit(limit)
    )
    if customer_ids:
        query = query.where(Customer.external_id.in_(customer_ids))
    if currency:
        query = query.where(Payment.currency == currency)
    with read_session() as session:
        rows = [
            {"customer_id": r.customer_id, "customer_name": r.customer_name, "currency": r.currency,
             "unapplied": from_cents(r.cents)}
            for r in session.execute(query)
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=["customer_id", "customer_name", "currency", "unapplied"])


@requires("receivables.view")
def customer_payments(actor: Actor, *, customer_id: str, limit: int = 200) -> pd.DataFrame:
    """A customer's payments, newest first: what each applied, what stays unapplied, and any reversal. The newest
    `limit` are chosen first, then only their allocations are summed (the ledger's every allocation never is)."""
    latest = (
        select(Payment.id)
        .join(Customer, Customer.id == Payment.customer_id)
        .where(Customer.external_id == customer_id)
        .order_by(Payment.received_on.desc(), Payment.id.desc())
        .limit(limit)
        .subquery("latest")
    )
    applied = (
        select(func.coalesce(func.sum(PaymentAllocation.amount_cents), 0))
        .where(PaymentAllocation.payment_id == Payment.id)
        .scalar_subquery()
    )
    query = (
        select(Payment, applied.label("applied_cents"))
        .join(latest, latest.c.id == Payment.id)
        .order_by(Payment.received_on.desc(), Payment.id.desc())
    )
    with read_session() as session:
        rows = [
            {"payment_id": p.id, "received_on": p.received_on, "currency": p.currency,
             "amount": from_cents(p.amount_cents), "applied": from_cents(cents),
             "unapplied": from_cents(p.unapplied_cents), "reference": p.reference, "reversed_on": p.reversed_on,
             "reversal_reason": p.reversal_reason}
            for p, cents in session.execute(query)
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=PAYMENT_COLUMNS)


PAYMENT_COLUMNS = [
    "payment_id", "received_on", "currency", "amount", "applied", "unapplied", "reference", "reversed_on",
    "reversal_reason",
]  # fmt: skip
