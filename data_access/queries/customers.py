"""A customer's standing, as a sales agent or helpdesk agent needs it before a call.

Everything is as it stood at the as-of date: what was open on each invoice then (`ledger.open_at`, the aging
rule), unapplied credit then (`ledger.unapplied_at`), subscriptions suspended then (`suspensions.
suspended_at_end_of`), tickets and escalations open then, the last collections contact by then. Currencies are
never added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import pandas as pd
from sqlalchemy import and_, case, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

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
from data_access.queries.suspensions import suspended_at_end_of

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
    invoices_open_overdue: int = 0
    """Invoices open and past due at as_of, counted in the average days late with their days late so far."""

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


def _balances(
    customer_id: int, currency: str, as_of: date
) -> tuple[tuple[CurrencyBalance, ...], date | None]:
    """Open, overdue and unapplied credit per currency at as_of (the customer's own currency always first), and
    the due date of the oldest invoice with something open and past due then (`ledger.open_at`)."""
    customer = select(Customer.id).where(Customer.id == customer_id)
    rows = ledger.open_at(as_of, customer_ids=customer).subquery("open_at")
    overdue = rows.c.due_date < as_of
    per_currency = select(
        rows.c.currency,
        func.sum(rows.c.open_cents).label("open"),
        func.sum(case((overdue, rows.c.open_cents), else_=0)).label("overdue"),
        func.min(case((and_(overdue, rows.c.open_cents > 0), rows.c.due_date), else_=None)).label(
            "oldest_due"
        ),
    ).group_by(rows.c.currency)
    held = ledger.unapplied_at(as_of, customer_ids=customer).subquery("unapplied_at")
    unapplied = select(held.c.currency, func.sum(held.c.unapplied_cents).label("cents")).group_by(
        held.c.currency
    )
    with read_session() as session:
        owed = {row.currency: row for row in session.execute(per_currency)}
        credit = {row.currency: from_cents(row.cents) for row in session.execute(unapplied) if row.cents}
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


def _average_days_late(customer_id: int, as_of: date) -> tuple[Decimal | None, int, int]:
    """Average days late, and how many invoices it averages: settled in the last 12 months, and open past due.

    An invoice still open and past its due date at as_of counts with the days late so far (as_of minus its due
    date, from `ledger.open_at`): a customer who stopped paying is late however long ago they last paid.

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
    still_open = ledger.open_at(as_of, customer_ids=select(Customer.id).where(Customer.id == customer_id))
    opened = still_open.subquery("open_at")
    overdue = select(opened.c.due_date).where(opened.c.due_date < as_of, opened.c.open_cents > 0)
    with read_session() as session:
        lateness = [max((_as_date(row.settled_on) - row.due_date).days, 0) for row in session.execute(query)]
        running = [(as_of - _as_date(due)).days for due in session.scalars(overdue)]
    if not lateness and not running:
        return None, 0, 0
    days = lateness + running
    average = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return average, len(lateness), len(running)


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _subscriptions(customer_id: int, as_of: date) -> tuple[SubscriptionLine, ...]:
    """The customer's subscriptions with their status at the end of as_of: Suspended when suspended then
    (`suspensions.suspended_at_end_of`, from the suspension and reinstatement audit events), Active when
    suspended now but not then (only an Active subscription is suspended), else the status it has now."""
    query = select(Subscription).where(Subscription.customer_id == customer_id)
    suspended_value = SubscriptionStatus.SUSPENDED.value
    with read_session() as session:
        suspended = suspended_at_end_of(session, as_of, customer_pk=customer_id)
        lines = []
        for s in session.scalars(query):
            status = s.status
            if s.id in suspended:
                status = suspended_value
            elif status == suspended_value:
                status = SubscriptionStatus.ACTIVE.value
            lines.append(
                SubscriptionLine(
                    subscription_id=s.external_id,
                    product=s.product,
                    sku=s.sku,
                    quantity=s.quantity,
                    status=status,
                    billing_cycle=s.billing_cycle,
                    term_end=s.term_end,
                    suspension_reason=suspended.get(s.id) if s.id in suspended else None,
                )
            )
    lines.sort(
        key=lambda line: (line.status != suspended_value, line.product, line.sku, line.subscription_id)
    )
    return tuple(lines)


def _open_tickets(customer_id: int, as_of: date) -> tuple[OpenTicket, ...]:
    """The customer's tickets open at the end of as_of (created by then, not resolved by then). A ticket still
    open shows its status now; one resolved since shows 'open', or 'new' while it had no first response then (the
    status history is not kept)."""
    end = _end_of(as_of)
    still_open = or_(
        Ticket.resolved_at >= end, and_(Ticket.resolved_at.is_(None), Ticket.status.not_in(CLOSED_TICKETS))
    )
    query = (
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.created_at < end, still_open)
        .order_by(Ticket.created_at.desc(), Ticket.external_id)
    )

    def status_then(t: Ticket) -> str:
        if t.resolved_at is None:
            return t.status
        answered = t.first_response_at is not None and t.first_response_at < end
        return TicketStatus.OPEN.value if answered else TicketStatus.NEW.value

    with read_session() as session:
        return tuple(
            OpenTicket(
                ticket_id=t.external_id,
                title=t.title,
                category=t.category,
                severity=t.severity,
                status=status_then(t),
                assignee=t.assignee,
                created_at=t.created_at,
            )
            for t in session.scalars(query)
        )


