"""Issuing a credit note (a write-off is one with that reason) and reversing one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from data_access import clock, ledger
from data_access.actions import collections_run
from data_access.audit import CreditNoteIssued, CreditNoteReversed, record_event
from data_access.checks import clean_text
from data_access.db import transaction
from data_access.errors import InvalidAction
from data_access.models import Invoice
from data_access.money import from_cents, to_cents
from data_access.permissions import Actor, requires


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
            CreditNoteReversed(
                credit_note=number,
                reversal=reversal.number,
                amount=from_cents(-reversal.amount_cents),
                reversed_on=reversal.issued_on,
                open_after=from_cents(invoice.open_cents),
                reason=why,
            ),
            target=f"invoice:{invoice.number}",
        )
        collections_run.refresh(
            session, [invoice.customer_id], as_of=clock.today(), because="credit note reversed"
        )
        return reversal.number


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
            CreditNoteIssued(
                credit_note=number,
                amount=from_cents(note.amount_cents),
                open_before=from_cents(invoice.open_cents + note.amount_cents),
                open_after=from_cents(invoice.open_cents),
                reason=reason,
            ),
            target=f"invoice:{invoice_number}",
        )
        collections_run.refresh(
            session, [invoice.customer_id], as_of=clock.today(), because="credit note issued"
        )
        return note.id
