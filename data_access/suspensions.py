"""Suspending a customer's subscriptions for non-payment, and reinstating them; billing acts, the app never does.

Only an account the collections policy marks eligible is suspended, judged again inside the transaction that
suspends, and a subscription is never suspended twice: the row is locked (PostgreSQL) and the status change is a
conditional UPDATE that must touch exactly one Active row (SQLite, where writes serialize but nothing is locked
while reading). Partner Center stays the system of record for access, so each action says what to set there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data_access import clock
from data_access.accounts import CustomerAccount, assess_customers, load_policy, overdue_customers
from data_access.audit import record_event
from data_access.db import read_session, transaction
from data_access.errors import InvalidAction, NotFound
from data_access.models import AuditEvent, Customer, Subscription, SubscriptionStatus
from data_access.money import from_cents
from data_access.permissions import Actor, requires
from data_access.policy import Assessment, Policy

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
    "partner_center",
]  # fmt: skip
HISTORY_COLUMNS = [
    "occurred_at", "action", "actor", "customer_id", "customer_name", "subscription_id", "product", "reason",
    "partner_center",
]  # fmt: skip


@dataclass(frozen=True)
class PartnerCenterStep:
    """What the partner must set in Partner Center, whose API is the system of record for access."""

    tenant_id: str | None
    subscription_id: str
    status: str

    def instruction(self) -> str:
        tenant = self.tenant_id or "(no tenant id on file: find the customer by name)"
        return (
            f"In Partner Center, open customer tenant {tenant}, subscription {self.subscription_id}, "
            f"and set its status to {self.status}."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "subscription_id": self.subscription_id,
            "status": self.status,
            "instruction": self.instruction(),
        }


def _money(cents: int, currency: str) -> str:
    return f"{currency} {from_cents(cents):,.2f}"


def why_not_eligible(name: str, currency: str, assessment: Assessment, rules: Policy) -> str | None:
    """None when the policy allows suspending the account now; otherwise a sentence saying why not."""
    minimum_cents = rules.minimum_overdue_cents
    if assessment.suspension_eligible:
        return None
    if assessment.exempt:
        return f"{name} is exempt from collections, so it is never suspended."
    if assessment.promise is not None:
        promise = assessment.promise
        return (
            f"{name} has a promise to pay {_money(promise.amount_cents, currency)} by "
            f"{promise.promised_for:%d %b %Y} standing, so it cannot be suspended before then."
        )
    disputed = (
        f" {_money(assessment.disputed_cents, currency)} of it is disputed and set aside while the dispute "
        "is looked into."
        if assessment.disputed_cents
        else ""
    )
    if assessment.overdue_cents == 0:
        if assessment.disputed_cents:
            return f"{name} has nothing overdue outside its disputed invoices.{disputed}"
        return f"{name} has nothing overdue any more: the balance was paid or credited meanwhile."
    if assessment.overdue_cents < minimum_cents:
        return (
            f"{name}'s overdue balance, {_money(assessment.overdue_cents, currency)}, is below the policy's "
            f"minimum of {_money(minimum_cents, currency)} (paid down meanwhile?).{disputed}"
        )
    eligible_on = assessment.suspension_eligible_on
    grace = timedelta(days=rules.grace_days_before_suspension)
    if eligible_on is not None and eligible_on - grace <= assessment.as_of < eligible_on:
        return (
            f"{name} is in its grace period until {eligible_on:%d %b %Y}; it can be suspended from that day "
            "if still unpaid."
        )
    return f"{name} has not reached the policy's suspension stage ({assessment.days_past_due} days past due)."


def _assess(session: Session, customer: Customer, as_of: date) -> CustomerAccount:
    return assess_customers(session, [customer], as_of)[0]


def _locked_subscription(session: Session, subscription_id: str) -> Subscription:
    found = session.scalar(
        select(Subscription).where(Subscription.external_id == subscription_id).with_for_update()
    )
    if found is None:
        raise NotFound(f"There is no subscription {subscription_id}.")
    return found


def _change_status(
    session: Session, subscription: Subscription, *, before: str, values: dict[str, Any], refusal: str
) -> None:
    """Change the status only if it is still `before`: a concurrent action that got there first wins."""
    result = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id, Subscription.status == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise InvalidAction(refusal)
    session.refresh(subscription)


def _snapshot(subscription: Subscription) -> dict[str, Any]:
    return {
        "status": subscription.status,
        "suspension_reason": subscription.suspension_reason,
        "suspended_by": subscription.suspended_by,
        "suspended_at": subscription.suspended_at.isoformat() if subscription.suspended_at else None,
    }


@requires(SUSPEND)
def suspend_subscription(
    actor: Actor, *, subscription_id: str, reason: str, as_of: date | None = None
) -> PartnerCenterStep:
    """Suspend one Active subscription of an account the policy marks eligible now, never twice; audited."""
    reason = reason.strip()
    if not reason:
        raise InvalidAction("Give a reason for the suspension; it goes on the record.")
    day = as_of or clock.today()
    with transaction() as session:
        subscription = _locked_subscription(session, subscription_id)
        customer = subscription.customer
        label = f"{subscription.product} ({subscription.external_id}) for {customer.name}"
        if subscription.status == SubscriptionStatus.SUSPENDED:
            raise InvalidAction(
                f"{label} is already suspended (by {subscription.suspended_by or 'someone'}); "
                "it is not suspended twice."
            )
        if subscription.status != SubscriptionStatus.ACTIVE:
            raise InvalidAction(
                f"{label} is {subscription.status}; only an Active subscription is suspended."
            )
        account = _assess(session, customer, day)
        refusal = why_not_eligible(customer.name, customer.currency, account.assessment, load_policy(session))
        if refusal:
            raise InvalidAction(f"{label} cannot be suspended: {refusal}")
        before = _snapshot(subscription)
        _change_status(
            session,
            subscription,
            before=SubscriptionStatus.ACTIVE,
            values={
                "status": SubscriptionStatus.SUSPENDED.value,
                "suspension_reason": reason,
                "suspended_by": actor.username,
                "suspended_at": datetime.now(UTC),
            },
            refusal=f"{label} was suspended by someone else a moment ago; it is not suspended twice.",
        )
        step = PartnerCenterStep(customer.tenant_id, subscription.external_id, "Suspended")
        record_event(
            session,
            actor,
            permission=SUSPEND,
            target=f"subscription:{subscription.external_id}",
            details={
                "customer_id": customer.external_id,
                "customer_name": customer.name,
                "product": subscription.product,
                "reason": reason,
                "as_of": day.isoformat(),
                "overdue": str(from_cents(account.assessment.overdue_cents)),
                "currency": customer.currency,
                "days_past_due": account.assessment.days_past_due,
                "before": before,
                "after": _snapshot(subscription),
                "partner_center": step.as_dict(),
            },
        )
        return step


@requires(REINSTATE)
def reinstate_subscription(actor: Actor, *, subscription_id: str, reason: str) -> PartnerCenterStep:
    """Reinstate one Suspended subscription, with a reason on the record; audited."""
    reason = reason.strip()
    if not reason:
        raise InvalidAction("Give a reason for reinstating; it goes on the record.")
    with transaction() as session:
        subscription = _locked_subscription(session, subscription_id)
        customer = subscription.customer
        label = f"{subscription.product} ({subscription.external_id}) for {customer.name}"
        if subscription.status != SubscriptionStatus.SUSPENDED:
            raise InvalidAction(
                f"{label} is {subscription.status}, not suspended, so there is nothing to reinstate."
            )
        before = _snapshot(subscription)
        _change_status(
            session,
            subscription,
            before=SubscriptionStatus.SUSPENDED,
            values={
                "status": SubscriptionStatus.ACTIVE.value,
                "suspension_reason": None,
                "suspended_by": None,
                "suspended_at": None,
            },
            refusal=f"{label} was reinstated by someone else a moment ago.",
        )
        step = PartnerCenterStep(customer.tenant_id, subscription.external_id, "Active")
        record_event(
            session,
            actor,
            permission=REINSTATE,
            target=f"subscription:{subscription.external_id}",
            details={
                "customer_id": customer.external_id,
                "customer_name": customer.name,
                "product": subscription.product,
                "reason": reason,
                "before": before,
                "after": _snapshot(subscription),
                "partner_center": step.as_dict(),
            },
        )
        return step


@requires(SUSPEND)
def eligible_accounts(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """Accounts the policy marks eligible for suspension at the as-of date, one row per Active subscription."""
    rows: list[dict[str, Any]] = []
    with read_session() as session:
        accounts = [
            a for a in assess_customers(session, overdue_customers(session, as_of), as_of)
            if a.assessment.suspension_eligible
        ]  # fmt: skip
        by_id = {a.customer_id: a for a in accounts}
        subscriptions = session.execute(
            select(Customer.external_id, Subscription)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(Customer.external_id.in_(by_id), Subscription.status == SubscriptionStatus.ACTIVE.value)
            .order_by(Customer.external_id, Subscription.product, Subscription.external_id)
        ).all()
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
        minimum = load_policy(session).minimum_overdue_cents
        found = session.execute(
            select(Subscription, Customer)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(Subscription.status == SubscriptionStatus.SUSPENDED.value)
        ).all()
        customers = {customer.id: customer for _, customer in found}
        accounts = {a.customer_id: a for a in assess_customers(session, list(customers.values()), as_of)}
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
            details = event.details or {}
            step = details.get("partner_center") or {}
            rows.append(
                {
                    "occurred_at": event.occurred_at,
                    "action": "Suspended" if event.permission == SUSPEND else "Reinstated",
                    "actor": event.actor,
                    "customer_id": details.get("customer_id"),
                    "customer_name": details.get("customer_name"),
                    "subscription_id": event.target.removeprefix("subscription:"),
                    "product": details.get("product"),
                    "reason": details.get("reason"),
                    "partner_center": step.get("instruction"),
                }
            )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
