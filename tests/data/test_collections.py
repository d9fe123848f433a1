"""The collections worklist agrees with the policy engine, and each action writes its row and one audit event in
one transaction, or nothing at all when refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from data_access import clock
from data_access.actions import collections as collections_actions
from data_access.actions.payments import reverse_payment
from data_access.db import read_session, transaction
from data_access.demo.policy import GRACE_DAYS, MINIMUM_OVERDUE_CENTS, POLICY_STAGES
from data_access.enums import ActivityKind
from data_access.errors import InvalidAction, NotFound
from data_access.models import (
    AuditEvent,
    CollectionsActivity,
    Customer,
    Invoice,
)
from data_access.permissions import PermissionDenied
from data_access.queries import collections as collections_queries
from data_access.rules import policy
from tests.support import factories
from tests.support.actors import BILLING, SALES
from tests.support.factories import at

TODAY = clock.today()
RULES = policy.Policy(
    stages=tuple(
        policy.Stage(name=name, days_past_due=days, action=action.value, message_template=template)
        for days, action, name, template in POLICY_STAGES
    ),
    minimum_overdue_cents=MINIMUM_OVERDUE_CENTS,
    grace_days_before_suspension=GRACE_DAYS,
)


@pytest.fixture
def db(database: str) -> str:
    """The default collections policy, as the demo data seeds it."""
    factories.policy()
    return database


def overdue_customer(customer_id: str, *, days: int, cents: int, name: str | None = None) -> str:
    """A customer with one invoice `days` past due at TODAY (30-day terms)."""
    factories.customer(customer_id, name=name)
    factories.invoice(
        customer_id, f"INV-{customer_id}", issued=TODAY - timedelta(days=days + 30), cents=cents
    )
    return customer_id


def counts() -> tuple[int, int]:
    with read_session() as session:
        return (
            session.scalar(select(func.count()).select_from(CollectionsActivity)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def activities() -> list[CollectionsActivity]:
    with read_session() as session:
        return list(session.scalars(select(CollectionsActivity).order_by(CollectionsActivity.id)))


def audit_events() -> list[AuditEvent]:
    with read_session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_the_worklist_stage_is_what_the_policy_engine_says(db: str) -> None:
    overdue_customer("C-020", days=20, cents=12_000)
    row = collections_queries.worklist(BILLING, as_of=TODAY).iloc[0]
    engine = policy.assess(
        RULES,
        policy.Account(
            customer_id=1,
            invoices=(policy.OpenInvoice("INV-C-020", TODAY - timedelta(days=20), 12_000),),
        ),
        TODAY,
    )
    assert engine.stage is not None and engine.next_step is not None
    assert row.stage == engine.stage.name == "Second reminder"
    assert row.days_past_due == 20
    assert row.overdue == Decimal("120.00")
    assert row.due_now == "reminder"
    assert row.next_step == engine.next_step.stage.name == "Final notice"
    assert row.next_step_on == engine.next_step.on == TODAY + timedelta(days=10)
    assert row.priority == Decimal("120.00") * 20
    assert row.last_contact is None


def test_broken_promises_first_then_overdue_times_days(db: str) -> None:
    overdue_customer("C-A", days=10, cents=50_000)  # 500 x 10 = 5000
    overdue_customer("C-B", days=40, cents=10_000)  # 100 x 40 = 4000
    overdue_customer("C-C", days=60, cents=6_000)  # 60 x 60 = 3600, but a broken promise
    factories.promise(
        "C-C", made=at(TODAY - timedelta(days=20), 10), promised_for=TODAY - timedelta(days=5), cents=6_000
    )
    shown = collections_queries.worklist(BILLING, as_of=TODAY)
    assert list(shown.customer_id) == ["C-C", "C-A", "C-B"]
    assert list(shown.broken_promises) == [1, 0, 0]
    assert shown.iloc[0].last_contact == "promise to pay"
    assert shown.iloc[0].last_contact_on == TODAY - timedelta(days=20)


def test_a_promise_is_kept_only_by_money_received_between_the_promise_and_its_date(db: str) -> None:
    """Through the database: payments before the promise do not keep it; one inside its window does."""
    for customer_id in ("C-KEPT", "C-EARLY"):
        overdue_customer(customer_id, days=60, cents=50_000)
        factories.invoice(
            customer_id, f"INV2-{customer_id}", issued=TODAY - timedelta(days=200), cents=10_000
        )
    # C-EARLY paid 100.00 before promising; C-KEPT paid 100.00 inside the promise's window.
    factories.payment("C-EARLY", cents=10_000, received_on=TODAY - timedelta(days=25))
    factories.payment("C-KEPT", cents=10_000, received_on=TODAY - timedelta(days=10))
    for customer_id in ("C-KEPT", "C-EARLY"):
        factories.promise(
            customer_id,
            made=at(TODAY - timedelta(days=20), 10),
            promised_for=TODAY - timedelta(days=5),
            cents=10_000,
        )
    shown = collections_queries.worklist(BILLING, as_of=TODAY).set_index("customer_id")
    assert shown.loc["C-KEPT", "broken_promises"] == 0
    assert shown.loc["C-EARLY", "broken_promises"] == 1


def test_filters(db: str) -> None:
    overdue_customer("C-A", days=10, cents=50_000)
    overdue_customer("C-B", days=40, cents=10_000)
    with transaction() as session:
        session.scalars(select(Customer).where(Customer.external_id == "C-B")).one().account_manager = "ana"
    assert list(collections_queries.worklist(BILLING, as_of=TODAY, account_manager="ana").customer_id) == [
        "C-B"
    ]
    assert list(
        collections_queries.worklist(BILLING, as_of=TODAY, stage="Friendly reminder").customer_id
    ) == ["C-A"]
    collections_actions.send_reminder(BILLING, customer_id="C-A", as_of=TODAY)
    assert list(collections_queries.worklist(BILLING, as_of=TODAY, due_only=True).customer_id) == ["C-B"]
    assert collections_queries.worklist(BILLING, as_of=TODAY, stage="Suspension").empty


def test_no_overdue_accounts_is_an_empty_table(db: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=TODAY, cents=10_000)
    shown = collections_queries.worklist(BILLING, as_of=TODAY)
    assert shown.empty
    assert list(shown.columns) == collections_queries.WORKLIST_COLUMNS


def test_a_reminder_is_the_stage_message_filled_in_and_marks_the_stage_done(db: str) -> None:
    overdue_customer("C-020", days=20, cents=12_345, name="Contoso Ltd")
    text = collections_actions.send_reminder(BILLING, customer_id="C-020", as_of=TODAY)
    assert "Contoso Ltd" in text and "123.45" in text and "INV-C-020" in text and "20 days" in text
    (activity,) = activities()
    assert activity.kind == ActivityKind.REMINDER_SENT
    assert activity.details == {"stage": "Second reminder", "text": text}
    (event,) = audit_events()
    assert event.permission == "collections.act" and event.target == "customer:C-020"
    assert event.details is not None and event.details["text"] == text
    assert collections_queries.worklist(BILLING, as_of=TODAY).iloc[0].due_now is None


ACTIONS: dict[str, Callable[[], object]] = {
    "call": lambda: collections_actions.log_contact(
        BILLING, customer_id="C-1", kind="call", notes="Spoke to AP"
    ),
    "email": lambda: collections_actions.log_contact(
        BILLING, customer_id="C-1", kind="email", notes="Sent statement"
    ),
    "reminder": lambda: collections_actions.send_reminder(BILLING, customer_id="C-1", as_of=TODAY),
    "promise": lambda: collections_actions.record_promise(
        BILLING,
        customer_id="C-1",
        amount=Decimal("50.00"),
        promised_for=TODAY + timedelta(days=7),
        today=TODAY,
    ),
    "plan": lambda: collections_actions.set_up_payment_plan(
        BILLING,
        customer_id="C-1",
        installments=[
            (TODAY + timedelta(days=7), Decimal("60")),
            (TODAY + timedelta(days=37), Decimal("60")),
        ],
        notes="Two halves",
        today=TODAY,
    ),
    "dispute": lambda: collections_actions.open_dispute(
        BILLING, invoice_number="INV-C-1", reason="Wrong seats"
    ),
    "note": lambda: collections_actions.add_note(BILLING, customer_id="C-1", notes="CFO back on Monday"),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_writes_its_row_and_one_audit_event(db: str, action: str) -> None:
    overdue_customer("C-1", days=20, cents=12_000)
    ACTIONS[action]()
    assert counts() == (1, 1)
    (activity,) = activities()
    (event,) = audit_events()
    assert activity.actor == event.actor == "billing"
    assert event.permission == "collections.act"
    assert event.details is not None and event.details["activity_id"] == activity.id
    assert activity.occurred_at.tzinfo is not None


def test_a_promise_holds_the_account(db: str) -> None:
    overdue_customer("C-1", days=20, cents=12_000)
    ACTIONS["promise"]()
    (activity,) = activities()
    assert activity.promised_amount_cents == 5_000 and activity.promised_for == TODAY + timedelta(days=7)
    row = collections_queries.worklist(BILLING, as_of=TODAY).iloc[0]
    assert row.held_by_promise and row.due_now is None


def test_a_payment_plan_keeps_its_installments(db: str) -> None:
    overdue_customer("C-1", days=20, cents=12_000)
    ACTIONS["plan"]()
    (activity,) = activities()
    assert activity.kind == ActivityKind.PAYMENT_PLAN and activity.notes == "Two halves"
    assert activity.details == {
        "installments": [
            {"due_on": (TODAY + timedelta(days=7)).isoformat(), "amount": "60.00"},
            {"due_on": (TODAY + timedelta(days=37)).isoformat(), "amount": "60.00"},
        ],
        "total": "120.00",
    }


REFUSED: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    "negative promise": (
        lambda: collections_actions.record_promise(
            BILLING, customer_id="C-1", amount=Decimal("-5"), promised_for=TODAY, today=TODAY
        ),
        InvalidAction,
        "positive amount",
    ),
    "promise in the past": (
        lambda: collections_actions.record_promise(
            BILLING,
            customer_id="C-1",
            amount=Decimal("5"),
            promised_for=TODAY - timedelta(days=1),
            today=TODAY,
        ),
        InvalidAction,
        "in the past",
    ),
    "promise above the balance": (
        lambda: collections_actions.record_promise(
            BILLING, customer_id="C-1", amount=Decimal("120.01"), promised_for=TODAY, today=TODAY
        ),
        InvalidAction,
        "more than",
    ),
    "unknown customer": (
        lambda: collections_actions.add_note(BILLING, customer_id="C-404", notes="Hello"),
        NotFound,
        "no customer",
    ),
    "unknown invoice": (
        lambda: collections_actions.open_dispute(BILLING, invoice_number="INV-404", reason="Wrong"),
        NotFound,
        "no invoice",
    ),
    "resolving an undisputed invoice": (
        lambda: collections_actions.resolve_dispute(BILLING, invoice_number="INV-C-1", resolution="Credited"),
        InvalidAction,
        "not disputed",
    ),
    "empty note": (
        lambda: collections_actions.add_note(BILLING, customer_id="C-1", notes="  "),
        InvalidAction,
        "empty",
    ),
    "dispute without a reason": (
        lambda: collections_actions.open_dispute(BILLING, invoice_number="INV-C-1", reason=""),
        InvalidAction,
        "why",
    ),
    "unknown contact kind": (
        lambda: collections_actions.log_contact(BILLING, customer_id="C-1", kind="fax", notes="Sent"),
        InvalidAction,
        "call or an email",
    ),
    "plan out of order": (
        lambda: collections_actions.set_up_payment_plan(
            BILLING,
            customer_id="C-1",
            installments=[
                (TODAY + timedelta(days=9), Decimal("10")),
                (TODAY + timedelta(days=9), Decimal("10")),
            ],
            today=TODAY,
        ),
        InvalidAction,
        "after the one before",
    ),
    "plan above the balance": (
        lambda: collections_actions.set_up_payment_plan(
            BILLING,
            customer_id="C-1",
            installments=[(TODAY, Decimal("100")), (TODAY + timedelta(days=30), Decimal("20.01"))],
            today=TODAY,
        ),
        InvalidAction,
        "more than",
    ),
    "empty plan": (
        lambda: collections_actions.set_up_payment_plan(
            BILLING, customer_id="C-1", installments=[], today=TODAY
        ),
        InvalidAction,
        "at least one",
    ),
    "sales agent": (
        lambda: collections_actions.add_note(SALES, customer_id="C-1", notes="Hello"),
        PermissionDenied,
        "collections.act",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_input_is_refused_and_writes_nothing(db: str, case: str) -> None:
    overdue_customer("C-1", days=20, cents=12_000)
    action, error, words = REFUSED[case]
    before = counts()
    with pytest.raises(error, match=words):
        action()
    assert counts() == before == (0, 0)


def test_no_reminder_without_a_stage(db: str) -> None:
    overdue_customer("C-1", days=20, cents=4_000)  # below the 50.00 minimum
    with pytest.raises(InvalidAction, match="no collections stage"):
        collections_actions.send_reminder(BILLING, customer_id="C-1", as_of=TODAY)
    assert counts() == (0, 0)


def test_a_dispute_stops_the_clock_until_resolved(db: str) -> None:
    overdue_customer("C-1", days=40, cents=12_000)
    factories.invoice("C-1", "INV-2", issued=TODAY - timedelta(days=50), cents=9_000)  # 20 days past due
    assert collections_queries.worklist(BILLING, as_of=TODAY).iloc[0].stage == "Final notice"

    collections_actions.open_dispute(BILLING, invoice_number="INV-C-1", reason="Seats never delivered")
    row = collections_queries.worklist(BILLING, as_of=TODAY).iloc[0]
    assert (row.stage, row.days_past_due, row.overdue, row.disputed) == (
        "Second reminder",
        20,
        Decimal("90.00"),
        Decimal("120.00"),
    )
    with pytest.raises(InvalidAction, match="already disputed"):
        collections_actions.open_dispute(BILLING, invoice_number="INV-C-1", reason="Again")

    collections_actions.resolve_dispute(
        BILLING, invoice_number="INV-C-1", resolution="Seats confirmed delivered"
    )
    assert collections_queries.worklist(BILLING, as_of=TODAY).iloc[0].stage == "Final notice"
    assert [a.kind for a in activities()] == [ActivityKind.DISPUTE_OPENED, ActivityKind.DISPUTE_RESOLVED]
    assert [e.target for e in audit_events()] == ["invoice:INV-C-1", "invoice:INV-C-1"]
    with read_session() as session:
        assert session.scalars(select(Invoice.disputed).where(Invoice.number == "INV-C-1")).one() is False


def test_a_wholly_disputed_account_stays_on_the_list_without_a_stage(db: str) -> None:
    overdue_customer("C-1", days=40, cents=12_000)
    collections_actions.open_dispute(BILLING, invoice_number="INV-C-1", reason="Wrong seats")
    row = collections_queries.worklist(BILLING, as_of=TODAY).iloc[0]
    assert row.stage is None and row.overdue == Decimal("0.00") and row.disputed == Decimal("120.00")
    with pytest.raises(InvalidAction, match="no collections stage"):
        collections_actions.send_reminder(BILLING, customer_id="C-1", as_of=TODAY)


def test_reading_needs_collections_view(db: str) -> None:
    with pytest.raises(PermissionDenied):
        collections_queries.worklist(SALES, as_of=TODAY)
    overdue_customer("C-1", days=20, cents=12_000)
    collections_actions.add_note(BILLING, customer_id="C-1", notes="Called twice")
    assert list(collections_queries.activities(BILLING, customer_id="C-1").notes) == ["Called twice"]
    assert list(collections_queries.open_invoices(BILLING, customer_id="C-1").invoice_number) == ["INV-C-1"]


def test_recent_activity_lists_payments_received_and_reversed_with_the_activities(db: str) -> None:
    overdue_customer("C-1", days=20, cents=12_000)
    collections_actions.add_note(BILLING, customer_id="C-1", notes="Called twice")
    paid = factories.payment("C-1", cents=5_000, invoice="INV-C-1", reference="wire 42", today=TODAY)
    recent = collections_queries.activities(BILLING, customer_id="C-1")
    assert list(recent.kind) == ["payment received", "note"]
    assert recent.notes.iloc[0] == f"USD 50.00 received {TODAY.isoformat()}, reference wire 42."
    assert recent.invoice_number.iloc[0] == "INV-C-1"
    reverse_payment(BILLING, payment_id=paid, reason="Bounced", today=TODAY)
    recent = collections_queries.activities(BILLING, customer_id="C-1")
    assert recent.kind.iloc[0] == "payment reversed" and recent.actor.iloc[0] == "billing"
    assert recent.notes.iloc[0].endswith("; reversed " + TODAY.isoformat() + ": Bounced.")
    assert len(collections_queries.activities(BILLING, customer_id="C-1", limit=1)) == 1


def test_accounts_per_stage_counts_the_worklist(db: str) -> None:
    from data_access.queries.collections import accounts_per_stage, worklist

    overdue_customer("C-20", days=20, cents=90_000)
    overdue_customer("C-50", days=50, cents=90_000)
    overdue_customer("C-51", days=51, cents=90_000)
    overdue_customer("C-SMALL", days=50, cents=100)
    counts = dict(accounts_per_stage(BILLING, as_of=TODAY).itertuples(index=False))
    listed = worklist(BILLING, as_of=TODAY)
    assert counts["Second reminder"] == 1 and counts["Suspension"] == 2 and counts["no stage"] == 1
    assert sum(counts.values()) == len(listed)
