"""Recording a payment, reversing one, and applying a customer's unapplied credit to open invoices.

Each checks its permission and audits in the same transaction as the ledger change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from data_access import clock, ledger
from data_access.actions import collections_run
from data_access.audit import CreditApplied, PaymentRecorded, PaymentReversed, record_event
from data_access.checks import clean_text
from data_access.db import transaction
from data_access.errors import InvalidAction
from data_access.models import Customer
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
            PaymentRecorded(
                payment_id=payment.id,
                amount=from_cents(payment.amount_cents),
                received_on=received_on,
                invoice_number=invoice_number,
                reference=reference,
                unapplied=from_cents(payment.unapplied_cents),
            ),
            target=f"customer:{customer.external_id}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="payment recorded")
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
            PaymentReversed(
                payment_id=payment.id,
                amount=from_cents(payment.amount_cents),
                received_on=payment.received_on,
                reversed_on=reversed_on or today,
                reopened=from_cents(restored),
                reason=why,
            ),
            target=f"customer:{customer.external_id}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="payment reversed")
        return from_cents(restored)


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
            CreditApplied(applied=from_cents(cents), invoices=tuple(invoice_numbers) or "oldest first"),
            target=f"customer:{customer.external_id}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="credit applied")
        return from_cents(cents)
