"""A customer's standing, as a sales agent or helpdesk agent needs it before a call.

Money follows the aging rule: what was open at an as-of date is what is open now plus the payments applied and
credit notes issued after that date, for invoices issued on or before it. Subscriptions, tickets, escalations and
the last collections contact are as they stand now. Currencies are never added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import pandas as pd
from sqlalchemy import CompoundSelect, case, func, literal_column, or_, select, union_all

from data_access import ledger
from data_access.checks import control_characters
from data_access.db import read_session
from data_access.enums import EscalationStatus, SubscriptionStatus, TicketStatus
from data_access.models import (
    CollectionsActivity,
    CreditNote,
    Customer,
    Escalation,
    Invoice,
    Payment,
    PaymentAllocation,
    Subscription,
    SupportOffering,
    Ticket,
)
from data_access.money import from_cents
from data_access.permissions import Actor, requires

SEARCH_COLUMNS = ["customer_id", "name", "domain", "tenant_id", "country", "currency", "account_manager"]


Standing = Literal["good standing", "overdue", "suspended"]


CLOSED_TICKETS = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


CLOSED_ESCALATIONS = (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)


@dataclass(frozen=True)
class CurrencyBalance:
    """What the customer owes in one currency at the as-of date; unapplied credit is not deducted from it."""

    currency: str
    open: Decimal
    overdue: Decimal
    unapplied_credit: Decimal


@dataclass(frozen=True)
class SubscriptionLine:
    subscription_id: str
    product: str
    sku: str
    quantity: int
    status: str
    billing_cycle: str
    term_end: date | None
    suspension_reason: str | None


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: str
    title: str
    category: str
    severity: str
    status: str
    assignee: str | None
    created_at: datetime


@dataclass(frozen=True)
class OpenEscalation:
    case_number: str
    ticket_id: str
    kind: str
    vehicle: str | None
    severity: str
    status: str
    submitted_at: datetime
    status_changed_at: datetime


@dataclass(frozen=True)
class CollectionsContact:
    kind: str
    occurred_at: datetime
    actor: str
    notes: str | None
    promised_amount: Decimal | None
    promised_for: date | None


@dataclass(frozen=True)
class CustomerStatus:
    """Everything the customer page shows about one customer at an as-of date (see `customer_status`)."""

    customer_id: str
    name: str
    domain: str | None
    tenant_id: str | None
    country: str | None
    currency: str
    account_manager: str | None
    billing_contact_name: str | None
    billing_contact_email: str | None
    exempt_from_collections: bool
    payment_terms_days: int
    credit_limit: Decimal | None
    as_of: date
    standing: Standing
    days_overdue: int
    balances: tuple[CurrencyBalance, ...]
    average_days_late: Decimal | None
    invoices_paid_last_12_months: int
    subscriptions: tuple[SubscriptionLine, ...]
    open_tickets: tuple[OpenTicket, ...]
    open_escalations: tuple[OpenEscalation, ...]
    last_contact: CollectionsContact | None
    time_zone: str

    @property
    def standing_label(self) -> str:
        """'Good standing', 'Overdue 12 days' or 'Suspended'."""
        if self.standing == "suspended":
            return "Suspended"
        if self.standing == "overdue":
            return f"Overdue {self.days_overdue} day{'' if self.days_overdue == 1 else 's'}"
        return "Good standing"


@requires("customers.view")
def search_customers(actor: Actor, text: str, limit: int = 50) -> pd.DataFrame:
    """Customers whose name, domain, tenant id or customer id contains the text (any case); exact matches of
    an id, tenant id or domain first, then by name. An empty text lists the first customers by name."""
    needle = "".join(char for char in text if not control_characters(char)).strip().lower()
    query = select(
        Customer.external_id.label("customer_id"),
        Customer.name,
        Customer.domain,
        Customer.tenant_id,
        Customer.country,
        Customer.currency,
        Customer.account_manager,
    )
    if needle:
        columns = (Customer.name, Customer.domain, Customer.tenant_id, Customer.external_id)
        query = query.where(
            or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))
        )
        exact = or_(*(func.lower(column) == needle for column in columns[1:]))
        query = query.order_by(case((exact, 0), else_=1))
    query = query.order_by(func.lower(Customer.name), Customer.external_id).limit(max(limit, 1))
    with read_session() as session:
        rows = [dict(row._mapping) for row in session.execute(query)]
    return pd.DataFrame(rows, columns=SEARCH_COLUMNS)


def _open_at(customer_id: int, as_of: date) -> CompoundSelect[tuple[str, date, int]]:
    """One row per open part at as_of: (currency, due date, cents). Every row belongs to an invoice that was
    open then, since each of the three sources only holds positive amounts."""
    sources = [
        # A literal 0 so the planner sees the partial index's own predicate (`open_cents > 0`).
        (Invoice.customer_id, Invoice.currency, Invoice.issue_date, Invoice.due_date, Invoice.open_cents,
         Invoice.open_cents > literal_column("0")),
        (PaymentAllocation.customer_id, PaymentAllocation.currency, PaymentAllocation.issue_date,
         PaymentAllocation.due_date, PaymentAllocation.amount_cents, PaymentAllocation.applied_on > as_of),
        (CreditNote.customer_id, CreditNote.currency, CreditNote.issue_date, CreditNote.due_date,
         CreditNote.amount_cents, CreditNote.issued_on > as_of),
    ]  # fmt: skip
    parts = [
        select(currency.label("currency"), due_date.label("due_date"), cents.label("cents")).where(
            owner == customer_id, window, issue_date <= as_of
        )
        for owner, currency, issue_date, due_date, cents, window in sources
    ]
    return union_all(*parts)


def _balances(
    customer_id: int, currency: str, as_of: date
) -> tuple[tuple[CurrencyBalance, ...], date | None]:
    """Open, overdue and unapplied credit per currency (the customer's own currency always first), and the
    due date of the oldest invoice overdue at as_of."""
    rows = _open_at(customer_id, as_of).subquery("open_at")
    overdue = rows.c.due_date < as_of
    per_currency = select(
        rows.c.currency,
        func.sum(rows.c.cents).label("open"),
        func.sum(case((overdue, rows.c.cents), else_=0)).label("overdue"),
        func.min(case((overdue, rows.c.due_date), else_=None)).label("oldest_due"),
    ).group_by(rows.c.currency)
    # Unapplied credit never changes after the payment is recorded, so payments received by as_of give it.
    unapplied = (
        select(Payment.currency, func.sum(Payment.unapplied_cents).label("cents"))
        .where(
            Payment.customer_id == customer_id,
            Payment.unapplied_cents > literal_column("0"),
            Payment.received_on <= as_of,
        )
        .group_by(Payment.currency)
    )
    with read_session() as session:
        owed = {row.currency: row for row in session.execute(per_currency)}
        credit = {row.currency: from_cents(row.cents) for row in session.execute(unapplied)}
    currencies = [currency, *sorted((set(owed) | set(credit)) - {currency})]
    balances = tuple(
        CurrencyBalance(
            currency=code,
            open=from_cents(owed[code].open if code in owed else 0),
            overdue=from_cents(owed[code].overdue if code in owed else 0),
            unapplied_credit=credit.get(code, Decimal("0.00")),
        )
        for code in currencies
    )
    oldest = [_as_date(row.oldest_due) for row in owed.values() if row.oldest_due is not None]
    return balances, min(oldest, default=None)


def _as_date(value: date | str) -> date:
    """SQLite hands back MIN() over a date column as ISO text; PostgreSQL as a date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def year_before(day: date) -> date:
    """The same calendar day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _average_days_late(customer_id: int, as_of: date) -> tuple[Decimal | None, int]:
    """Average days late over the last 12 months, and how many invoices it averages.

    The invoices counted are those that were settled in the 12 months up to as_of (after the same day a year
    earlier, up to and including as_of): fully settled by payments applied and credit notes dated on or before
    as_of, with at least one payment applied, the last of those dated in that window. Days late = the date of
    that last payment or credit note minus the due date. An invoice settled early counts as 0, not as a
    negative number: paying one invoice early does not make up for paying another late, and a sales agent
    asks how late this customer pays, not how early. An invoice cancelled by credit notes alone was never
    paid and says nothing about how the customer pays, so it does not count. Rounded to one decimal.
    """
    moves = union_all(
        select(
            PaymentAllocation.invoice_id.label("invoice_id"),
            PaymentAllocation.applied_on.label("day"),
            PaymentAllocation.amount_cents.label("cents"),
            literal_column("1").label("payments"),
        ).where(
            # Through the customer's invoices: allocations are indexed by invoice, not by customer.
            PaymentAllocation.invoice_id.in_(select(Invoice.id).where(Invoice.customer_id == customer_id)),
            PaymentAllocation.applied_on <= as_of,
        ),
        select(
            CreditNote.invoice_id.label("invoice_id"),
            CreditNote.issued_on.label("day"),
            CreditNote.amount_cents.label("cents"),
            literal_column("0").label("payments"),
        ).where(CreditNote.customer_id == customer_id, CreditNote.issued_on <= as_of),
    ).subquery("moves")
    settled = (
        select(
            moves.c.invoice_id,
            func.sum(moves.c.cents).label("cents"),
            func.max(moves.c.day).label("settled_on"),
            func.sum(moves.c.payments).label("payments"),
        )
        .group_by(moves.c.invoice_id)
        .subquery("settled")
    )
    query = (
        select(Invoice.due_date, settled.c.settled_on)
        .join(settled, settled.c.invoice_id == Invoice.id)
        .where(
            settled.c.cents == Invoice.amount_cents,
            settled.c.payments > 0,
            settled.c.settled_on > year_before(as_of),
        )
    )
    with read_session() as session:
        lateness = [max((_as_date(row.settled_on) - row.due_date).days, 0) for row in session.execute(query)]
    if not lateness:
        return None, 0
    average = (Decimal(sum(lateness)) / len(lateness)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return average, len(lateness)


def _subscriptions(customer_id: int) -> tuple[SubscriptionLine, ...]:
    suspended_first = case((Subscription.status == SubscriptionStatus.SUSPENDED.value, 0), else_=1)
    query = (
        select(Subscription)
        .where(Subscription.customer_id == customer_id)
        .order_by(suspended_first, Subscription.product, Subscription.sku, Subscription.external_id)
    )
    with read_session() as session:
        return tuple(
            SubscriptionLine(
                subscription_id=s.external_id,
                product=s.product,
                sku=s.sku,
                quantity=s.quantity,
                status=s.status,
                billing_cycle=s.billing_cycle,
                term_end=s.term_end,
                suspension_reason=s.suspension_reason,
            )
            for s in session.scalars(query)
        )


def _open_tickets(customer_id: int) -> tuple[OpenTicket, ...]:
    query = (
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.not_in(CLOSED_TICKETS))
        .order_by(Ticket.created_at.desc(), Ticket.external_id)
    )
    with read_session() as session:
        return tuple(
            OpenTicket(
                ticket_id=t.external_id,
                title=t.title,
                category=t.category,
                severity=t.severity,
                status=t.status,
                assignee=t.assignee,
                created_at=t.created_at,
            )
            for t in session.scalars(query)
        )


def _open_escalations(customer_id: int) -> tuple[OpenEscalation, ...]:
    query = (
        select(Escalation, Ticket.external_id)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(Ticket.customer_id == customer_id, Escalation.status.not_in(CLOSED_ESCALATIONS))
        .order_by(Escalation.submitted_at.desc(), Escalation.microsoft_case_number)
    )
    with read_session() as session:
        return tuple(
            OpenEscalation(
                case_number=e.microsoft_case_number,
                ticket_id=ticket_id,
                kind=e.kind,
                vehicle=e.vehicle,
                severity=e.severity,
                status=e.status,
                submitted_at=e.submitted_at,
                status_changed_at=e.status_changed_at,
            )
            for e, ticket_id in session.execute(query)
        )


def _last_contact(customer_id: int) -> CollectionsContact | None:
    query = (
        select(CollectionsActivity)
        .where(CollectionsActivity.customer_id == customer_id)
        .order_by(CollectionsActivity.occurred_at.desc(), CollectionsActivity.id.desc())
        .limit(1)
    )
    with read_session() as session:
        activity = session.scalar(query)
        if activity is None:
            return None
        return CollectionsContact(
            kind=activity.kind,
            occurred_at=activity.occurred_at,
            actor=activity.actor,
            notes=activity.notes,
            promised_amount=(
                None if activity.promised_amount_cents is None else from_cents(activity.promised_amount_cents)
            ),
            promised_for=activity.promised_for,
        )


def _time_zone() -> str:
    """The support offering's time zone, in which times are shown (UTC until an offering is set up)."""
    with read_session() as session:
        zone = session.scalar(select(SupportOffering.time_zone).order_by(SupportOffering.id).limit(1))
    return zone or "UTC"


@requires("customers.view")
def customer_status(actor: Actor, *, customer_id: str, as_of: date) -> CustomerStatus:
    """A customer's standing at as_of: 'suspended' when any subscription is suspended, else 'overdue' by the days
    since the due date of the oldest invoice still open and past due then, else 'good standing'; with balances
    per currency by the aging rule, unapplied credit, average days late, subscriptions, open tickets and
    escalations, and the last collections contact."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        session.expunge(customer)
    balances, oldest_due = _balances(customer.id, customer.currency, as_of)
    average_late, paid_count = _average_days_late(customer.id, as_of)
    subscriptions = _subscriptions(customer.id)
    days_overdue = (as_of - oldest_due).days if oldest_due is not None else 0
    standing: Standing = "good standing"
    if any(s.status == SubscriptionStatus.SUSPENDED.value for s in subscriptions):
        standing = "suspended"
    elif days_overdue > 0:
        standing = "overdue"
    return CustomerStatus(
        customer_id=customer.external_id,
        name=customer.name,
        domain=customer.domain,
        tenant_id=customer.tenant_id,
        country=customer.country,
        currency=customer.currency,
        account_manager=customer.account_manager,
        billing_contact_name=customer.billing_contact_name,
        billing_contact_email=customer.billing_contact_email,
        exempt_from_collections=bool(customer.exempt_from_collections),
        payment_terms_days=customer.payment_terms_days,
        credit_limit=None if customer.credit_limit_cents is None else from_cents(customer.credit_limit_cents),
        as_of=as_of,
        standing=standing,
        days_overdue=days_overdue,
        balances=balances,
        average_days_late=average_late,
        invoices_paid_last_12_months=paid_count,
        subscriptions=subscriptions,
        open_tickets=_open_tickets(customer.id),
        open_escalations=_open_escalations(customer.id),
        last_contact=_last_contact(customer.id),
        time_zone=_time_zone(),
    )
