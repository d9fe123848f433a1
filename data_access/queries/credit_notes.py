"""Credit notes issued to a customer, with their reversals."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from data_access.db import read_session
from data_access.models import CreditNote, Customer, Invoice
from data_access.money import from_cents
from data_access.permissions import Actor, requires

CREDIT_NOTE_COLUMNS = ["number", "invoice_number", "issued_on", "currency", "amount", "reason", "reversed_on"]


@requires("receivables.view")
def customer_credit_notes(actor: Actor, *, customer_id: str, limit: int = 200) -> pd.DataFrame:
    """A customer's credit notes and their reversing lines (negative), newest first."""
    query = (
        select(CreditNote, Invoice.number.label("invoice_number"))
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(Customer, Customer.id == CreditNote.customer_id)
        .where(Customer.external_id == customer_id)
        .order_by(CreditNote.issued_on.desc(), CreditNote.id.desc())
        .limit(limit)
    )
    with read_session() as session:
        rows = [
            {"number": n.number, "invoice_number": number, "issued_on": n.issued_on, "currency": n.currency,
             "amount": from_cents(n.amount_cents), "reason": n.reason, "reversed_on": n.reversed_on}
            for n, number in session.execute(query)
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=CREDIT_NOTE_COLUMNS)
