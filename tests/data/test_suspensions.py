"""Suspending and reinstating subscriptions: only eligible accounts, never twice, audited in the same transaction,
with the Partner Center step, the 90-day warnings, ready-to-reinstate after payment, and real concurrent sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

import data_access.actions.suspensions
from data_access.actions.suspensions import StillOverdue, reinstate_subscription, suspend_subscription
from data_access.db import read_session, transaction
from data_access.enums import SubscriptionStatus
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, Invoice, Subscription
from data_access.permissions import BILLING_ADMIN, Actor
from data_access.queries import assessments
from data_access.queries.suspensions import eligible_accounts, suspended_subscriptions, suspension_history
from data_access.rules.suspension import PartnerCenterStep
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.suspensions import TENANT, TODAY, add_policy, add_subscription, overdue_account, status

OTHER_BILLING = Actor.of("billing2", [BILLING_ADMIN])


@pytest.fixture
def account(database: str) -> str:
    add_policy()
    return overdue_account()


def events(permission: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if permission:
        query = query.where(AuditEvent.permission == permission)
    with read_session() as session:
        return list(session.scalars(query))


def suspend(subscription_id: str = "SUB-C-001-1", *, reason: str = "90 days unpaid", **kwargs: Any) -> Any:
    return suspend_subscription(BILLING, subscription_id=subscription_id, reason=reason, **kwargs)


def assert_refused(match: str, action: Callable[[], object], subscription_id: str = "SUB-C-001-1") -> None:
    before = status(subscription_id)
    with pytest.raises(InvalidAction, match=match):
        action()
    assert status(subscription_id) == before
    assert events() == [] or all(e.permission == "payment.record" for e in events())


def test_an_account_is_eligible_after_the_suspension_stage_and_grace_days_not_before(account: str) -> None:
    eligible = eligible_accounts(BILLING, as_of=TODAY)
    assert list(eligible.subscription_id) == ["SUB-C-001-2", "SUB-C-001-1"]
    row = eligible.iloc[0]
    assert (row.customer_id, row.tenant_id, row.overdue, row.days_past_due) == (
        "C-001",
        TENANT,
        Decimal(200),
        50,
    )
    assert row.eligible_since == TODAY
    assert eligible_accounts(BILLING, as_of=TODAY - timedelta(days=1)).empty
    assert_refused(r"grace period until", lambda: suspend(as_of=TODAY - timedelta(days=1)))
    assert_refused(
        r"not reached the policy's suspension stage", lambda: suspend(as_of=TODAY - timedelta(days=10))
    )


def test_suspending_changes_the_status_and_audits_with_the_partner_center_step(account: str) -> None:
    step = suspend()
    assert (step.tenant_id, step.subscription_id, step.status) == (TENANT, "SUB-C-001-1", "Suspended")
    assert TENANT in step.instruction() and "SUB-C-001-1" in step.instruction()
    assert status("SUB-C-001-1") == SubscriptionStatus.SUSPENDED
    assert status("SUB-C-001-2") == SubscriptionStatus.ACTIVE
    with read_session() as session:
        row = session.scalar(select(Subscription).where(Subscription.external_id == "SUB-C-001-1"))
        assert row is not None
        assert (row.suspension_reason, row.suspended_by) == ("90 days unpaid", "billing")
        assert row.suspended_at is not None
    [event] = events()
    assert (event.permission, event.target, event.actor) == (
        "subscription.suspend",
        "subscription:SUB-C-001-1",
        "billing",
    )
    details = event.details or {}
    assert details["before"]["status"] == "Active"
    assert details["after"]["status"] == "Suspended"
    assert details["after"]["suspension_reason"] == "90 days unpaid"
    assert details["partner_center"]["tenant_id"] == TENANT
    assert details["partner_center"]["status"] == "Suspended"
    assert list(eligible_accounts(BILLING, as_of=TODAY).subscription_id) == ["SUB-C-001-2"]


def test_suspending_twice_is_refused_and_audited_once(account: str) -> None:
    suspend()
    with pytest.raises(InvalidAction, match="already suspended"):
        suspend_subscription(OTHER_BILLING, subscription_id="SUB-C-001-1", reason="again")
    assert len(events("subscription.suspend")) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(account: str, reason: str) -> None:
    assert_refused("Give a reason", lambda: suspend(reason=reason))


def test_only_an_active_subscription_is_suspended(account: str) -> None:
    add_subscription("C-001", "SUB-OLD", "Visio", status="Expired")
    assert_refused("only an Active subscription", lambda: suspend("SUB-OLD"), "SUB-OLD")
    assert_refused("no subscription", lambda: suspend("SUB-NOPE"))


def test_an_account_paid_meanwhile_is_refused(account: str) -> None:
    eligible = eligible_accounts(BILLING, as_of=TODAY)
    assert not eligible.empty
    factories.payment("C-001", cents=20_000, received_on=TODAY)
    assert_refused("paid or credited meanwhile", suspend)


def test_an_account_paid_below_the_minimum_is_refused(account: str) -> None:
    factories.payment("C-001", cents=16_000, received_on=TODAY)
    assert_refused(r"below the policy's minimum of USD 50\.00", suspend)


def test_a_disputed_account_is_refused(account: str) -> None:
    with transaction() as session:
        session.execute(update(Invoice).where(Invoice.number == "INV-C-001").values(disputed=True))
    assert eligible_accounts(BILLING, as_of=TODAY).empty
    assert_refused("disputed", suspend)


def test_an_exempt_account_is_refused(database: str) -> None:
    add_policy()
    overdue_account("C-EX", exempt=True)
    assert eligible_accounts(BILLING, as_of=TODAY).empty
    assert_refused("exempt from collections", lambda: suspend("SUB-C-EX-1"), "SUB-C-EX-1")


def test_an_account_with_a_standing_promise_is_refused(account: str) -> None:
    factories.promise("C-001", cents=20_000, promised_for=TODAY + timedelta(days=7))
    assert_refused("promise to pay USD 200.00", suspend)


def test_the_status_change_rolls_back_when_its_audit_event_cannot_be_written(
    account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(data_access.actions.suspensions, "record_event", broken)
    with pytest.raises(RuntimeError):
        suspend()
    assert status("SUB-C-001-1") == SubscriptionStatus.ACTIVE


def test_reinstating_needs_a_suspended_subscription_and_a_reason_and_is_audited(account: str) -> None:
    with pytest.raises(InvalidAction, match="not suspended"):
        reinstate_subscription(BILLING, subscription_id="SUB-C-001-1", reason="paid")
    suspend()
    with pytest.raises(InvalidAction, match="Give a reason"):
        reinstate_subscription(BILLING, subscription_id="SUB-C-001-1", reason=" ")
    with pytest.raises(StillOverdue) as still:
        reinstate_subscription(BILLING, subscription_id="SUB-C-001-1", reason="Paid in full")
    assert str(still.value) == (
        "Contoso C-001 still has USD 200.00 overdue (50 days past due). Once reinstated, it will be listed as "
        "eligible for suspension again at once."
    )
    assert status("SUB-C-001-1") == SubscriptionStatus.SUSPENDED, "nothing changes before the confirmation"
    step = reinstate_subscription(
        BILLING, subscription_id="SUB-C-001-1", reason="Paid in full", confirm_overdue=True
    )
    assert step.status == "Active"
    assert status("SUB-C-001-1") == SubscriptionStatus.ACTIVE
    [event] = events("subscription.reinstate")
    details = event.details or {}
    assert (details["before"]["status"], details["after"]["status"]) == ("Suspended", "Active")
    assert details["before"]["suspension_reason"] == "90 days unpaid"
    assert details["reason"] == "Paid in full"
    history = suspension_history(BILLING)
    assert list(history.action) == ["Reinstated", "Suspended"]
    assert list(history.subscription_id) == ["SUB-C-001-1", "SUB-C-001-1"]
    assert list(history.reason) == ["Paid in full", "90 days unpaid"]
    assert TENANT in history.partner_center[0]


def test_a_suspended_subscription_is_ready_to_reinstate_once_the_overdue_balance_is_paid(
    account: str,
) -> None:
    suspend()
    [row] = suspended_subscriptions(BILLING, as_of=TODAY).itertuples()
    assert (row.subscription_id, row.days_suspended, row.warning, row.ready_to_reinstate) == (
        "SUB-C-001-1", 0, "", False,
    )  # fmt: skip
    assert row.overdue == Decimal(200)
    assert row.still_overdue.startswith("Contoso C-001 still has USD 200.00 overdue (50 days past due).")
    assert "set its status to Suspended" in str(row.partner_center)
    factories.payment("C-001", cents=16_000, received_on=TODAY)
    [row] = suspended_subscriptions(BILLING, as_of=TODAY).itertuples()
    assert row.ready_to_reinstate, "below the policy's minimum counts as paid"
    assert row.still_overdue == "", "nothing left to warn about"
    factories.payment("C-001", cents=4_000, received_on=TODAY)
    [row] = suspended_subscriptions(BILLING, as_of=TODAY).itertuples()
    assert row.ready_to_reinstate and row.overdue == 0
    reinstate_subscription(BILLING, subscription_id="SUB-C-001-1", reason="Paid down")
    assert status("SUB-C-001-1") == SubscriptionStatus.ACTIVE, "no confirmation needed once paid"


@pytest.mark.parametrize(
    ("days", "warning"),
    [
        (74, ""),
        (75, "nearing 90 days"),
        (89, "nearing 90 days"),
        (90, "past 90 days: Microsoft may delete data"),
        (120, "past 90 days: Microsoft may delete data"),
    ],
)
def test_the_suspended_list_warns_as_the_90_days_near_and_pass(account: str, days: int, warning: str) -> None:
    suspend()
    as_of = TODAY + timedelta(days=days)
    [row] = suspended_subscriptions(BILLING, as_of=as_of).itertuples()
    assert (row.days_suspended, row.warning) == (days, warning)


def test_the_suspended_list_is_longest_first(database: str) -> None:
    add_policy()
    overdue_account("C-001")
    overdue_account("C-002")
    suspend("SUB-C-002-1")
    suspend("SUB-C-001-1")
    with transaction() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.external_id == "SUB-C-001-1")
            .values(suspended_at=datetime.now(UTC) - timedelta(days=80))
        )
    table = suspended_subscriptions(BILLING, as_of=TODAY)
    assert list(table.subscription_id) == ["SUB-C-001-1", "SUB-C-002-1"]
    assert list(table.warning) == ["nearing 90 days", ""]


def slow_assessment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each transaction open between its read and its write, so two sessions truly overlap."""
    original = assessments.assess_customers

    def slow(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        time.sleep(0.5)
        return found

    monkeypatch.setattr("data_access.queries.suspensions.assess_customers", slow)


def race(actions: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = actions[index]()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_admins_suspending_the_same_subscription_at_once_suspend_it_once(
    account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real concurrent sessions: row locks on PostgreSQL, the conditional UPDATE on SQLite."""
    slow_assessment(monkeypatch)
    outcomes = race(
        [
            lambda: suspend_subscription(BILLING, subscription_id="SUB-C-001-1", reason="first"),
            lambda: suspend_subscription(OTHER_BILLING, subscription_id="SUB-C-001-1", reason="second"),
        ]
    )
    succeeded = [o for o in outcomes if isinstance(o, PartnerCenterStep)]
    refused = [o for o in outcomes if isinstance(o, InvalidAction)]
    assert (len(succeeded), len(refused)) == (1, 1), outcomes
    assert "suspended" in str(refused[0])
    assert status("SUB-C-001-1") == SubscriptionStatus.SUSPENDED
    [event] = events("subscription.suspend")
    with read_session() as session:
        row = session.scalar(select(Subscription).where(Subscription.external_id == "SUB-C-001-1"))
        assert row is not None
        assert (row.suspended_by, row.suspension_reason) == (event.actor, (event.details or {})["reason"])


def test_on_postgresql_the_second_session_waits_for_the_row_lock(
    database: str, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser is refused by its locked re-read ("already suspended"), not by the conditional UPDATE."""
    if not database.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no row locks")
    slow_assessment(monkeypatch)
    outcomes = race(
        [
            lambda: suspend_subscription(BILLING, subscription_id="SUB-C-001-1", reason="first"),
            lambda: suspend_subscription(OTHER_BILLING, subscription_id="SUB-C-001-1", reason="second"),
        ]
    )
    refused = [str(o) for o in outcomes if isinstance(o, InvalidAction)]
    assert len(refused) == 1 and "is already suspended (by billing" in refused[0], outcomes
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_guarded_queries_read_nothing_for_an_empty_database(database: str) -> None:
    assert eligible_accounts(BILLING, as_of=date(2026, 1, 1)).empty
    assert suspended_subscriptions(BILLING, as_of=date(2026, 1, 1)).empty
    assert suspension_history(BILLING).empty
