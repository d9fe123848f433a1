"""Keeping each invoice's open balance equal to its amount minus payments and credit notes applied.

These functions work inside the caller's transaction and check business rules only; the actions in
`receivables` (and the CSV import) check permissions and write the audit event around them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.errors import InvalidAction, NotFound
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents


def customer_by_external_id(session: Session, external_id: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
    if customer is None:
        raise NotFound(f"There is no customer with id {external_id!r}.")
    return customer


def invoice_by_number(session: Session, number: str, *, for_update: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.number == number)
    if for_update:
        query = query.with_for_update()
    invoice = session.scalar(query)
    if invoice is None:
        raise NotFound(f"There is no invoice numbered {number!r}.")
    return invoice


def add_invoice(
    session: Session,
    *,
    customer: Customer,
    number: str,
    issue_date: date,
    due_date: date,
    amount_cents: int,
    currency: str | None = None,
    disputed: bool = False,
) -> Invoice:
    """A new invoice is wholly open; it cannot fall due before it was issued or be negative."""
    if amount_cents < 0:
        raise InvalidAction(f"Invoice {number} has a negative amount; issue a credit note instead.")
    if due_date < issue_date:
        raise InvalidAction(f"Invoice {number} is due on {due_date}, before it was issued on {issue_date}.")
    if session.scalar(select(Invoice.id).where(Invoice.number == number)) is not None:
        raise InvalidAction(f"Invoice {number} already exists.")
    invoice = Invoice(
        customer_id=customer.id,
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        amount_cents=amount_cents,
        open_cents=amount_cents,
        currency=(currency or customer.currency).upper(),
        disputed=disputed,
    )
    session.add(invoice)
    session.flush()
    return invoice


def _allocate(session: Session, payment: Payment, invoice: Invoice, cents: int) -> None:
    invoice.open_cents -= cents
    session.add(
        PaymentAllocation(
            payment_id=payment.id,
            invoice_id=invoice.id,
            applied_on=max(payment.received_on, invoice.issue_date),
            amount_cents=cents,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
        )
    )


def apply_payment(
    session: Session,
    *,
    customer: Customer,
    amount_cents: int,
    received_on: date,
    today: date,
    reference: str | None = None,
    invoice: Invoice | None = None,
) -> Payment:
    """Apply to the named invoice, or else to the customer's oldest open invoices in the payment's currency;
    whatever no open invoice absorbs stays on the customer's account as unapplied credit."""
    if amount_cents <= 0:
        raise InvalidAction("A payment must be a positive amount.")
    if received_on > today:
        raise InvalidAction(f"A payment cannot be dated {received_on}, after today ({today}).")
    if invoice is not None and invoice.customer_id != customer.id:
        raise InvalidAction(f"Invoice {invoice.number} belongs to another customer.")
    currency = invoice.currency if invoice is not None else customer.currency
    payment = Payment(
        customer_id=customer.id,
        invoice_id=invoice.id if invoice is not None else None,
        received_on=received_on,
        amount_cents=amount_cents,
        unapplied_cents=amount_cents,
        currency=currency,
        reference=reference,
    )
    session.add(payment)
    session.flush()
    if invoice is not None:
        targets = [invoice] if invoice.open_cents > 0 else []
    else:
        targets = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.customer_id == customer.id,
                    Invoice.currency == currency,
                    Invoice.open_cents > 0,
                )
                .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
                .with_for_update()
            )
        )
    for target in targets:
        if payment.unapplied_cents == 0:
            break
        cents = min(target.open_cents, payment.unapplied_cents)
        _allocate(session, payment, target, cents)
        payment.unapplied_cents -= cents
    session.flush()
    return payment


def apply_credit_note(
    session: Session,
    *,
    invoice: Invoice,
    number: str,
    issued_on: date,
    amount_cents: int,
    reason: str | None,
) -> CreditNote:
    """A credit note reduces one invoice's open balance and can never take it below zero."""
    if amount_cents <= 0:
        raise InvalidAction("A credit note must be a positive amount.")
    if issued_on < invoice.issue_date:
        raise InvalidAction(
            f"Credit note {number} is dated {issued_on}, before invoice {invoice.number} ({invoice.issue_date})."
        )
    if amount_cents > invoice.open_cents:
        raise InvalidAction(
            f"Credit note {number} ({from_cents(amount_cents)}) is larger than what is open on invoice "
            f"{invoice.number} ({from_cents(invoice.open_cents)})."
        )
    if session.scalar(select(CreditNote.id).where(CreditNote.number == number)) is not None:
        raise InvalidAction(f"Credit note {number} already exists.")
    invoice.open_cents -= amount_cents
    note = CreditNote(
        number=number,
        invoice_id=invoice.id,
        issued_on=issued_on,
        amount_cents=amount_cents,
        reason=reason,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
    )
    session.add(note)
    session.flush()
    return note
