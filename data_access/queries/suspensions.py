"""Suspending a customer's subscriptions for non-payment, and reinstating them; billing acts, the app never does.

Only an account the collections policy marks eligible is suspended, judged again inside the transaction that
suspends, and a subscription is never suspended twice: the row is locked (PostgreSQL) and the status change is a
conditional UPDATE that must touch exactly one Active row (SQLite, where writes serialize but nothing is locked
while reading). Partner Center stays the system of record for access, so each action says what to set there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session

from data_access.audit import SubscriptionReinstated, SubscriptionSuspended, parse_event
from data_access.db import read_session
from data_access.enums import SubscriptionStatus
from data_access.models import AuditEvent, CollectionState, Customer, Subscription
from data_access.money import from_cents
from data_access.permissions import Actor, requires
from data_access.queries.assessments import assess_customers, assess_overdue, load_policy
from data_access.queries.collections_state import is_current
from data_access.rules.suspension import PartnerCenterStep, still_overdue

NEARING_DELETION_DAYS = 75


DELETION_DAYS = 90


NEARING_WARNING = "nearing 90 days"


PAST_WARNING = "past 90 days: Microsoft may delete data"


SUSPEND = "subscription.suspend"


REINSTATE = "subscription.reinstate"


ELIGIBLE_COLUMNS = [
    "customer_id", "customer_name", "tenant_id", "currency", "overdue", "days_past_due", "stage",
    "eligible_since", "subscription_id", "product", "sku", "quantity", "billing_cycle", "term_end",
]  # fmt: skip


SUSPENDED_COLUMNS = [
    "customer_id", "customer_name", "tenant_id", "subscription_id", "product", "term_end", "suspended_at",
    "suspended_by", "reason", "days_suspended", "warning", "currency", "overdue", "ready_to_reinstate",
    "still_overdue", "partner_center",
]  # fmt: skip


HISTORY_COLUMNS = [
    "occurred_at", "action", "actor", "customer_id", "customer_name", "subscription_id", "product", "reason",
    "partner_center",
]  # fmt: skip


@requires(SUSPEND)
def eligible_accounts(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """Accounts the policy marks eligible for suspension at the as-of date, one row per Active subscription: read
    from the stored state when it answers for the date (today, after today's run), else assessed now."""
    with read_session() as session:
        if is_current(session, as_of):
            return _stored_eligible(session)
        accounts = [a for a in assess_overdue(session, as_of) if a.assessment.suspension_eligible]
        by_id = {a.customer_id: a for a in accounts}
        subscriptions = session.execute(
            select(Customer.external_id, Subscription)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(Customer.external_id.in_(by_id), Subscription.status == SubscriptionStatus.ACTIVE.value)
            .order_by(Customer.external_id, Subscription.product, Subscription.external_id)
        ).all()
        rows: list[dict[str, Any]] = []
        for customer_id, subscription in subscriptions:
            account = by_id[customer_id]
            assessment = account.assessment
            rows.append(
                {
                    "customer_id": customer_id,
                    "customer_name": account.name,
                    "tenant_id": account.tenant_id,
                    "currency": account.currency,
                    "overdue": from_cents(assessment.overdue_cents),
                    "days_past_due": assessment.days_past_due,
                    "stage": assessment.stage.name if assessment.stage else None,
                    "eligible_since": assessment.suspension_eligible_on,
                    "subscription_id": subscription.external_id,
                    "product": subscription.product,
                    "sku": subscription.sku,
                    "quantity": subscription.quantity,
                    "billing_cycle": subscription.billing_cycle,
                    "term_end": subscription.term_end,
                }
            )
    return pd.DataFrame(rows, columns=ELIGIBLE_COLUMNS)


def _stored_eligible(session: Session) -> pd.DataFrame:
    """The Active subscriptions of the customers the stored state marks eligible for suspension, in order; driven
    from the eligible rows, so the plan does not hang on the state's planner statistics."""
    state = CollectionState
    eligible = select(state.customer_id).where(state.suspension_eligible.is_(True))
    columns = (  # in the order of ELIGIBLE_COLUMNS
        Customer.external_id, Customer.name, Customer.tenant_id, Customer.currency, state.overdue_cents,
        state.days_past_due, state.stage, state.suspension_eligible_on, Subscription.external_id,
        Subscription.product, Subscription.sku, Subscription.quantity, Subscription.billing_cycle,
        Subscription.term_end,
    )  # fmt: skip
    query = (
        select(*columns)
        .join(state, state.customer_id == Customer.id)
        .join(Subscription, Subscription.customer_id == Customer.id)
        .where(Subscription.customer_id.in_(eligible), Subscription.status == SubscriptionStatus.ACTIVE.value)
        .order_by(Customer.external_id, Subscription.product, Subscription.external_id)
    )
    rows = [
        (customer, name, tenant, currency, from_cents(overdue), *rest)
        for customer, name, tenant, currency, overdue, *rest in session.execute(query)
    ]
    return pd.DataFrame(rows, columns=ELIGIBLE_COLUMNS)


def deletion_warning(days_suspended: int | None) -> str:
    """Microsoft may delete a customer's data once a subscription has been suspended for 90 days ("" before 75)."""
    if days_suspended is None or days_suspended < NEARING_DELETION_DAYS:
        return ""
    return PAST_WARNING if days_suspended >= DELETION_DAYS else NEARING_WARNING


@requires(SUSPEND)
def suspended_subscriptions(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """Suspended subscriptions, longest first, with the 90-day warning and whether the debt is now paid."""
    rows: list[dict[str, Any]] = []
    with read_session() as session:
        rules = load_policy(session)
        minimum = rules.minimum_overdue_cents
        found = session.execute(
            select(Subscription, Customer)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(Subscription.status == SubscriptionStatus.SUSPENDED.value)
        ).all()
        customers = {customer.id: customer for _, customer in found}
        suspended = select(Subscription.customer_id).where(
            Subscription.status == SubscriptionStatus.SUSPENDED.value
        )
        assessed = assess_customers(session, list(customers.values()), as_of, chosen_by=suspended.distinct())
        accounts = {a.customer_id: a for a in assessed}
        for subscription, customer in found:
            assessment = accounts[customer.external_id].assessment
            since = subscription.suspended_at
            days = (as_of - since.astimezone(UTC).date()).days if since else None
            step = PartnerCenterStep(customer.tenant_id, subscription.external_id, "Suspended")
            rows.append(
                {
                    "customer_id": customer.external_id,
                    "customer_name": customer.name,
                    "tenant_id": customer.tenant_id,
                    "subscription_id": subscription.external_id,
                    "product": subscription.product,
                    "term_end": subscription.term_end,
                    "suspended_at": since,
                    "suspended_by": subscription.suspended_by,
                    "reason": subscription.suspension_reason,
                    "days_suspended": days,
                    "warning": deletion_warning(days),
                    "currency": customer.currency,
                    "overdue": from_cents(assessment.overdue_cents),
                    "ready_to_reinstate": assessment.overdue_cents == 0 or assessment.overdue_cents < minimum,
                    "still_overdue": still_overdue(customer.name, customer.currency, assessment, rules) or "",
                    "partner_center": step.instruction(),
                }
            )
    rows.sort(key=lambda r: (-(r["days_suspended"] or 0), r["customer_id"], r["subscription_id"]))
    return pd.DataFrame(rows, columns=SUSPENDED_COLUMNS)


@requires(SUSPEND)
def suspension_history(actor: Actor) -> pd.DataFrame:
    """Every suspension and reinstatement from the audit log, newest first."""
    with read_session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.permission.in_([SUSPEND, REINSTATE]))
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        ).all()
        rows = []
        for event in events:
            change = parse_event(event.permission, event.details)
            known = change if isinstance(change, SubscriptionSuspended | SubscriptionReinstated) else None
            rows.append(
                {
                    "occurred_at": event.occurred_at,
                    "action": "Suspended" if event.permission == SUSPEND else "Reinstated",
                    "actor": event.actor,
                    "customer_id": known.customer_id if known else None,
                    "customer_name": known.customer_name if known else None,
                    "subscription_id": event.target.removeprefix("subscription:"),
                    "product": known.product if known else None,
                    "reason": known.reason if known else None,
                    "partner_center": known.partner_center.instruction if known else None,
                }
            )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def suspension_periods(history: pd.DataFrame) -> dict[int, tuple[str, date, date | None]]:
    """Each suspension in a `suspension_history` frame (newest first), by the position of its Suspended row: the
    subscription, the UTC day it was suspended, and the day of the next reinstatement of that subscription (None
    while it is still suspended)."""
    began: dict[str, tuple[int, date]] = {}
    periods: dict[int, tuple[str, date, date | None]] = {}
    for position in range(len(history) - 1, -1, -1):
        event = history.iloc[position]
        sub, day_of = str(event.subscription_id), event.occurred_at.astimezone(UTC).date()
        if event.action == "Suspended":
            began[sub] = (position, day_of)
        elif sub in began:
            start, since = began.pop(sub)
            periods[start] = (sub, since, day_of)
    for sub, (start, since) in began.items():
        periods[start] = (sub, since, None)
    return periods


