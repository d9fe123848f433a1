"""Invoices kept by hand: add one, correct or void one that no payment or credit note stands against. The checks
are the invoices import's own (currency, dates, amount at most money.MAX_AMOUNT, a unique number); balances move
through the ledger under the customer's lock; each action is audited with a reason."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data_access import clock, ledger
from data_access.actions import collections_run
from data_access.audit import InvoiceAdded, InvoiceCorrected, InvoiceRecord, InvoiceVoided, record_event
from data_access.checks import clean_text
from data_access.csv_import import fields as f
from data_access.db import hold_lock, transaction
from data_access.errors import InvalidAction
from data_access.models import Customer, Invoice
from data_access.money import from_cents
from data_access.permissions import Actor, requires


def _sentence(exc: f.BadValue) -> str:
    text = str(exc)
    return f"{text[0].upper()}{text[1:]}."


def _checked_fields(
    *, issue_date: date, due_date: date, amount: Decimal | str, currency: str
) -> tuple[date, date, int, str]:
    """The import's parsers on the form's values; InvalidAction naming every problem."""
    problems: list[str] = []
    parse_day = f.day(None)
    checked_days = []
    for column, value in (("The issue date", issue_date), ("The due date", due_date)):
        try:
            checked_days.append(parse_day(column, value.isoformat()))
        except f.BadValue as exc:
            problems.append(_sentence(exc))
    figure = format(amount, "f") if isinstance(amount, Decimal) else str(amount).strip().replace(",", "")
    cents = 0
    try:
        cents = f.cents("The amount", figure)
    except f.BadValue as exc:
        problems.append(_sentence(exc))
    code = ""
    try:
        code = f.currency("The currency", currency)
    except f.BadValue as exc:
        problems.append(_sentence(exc))
    if len(checked_days) == 2 and due_date < issue_date:
        problems.append(f"The due date {due_date} is before the issue date {issue_date}.")
    if problems:
        raise InvalidAction(" ".join(problems))
    return issue_date, due_date, cents, code


def _reason(reason: str | None, *, required: bool) -> str | None:
    why = clean_text(reason, "The reason", 190)
    if required and not why:
        raise InvalidAction("Say why: the reason goes into the audit log.")
    return why


def _record(invoice: Invoice, customer: Customer, *, amount_cents: int | None = None) -> InvoiceRecord:
    return InvoiceRecord(
        customer_id=customer.external_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        amount=from_cents(invoice.amount_cents if amount_cents is None else amount_cents),
        currency=invoice.currency,
    )


def _refuse_lookalike(session: Session, number: str) -> None:
    """A typed number that differs from an existing one only in case or width (inv-1001, ＩＮＶ-1001) is the same
    invoice typed again, not a second one."""
    existing = session.scalar(
        select(Invoice.number).where(func.lower(Invoice.number) == number.lower()).limit(1)
    )
    if existing is not None and existing != number:
        raise InvalidAction(
            f"Invoice {existing} already exists; {number} differs from it only in upper or lower case, so it "
            "would bill the same invoice twice. Nothing was saved."
        )


@requires("invoice.edit")
def add_invoice(
    actor: Actor,
    *,
    customer_id: str,
    number: str,
    issue_date: date,
    amount: Decimal | str,
    due_date: date | None = None,
    currency: str | None = None,
    reason: str | None = None,
) -> str:
    """A new invoice, wholly open; due after the customer's payment terms unless a due date is given, in the
    customer's currency unless another is given; its number in plain (NFKC) form, refused when it differs from an
    existing one only in case. Returns its number."""
    invoice_number = clean_text(number and unicodedata.normalize("NFKC", number), "The invoice number", 64)
    if not invoice_number:
        raise InvalidAction("Give the invoice number.")
    why = _reason(reason, required=False)
    with transaction() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        ledger.lock_customer(session, customer.id)
        hold_lock(session, f"invoice-number:{invoice_number.lower()}")
        _refuse_lookalike(session, invoice_number)
        if due_date is None:
            try:
                due_date = issue_date + timedelta(days=customer.payment_terms_days)
            except OverflowError:  # an issue date near 9999-12-31, which the date check refuses in words
                due_date = issue_date
        issued, due, cents, code = _checked_fields(
            issue_date=issue_date,
            due_date=due_date,
            amount=amount,
            currency=currency or customer.currency,
        )
        invoice = ledger.add_invoice(
            session, customer=customer, number=invoice_number, issue_date=issued, due_date=due, amount_cents=cents,
            currency=code,
        )  # fmt: skip
        record_event(
            session,
            actor,
            InvoiceAdded(invoice=_record(invoice, customer), reason=why),
            target=f"invoice:{invoice.number}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="invoice added")
        return invoice.number


def _editable(session: Session, number: str, what: str) -> tuple[Invoice, Customer]:
    found = ledger.invoice_by_number(session, number)
    ledger.lock_customer(session, found.customer_id)
    invoice = session.get_one(Invoice, found.id, populate_existing=True, with_for_update=True)
    customer = session.get_one(Customer, invoice.customer_id)
    if invoice.voided_on is not None:
        raise InvalidAction(f"Invoice {number} was voided on {invoice.voided_on}; it cannot be {what}.")
    against = ledger.money_against(session, invoice.id)
    if against:
        raise InvalidAction(
            f"Invoice {number} has {' and '.join(against)} against it, so it cannot be {what}; reverse them first, "
            "or issue a credit note for what should not be owed."
        )
    return invoice, customer


@requires("invoice.edit")
def correct_invoice(
    actor: Actor,
    *,
    number: str,
    issue_date: date,
    due_date: date,
    amount: Decimal | str,
    currency: str,
    reason: str,
) -> None:
    """Correct the dates, amount or currency of an invoice no payment or credit note stands against; the open
    balance moves with the amount (through the ledger). Refused with a sentence otherwise, nothing written."""
    why = _reason(reason, required=True)
    assert why is not None
    issued, due, cents, code = _checked_fields(
        issue_date=issue_date, due_date=due_date, amount=amount, currency=currency
    )
    with transaction() as session:
        invoice, customer = _editable(session, number, "corrected")
        before = _record(invoice, customer)
        if (before.issue_date, before.due_date, before.amount, before.currency) == (
            issued, due, from_cents(cents), code
        ):  # fmt: skip
            raise InvalidAction(f"Invoice {number} already reads so; nothing was changed.")
        ledger.change_invoice(
            session, invoice, issue_date=issued, due_date=due, amount_cents=cents, currency=code
        )
        record_event(
            session,
            actor,
            InvoiceCorrected(
                before=before,
                after=_record(invoice, customer),
                open_after=from_cents(invoice.open_cents),
                reason=why,
            ),
            target=f"invoice:{invoice.number}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="invoice corrected")


@requires("invoice.edit")
def void_invoice(actor: Actor, *, number: str, reason: str, today: date | None = None) -> None:
    """Void an invoice issued in error: it owes nothing from the start (out of receivables, aging and statements
    at every date). Refused with a sentence when a payment or credit note stands against it."""
    why = _reason(reason, required=True)
    assert why is not None
    with transaction() as session:
        invoice, customer = _editable(session, number, "voided")
        record = _record(invoice, customer)
        day = today or clock.today()
        ledger.void_invoice(session, invoice, voided_on=day, reason=why, by=actor.username)
        record_event(
            session,
            actor,
            InvoiceVoided(invoice=record, voided_on=day, reason=why),
            target=f"invoice:{invoice.number}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="invoice voided")
