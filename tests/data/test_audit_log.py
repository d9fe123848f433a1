"""The audit log query: events written by real actions come back under the right filters, newest first, a page at
a time with the full count, in the support offering's time zone; only Global and Billing admins may read it."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from data_access import clock
from data_access.auth import users
from data_access.db import transaction
from data_access.models import AuditEvent
from data_access.permissions import Actor, PermissionDenied
from data_access.queries import audit_log
from tests.support import factories
from tests.support.actors import ADMIN, BILLING

TODAY = clock.today()


def ledger_with_three_actions() -> None:
    """A payment on C-1, a credit note on C-1's invoice, a payment on C-2, a new user: four events."""
    factories.customer("C-1")
    factories.customer("C-2")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=40), cents=100_000)
    factories.invoice("C-2", "INV-2", issued=TODAY - timedelta(days=40), cents=50_000)
    factories.payment("C-1", cents=10_000, received_on=TODAY, invoice="INV-1")
    factories.credit_note("INV-1", "CN-1", cents=5_000, issued_on=TODAY, reason="goodwill")
    factories.payment("C-2", cents=2_000, received_on=TODAY, actor=ADMIN)
    users.add_user(ADMIN, username="newbie", name="New Bie", email="", roles=["Sales agent"])


def set_time(target: str, moment: datetime) -> None:
    with transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.target == target).values(occurred_at=moment))


def targets(page: audit_log.AuditPage) -> list[str]:
    return list(page.events.target)


def test_every_event_newest_first_with_actor_roles_action_and_details(database: str) -> None:
    ledger_with_three_actions()
    page = audit_log.audit_events(BILLING)
    assert targets(page) == ["user:newbie", "customer:C-2", "invoice:INV-1", "customer:C-1"]
    assert page.total == 4 and page.more == 0 and page.time_zone == "UTC"
    credit = page.events.iloc[2]
    assert (credit.actor, credit.roles, credit.action) == ("billing", "Billing admin", "credit_note.issue")
    assert json.loads(credit.details) == {"credit_note": "CN-1", "amount": "50.00", "open_before": "900.00",
                                          "open_after": "850.00", "reason": "goodwill"}  # fmt: skip
    assert "\n" not in credit.details
    assert str(page.events.occurred_at.dt.tz) == "UTC"


def test_filters_by_actor_action_and_customer(database: str) -> None:
    ledger_with_three_actions()
    assert targets(audit_log.audit_events(BILLING, actor_name="billing")) == ["invoice:INV-1", "customer:C-1"]
    payments = audit_log.audit_events(BILLING, action="payment.record")
    assert targets(payments) == ["customer:C-2", "customer:C-1"]
    assert targets(audit_log.audit_events(BILLING, customer_id="C-1")) == ["invoice:INV-1", "customer:C-1"]
    assert targets(audit_log.audit_events(BILLING, customer_id="C-2")) == ["customer:C-2"]
    assert targets(audit_log.audit_events(BILLING, customer_id="C-404")) == []
    both = audit_log.audit_events(BILLING, actor_name="admin", action="users.manage")
    assert targets(both) == ["user:newbie"] and both.total == 1


def test_filter_choices_are_the_distinct_actors_and_actions(database: str) -> None:
    assert audit_log.audit_filters(BILLING) == audit_log.AuditFilters(actors=[], actions=[])
    ledger_with_three_actions()
    choices = audit_log.audit_filters(ADMIN)
    assert choices.actors == ["admin", "billing"]
    assert choices.actions == ["credit_note.issue", "payment.record", "users.manage"]


def test_date_filters_include_both_ends(database: str) -> None:
    ledger_with_three_actions()
    set_time("customer:C-1", datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC))
    set_time("invoice:INV-1", datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTC))
    set_time("customer:C-2", datetime(2026, 3, 11, 23, 59, 59, 999_000, tzinfo=UTC))
    set_time("user:newbie", datetime(2026, 3, 12, 0, 0, 0, tzinfo=UTC))
    day = date(2026, 3, 10)
    assert targets(audit_log.audit_events(BILLING, start=day, end=day)) == ["invoice:INV-1"]
    assert targets(audit_log.audit_events(BILLING, start=day, end=date(2026, 3, 11))) == [
        "customer:C-2",
        "invoice:INV-1",
    ]
    assert targets(audit_log.audit_events(BILLING, start=date(2026, 3, 12))) == ["user:newbie"]
    assert targets(audit_log.audit_events(BILLING, end=date(2026, 3, 9))) == ["customer:C-1"]


def test_days_and_times_are_the_support_offerings_time_zone(database: str) -> None:
    ledger_with_three_actions()
    factories.support_offering(name="Standard", time_zone="America/New_York")
    set_time("customer:C-1", datetime(2026, 3, 11, 3, 30, tzinfo=UTC))  # 10 March, 23:30 in New York
    page = audit_log.audit_events(BILLING, start=date(2026, 3, 10), end=date(2026, 3, 10))
    assert targets(page) == ["customer:C-1"] and page.time_zone == "America/New_York"
    assert page.events.occurred_at.iloc[0].isoformat() == "2026-03-10T23:30:00-04:00"


def test_limit_and_offset_page_through_while_the_total_counts_every_match(database: str) -> None:
    ledger_with_three_actions()
    first = audit_log.audit_events(BILLING, limit=3)
    assert targets(first) == ["user:newbie", "customer:C-2", "invoice:INV-1"]
    assert (first.total, first.more) == (4, 1)
    rest = audit_log.audit_events(BILLING, limit=3, offset=3)
    assert targets(rest) == ["customer:C-1"] and rest.total == 4
    assert audit_log.audit_events(BILLING, action="payment.record", limit=1).total == 2


@pytest.mark.parametrize("role", ["Sales agent", "Helpdesk agent", "User management admin"])
def test_only_global_and_billing_admins_may_read_the_log(database: str, role: str) -> None:
    someone = Actor.of("someone", [role])
    with pytest.raises(PermissionDenied, match=r"audit\.view"):
        audit_log.audit_events(someone)
    with pytest.raises(PermissionDenied):
        audit_log.audit_filters(someone)
    with pytest.raises(PermissionDenied):
        audit_log.export_csv(someone, pd.DataFrame())


def test_export_is_the_shown_frame_and_reads_back(database: str) -> None:
    ledger_with_three_actions()
    factories.support_offering(name="Standard", time_zone="Europe/Amsterdam")
    events = audit_log.audit_events(BILLING).events
    data = audit_log.export_csv(BILLING, events)
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(back.columns) == list(events.columns)
    assert list(back.occurred_at) == [moment.isoformat() for moment in events.occurred_at]
    assert [pd.Timestamp(text) for text in back.occurred_at] == list(events.occurred_at)
    for column in ["actor", "roles", "action", "target", "details"]:
        assert list(back[column]) == list(events[column])
    assert [json.loads(text) for text in back.details][1]["amount"] == "20.00"