def suspended_at_end_of(
    session: Session, as_of: date, *, customer_pk: int | None = None
) -> dict[int, str | None]:
    """The subscriptions suspended at the end of `as_of` (suspended by then and not reinstated by then), by
    primary key, with the reason they were suspended for; one customer's, given `customer_pk`.

    Reconstructed from the suspension and reinstatement audit events, which every suspend and reinstate action
    writes in the transaction that changes the subscription: the last such event of a subscription by the end of
    the day says whether it was suspended then. A subscription with no event by then but one later was suspended
    then exactly when that later event is a reinstatement (it came in suspended, from an import); one with no
    events at all is read from its row: Suspended now, and suspended_at (when known) by the end of the day."""
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    changes = (
        select(AuditEvent.target, AuditEvent.permission, AuditEvent.occurred_at, AuditEvent.details)
        .where(AuditEvent.permission.in_([SUSPEND, REINSTATE]), AuditEvent.target.like("subscription:%"))
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    if customer_pk is not None:  # one customer's page reads that customer's events only
        targets = select(literal("subscription:") + Subscription.external_id).where(
            Subscription.customer_id == customer_pk
        )
        changes = changes.where(AuditEvent.target.in_(targets))
    events = session.execute(changes).all()
    history: dict[str, list[Any]] = {}
    for event in events:
        history.setdefault(event.target.removeprefix("subscription:"), []).append(event)
    query = select(
        Subscription.id,
        Subscription.external_id,
        Subscription.status,
        Subscription.suspended_at,
        Subscription.suspension_reason,
    ).where(
        or_(
            Subscription.status == SubscriptionStatus.SUSPENDED.value,
            Subscription.external_id.in_(list(history)),
        )
    )
    if customer_pk is not None:
        query = query.where(Subscription.customer_id == customer_pk)
    suspended: dict[int, str | None] = {}
    for row in session.execute(query):
        current = row.status == SubscriptionStatus.SUSPENDED.value
        mine = history.get(row.external_id, [])
        by_then = [event for event in mine if event.occurred_at < end]
        if by_then:
            last = by_then[-1]
            if last.permission == SUSPEND:
                change = parse_event(last.permission, last.details)
                reason = change.reason if isinstance(change, SubscriptionSuspended) else None
                suspended[row.id] = row.suspension_reason if current and row.suspension_reason else reason
        elif mine:
            if mine[0].permission == REINSTATE:
                suspended[row.id] = None
        elif current and (row.suspended_at is None or row.suspended_at < end):
            suspended[row.id] = row.suspension_reason
    return suspended