def _open_escalations(customer_id: int, as_of: date) -> tuple[OpenEscalation, ...]:
    """The customer's escalations open at the end of as_of (submitted by then, not resolved by then). One still
    open, or whose status has not changed since, shows its status now; one resolved since shows 'in progress'
    (the status history is not kept)."""
    end = _end_of(as_of)
    still_open = or_(
        Escalation.resolved_at >= end,
        and_(Escalation.resolved_at.is_(None), Escalation.status.not_in(CLOSED_ESCALATIONS)),
    )
    query = (
        select(Escalation, Ticket.external_id)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(Ticket.customer_id == customer_id, Escalation.submitted_at < end, still_open)
        .order_by(Escalation.submitted_at.desc(), Escalation.microsoft_case_number)
    )

    def status_then(e: Escalation) -> str:
        if e.status not in CLOSED_ESCALATIONS:
            return e.status
        return EscalationStatus.IN_PROGRESS.value

    with read_session() as session:
        return tuple(
            OpenEscalation(
                case_number=e.microsoft_case_number,
                ticket_id=ticket_id,
                kind=e.kind,
                vehicle=e.vehicle,
                severity=e.severity,
                status=status_then(e),
                submitted_at=e.submitted_at,
                status_changed_at=e.status_changed_at,
            )
            for e, ticket_id in session.execute(query)
        )


