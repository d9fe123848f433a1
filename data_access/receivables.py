"""Actions on receivables: record, reverse and apply payments; issue and reverse credit notes. Each checks its
permission and audits in the same transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, literal_column, select

from data_access import clock, ledger
from data_access.aging import AgingFilter, aging_by_customer, aging_summary
from data_access.audit import record_event
from data_access.checks import clean_text
from data_access.db import read_session, transaction
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents, to_cents
from data_access.permissions import Actor, requires


@requires("payment.record")
def record_payment(
    actor: Actor,
    *,
    customer_id: str,
    amount: Decimal,
    received_on: date,
    invoice_number: str | None = None,
    reference: str | None = None,
    today: date | None = None,
    entry_key: str | None = None,
    confirm_duplicate: bool = True,
) -> int:
    """Money received: applied to the named invoice or oldest-first; any excess stays as unapplied credit. The
    same entry key (one form submission) records it once; without `confirm_duplicate` a payment that looks like
    one already recorded is refused with PossibleDuplicate."""
    reference = clean_text(reference, "The reference", 200)
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        invoice = ledger.invoice_by_number(session, invoice_number) if invoice_number else None
        payment = ledger.apply_payment(
            session,
            customer=customer,
            amount_cents=to_cents(amount),
            received_on=received_on,
            today=today or clock.today(),
            reference=reference,
            invoice=invoice,
            entry_key=f"form:{entry_key}" if entry_key else None,
            allow_similar=confirm_duplicate,
        )
        record_event(
            session,
            actor,
            permission="payment.record",
            target=f"customer:{customer.external_id}",
            details={
                "payment_id": payment.id,
                "amount": str(from_cents(payment.amount_cents)),
                "received_on": received_on.isoformat(),
                "invoice_number": invoice_number,
                "reference": reference,
                "unapplied": str(from_cents(payment.unapplied_cents)),
            },
        )
        return payment.id


@requires("payment.reverse")
def reverse_payment(
    actor: Actor, *, payment_id: int, reason: str, reversed_on: date | None = None, today: date | None = None
) -> Decimal:
    """Undo a payment from the day given (default today): its invoices re-open, its unapplied credit goes, the
    payment is kept and marked reversed. Returns the amount put back on invoices."""
    why = clean_text(reason, "The reason", 200)
    if not why:
        raise InvalidAction("Say why the payment is reversed (e.g. the bank returned it).")
    today = today or clock.today()
    with transaction() as session:
        payment, restored = ledger.reverse_payment(
            session, payment_id=payment_id, reversed_on=reversed_on or today, today=today, reason=why,
            by=actor.username,
        )  # fmt: skip
        customer = session.get(Customer, payment.customer_id)
        assert customer is not None
        record_event(
            session,
            actor,
            permission="payment.reverse",
            target=f"customer:{customer.external_id}",
            details={
                "payment_id": payment.id,
                "amount": str(from_cents(payment.amount_cents)),
                "received_on": payment.received_on.isoformat(),
                "reversed_on": (reversed_on or today).isoformat(),
                "reopened": str(from_cents(restored)),
                "reason": why,
            },
        )
        return from_cents(restored)


@requires("credit_note.reverse")
def reverse_credit_note(
    actor: Actor, *, number: str, reason: str, reversed_on: date | None = None, today: date | None = None
) -> str:
    """Undo a credit note from the day given (default today) with a reversing line; the invoice re-opens by its
    amount. Returns the reversing line's number."""
    why = clean_text(reason, "The reason", 190)
    if not why:
        raise InvalidAction("Say why the credit note is reversed.")
    today = today or clock.today()
    with transaction() as session:
        reversal = ledger.reverse_credit_note(
            session,
            number=number,
            reversed_on=reversed_on or today,
            today=today,
            reason=why,
            by=actor.username,
        )
        invoice = session.get(Invoice, reversal.invoice_id)
        assert invoice is not None
        record_event(
            session,
            actor,
            permission="credit_note.reverse",
            target=f"invoice:{invoice.number}",
            details={
                "credit_note": number,
                "reversal": reversal.number,
                "amount": str(from_cents(-reversal.amount_cents)),
                "reversed_on": reversal.issued_on.isoformat(),
                "open_after": str(from_cents(invoice.open_cents)),
                "reason": why,
            },
        )
        return reversal.number


