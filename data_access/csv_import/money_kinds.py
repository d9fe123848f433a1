"""The import kinds that change balances: invoices, payments and credit notes.

They share one lock, so two of them never write at once (an invoices `--update` changes open balances too).
Balances change only relative to themselves inside the write transaction: a payment or credit note through the
ledger, an invoice's new amount as `open = open + (new amount - amount)`, refused when less than what is paid.
A payment from a file carries an entry key made from what identifies it (customer, invoice, date, amount,
reference), so it is recorded once however often, and however many at once, the file is imported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.csv_import import fields as f
from data_access.csv_import.base import ADD, SKIP, UPDATE, Context, Kind, Planned, RowRefused
from data_access.csv_import.reader import Column, Row, RowError
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import from_cents

MONEY_LOCK = "import:money"
COPIED = ("customer_id", "currency", "issue_date", "due_date")
"""The invoice's aging attributes that allocations and credit notes carry a copy of."""


class MoneyKind(Kind):
    @property
    def lock(self) -> str:
        return MONEY_LOCK


class Invoices(MoneyKind):
    name, model, key_column, key_field = "invoices", Invoice, "invoice_number", "number"
    attributes: ClassVar[dict[str, str]] = {
        "invoice_number": "number", "issue_date": "issue_date", "due_date": "due_date", "amount": "amount_cents",
        "currency": "currency", "disputed": "disputed",
    }  # fmt: skip

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("invoice_number", f.text(64), required=True),
            Column("customer_id", f.text(64), required=True),
            Column("issue_date", f.day(context.date_format), required=True),
            Column("due_date", f.day(context.date_format), required=True),
            Column("amount", f.cents, required=True),
            Column("currency", f.currency),
            Column("disputed", f.boolean),
        ]

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        reasons = self._customer(row, context, refs)
        issued, due = row.values.get("issue_date"), row.values.get("due_date")
        if issued and due and due < issued:
            reasons.append(f"due_date {due} is before issue_date {issued}")
        return reasons

    def defaults(self, row: Row, refs: dict[str, Any]) -> dict[str, Any]:
        return {"currency": refs["customer_currency"], "disputed": False, "open_cents": row.values["amount"]}

    def judge(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        updating = {p.row.values["invoice_number"]: p for p in planned if p.action == UPDATE}
        if not updating:
            return
        current = {
            row.number: row
            for row in session.execute(
                select(Invoice.id, Invoice.number, Invoice.customer_id, Invoice.currency, Invoice.issue_date,
                       Invoice.due_date, Invoice.amount_cents, Invoice.open_cents, Invoice.disputed,
                       Invoice.voided_on)
                .where(Invoice.number.in_(updating))
            )
        }  # fmt: skip
        ids = [row.id for row in current.values()]
        held = _money_rows(session, ids)
        for number, p in updating.items():
            now = current[number]
            p.refs["current"] = now
            if now.voided_on is not None:
                p.reasons.append(f"invoice {number} was voided on {now.voided_on}; it cannot be changed")
                continue
            settled = now.amount_cents - now.open_cents
            amount = p.row.values.get("amount")
            if amount is not None and amount < settled:
                p.reasons.append(f"amount is below the {from_cents(settled)} already paid or credited")
            if self._moves(p) and now.id in held:
                p.reasons.append(_cannot_move(number))
            issued = p.row.values.get("issue_date")
            earliest = held.get(now.id)
            if issued and earliest and issued > earliest:
                p.reasons.append(
                    f"issue_date {issued} is after a payment or credit note on it dated {earliest}"
                )

    def _moves(self, p: Planned) -> bool:
        now = p.refs["current"]
        stated = self.stated(p.row, p.refs)
        return any(key in stated and stated[key] != getattr(now, key) for key in ("customer_id", "currency"))

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        new = [self.record(p.row, p.refs) for p in planned if p.action == ADD]
        if new:
            session.execute(insert(Invoice), new)
        updates = [p for p in planned if p.action == UPDATE]
        moving = [p for p in updates if self._moves(p)]
        if moving:
            ids = sorted(p.refs["current"].id for p in moving)
            session.execute(
                select(Invoice.id).where(Invoice.id.in_(ids)).order_by(Invoice.id).with_for_update()
            )
            held = _money_rows(session, ids)
            refused = [RowError(p.row.line, _cannot_move(p.row.values["invoice_number"]))
                       for p in moving if p.refs["current"].id in held]  # fmt: skip
            if refused:
                raise RowRefused(refused)
        refused = [error for p in updates if (error := self._update(session, p)) is not None]
        if refused:
            raise RowRefused(refused)

    def _update(self, session: Session, p: Planned) -> RowError | None:
        now = p.refs["current"]
        stated = self.stated(p.row, p.refs)
        amount = stated.pop("amount_cents")
        changes = {key: value for key, value in stated.items() if getattr(now, key) != value}
        if amount != now.amount_cents:
            changed = session.execute(
                update(Invoice)
                .where(Invoice.id == now.id, Invoice.amount_cents - Invoice.open_cents <= amount)
                .values(amount_cents=amount, open_cents=Invoice.open_cents + (amount - Invoice.amount_cents),
                        **changes)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                settled = session.scalar(
                    select(Invoice.amount_cents - Invoice.open_cents).where(Invoice.id == now.id)
                )
                return RowError(p.row.line, f"amount is below the {from_cents(settled)} already paid or credited")  # fmt: skip
        elif changes:
            session.execute(
                update(Invoice).where(Invoice.id == now.id).values(changes)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
        copied = {key: value for key, value in changes.items() if key in COPIED}
        if copied:
            for model in (PaymentAllocation, CreditNote):
                session.execute(
                    update(model).where(model.invoice_id == now.id).values(copied)
                    .execution_options(synchronize_session=False)
                )  # fmt: skip
        return None


def _money_rows(session: Session, invoice_ids: Sequence[int]) -> dict[int, date | None]:
    """Invoices with payments, allocations or credit notes -> the earliest date one of them takes effect."""
    if not invoice_ids:
        return {}
    held: dict[int, date | None] = {}
    for invoice_id, earliest in [
        *session.execute(
            select(PaymentAllocation.invoice_id, func.min(PaymentAllocation.applied_on))
            .where(PaymentAllocation.invoice_id.in_(invoice_ids))
            .group_by(PaymentAllocation.invoice_id)
        ),
        *session.execute(
            select(CreditNote.invoice_id, func.min(CreditNote.issued_on))
            .where(CreditNote.invoice_id.in_(invoice_ids))
            .group_by(CreditNote.invoice_id)
        ),
    ]:
        held[invoice_id] = min(earliest, held.get(invoice_id) or earliest)
    for invoice_id in session.scalars(
        select(Payment.invoice_id).where(Payment.invoice_id.in_(invoice_ids)).distinct()
    ):
        if invoice_id is not None:
            held.setdefault(invoice_id, None)
    return held


def _cannot_move(number: str) -> str:
    return (
        f"invoice {number} has payments or credit notes, so it cannot move to another customer or currency; "
        "reverse them first"
    )


class CreditNotes(MoneyKind):
    """Credit notes are never changed by a re-import (issue another one): a known number is skipped."""

    name, model, key_column, key_field = "credit-notes", CreditNote, "credit_note_number", "number"
    updatable = False

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("credit_note_number", f.text(64), required=True),
            Column("invoice_number", f.text(64), required=True),
            Column("issued_on", f.day(context.date_format), required=True),
            Column("amount", f.cents, required=True),
            Column("reason", f.text(200)),
        ]

    def judge(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        numbers = {p.row.values.get("invoice_number") for p in planned} - {None}
        invoices = {
            row.number: row
            for row in session.execute(
                select(Invoice.number, Invoice.id, Invoice.customer_id, Invoice.issue_date, Invoice.open_cents,
                       Invoice.voided_on)
                .where(Invoice.number.in_(numbers))
            )
        }  # fmt: skip
        for p in planned:
            v = p.row.values
            if v.get("invoice_number") is None:
                continue
            invoice = invoices.get(v["invoice_number"])
            if invoice is None:
                p.reasons.append(f"invoice {v['invoice_number']!r} is unknown")
                continue
            p.refs["invoice_id"], p.refs["customer_id"] = invoice.id, invoice.customer_id
            if p.action != ADD:
                continue
            if invoice.voided_on is not None:
                p.reasons.append(
                    f"invoice {invoice.number} was voided on {invoice.voided_on}; it takes no credit note"
                )
                continue
            remaining = context.credit_open.setdefault(invoice.id, invoice.open_cents)
            amount, issued = v.get("amount"), v.get("issued_on")
            if amount is not None and amount > remaining:
                p.reasons.append(
                    f"amount {from_cents(amount)} is more than the {from_cents(remaining)} open on invoice "
                    f"{v['invoice_number']}"
                )
            if amount == 0:
                p.reasons.append("amount must be more than zero")
            if issued is not None and issued < invoice.issue_date:
                p.reasons.append(f"issued_on is before the invoice's issue date {invoice.issue_date}")
            if not p.reasons and amount is not None:
                context.credit_open[invoice.id] = remaining - amount

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        for p in planned:
            if p.action != ADD:
                continue
            v = p.row.values
            ledger.lock_customer(session, p.refs["customer_id"])
            invoice = session.get(Invoice, p.refs["invoice_id"], with_for_update=True, populate_existing=True)
            assert invoice is not None
            try:
                ledger.apply_credit_note(
                    session, invoice=invoice, number=v["credit_note_number"], issued_on=v["issued_on"],
                    amount_cents=v["amount"], reason=v.get("reason"),
                )  # fmt: skip
            except InvalidAction as exc:
                raise RowRefused(RowError(p.row.line, str(exc))) from None


class Payments(MoneyKind):
    """A payment is the same payment when invoice (or customer), date, amount and reference all match."""

    name, model, key_column, key_field = "payments", Payment, "paid_on", "reference"
    updatable = False

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("invoice_number", f.text(64)),
            Column("paid_on", f.day(context.date_format), required=True),
            Column("amount", f.cents, required=True),
            Column("reference", f.text(200)),
            Column("customer_id", f.text(64)),
        ]

    def file_key(self, row: Row) -> tuple[Any, ...] | None:
        v = row.values
        if v.get("paid_on") is None or v.get("amount") is None:
            return None
        return (v.get("invoice_number"), v.get("customer_id"), v["paid_on"], v["amount"], v.get("reference"))

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        v, reasons = row.values, []
        if v.get("amount") == 0:
            reasons.append("amount must be more than zero")
        if v.get("paid_on") and v["paid_on"] > context.today:
            reasons.append(f"paid_on {v['paid_on']} is in the future")
        return reasons

    def classify(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        numbers = {p.row.values.get("invoice_number") for p in planned} - {None}
        invoices = {
            row.number: row
            for row in session.execute(
                select(Invoice.number, Invoice.id, Invoice.customer_id).where(Invoice.number.in_(numbers))
            )
        }
        for p in planned:
            self._resolve(p, invoices, context)
        candidates = [p for p in planned if not p.reasons]
        if not candidates:
            return
        signature = tuple_(Payment.customer_id, Payment.received_on, Payment.amount_cents)
        wanted = {
            (p.refs["customer_id"], p.row.values["paid_on"], p.row.values["amount"]) for p in candidates
        }
        existing = {
            tuple(row)
            for row in session.execute(
                select(Payment.customer_id, Payment.invoice_id, Payment.received_on, Payment.amount_cents,
                       Payment.reference).where(signature.in_(wanted))
            )
        }  # fmt: skip
        for p in candidates:
            if _identity(p) in existing:
                p.action = SKIP

    def _resolve(self, p: Planned, invoices: dict[str, Any], context: Context) -> None:
        v = p.row.values
        if v.get("invoice_number"):
            invoice = invoices.get(v["invoice_number"])
            if invoice is None:
                p.reasons.append(f"invoice {v['invoice_number']!r} is unknown")
            else:
                p.refs["invoice_id"], p.refs["customer_id"] = invoice.id, invoice.customer_id
            if v.get("customer_id"):
                found = context.customers.get(v["customer_id"])
                if found is None:
                    p.reasons.append(f"customer {v['customer_id']!r} is unknown; import customers first")
                elif invoice is not None and found[0] != invoice.customer_id:
                    p.reasons.append(f"invoice {v['invoice_number']} does not belong to {v['customer_id']!r}")
        elif v.get("customer_id"):
            p.reasons.extend(self._customer(p.row, context, p.refs))
            p.refs["invoice_id"] = None
        elif not {"invoice_number", "customer_id"} & p.row.unreadable:
            p.reasons.append("give an invoice_number or a customer_id")

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        for p in planned:
            if p.action != ADD:
                continue
            v = p.row.values
            ledger.lock_customer(session, p.refs["customer_id"])
            customer = session.get(Customer, p.refs["customer_id"])
            invoice = (
                session.get(Invoice, p.refs["invoice_id"], with_for_update=True, populate_existing=True)
                if p.refs["invoice_id"]
                else None
            )
            assert customer is not None
            try:
                ledger.apply_payment(
                    session, customer=customer, amount_cents=v["amount"], received_on=v["paid_on"],
                    today=context.today, reference=v.get("reference"), invoice=invoice, entry_key=entry_key(p),
                )  # fmt: skip
            except ledger.AlreadyRecorded:
                p.action = SKIP
            except InvalidAction as exc:
                raise RowRefused(RowError(p.row.line, str(exc))) from None


def _identity(p: Planned) -> tuple[Any, ...]:
    v = p.row.values
    return (p.refs["customer_id"], p.refs["invoice_id"], v["paid_on"], v["amount"], v.get("reference"))


def entry_key(p: Planned) -> str:
    """The payment's identity as a unique key: the same row of any file, imported any number of times, is one
    payment."""
    customer_id, invoice_id, paid_on, amount, reference = _identity(p)
    identity = json.dumps([customer_id, invoice_id, paid_on.isoformat(), amount, reference or ""])
    return "import:" + hashlib.sha256(identity.encode()).hexdigest()
