"""A customer's invoices as the Customers page lists them for keeping by hand: what each is, what is open, whether
a payment or credit note stands against it (then it can no longer be corrected or voided), and voids."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import exists, select

from data_access import ledger
from data_access.db import read_session
from data_access.models import CreditNote, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents
from data_access.permissions import Actor, requires

INVOICE_COLUMNS = [
    "number", "issue_date", "due_date", "currency", "amount", "open", "disputed", "status", "editable",
    "voided_on", "void_reason",
]  # fmt: skip


@requires("customers.view")
def customer_invoices(actor: Actor, *, customer_id: str, limit: int = 200) -> pd.DataFrame:
    """The customer's invoices, newest first. status: open, part paid, paid, voided; editable: nothing stands
    against it and it is not voided (a voided invoice shows the amount it carried)."""
    held = (
        exists().where(PaymentAllocation.invoice_id == Invoice.id)
        | exists().where(Payment.invoice_id == Invoice.id)
        | exists().where(CreditNote.invoice_id == Invoice.id)
    )
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        found = session.execute(
            select(Invoice, held.label("held"))
            .where(Invoice.customer_id == customer.id)
            .order_by(Invoice.issue_date.desc(), Invoice.number.desc())
            .limit(limit)
        ).all()
    rows = []
    for invoice, is_held in found:
        voided = invoice.voided_on is not None
        if voided:
            status = "voided"
        elif invoice.open_cents == 0:
            status = "paid"
        elif invoice.open_cents < invoice.amount_cents:
            status = "part paid"
        else:
            status = "open"
        amount = invoice.voided_amount_cents if voided else invoice.amount_cents
        rows.append(
            {"number": invoice.number, "issue_date": invoice.issue_date, "due_date": invoice.due_date,
             "currency": invoice.currency, "amount": from_cents(amount), "open": from_cents(invoice.open_cents),
             "disputed": bool(invoice.disputed), "status": status, "editable": not voided and not is_held,
             "voided_on": invoice.voided_on, "void_reason": invoice.void_reason}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=INVOICE_COLUMNS)
