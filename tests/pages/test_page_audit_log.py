"""The audit log page under AppTest: a billing admin sees the events and the filters narrow them; an empty log
says so; a sales agent has no such page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.auth import users
from data_access.db import transaction
from data_access.models import AuditEvent
from tests.support import factories, pages
from tests.support.actors import ADMIN
from tests.support.environment import ROOT

PAGE = "app_pages/audit_log.py"
TODAY = clock.today()


def open_page(username: str = "billing") -> AppTest:
    return pages.open_page(PAGE, username)


def some_events() -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=40), cents=100_000)
    factories.payment("C-1", cents=10_000, received_on=TODAY)
    factories.credit_note("INV-1", "CN-1", cents=500, issued_on=TODAY)
    users.add_user(ADMIN, username="newbie", name="New Bie", email="", roles=["Sales agent"])
    with transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.target == "user:newbie")
            .values(occurred_at=datetime(2025, 1, 15, 12, tzinfo=UTC))
        )


def shown_targets(app: AppTest) -> list[str]:
    return list(app.dataframe[0].value.target) if app.dataframe else []


def test_a_billing_admin_sees_every_event_and_the_filters_narrow_them(database: str) -> None:
    some_events()
    app = open_page()
    assert [title.value for title in app.title] == ["Audit log"]
    assert shown_targets(app) == ["invoice:INV-1", "customer:C-1", "user:newbie"]
    table = app.dataframe[0].value
    assert list(table.columns) == ["occurred_at", "actor", "roles", "action", "target", "details"]
    assert '"credit_note": "CN-1"' in table.details.iloc[0]
    assert "Showing 3 of 3 matching events" in app.caption[0].value
    assert app.get("download_button")

    app.selectbox(key="audit_actor").set_value("admin").run()
    assert shown_targets(app) == ["user:newbie"]
    app.selectbox(key="audit_actor").set_value("All").run()
    app.selectbox(key="audit_action").set_value("payment.record").run()
    assert shown_targets(app) == ["customer:C-1"]
    app.selectbox(key="audit_action").set_value("All").run()
    app.text_input(key="audit_customer").input("C-1").run()
    assert shown_targets(app) == ["invoice:INV-1", "customer:C-1"]
    app.text_input(key="audit_customer").input("").run()
    app.date_input(key="audit_to").set_value(datetime(2025, 1, 15).date()).run()
    assert shown_targets(app) == ["user:newbie"]
    app.date_input(key="audit_from").set_value(datetime(2025, 1, 16).date()).run()
    assert "From date is after the To date" in app.error[0].value
    app.date_input(key="audit_to").set_value(None).run()
    assert shown_targets(app) == ["invoice:INV-1", "customer:C-1"]
    app.selectbox(key="audit_limit").set_value(100).run()
    assert "Showing 2 of 2" in app.caption[0].value
    assert not app.exception


def test_the_caption_says_how_many_more_match_than_are_shown(sqlite_database: str) -> None:
    factories.customer("C-1")
    for _ in range(101):
        factories.payment("C-1", cents=100, received_on=TODAY)
    app = open_page()
    app.selectbox(key="audit_limit").set_value(100).run()
    assert len(app.dataframe[0].value) == 100
    assert "Showing 100 of 101 matching events" in app.caption[0].value
    assert "the other 1" in app.caption[0].value


def test_an_empty_log_and_filters_matching_nothing_say_so(sqlite_database: str) -> None:
    app = open_page()
    assert "No audit events yet" in app.info[0].value
    assert not app.dataframe
    some_events()
    st.cache_data.clear()
    app = open_page()
    app.text_input(key="audit_customer").input("C-404").run()
    assert "No audit events match these filters" in app.info[0].value
    assert not app.dataframe


@pytest.mark.parametrize("username", ["sales", "helpdesk", "usermgr"])
def test_the_page_is_not_in_the_navigation_of_those_who_may_not_read_the_log(
    sqlite_database: str, username: str
) -> None:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
