"""What each import kind reads, how a row is checked, and what is written; the money kinds (invoices, payments,
credit notes) live in `money_kinds`, since they change balances through the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.csv_import import fields as f
from data_access.csv_import.base import ADD, SKIP, UPDATE, Context, Kind, Planned, RowRefused, load_customers
from data_access.csv_import.money_kinds import CreditNotes, Invoices, Payments
from data_access.csv_import.partner_center import ExchangeRates, PartnerCenterInvoice, PartnerCenterUsage
from data_access.csv_import.reader import Column, Row
from data_access.enums import (
    BillingCycle,
    EscalationStatus,
    Severity,
    SubscriptionStatus,
    TicketCategory,
    TicketStatus,
)
from data_access.models import Customer, Escalation, MicrosoftInvoice, Subscription, Ticket

__all__ = ["ADD", "KINDS", "SKIP", "UPDATE", "Context", "Kind", "Planned", "RowRefused", "load_customers"]


class Customers(Kind):
    name, model, key_column, key_field = "customers", Customer, "customer_id", "external_id"
    attributes: ClassVar[dict[str, str]] = {
        "customer_id": "external_id", "name": "name", "tenant_id": "tenant_id", "domain": "domain",
        "country": "country", "currency": "currency", "account_manager": "account_manager",
        "email": "billing_contact_email", "exempt_from_collections": "exempt_from_collections",
    }  # fmt: skip

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("customer_id", f.text(64), required=True),
            Column("name", f.text(200), required=True),
            Column("tenant_id", f.tenant),
            Column("domain", f.text(253)),
            Column("country", f.country),
            Column("currency", f.currency),
            Column("account_manager", f.text(100)),
            Column("email", f.email(254)),
            Column("exempt_from_collections", f.boolean),
        ]

    def defaults(self, row: Row, refs: dict[str, Any]) -> dict[str, Any]:
        return {"currency": "USD"}


class Subscriptions(Kind):
    name, model, key_column, key_field = "subscriptions", Subscription, "subscription_id", "external_id"
    attributes: ClassVar[dict[str, str]] = {
        "subscription_id": "external_id", "product": "product", "sku": "sku", "quantity": "quantity",
        "unit_price": "unit_price_cents", "billing_cycle": "billing_cycle", "status": "status",
        "term_end": "term_end",
    }  # fmt: skip

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
        return self._customer(row, context, refs)


class Tickets(Kind):
    name, model, key_column, key_field = "tickets", Ticket, "ticket_id", "external_id"
    attributes: ClassVar[dict[str, str]] = {
        "ticket_id": "external_id", "title": "title", "category": "category", "severity": "severity",
        "status": "status", "channel": "channel", "created_at": "created_at",
        "first_response_at": "first_response_at", "resolved_at": "resolved_at",
    }  # fmt: skip

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
        reasons = self._customer(row, context, refs)
        created = row.values.get("created_at")
        for later in ("first_response_at", "resolved_at"):
            if created and row.values.get(later) and row.values[later] < created:
                reasons.append(f"{later} is before created_at")
        return reasons

    def judge(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        """An update may not finish a ticket whose escalation to Microsoft is open: the Tickets page asks whether
        Microsoft's case is resolved, or why it stays open."""
        finished = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
        finishing = {p.row.values["ticket_id"]: p for p in planned
                     if p.action == UPDATE and p.row.values.get("status") in finished}  # fmt: skip
        if not finishing:
            return
        # Taken before their cases are read, as escalating or reopening a case takes the ticket first.
        session.execute(
            select(Ticket.id).where(Ticket.external_id.in_(finishing)).order_by(Ticket.id).with_for_update()
        )
        done = (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)
        query = (
            select(Ticket.external_id, Escalation.microsoft_case_number)
            .join(Escalation, Escalation.ticket_id == Ticket.id)
            .where(Ticket.external_id.in_(finishing), Escalation.status.not_in(done))
            .order_by(Escalation.id)
        )
        for ticket_id, case_number in session.execute(query):
            finishing[ticket_id].reasons.append(
                f"ticket {ticket_id} has an open escalation to Microsoft (case {case_number}); resolve or close it "
                "on the Tickets page, which asks whether Microsoft's case is resolved"
            )


class MicrosoftInvoices(Kind):
    name, model, key_column, key_field = "microsoft-invoices", MicrosoftInvoice, "invoice_number", "number"
    attributes: ClassVar[dict[str, str]] = {
        "invoice_number": "number", "period_start": "period_start", "period_end": "period_end",
        "amount": "amount_cents", "currency": "currency", "due_date": "due_date", "paid_on": "paid_on",
    }  # fmt: skip

    def columns(self, context: Context) -> list[Column]:
        day = f.day(context.date_format)
        return [
            Column("invoice_number", f.text(64), required=True),
            Column("period_start", day, required=True),
            Column("period_end", day, required=True),
            Column("amount", f.cents, required=True),
            Column("currency", f.currency, required=True),
            Column("due_date", day, required=True),
            Column("paid_on", day),
        ]

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        start, end = row.values.get("period_start"), row.values.get("period_end")
        if start and end and end < start:
            return ["period_end is before period_start"]
        return []


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
        ExchangeRates(),
        PartnerCenterInvoice(),
        PartnerCenterUsage(),
    )
}
