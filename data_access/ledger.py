"""Keeping each invoice's open balance equal to its amount minus payments and credit notes applied, and each
payment equal to its allocations plus its unapplied credit.

These functions work inside the caller's transaction and check business rules only; the actions in
`receivables` (and the CSV import) check permissions and write the audit event around them. Every money write
first locks the customer's row (PostgreSQL; SQLite's write transaction already holds the database), and every
stored balance is changed relative to itself in one guarded UPDATE, never written from a value read earlier.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    SQLColumnExpression,
    cast,
    func,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from data_access import clock
from data_access.errors import InvalidAction, NotFound
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents


class AlreadyRecorded(InvalidAction):
    """This very entry (same import row, same form submission) is recorded already; nothing new was written."""

    def __init__(self, message: str, payment_id: int) -> None:
        super().__init__(message)
        self.payment_id = payment_id


class PossibleDuplicate(InvalidAction):
    """A payment with the same customer, amount, date and reference exists; a second needs a confirmation."""


def lock_customer(session: Session, customer_id: int) -> None:
    """Serialise every money write of one customer (a no-op on SQLite, whose write lock is already held)."""
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def _change_open(session: Session, invoice: Invoice, delta_cents: int) -> None:
    """open_cents += delta in the database, refused unless the result stays within 0..amount."""
    new_open = session.execute(
        update(Invoice)
        .where(
            Invoice.id == invoice.id,
            Invoice.open_cents + delta_cents >= 0,
            Invoice.open_cents + delta_cents <= Invoice.amount_cents,
        )
        .values(open_cents=Invoice.open_cents + delta_cents)
        .returning(Invoice.open_cents)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if new_open is None:
        raise InvalidAction(
            f"Invoice {invoice.number} has changed since it was read (its open balance would leave 0 to "
            f"{from_cents(invoice.amount_cents)}); nothing was saved. Reload and try again."
        )
    set_committed_value(invoice, "open_cents", new_open)


def _change_unapplied(session: Session, payment: Payment, delta_cents: int) -> None:
    new_unapplied = session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.unapplied_cents + delta_cents >= 0,
            Payment.unapplied_cents + delta_cents <= Payment.amount_cents,
        )
        .values(unapplied_cents=Payment.unapplied_cents + delta_cents)
        .returning(Payment.unapplied_cents)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if new_unapplied is None:
        raise InvalidAction(
            "The payment has changed since it was read; nothing was saved. Reload and try again."
        )
    set_committed_value(payment, "unapplied_cents", new_unapplied)


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


def money_against(session: Session, invoice_id: int) -> list[str]:
    """What stands against an invoice, in words: payments applied or named, credit notes (reversed ones too, since
    their lines keep the invoice's history). Empty when nothing does."""
    found: list[str] = []
    allocated = select(PaymentAllocation.id).where(PaymentAllocation.invoice_id == invoice_id).limit(1)
    named = select(Payment.id).where(Payment.invoice_id == invoice_id).limit(1)
    if session.scalar(allocated) or session.scalar(named):
        found.append("payments")
    if session.scalar(select(CreditNote.id).where(CreditNote.invoice_id == invoice_id).limit(1)):
        found.append("credit notes")
    return found


def change_invoice(
    session: Session,
    invoice: Invoice,
    *,
    issue_date: date,
    due_date: date,
    amount_cents: int,
    currency: str,
) -> None:
    """Correct an invoice that no payment or credit note stands against (the caller holds the customer's lock):
    its open balance moves with its amount, relative to itself, in one guarded UPDATE."""
    if due_date < issue_date:
        raise InvalidAction(
            f"Invoice {invoice.number} is due on {due_date}, before it was issued on {issue_date}."
        )
    changed = session.execute(
        update(Invoice)
        .where(
            Invoice.id == invoice.id, Invoice.voided_on.is_(None), Invoice.open_cents == Invoice.amount_cents
        )
        .values(
            issue_date=issue_date,
            due_date=due_date,
            currency=currency,
            amount_cents=amount_cents,
            open_cents=Invoice.open_cents + (amount_cents - Invoice.amount_cents),
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidAction(
            f"Invoice {invoice.number} has changed since it was read; nothing was saved. Reload and try again."
        )
    session.refresh(invoice)


def void_invoice(session: Session, invoice: Invoice, *, voided_on: date, reason: str, by: str) -> None:
    """Void an invoice that no payment or credit note stands against (the caller holds the customer's lock): it
    owes nothing from the start, its amount is kept in voided_amount_cents."""
    changed = session.execute(
        update(Invoice)
        .where(
            Invoice.id == invoice.id, Invoice.voided_on.is_(None), Invoice.open_cents == Invoice.amount_cents
        )
        .values(
            voided_amount_cents=Invoice.amount_cents,
            amount_cents=0,
            open_cents=0,
            voided_on=voided_on,
            voided_by=by,
            void_reason=reason,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidAction(f"Invoice {invoice.number} was changed or voided by someone else a moment ago.")
    session.refresh(invoice)


def _allocate(
    session: Session, payment: Payment, invoice: Invoice, cents: int, applied_on: date, *, fresh: bool
) -> None:
    _change_open(session, invoice, -cents)
    if fresh:  # inserted by this transaction: nobody else can see it, let alone change it
        payment.unapplied_cents -= cents
    else:
        _change_unapplied(session, payment, -cents)
    session.add(
        PaymentAllocation(
            payment_id=payment.id,
            invoice_id=invoice.id,
            applied_on=max(applied_on, invoice.issue_date),
            amount_cents=cents,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
        )
    )


def _open_invoices(session: Session, customer_id: int, currency: str) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.customer_id == customer_id, Invoice.currency == currency, Invoice.open_cents > 0)
            .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def similar_payment(
    session: Session, *, customer_id: int, amount_cents: int, received_on: date, reference: str | None
) -> Payment | None:
    """A payment (not reversed) with the same customer, amount, date and reference, if one exists."""
    return session.scalar(
        select(Payment)
        .where(
            Payment.customer_id == customer_id,
            Payment.amount_cents == amount_cents,
            Payment.received_on == received_on,
            func.coalesce(Payment.reference, "") == (reference or ""),
            Payment.reversed_on.is_(None),
        )
        .order_by(Payment.id)
        .limit(1)
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
    entry_key: str | None = None,
    allow_similar: bool = True,
) -> Payment:
    """Apply to the named invoice, or else to the customer's oldest open invoices in the payment's currency;
    whatever no open invoice absorbs stays on the customer's account as unapplied credit. An entry key records
    the payment once however often it is submitted; without `allow_similar` a payment that looks like one
    already recorded (same customer, amount, date, reference) is refused until confirmed."""
    if amount_cents <= 0:
        raise InvalidAction("A payment must be a positive amount.")
    if received_on > today:
        raise InvalidAction(f"A payment cannot be dated {received_on}, after today ({today}).")
    if invoice is not None and invoice.customer_id != customer.id:
        raise InvalidAction(f"Invoice {invoice.number} belongs to another customer.")
    if invoice is not None and invoice.voided_on is not None:
        raise InvalidAction(
            f"Invoice {invoice.number} was voided on {invoice.voided_on}; it takes no payment."
        )
    lock_customer(session, customer.id)
    if entry_key is not None:
        recorded = session.scalar(select(Payment.id).where(Payment.entry_key == entry_key))
        if recorded is not None:
            raise AlreadyRecorded("This payment is recorded already; it was not recorded again.", recorded)
    if not allow_similar:
        twin = similar_payment(
            session, customer_id=customer.id, amount_cents=amount_cents, received_on=received_on,
            reference=reference,
        )  # fmt: skip
        if twin is not None:
            raise PossibleDuplicate(
                f"A payment of {from_cents(amount_cents)} received on {received_on} with reference "
                f"{reference or '(none)'} is already recorded for {customer.name}. Confirm to record a second one."
            )
    currency = invoice.currency if invoice is not None else customer.currency
    payment = Payment(
        customer_id=customer.id,
        invoice_id=invoice.id if invoice is not None else None,
        received_on=received_on,
        amount_cents=amount_cents,
        unapplied_cents=amount_cents,
        currency=currency,
        reference=reference,
        entry_key=entry_key,
    )
    session.add(payment)
    session.flush()
    if invoice is not None:
        session.refresh(invoice, with_for_update=True)
        if invoice.voided_on is not None:  # voided while this request waited for the customer's lock
            raise InvalidAction(
                f"Invoice {invoice.number} was voided on {invoice.voided_on}; it takes no payment."
            )
        targets = [invoice] if invoice.open_cents > 0 else []
    else:
        targets = _open_invoices(session, customer.id, currency)
    _spread(session, payment, targets, received_on, fresh=True)
    session.flush()
    return payment


def _spread(
    session: Session, payment: Payment, targets: list[Invoice], applied_on: date, *, fresh: bool
) -> None:
    for target in targets:
        if payment.unapplied_cents == 0:
            break
        cents = min(target.open_cents, payment.unapplied_cents)
        _allocate(session, payment, target, cents, applied_on, fresh=fresh)


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
    if invoice.voided_on is not None:
        raise InvalidAction(
            f"Invoice {invoice.number} was voided on {invoice.voided_on}; it takes no credit note."
        )
    if issued_on < invoice.issue_date:
        raise InvalidAction(
            f"Credit note {number} is dated {issued_on}, before invoice {invoice.number} ({invoice.issue_date})."
        )
    lock_customer(session, invoice.customer_id)
    session.refresh(invoice, with_for_update=True)
    if invoice.voided_on is not None:
        raise InvalidAction(
            f"Invoice {invoice.number} was voided on {invoice.voided_on}; it takes no credit note."
        )
    if amount_cents > invoice.open_cents:
        raise InvalidAction(
            f"Credit note {number} ({from_cents(amount_cents)}) is larger than what is open on invoice "
            f"{invoice.number} ({from_cents(invoice.open_cents)})."
        )
    if session.scalar(select(CreditNote.id).where(CreditNote.number == number)) is not None:
        raise InvalidAction(f"Credit note {number} already exists.")
    _change_open(session, invoice, -amount_cents)
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


def reverse_payment(
    session: Session, *, payment_id: int, reversed_on: date, today: date, reason: str, by: str
) -> tuple[Payment, int]:
    """Undo a payment (a bounce, a mistake) from `reversed_on`: each allocation gets a negative twin dated then,
    its invoices re-open, its unapplied credit goes; the payment is kept, marked reversed. Returns the payment
    and the cents put back on invoices."""
    customer_id = session.scalar(select(Payment.customer_id).where(Payment.id == payment_id))
    if customer_id is None:
        raise NotFound(f"There is no payment {payment_id}.")
    lock_customer(session, customer_id)
    payment = session.get(Payment, payment_id, populate_existing=True, with_for_update=True)
    assert payment is not None
    if payment.reversed_on is not None:
        raise InvalidAction(f"Payment {payment_id} was reversed on {payment.reversed_on} already.")
    if reversed_on > today:
        raise InvalidAction(f"A reversal cannot be dated {reversed_on}, after today ({today}).")
    per_invoice = session.execute(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_cents), func.max(PaymentAllocation.applied_on))
        .where(PaymentAllocation.payment_id == payment_id)
        .group_by(PaymentAllocation.invoice_id)
    ).all()  # fmt: skip
    latest = max([payment.received_on, *(row[2] for row in per_invoice)])
    if reversed_on < latest:
        raise InvalidAction(
            f"A reversal cannot be dated {reversed_on}: the payment was received or applied as late as {latest}."
        )
    restored = 0
    for invoice_id, cents, _ in per_invoice:
        if not cents:
            continue
        invoice = session.get(Invoice, invoice_id, populate_existing=True, with_for_update=True)
        assert invoice is not None
        _change_open(session, invoice, int(cents))
        session.add(
            PaymentAllocation(
                payment_id=payment.id, invoice_id=invoice.id, applied_on=reversed_on, amount_cents=-int(cents),
                customer_id=invoice.customer_id, currency=invoice.currency, issue_date=invoice.issue_date,
                due_date=invoice.due_date,
            )
        )  # fmt: skip
        restored += int(cents)
    if payment.unapplied_cents:
        _change_unapplied(session, payment, -payment.unapplied_cents)
    marked = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.reversed_on.is_(None))
        .values(reversed_on=reversed_on, reversed_by=by, reversal_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidAction(f"Payment {payment_id} was reversed by someone else a moment ago.")
    session.flush()
    session.refresh(payment)
    return payment, restored


def reverse_credit_note(
    session: Session, *, number: str, reversed_on: date, today: date, reason: str, by: str
) -> CreditNote:
    """Undo a credit note from `reversed_on`: a negative line of its own re-opens the invoice from that day; the
    original is kept, marked reversed. Returns the reversing line."""
    found = session.execute(
        select(CreditNote.id, CreditNote.customer_id).where(CreditNote.number == number)
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no credit note numbered {number!r}.")
    lock_customer(session, found.customer_id)
    note = session.get(CreditNote, found.id, populate_existing=True, with_for_update=True)
    assert note is not None
    if note.reverses_id is not None:
        raise InvalidAction(f"{number} is itself a reversal; it cannot be reversed.")
    if note.reversed_on is not None:
        raise InvalidAction(f"Credit note {number} was reversed on {note.reversed_on} already.")
    if reversed_on > today:
        raise InvalidAction(f"A reversal cannot be dated {reversed_on}, after today ({today}).")
    if reversed_on < note.issued_on:
        raise InvalidAction(
            f"A reversal cannot be dated {reversed_on}, before the credit note ({note.issued_on})."
        )
    invoice = session.get(Invoice, note.invoice_id, populate_existing=True, with_for_update=True)
    assert invoice is not None
    _change_open(session, invoice, note.amount_cents)
    reversal = CreditNote(
        number=f"{number[:60]}-REV", invoice_id=invoice.id, issued_on=reversed_on, amount_cents=-note.amount_cents,
        reason=f"Reversal: {reason}"[:200], customer_id=note.customer_id, currency=note.currency,
        issue_date=note.issue_date, due_date=note.due_date, reverses_id=note.id,
    )  # fmt: skip
    session.add(reversal)
    marked = session.execute(
        update(CreditNote)
        .where(CreditNote.id == note.id, CreditNote.reversed_on.is_(None))
        .values(reversed_on=reversed_on, reversed_by=by)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidAction(f"Credit note {number} was reversed by someone else a moment ago.")
    session.flush()
    return reversal


def apply_unapplied_credit(
    session: Session, *, customer: Customer, today: date, invoice_numbers: tuple[str, ...] = ()
) -> int:
    """Put a customer's unapplied credit on their open invoices in its currency, from today: the named invoices
    in the order given, else the oldest first. Returns the cents applied."""
    lock_customer(session, customer.id)
    payments = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.customer_id == customer.id, Payment.unapplied_cents > 0, Payment.reversed_on.is_(None)
            )
            .order_by(Payment.received_on, Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not payments:
        raise InvalidAction(f"{customer.name} has no unapplied credit.")
    chosen: list[Invoice] | None = None
    if invoice_numbers:
        chosen = []
        for number in invoice_numbers:
            invoice = invoice_by_number(session, number, for_update=True)
            if invoice.customer_id != customer.id:
                raise InvalidAction(f"Invoice {number} belongs to another customer.")
            chosen.append(invoice)
    applied = 0
    for payment in payments:
        if chosen is None:
            targets = _open_invoices(session, customer.id, payment.currency)
        else:
            targets = [i for i in chosen if i.currency == payment.currency and i.open_cents > 0]
        before = payment.unapplied_cents
        _spread(session, payment, targets, max(today, payment.received_on), fresh=False)
        applied += before - payment.unapplied_cents
    if applied == 0:
        raise InvalidAction(f"{customer.name} has no open invoice in the currency of their unapplied credit.")
    session.flush()
    return applied


def open_at(
    as_of: date, *, customer_ids: Select[int] | None = None, currency: str | None = None
) -> Select[*tuple[Any, ...]]:
    """What was open at the end of `as_of`, one row per invoice issued on or before it whose open balance then
    is not zero: invoice_id, customer_id (the customer's pk), number, currency, issue_date, due_date,
    amount_cents, disputed, open_cents (an int on both databases).

    Open at D = open now + payment allocations dated after D (a reversal is a negative allocation dated the day
    of the reversal, and credit applied later is dated the day it was applied) + credit notes issued after D
    (a reversal is a negative line of its own, dated then). On or after today nothing is dated later, so it
    reads the open invoices alone, from the partial index (its predicate `open_cents > 0` written as a literal,
    which a bound parameter would not match); an earlier date adds the rows dated since, summed per invoice
    before they are joined to the invoice. `customer_ids` is a query of customer pks to keep; `currency` keeps
    one currency. Pass dates, never datetimes: SQLite compares ISO text."""
    code = currency.upper() if currency else None
    columns = (
        Invoice.id.label("invoice_id"),
        Invoice.customer_id.label("customer_id"),
        Invoice.number.label("number"),
        Invoice.currency.label("currency"),
        Invoice.issue_date.label("issue_date"),
        Invoice.due_date.label("due_date"),
        Invoice.amount_cents.label("amount_cents"),
        Invoice.disputed.label("disputed"),
    )
    open_now = (Invoice.open_cents > literal_column("0"), Invoice.issue_date <= as_of)
    if as_of >= clock.today():
        query = select(*columns, Invoice.open_cents.label("open_cents")).where(
            *open_now, *_which(Invoice.customer_id, Invoice.currency, customer_ids, code)
        )
        return query
    parts = union_all(
        select(Invoice.id.label("invoice_id"), Invoice.open_cents.label("cents")).where(
            *open_now, *_which(Invoice.customer_id, Invoice.currency, customer_ids, code)
        ),
        # Allocations and credit notes carry the invoice's customer, currency and dates (kept in step by the
        # import), so the rows dated after D are read from their own aging indexes.
        select(PaymentAllocation.invoice_id, PaymentAllocation.amount_cents).where(
            PaymentAllocation.applied_on > as_of,
            PaymentAllocation.issue_date <= as_of,
            *_which(PaymentAllocation.customer_id, PaymentAllocation.currency, customer_ids, code),
        ),
        select(CreditNote.invoice_id, CreditNote.amount_cents).where(
            CreditNote.issued_on > as_of,
            CreditNote.issue_date <= as_of,
            *_which(CreditNote.customer_id, CreditNote.currency, customer_ids, code),
        ),
    ).subquery("open_parts")
    total = cast(func.sum(parts.c.cents), BigInteger)
    per_invoice = (
        select(parts.c.invoice_id, total.label("open_cents"))
        .group_by(parts.c.invoice_id)
        .having(total != literal_column("0"))
        .subquery("open_at")
    )
    return select(*columns, per_invoice.c.open_cents.label("open_cents")).join(
        per_invoice, per_invoice.c.invoice_id == Invoice.id
    )


def _which(
    customer: SQLColumnExpression[int],
    currency: SQLColumnExpression[str],
    customer_ids: Select[int] | None,
    code: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if customer_ids is not None:
        conditions.append(customer.in_(customer_ids))
    if code is not None:
        conditions.append(currency == code)
    return conditions


def unapplied_at(as_of: date, *, customer_ids: Select[int] | None = None) -> Select[*tuple[Any, ...]]:
    """Unapplied credit as it stood at the end of `as_of`, one row per payment holding some then: payment_id,
    customer_id (the customer's pk), currency, received_on, reference, unapplied_cents (an int on both
    databases).

    Unapplied at D = amount - allocations dated on or before D, for payments received by D and not reversed by
    then. Read as open_at reads invoices: unapplied now (a payment not reversed), or the whole amount (a payment
    reversed after D: the reversal took its credit and its allocations' twins cancel them), plus the allocations
    dated after D (credit applied later, a reversal's negative twins), summed per payment. On or after today
    that is the payments' own unapplied_cents. `customer_ids` is a query of customer pks to keep."""
    columns = (
        Payment.id.label("payment_id"),
        Payment.customer_id.label("customer_id"),
        Payment.currency.label("currency"),
        Payment.received_on.label("received_on"),
        Payment.reference.label("reference"),
    )
    held_now = (
        Payment.unapplied_cents > literal_column("0"),
        Payment.reversed_on.is_(None),
        Payment.received_on <= as_of,
        *_which(Payment.customer_id, Payment.currency, customer_ids, None),
    )
    if as_of >= clock.today():
        return select(*columns, Payment.unapplied_cents.label("unapplied_cents")).where(*held_now)
    parts = union_all(
        select(Payment.id.label("payment_id"), Payment.unapplied_cents.label("cents")).where(*held_now),
        select(Payment.id, Payment.amount_cents).where(
            Payment.reversed_on > as_of,
            Payment.received_on <= as_of,
            *_which(Payment.customer_id, Payment.currency, customer_ids, None),
        ),
        select(PaymentAllocation.payment_id, PaymentAllocation.amount_cents).where(
            PaymentAllocation.applied_on > as_of,
            *_which(PaymentAllocation.customer_id, PaymentAllocation.currency, customer_ids, None),
        ),
    ).subquery("unapplied_parts")
    total = cast(func.sum(parts.c.cents), BigInteger)
    per_payment = (
        select(parts.c.payment_id, total.label("unapplied_cents"))
        .group_by(parts.c.payment_id)
        .having(total != literal_column("0"))
        .subquery("unapplied_at")
    )
    return (
        select(*columns, per_payment.c.unapplied_cents.label("unapplied_cents"))
        .join(per_payment, per_payment.c.payment_id == Payment.id)
        .where(Payment.received_on <= as_of, or_(Payment.reversed_on.is_(None), Payment.reversed_on > as_of))
    )