def _last_contact(customer_id: int, as_of: date) -> CollectionsContact | None:
    """The last collections activity recorded by the end of as_of."""
    query = (
        select(CollectionsActivity)
        .where(
            CollectionsActivity.customer_id == customer_id, CollectionsActivity.occurred_at < _end_of(as_of)
        )
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
    """A customer's standing at as_of: 'suspended' when any subscription was suspended then, else 'overdue' by the
    days since the due date of the oldest invoice open and past due then, else 'good standing'; with balances per
    currency by the aging rule, unapplied credit then, average days late, subscriptions, tickets and escalations
    open then, and the last collections contact by then (all at as_of: see the module's docstring)."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        session.expunge(customer)
    balances, oldest_due = _balances(customer.id, customer.currency, as_of)
    average_late, paid_count, open_count = _average_days_late(customer.id, as_of)
    subscriptions = _subscriptions(customer.id, as_of)
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
        open_tickets=_open_tickets(customer.id, as_of),
        open_escalations=_open_escalations(customer.id, as_of),
        last_contact=_last_contact(customer.id, as_of),
        time_zone=_time_zone(),
        invoices_open_overdue=open_count,
    )


@dataclass(frozen=True)
class CustomerDetails:
    """What a billing admin keeps about a customer by hand (the customer id is the key and does not change)."""

    name: str
    tenant_id: str | None
    domain: str | None
    country: str | None
    currency: str
    account_manager: str | None
    payment_terms_days: int
    credit_limit: Decimal | None
    billing_contact_name: str | None
    billing_contact_email: str | None
    exempt_from_collections: bool


def details_of(customer: Customer) -> CustomerDetails:
    return CustomerDetails(
        name=customer.name,
        tenant_id=customer.tenant_id,
        domain=customer.domain,
        country=customer.country,
        currency=customer.currency,
        account_manager=customer.account_manager,
        payment_terms_days=customer.payment_terms_days,
        credit_limit=None if customer.credit_limit_cents is None else from_cents(customer.credit_limit_cents),
        billing_contact_name=customer.billing_contact_name,
        billing_contact_email=customer.billing_contact_email,
        exempt_from_collections=bool(customer.exempt_from_collections),
    )


@requires("customers.view")
def customer_details(actor: Actor, *, customer_id: str) -> CustomerDetails:
    """The customer's details as stored now (what the edit form starts from)."""
    with read_session() as session:
        return details_of(ledger.customer_by_external_id(session, customer_id))


ACTIVITY_COLUMNS = ["on", "at", "what", "by", "amount", "currency", "details"]


def latest_activities_and_payments(
    session: Session, customer_pk: int, *, as_of: date | None, limit: int
) -> tuple[list[Any], list[Any]]:
    """A customer's latest collections activities (with their invoice's number) and latest payments received
    (with theirs), newest first, at most `limit` of each; by the end of `as_of` when given."""
    activities = (
        select(CollectionsActivity, Invoice.number)
        .outerjoin(Invoice, Invoice.id == CollectionsActivity.invoice_id)
        .where(CollectionsActivity.customer_id == customer_pk)
        .order_by(CollectionsActivity.occurred_at.desc(), CollectionsActivity.id.desc())
        .limit(limit)
    )
    payments = (
        select(Payment, Invoice.number)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.customer_id == customer_pk)
        .order_by(Payment.received_on.desc(), Payment.id.desc())
        .limit(limit)
    )
    if as_of is not None:
        activities = activities.where(CollectionsActivity.occurred_at < _end_of(as_of))
        payments = payments.where(Payment.received_on <= as_of)
    return list(session.execute(activities).all()), list(session.execute(payments).all())


@requires("customers.view")
def recent_activity(actor: Actor, *, customer_id: str, as_of: date, limit: int = 10) -> pd.DataFrame:
    """The customer's latest collections activities and payments received, by the end of as_of, newest first:
    on (the day), at (the time recorded, UTC), what, by, amount, currency, details. A payment is dated the day it
    was received; a reversed one says so."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        activities, paid = latest_activities_and_payments(session, customer.id, as_of=as_of, limit=limit)
        currency = customer.currency
    rows = []
    for activity, number in activities:
        details = " · ".join(p for p in (f"invoice {number}" if number else None, activity.notes) if p)
        if activity.promised_for is not None:
            details = " · ".join(p for p in (details, f"promised for {activity.promised_for}") if p)
        rows.append(
            {"on": activity.occurred_at.date(), "at": activity.occurred_at,
             "what": activity.kind.replace("_", " ").capitalize(), "by": activity.actor,
             "amount": None if activity.promised_amount_cents is None else from_cents(activity.promised_amount_cents),
             "currency": currency if activity.promised_amount_cents is not None else None, "details": details}
        )  # fmt: skip
    for payment, number in paid:
        parts = [f"applied to invoice {number}" if number else "applied oldest invoice first"]
        if payment.reference:
            parts.append(f"reference {payment.reference}")
        if payment.unapplied_cents:
            parts.append(f"{from_cents(payment.unapplied_cents)} unapplied credit")
        if payment.reversed_on is not None:
            parts.append(f"reversed on {payment.reversed_on}" + (
                f": {payment.reversal_reason}" if payment.reversal_reason else ""))  # fmt: skip
        rows.append(
            {"on": payment.received_on, "at": payment.recorded_at, "what": "Payment received", "by": None,
             "amount": from_cents(payment.amount_cents), "currency": payment.currency, "details": " · ".join(parts)}
        )  # fmt: skip
    rows.sort(key=lambda r: (r["on"], r["at"]), reverse=True)
    return pd.DataFrame(rows[:limit], columns=ACTIVITY_COLUMNS)
