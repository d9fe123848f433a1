"""The stored collections policy: saved edits read back exactly, invalid edits are refused whole, every save is
audited, the customer-facing statement tells each stage, and only billing and global admins may edit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from data_access.actions import policies as policies_actions
from data_access.db import read_session
from data_access.documents import customer_statements as customer_statements_documents
from data_access.enums import StageAction
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, CollectionsPolicy, PolicyStage
from data_access.permissions import Actor, PermissionDenied
from data_access.queries import policies as policies_queries
from data_access.rules.policy import Stage
from tests.support.actors import BILLING, SALES, USERMGR

STAGES = [
    Stage(
        "Reminder", 1, StageAction.REMINDER, "Hello {customer_name}, {currency} {overdue_amount} is overdue."
    ),
    Stage("Final notice", 30, StageAction.FINAL_NOTICE, "Final notice: {days_past_due} days past due."),
    Stage("Suspension", 45, StageAction.SUSPENSION_ELIGIBLE, "Your subscriptions may be suspended."),
    Stage("Agency", 90, StageAction.REVIEW_FOR_CANCELLATION, "Under review: invoice {oldest_invoice}."),
]


def save(actor: Actor = BILLING, **changes: Any) -> None:
    arguments: dict[str, Any] = {
        "stages": STAGES,
        "minimum_overdue": Decimal("50.00"),
        "grace_days": 5,
        "disputes_stop_clock": True,
        "statement_intro": "Please pay on time.",
    }
    policies_actions.save_policy(actor, **{**arguments, **changes})


def counts() -> tuple[int, int, int]:
    with read_session() as session:
        return (
            session.scalar(select(func.count()).select_from(CollectionsPolicy)) or 0,
            session.scalar(select(func.count()).select_from(PolicyStage)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_no_policy_reads_as_none_and_the_statement_says_so(database: str) -> None:
    assert policies_queries.current_policy(BILLING) is None
    assert (
        "has not set out a collections policy"
        in customer_statements_documents.collections_statement_markdown(BILLING)
    )


def test_a_saved_policy_reads_back_equal(database: str) -> None:
    save()
    view = policies_queries.current_policy(SALES)
    assert view is not None
    assert view.policy.stages == tuple(STAGES)
    assert view.policy.minimum_overdue_cents == 5_000
    assert view.policy.grace_days_before_suspension == 5
    assert view.policy.disputes_stop_clock is True
    assert view.statement_intro == "Please pay on time."
    assert view.updated_by == "billing"

    save(stages=STAGES[:2], minimum_overdue=Decimal("0"), grace_days=0, disputes_stop_clock=False)
    again = policies_queries.current_policy(BILLING)
    assert again is not None
    assert again.policy.stages == tuple(STAGES[:2])
    assert (again.policy.minimum_overdue_cents, again.policy.disputes_stop_clock) == (0, False)
    assert counts()[:2] == (1, 2)


def test_each_save_is_audited_with_before_and_after(database: str) -> None:
    save()
    save(grace_days=7)
    with read_session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.actor, e.permission) for e in events] == [("billing", "policies.edit")] * 2
        first, second = (e.details or {} for e in events)
    assert first["before"] is None
    assert first["after"]["minimum_overdue"] == "50.00"
    assert second["before"]["grace_days_before_suspension"] == 5
    assert second["after"]["grace_days_before_suspension"] == 7
    assert [s["days_past_due"] for s in second["after"]["stages"]] == [1, 30, 45, 90]


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        pytest.param(
            {"stages": [STAGES[0], Stage("Again", 1, StageAction.REMINDER, "Hello again.")]},
            "each stage must start later than the one before",
            id="non-increasing",
        ),
        pytest.param(
            {"stages": [STAGES[0], STAGES[2], Stage("Final", 60, StageAction.FINAL_NOTICE, "Final.")]},
            "eligible for suspension before any final notice",
            id="suspension-before-final-notice",
        ),
        pytest.param(
            {"minimum_overdue": Decimal("-1")},
            "minimum overdue balance cannot be negative",
            id="negative-minimum",
        ),
        pytest.param(
            {"minimum_overdue": Decimal("1.005")}, "more than two decimal places", id="fraction-of-cent"
        ),
        pytest.param(
            {"grace_days": -1}, "grace days before suspension cannot be negative", id="negative-grace"
        ),
        pytest.param(
            {"stages": [STAGES[0], Stage("Final notice", 30, StageAction.FINAL_NOTICE, "x" * 200_000)]},
            "Stage 2's message is longer than 5,000 characters; shorten it.",
            id="message-too-long",
        ),
    ],
)
def test_invalid_edits_are_refused_with_sentences_and_nothing_written(
    database: str, changes: dict[str, Any], sentence: str
) -> None:
    save()
    before = counts()
    kept = policies_queries.current_policy(BILLING)
    with pytest.raises(InvalidAction, match=sentence) as refused:
        save(**changes)
    assert str(refused.value).endswith(".")
    assert counts() == before
    assert policies_queries.current_policy(BILLING) == kept


def test_a_stage_message_of_5000_characters_is_kept(database: str) -> None:
    message = "Dear {customer_name},\n" + "x" * (5_000 - len("Dear {customer_name},\n"))
    save(stages=[Stage("Reminder", 1, StageAction.REMINDER, f"  {message}\n")])
    with read_session() as session:
        assert session.scalars(select(PolicyStage.message_template)).all() == [message]


def test_an_invalid_first_policy_creates_nothing(database: str) -> None:
    with pytest.raises(InvalidAction):
        save(stages=[])
    assert counts() == (0, 0, 0)


def test_the_statement_tells_each_stage_the_minimum_grace_and_disputes(database: str) -> None:
    save()
    text = customer_statements_documents.collections_statement_markdown(SALES, partner_name="Contoso Cloud")
    assert text.startswith("# Contoso Cloud: collections statement")
    for stage in STAGES:
        days = "1 day past due" if stage.days_past_due == 1 else f"{stage.days_past_due} days past due"
        assert days in text
        assert stage.name in text
    assert "50.00" in text
    assert "grace period of 5 days" in text
    assert "dispute an invoice, it is set aside" in text
    assert "Please pay on time." in text


def test_the_html_statement_escapes_what_it_quotes(database: str) -> None:
    save(
        stages=[Stage("<script>alert(1)</script>", 1, StageAction.REMINDER, "Pay.")], statement_intro="A & B"
    )
    page = customer_statements_documents.collections_statement_html(
        customer_statements_documents.collections_statement_markdown(BILLING, partner_name="<b>Partner</b>")
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Partner&lt;/b&gt;" in page
    assert "A &amp; B" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "<li><strong>1 day past due" in page


def test_sales_may_view_but_not_save(database: str) -> None:
    save()
    with pytest.raises(PermissionDenied, match=r"policies\.edit"):
        save(SALES, grace_days=9)
    view = policies_queries.current_policy(SALES)
    assert view is not None and view.policy.grace_days_before_suspension == 5
    assert "Final notice" in customer_statements_documents.collections_statement_markdown(SALES)
    assert policies_queries.support_offering(SALES) is None
    assert counts()[2] == 1


def test_the_support_offering_reads_the_demo_offering(database: str) -> None:
    from data_access.demo import seed_demo

    seed_demo(customers=5, seed=1)
    offering = policies_queries.support_offering(USERMGR)
    assert offering is not None
    assert offering.time_zone == "America/New_York"
    assert dict(offering.business_hours)["Monday"] == ("08:00", "18:00")
    assert dict(offering.business_hours)["Sunday"] is None
    assert [t.severity for t in offering.targets] == ["critical", "moderate", "minimal"]
    assert offering.holidays and offering.contact_methods and offering.entitlements


def test_the_support_offering_is_edited_with_validation_and_audited(database: str) -> None:
    from dataclasses import replace

    from data_access.actions.policies import save_offering
    from data_access.models import AuditEvent
    from data_access.queries.policies import OfferingSettings, ResponseTarget, support_offering

    editor = BILLING
    hours = {"mon": ("08:00", "18:00"), "tue": ("08:00", "18:00"), "wed": None, "thu": ("09:00", "17:00"),
             "fri": ("08:00", "12:00"), "sat": None, "sun": None}  # fmt: skip
    targets = (
        ResponseTarget("critical", 1, 8),
        ResponseTarget("moderate", 4, 24),
        ResponseTarget("minimal", 8, 40),
    )
    settings = OfferingSettings(name="Support", time_zone="Europe/London", business_hours=hours, holidays=(),
                                targets=targets, entitlements=("Premier Support for Partners",),
                                contact_methods=(), pricing="Included", pricing_rates=())  # fmt: skip
    with pytest.raises(InvalidAction, match="first response cannot come after"):
        save_offering(editor, replace(settings, targets=(ResponseTarget("critical", 9, 8), *targets[1:])))
    with pytest.raises(InvalidAction):
        save_offering(editor, replace(settings, time_zone="Mars/Olympus", entitlements=("Gold support",)))
    with pytest.raises(PermissionDenied):
        save_offering(SALES, settings)
    save_offering(editor, settings)
    saved = support_offering(editor)
    assert saved is not None and saved.time_zone == "Europe/London"
    assert dict(saved.business_hours)["Wednesday"] is None and dict(saved.business_hours)["Thursday"] == (
        "09:00",
        "17:00",
    )
    assert saved.entitlements == ("Premier Support for Partners",) and [
        t.resolution_hours for t in saved.targets
    ] == [8, 24, 40]
    with read_session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target == "support-offering")).all()
    assert len(events) == 1


def test_the_support_statement_gives_hours_targets_and_escalation_routes(database: str) -> None:
    from data_access.demo import seed_demo

    seed_demo(customers=5, seed=3)
    text = customer_statements_documents.support_statement_markdown(SALES, partner_name="Contoso IT")
    offering = policies_queries.support_offering(SALES)
    assert offering is not None and text.startswith("# Support from Contoso IT")
    for target in offering.targets:
        assert f"first response within {target.first_response_hours} business hours" in text
    assert all(vehicle in text for vehicle in offering.entitlements)
    assert "Friday evening" in text
