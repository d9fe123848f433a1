"""An overdue account ready for suspension, a policy that allows it, a subscription's status."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from data_access import clock
from data_access.db import read_session
from data_access.enums import StageAction
from data_access.models import Subscription
from tests.support import factories

TODAY = clock.today()


TENANT = "7f6c3a55-1b2d-4e8f-9a0b-123456789abc"


STAGES = (
    (1, StageAction.REMINDER, "Friendly reminder"),
    (15, StageAction.REMINDER, "Second reminder"),
    (30, StageAction.FINAL_NOTICE, "Final notice"),
    (45, StageAction.SUSPENSION_ELIGIBLE, "Suspension"),
    (90, StageAction.REVIEW_FOR_CANCELLATION, "Review"),
)


def add_policy() -> None:
    factories.policy(stages=STAGES, minimum_overdue_cents=5_000, grace_days=5)


def add_subscription(customer_id: str, subscription_id: str, product: str, *, status: str = "Active") -> None:
    factories.subscription(
        customer_id, subscription_id, product, status=status, term_end=TODAY + timedelta(days=200)
    )


def overdue_account(
    customer_id: str = "C-001", *, days_past_due: int = 50, cents: int = 20_000, exempt: bool = False
) -> str:
    """A customer with one invoice overdue for `days_past_due` days and two Active subscriptions."""
    factories.customer(
        customer_id, name=f"Contoso {customer_id}", tenant_id=TENANT, exempt_from_collections=exempt
    )
    factories.invoice(
        customer_id, f"INV-{customer_id}", issued=TODAY - timedelta(days=days_past_due + 30), cents=cents
    )
    add_subscription(customer_id, f"SUB-{customer_id}-1", "Microsoft 365 E3")
    add_subscription(customer_id, f"SUB-{customer_id}-2", "Exchange Online (Plan 1)")
    return customer_id


def status(subscription_id: str) -> str:
    with read_session() as session:
        found = session.scalar(select(Subscription.status).where(Subscription.external_id == subscription_id))
    assert found is not None
    return found
