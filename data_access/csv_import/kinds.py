"""What each import kind reads, how a row is checked against the database, and how it is written.

`plan` classifies a chunk's rows (add, update, skip) and finds what is wrong with them; `write` applies a planned
chunk inside the caller's transaction. Both run per chunk, so memory follows the chunk, not the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.csv_import import fields as f
from data_access.csv_import.reader import Column, Row, RowError
from data_access.errors import InvalidAction
from data_access.models import (
    BillingCycle,
    CreditNote,
    Customer,
    Invoice,
    MicrosoftInvoice,
    Payment,
    PaymentAllocation,
    Severity,
    Subscription,
    SubscriptionStatus,
    Ticket,
    TicketCategory,
    TicketStatus,
)
from data_access.money import from_cents

ADD, UPDATE, SKIP = "add", "update", "skip"


@dataclass
class Planned:
    row: Row
    action: str
    refs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    date_format: str | None
    update: bool
    today: date
    customers: dict[str, tuple[int, str]] = field(default_factory=dict)
    credit_open: dict[int, int] = field(default_factory=dict)


def load_customers(session: Session) -> dict[str, tuple[int, str]]:
    """External id -> (id, currency) for every customer (tens of thousands at most)."""
    rows = session.execute(select(Customer.external_id, Customer.id, Customer.currency))
    return {row.external_id: (row.id, row.currency) for row in rows}


class Kind:
    """A kind keyed by one external id; subclasses say the columns, the checks and the record written."""

    name: str
    model: type[Any]
    key_column: str
    key_field: str
    updatable = True

    @property
    def key_attribute(self) -> Any:
        return getattr(self.model, self.key_field)

    def columns(self, context: Context) -> list[Column]:
        raise NotImplementedError

    def file_key(self, row: Row) -> tuple[Any, ...]:
        return (row.values[self.key_column],)

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        return []

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        raise NotImplementedError

    def _customer(self, row: Row, context: Context, refs: dict[str, Any], reasons: list[str]) -> None:
        external_id = row.values.get("customer_id")
        found = context.customers.get(external_id) if external_id else None
        if found is None:
            reasons.append(f"customer {external_id!r} is unknown; import customers first")
        else:
            refs["customer_id"], refs["customer_currency"] = found

    def plan(
        self, session: Session, rows: Sequence[Row], context: Context
    ) -> tuple[list[Planned], list[RowError]]:
        keys = [row.values[self.key_column] for row in rows]
        existing = set(session.scalars(select(self.key_attribute).where(self.key_attribute.in_(keys))))
        planned, errors = [], []
        for row in rows:
            refs: dict[str, Any] = {}
            reasons = self.check(row, refs, context)
            if reasons:
                errors.append(RowError(row.line, "; ".join(reasons)))
                continue
            exists = row.values[self.key_column] in existing
            action = (UPDATE if context.update and self.updatable else SKIP) if exists else ADD
            planned.append(Planned(row, action, refs))
        return planned, errors

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        new = [self.record(p.row, p.refs, context) for p in planned if p.action == ADD]
        if new:
            session.execute(insert(self.model), new)
        for p in planned:
            if p.action == UPDATE:
                values = {k: v for k, v in self.record(p.row, p.refs, context).items() if v is not None}
                session.execute(
                    update(self.model)
                    .where(self.key_attribute == p.row.values[self.key_column])
                    .values(**values)
                )


class Customers(Kind):
    name, model, key_column, key_field = "customers", Customer, "customer_id", "external_id"

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("customer_id", f.text(64), required=True),
            Column("name", f.text(200), required=True),
            Column("tenant_id", f.text(36)),
            Column("domain", f.text(253)),
            Column("country", f.code(2, "two-letter country code")),
            Column("currency", f.code(3, "three-letter currency code")),
            Column("account_manager", f.text(100)),
            Column("email", f.text(254)),
        ]

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        v = row.values
        record = {"external_id": v["customer_id"], "name": v["name"], "tenant_id": v.get("tenant_id"),
                  "domain": v.get("domain"), "country": v.get("country"), "currency": v.get("currency") or "USD",
                  "account_manager": v.get("account_manager"), "billing_contact_email": v.get("email")}  # fmt: skip
        return record


class Subscriptions(Kind):
    name, model, key_column, key_field = (
        "subscriptions", Subscription, "subscription_id", "external_id",
    )  # fmt: skip

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("subscription_id", f.text(64), required=True),
            Column("customer_id", f.text(64), required=True),
            Column("product", f.text(200), required=True),
            Column("sku", f.text(200), required=True),
            Column("quantity", f.whole_number, required=True),
            Column("unit_price", f.cents, required=True),
            Column("billing_cycle", f.choice(BillingCycle.values(), "billing cycle"), required=True),
            Column("status", f.choice(SubscriptionStatus.values(), "subscription status"), required=True),
            Column("term_end", f.day(context.date_format)),
        ]

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        reasons: list[str] = []
        self._customer(row, context, refs, reasons)
        return reasons

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        v = row.values
        return {"external_id": v["subscription_id"], "customer_id": refs["customer_id"], "product": v["product"],
                "sku": v["sku"], "quantity": v["quantity"], "unit_price_cents": v["unit_price"],
                "billing_cycle": v["billing_cycle"], "status": v["status"], "term_end": v.get("term_end")}  # fmt: skip


class Invoices(Kind):
    name, model, key_column, key_field = "invoices", Invoice, "invoice_number", "number"

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("invoice_number", f.text(64), required=True),
            Column("customer_id", f.text(64), required=True),
            Column("issue_date", f.day(context.date_format), required=True),
            Column("due_date", f.day(context.date_format), required=True),
            Column("amount", f.cents, required=True),
            Column("currency", f.code(3, "three-letter currency code")),
            Column("disputed", f.boolean),
        ]

    def plan(
        self, session: Session, rows: Sequence[Row], context: Context
    ) -> tuple[list[Planned], list[RowError]]:
        planned, errors = super().plan(session, rows, context)
        updating = [p.row.values["invoice_number"] for p in planned if p.action == UPDATE]
        if not updating:
            return planned, errors
        paid = dict(
            session.execute(
                select(Invoice.number, Invoice.amount_cents - Invoice.open_cents).where(
                    Invoice.number.in_(updating)
                )
            ).all()
        )
        kept = []
        for p in planned:
            settled = paid.get(p.row.values["invoice_number"], 0) if p.action == UPDATE else 0
            if p.row.values["amount"] < settled:
                errors.append(
                    RowError(
                        p.row.line, f"amount is below the {from_cents(settled)} already paid or credited"
                    )
                )
            else:
                p.refs["settled"] = settled
                kept.append(p)
        return kept, errors

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        reasons: list[str] = []
        self._customer(row, context, refs, reasons)
        if row.values["due_date"] < row.values["issue_date"]:
            reasons.append(
                f"due_date {row.values['due_date']} is before issue_date {row.values['issue_date']}"
            )
        return reasons

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        v = row.values
        return {"number": v["invoice_number"], "customer_id": refs["customer_id"], "issue_date": v["issue_date"],
                "due_date": v["due_date"], "amount_cents": v["amount"], "open_cents": v["amount"] - refs.get("settled", 0),
                "currency": v.get("currency") or refs["customer_currency"], "disputed": bool(v.get("disputed"))}  # fmt: skip

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        super().write(session, planned, context)
        for p in planned:
            if p.action != UPDATE:
                continue
            invoice_id = (
                select(Invoice.id).where(Invoice.number == p.row.values["invoice_number"]).scalar_subquery()
            )
            copied = {"issue_date": p.row.values["issue_date"], "due_date": p.row.values["due_date"]}
            session.execute(
                update(PaymentAllocation).where(PaymentAllocation.invoice_id == invoice_id).values(copied)
            )
            session.execute(update(CreditNote).where(CreditNote.invoice_id == invoice_id).values(copied))


class Tickets(Kind):
    name, model, key_column, key_field = "tickets", Ticket, "ticket_id", "external_id"

    def columns(self, context: Context) -> list[Column]:
        when = f.timestamp(context.date_format)
        return [
            Column("ticket_id", f.text(64), required=True),
            Column("customer_id", f.text(64), required=True),
            Column("title", f.text(300), required=True),
            Column("category", f.choice(TicketCategory.values(), "ticket category"), required=True),
            Column("severity", f.choice(Severity.values(), "severity"), required=True),
            Column("status", f.choice(TicketStatus.values(), "ticket status"), required=True),
            Column("channel", f.text(30)),
            Column("created_at", when, required=True),
            Column("first_response_at", when),
            Column("resolved_at", when),
        ]

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        reasons: list[str] = []
        self._customer(row, context, refs, reasons)
        for later in ("first_response_at", "resolved_at"):
            if row.values.get(later) and row.values[later] < row.values["created_at"]:
                reasons.append(f"{later} is before created_at")
        return reasons

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        v = row.values
        return {"external_id": v["ticket_id"], "customer_id": refs["customer_id"], "title": v["title"],
                "category": v["category"], "severity": v["severity"], "status": v["status"],
                "channel": v.get("channel"), "created_at": v["created_at"],
                "first_response_at": v.get("first_response_at"), "resolved_at": v.get("resolved_at")}  # fmt: skip


class MicrosoftInvoices(Kind):
    name, model, key_column, key_field = (
        "microsoft-invoices", MicrosoftInvoice, "invoice_number", "number",
    )  # fmt: skip

    def columns(self, context: Context) -> list[Column]:
        day = f.day(context.date_format)
        return [
            Column("invoice_number", f.text(64), required=True),
            Column("period_start", day, required=True),
            Column("period_end", day, required=True),
            Column("amount", f.cents, required=True),
            Column("currency", f.code(3, "three-letter currency code"), required=True),
            Column("due_date", day, required=True),
            Column("paid_on", day),
        ]

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        if row.values["period_end"] < row.values["period_start"]:
            return ["period_end is before period_start"]
        return []

    def record(self, row: Row, refs: dict[str, Any], context: Context) -> dict[str, Any]:
        v = row.values
        return {"number": v["invoice_number"], "period_start": v["period_start"], "period_end": v["period_end"],
                "amount_cents": v["amount"], "currency": v["currency"], "due_date": v["due_date"],
                "paid_on": v.get("paid_on")}  # fmt: skip


class CreditNotes(Kind):
    """Credit notes are never changed by a re-import (issue another one): a known number is skipped."""

    name, model, key_column, key_field = (
        "credit-notes",
        CreditNote,
        "credit_note_number",
        "number",
    )
    updatable = False

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("credit_note_number", f.text(64), required=True),
            Column("invoice_number", f.text(64), required=True),
            Column("issued_on", f.day(context.date_format), required=True),
            Column("amount", f.cents, required=True),
            Column("reason", f.text(200)),
        ]

    def plan(
        self, session: Session, rows: Sequence[Row], context: Context
    ) -> tuple[list[Planned], list[RowError]]:
        numbers = {row.values["invoice_number"] for row in rows}
        invoices = {
            row.number: row
            for row in session.execute(
                select(Invoice.number, Invoice.id, Invoice.issue_date, Invoice.open_cents).where(
                    Invoice.number.in_(numbers)
                )
            )
        }
        planned, errors = super().plan(session, rows, context)
        kept = []
        for p in planned:
            invoice = invoices.get(p.row.values["invoice_number"])
            reasons = []
            if invoice is None:
                reasons.append(f"invoice {p.row.values['invoice_number']!r} is unknown")
            elif p.action == ADD:
                remaining = context.credit_open.setdefault(invoice.id, invoice.open_cents)
                if p.row.values["amount"] > remaining:
                    reasons.append(
                        f"amount {from_cents(p.row.values['amount'])} is more than the {from_cents(remaining)} open on "
                        f"invoice {p.row.values['invoice_number']}"
                    )
                if p.row.values["issued_on"] < invoice.issue_date:
                    reasons.append(f"issued_on is before the invoice's issue date {invoice.issue_date}")
                if not reasons:
                    context.credit_open[invoice.id] = remaining - p.row.values["amount"]
            if reasons:
                errors.append(RowError(p.row.line, "; ".join(reasons)))
            else:
                kept.append(p)
        return kept, errors

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        for p in planned:
            if p.action != ADD:
                continue
            v = p.row.values
            try:
                ledger.apply_credit_note(
                    session,
                    invoice=ledger.invoice_by_number(session, v["invoice_number"], for_update=True),
                    number=v["credit_note_number"],
                    issued_on=v["issued_on"],
                    amount_cents=v["amount"],
                    reason=v.get("reason"),
                )
            except InvalidAction as exc:
                raise RowRefused(RowError(p.row.line, str(exc))) from None


class Payments(Kind):
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

    def file_key(self, row: Row) -> tuple[Any, ...]:
        v = row.values
        return (v.get("invoice_number"), v.get("customer_id"), v["paid_on"], v["amount"], v.get("reference"))

    def plan(
        self, session: Session, rows: Sequence[Row], context: Context
    ) -> tuple[list[Planned], list[RowError]]:
        numbers = {row.values["invoice_number"] for row in rows if row.values.get("invoice_number")}
        invoices = {
            row.number: row
            for row in session.execute(
                select(Invoice.number, Invoice.id, Invoice.customer_id).where(Invoice.number.in_(numbers))
            )
        }
        candidates: list[Planned] = []
        errors = []
        for row in rows:
            v, refs, reasons = row.values, {}, []
            if v["amount"] == 0:
                reasons.append("amount must be more than zero")
            if v["paid_on"] > context.today:
                reasons.append(f"paid_on {v['paid_on']} is in the future")
            if v.get("invoice_number"):
                invoice = invoices.get(v["invoice_number"])
                if invoice is None:
                    reasons.append(f"invoice {v['invoice_number']!r} is unknown")
                else:
                    refs["invoice_id"], refs["customer_id"] = invoice.id, invoice.customer_id
                    if v.get("customer_id"):
                        found = context.customers.get(v["customer_id"])
                        if found is None or found[0] != invoice.customer_id:
                            reasons.append(
                                f"invoice {v['invoice_number']} does not belong to {v['customer_id']!r}"
                            )
            elif v.get("customer_id"):
                self._customer(row, context, refs, reasons)
                refs["invoice_id"] = None
            else:
                reasons.append("give an invoice_number or a customer_id")
            if reasons:
                errors.append(RowError(row.line, "; ".join(reasons)))
            else:
                candidates.append(Planned(row, ADD, refs))
        if candidates:
            signature = tuple_(Payment.customer_id, Payment.received_on, Payment.amount_cents)
            wanted = {
                (p.refs["customer_id"], p.row.values["paid_on"], p.row.values["amount"]) for p in candidates
            }
            existing = {
                (r.customer_id, r.invoice_id, r.received_on, r.amount_cents, r.reference)
                for r in session.execute(
                    select(Payment.customer_id, Payment.invoice_id, Payment.received_on, Payment.amount_cents,
                           Payment.reference).where(signature.in_(wanted))
                )
            }  # fmt: skip
            for p in candidates:
                v = p.row.values
                key = (
                    p.refs["customer_id"],
                    p.refs["invoice_id"],
                    v["paid_on"],
                    v["amount"],
                    v.get("reference"),
                )
                p.action = SKIP if key in existing else ADD
        return candidates, errors

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        for p in planned:
            if p.action != ADD:
                continue
            v = p.row.values
            customer = session.get(Customer, p.refs["customer_id"])
            invoice = (
                session.get(Invoice, p.refs["invoice_id"], with_for_update=True)
                if p.refs["invoice_id"]
                else None
            )
            assert customer is not None
            try:
                ledger.apply_payment(session, customer=customer, amount_cents=v["amount"], received_on=v["paid_on"],
                                     today=context.today, reference=v.get("reference"), invoice=invoice)  # fmt: skip
            except InvalidAction as exc:
                raise RowRefused(RowError(p.row.line, str(exc))) from None


class RowRefused(Exception):
    """A row the database refused while writing; the whole file rolls back."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Customers(),
        Subscriptions(),
        Invoices(),
        Payments(),
        CreditNotes(),
        Tickets(),
        MicrosoftInvoices(),
    )
}
