"""Suspending a customer's subscriptions for non-payment and reinstating them; billing acts, the app never does.

Eligibility is judged again inside the transaction that suspends, under the customer's lock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data_access import clock
from data_access.audit import (
    PartnerCenterRecord,
    SubscriptionReinstated,
    SubscriptionState,
    SubscriptionSuspended,
    record_event,
)
from data_access.db import transaction
from data_access.enums import SubscriptionStatus
from data_access.errors import InvalidAction, NotFound
from data_access.models import Customer, Subscription
from data_access.money import from_cents
from data_access.permissions import Actor, requires
from data_access.queries.assessments import CustomerAccount, assess_customers, load_policy
from data_access.queries.suspensions import REINSTATE, SUSPEND
from data_access.rules.suspension import PartnerCenterStep, still_overdue, why_not_eligible


class StillOverdue(InvalidAction):
    """Reinstating a customer who still owes an overdue balance waits for a confirmation; the message says how
    much is overdue and whether the account becomes eligible for suspension again."""


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


def _snapshot(subscription: Subscription) -> SubscriptionState:
    return SubscriptionState(
        status=subscription.status,
        suspension_reason=subscription.suspension_reason,
        suspended_by=subscription.suspended_by,
        suspended_at=subscription.suspended_at,
    )


def _told(step: PartnerCenterStep) -> PartnerCenterRecord:
    return PartnerCenterRecord(
        tenant_id=step.tenant_id,
        subscription_id=step.subscription_id,
        status=step.status,
        instruction=step.instruction(),
    )


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
            SubscriptionSuspended(
                customer_id=customer.external_id,
                customer_name=customer.name,
                product=subscription.product,
                reason=reason,
                as_of=day,
                overdue=from_cents(account.assessment.overdue_cents),
                currency=customer.currency,
                days_past_due=account.assessment.days_past_due,
                before=before,
                after=_snapshot(subscription),
                partner_center=_told(step),
            ),
            target=f"subscription:{subscription.external_id}",
        )
        return step


@requires(REINSTATE)
def reinstate_subscription(
    actor: Actor,
    *,
    subscription_id: str,
    reason: str,
    confirm_overdue: bool = False,
    as_of: date | None = None,
) -> PartnerCenterStep:
    """Reinstate one Suspended subscription, with a reason on the record; audited. A customer still overdue is
    reinstated only with `confirm_overdue` (StillOverdue says how much, and what happens next)."""
    reason = reason.strip()
    if not reason:
        raise InvalidAction("Give a reason for reinstating; it goes on the record.")
    day = as_of or clock.today()
    with transaction() as session:
        subscription = _locked_subscription(session, subscription_id)
        customer = subscription.customer
        label = f"{subscription.product} ({subscription.external_id}) for {customer.name}"
        if subscription.status != SubscriptionStatus.SUSPENDED:
            raise InvalidAction(
                f"{label} is {subscription.status}, not suspended, so there is nothing to reinstate."
            )
        if not confirm_overdue:
            warning = still_overdue(
                customer.name,
                customer.currency,
                _assess(session, customer, day).assessment,
                load_policy(session),
            )
            if warning:
                raise StillOverdue(warning)
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
            SubscriptionReinstated(
                customer_id=customer.external_id,
                customer_name=customer.name,
                product=subscription.product,
                reason=reason,
                before=before,
                after=_snapshot(subscription),
                partner_center=_told(step),
            ),
            target=f"subscription:{subscription.external_id}",
        )
        return step