@requires("credit.apply")
def apply_credit(
    actor: Actor, *, customer_id: str, invoice_numbers: tuple[str, ...] = (), today: date | None = None
) -> Decimal:
    """Put a customer's unapplied credit on their open invoices (the ones named, else oldest first), so the
    worklist stops chasing money already received. Returns the amount applied."""
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        cents = ledger.apply_unapplied_credit(
            session, customer=customer, today=today or clock.today(), invoice_numbers=invoice_numbers
        )
        record_event(
            session,
            actor,
            permission="credit.apply",
            target=f"customer:{customer.external_id}",
            details={"applied": str(from_cents(cents)), "invoices": list(invoice_numbers) or "oldest first"},
        )
        return from_cents(cents)


@requires("credit_note.issue")
def issue_credit_note(
    actor: Actor,
    *,
    invoice_number: str,
    number: str,
    amount: Decimal,
    issued_on: date,
    reason: str | None = None,
) -> int:
    """A credit (or write-off) against one invoice, never more than what is open on it."""
    with transaction() as session:
        invoice = ledger.invoice_by_number(session, invoice_number)
        note = ledger.apply_credit_note(
            session,
            invoice=invoice,
            number=number,
            issued_on=issued_on,
            amount_cents=to_cents(amount),
            reason=reason,
        )
        record_event(
            session,
            actor,
            permission="credit_note.issue",
            target=f"invoice:{invoice_number}",
            details={
                "credit_note": number,
                "amount": str(from_cents(note.amount_cents)),
                "open_before": str(from_cents(invoice.open_cents + note.amount_cents)),
                "open_after": str(from_cents(invoice.open_cents)),
                "reason": reason,
            },
        )
        return note.id


@requires("receivables.view")
def receivables_summary(actor: Actor, flt: AgingFilter) -> pd.DataFrame:
    """The aging summary (currency, bucket, amount, invoices) for those who may read receivables."""
    return aging_summary(flt)


@requires("receivables.view")
def receivables_by_customer(actor: Actor, flt: AgingFilter) -> pd.DataFrame:
    """The aging by customer for those who may read receivables."""
    return aging_by_customer(flt)


@requires("receivables.view")
def unapplied_credit(actor: Actor, *, customer_ids: tuple[str, ...] = ()) -> pd.DataFrame:
    """Money received that no open invoice absorbed: it stays on the customer's account, per currency."""
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
        .order_by(func.sum(Payment.unapplied_cents).desc())
    )
    if customer_ids:
        query = query.where(Customer.external_id.in_(customer_ids))
    with read_session() as session:
        rows = [
            {"customer_id": r.customer_id, "customer_name": r.customer_name, "currency": r.currency,
             "unapplied": from_cents(r.cents)}
            for r in session.execute(query)
        ]  # fmt: skip
    return pd.DataFrame(rows, columns=["customer_id", "customer_name", "currency", "unapplied"])


@requires("receivables.view")
def customer_payments(actor: Actor, *, customer_id: str, limit: int = 200) -> pd.DataFrame:
    """A customer's payments, newest first: what each applied, what stays unapplied, and any reversal."""
    applied = (
        select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount_cents).label("cents"))
        .group_by(PaymentAllocation.payment_id)
        .subquery()
    )
    query = (
        select(Payment, func.coalesce(applied.c.cents, 0).label("applied_cents"))
        .join(Customer, Customer.id == Payment.customer_id)
        .outerjoin(applied, applied.c.payment_id == Payment.id)
        .where(Customer.external_id == customer_id)
        .order_by(Payment.received_on.desc(), Payment.id.desc())
        .limit(limit)
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
