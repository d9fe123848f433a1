"""The ledger's invariant and a digest of what is recorded, read from the raw rows, not through data_access.

tests/ledger_check.py checks each invoice's open balance against its allocations and credit notes and each
payment against its allocations and unapplied credit; imports also move invoices and change their dates, so
here the aging attributes copied onto allocations and credit notes must be the invoice's own too.
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import func, select

from data_access.db import read_session
from data_access.models import Base, CreditNote, Invoice, Payment, PaymentAllocation
from tests.support import ledger_check

LEDGER_TABLES = ("customers", "subscriptions", "invoices", "payments", "payment_allocations", "credit_notes",
                 "tickets", "microsoft_invoices")  # fmt: skip


def ledger_problems() -> list[str]:
    """Every way the recorded rows disagree with each other; empty when the ledger holds."""
    return [*ledger_check.ledger_problems(os.environ["DATABASE_URL"]), *copy_problems()]


def copy_problems() -> list[str]:
    """Allocations and credit notes whose copied aging attributes are not their invoice's, and payments applied to
    another customer's invoice."""
    with read_session() as session:
        invoices = {
            row.id: row
            for row in session.execute(
                select(Invoice.id, Invoice.number, Invoice.customer_id, Invoice.currency, Invoice.issue_date,
                       Invoice.due_date)
            )
        }  # fmt: skip
        allocations = session.execute(
            select(PaymentAllocation.invoice_id, PaymentAllocation.customer_id, PaymentAllocation.currency,
                   PaymentAllocation.issue_date, PaymentAllocation.due_date, Payment.customer_id.label("payer"))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
        ).all()  # fmt: skip
        credits = session.execute(
            select(CreditNote.invoice_id, CreditNote.customer_id, CreditNote.currency, CreditNote.issue_date,
                   CreditNote.due_date)
        ).all()  # fmt: skip
    problems = []
    for what, rows in (("an allocation", allocations), ("a credit note", credits)):
        for row in rows:
            invoice = invoices[row.invoice_id]
            copied = (row.customer_id, row.currency, row.issue_date, row.due_date)
            if copied != (invoice.customer_id, invoice.currency, invoice.issue_date, invoice.due_date):
                problems.append(f"{what} on {invoice.number} carries other aging attributes than the invoice")
    problems += [
        f"a payment of customer {row.payer} is applied to {invoices[row.invoice_id].number}"
        for row in allocations
        if row.payer != invoices[row.invoice_id].customer_id
    ]
    return problems


def table_counts() -> dict[str, int]:
    """Rows per table (the audit log and the data version aside: a refused import writes neither)."""
    with read_session() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if table.name not in ("audit_events", "data_version")
        }


def ledger_digest() -> str:
    """A digest of every row of the business tables, in primary-key order."""
    digest = hashlib.sha256()
    tables = {table.name: table for table in Base.metadata.sorted_tables}
    with read_session() as session:
        for name in LEDGER_TABLES:
            table = tables[name]
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()
