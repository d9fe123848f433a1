"""The escalations page under AppTest: the board and table show `escalations.board`, a helpdesk agent escalates a
ticket through the form, and a sales agent has no such page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.db import read_session
from data_access.demo import seed_demo
from data_access.models import AuditEvent, Escalation, Ticket
from data_access.queries import escalations
from tests.support.actors import HELPDESK
from tests.support.pages import open_page, signed_in

PAGE = "app_pages/escalations.py"
TODAY = clock.today()


@pytest.fixture
def demo(database: str) -> str:
    seed_demo(customers=40, seed=3, today=TODAY)
    return database


def page(username: str = "helpdesk") -> AppTest:
    app = open_page(PAGE, username)
    assert [title.value for title in app.title] == ["Escalations"]
    return app


def test_the_board_and_table_show_every_escalation(demo: str) -> None:
    app = page()
    expected = escalations.board(HELPDESK, now=datetime.now(UTC))
    assert not expected.empty
    table = app.dataframe[0].value
    assert sorted(table.case_number) == sorted(expected.case_number)
    headers = [m.value for m in app.markdown if m.value.startswith("**") and " · " in m.value]
    for status in escalations.STATUSES:
        count = int((expected.status == status).sum())
        assert f"**{status.capitalize()}** · {count}" in headers
    waiting = int(expected.waiting_on_partner.sum())
    shown = min(waiting, 8)
    assert len([w for w in app.warning if "in status" in w.value]) == shown


def test_filters_narrow_the_board(demo: str) -> None:
    app = page()
    app.selectbox(key="escalations_filter_vehicle").select("Commercial")
    app.run()
    assert not app.exception, app.exception
    assert set(app.dataframe[0].value.vehicle) == {"Commercial"}
    customer = str(app.dataframe[0].value.customer_id.iloc[0])
    app.selectbox(key="escalations_filter_customer").select(customer)
    app.run()
    assert set(app.dataframe[0].value.customer_id) == {customer}


def test_a_helpdesk_agent_escalates_a_ticket_commercially(demo: str) -> None:
    with read_session() as session:
        ticket_id = session.scalar(
            select(Ticket.external_id)
            .where(Ticket.status.in_(["new", "open", "pending customer"]))
            .order_by(Ticket.id)
            .limit(1)
        )
    assert ticket_id is not None
    app = page()
    app.text_input(key="escalations_ticket").input(ticket_id)
    app.text_input(key="escalations_case_number").input("TEST-CASE-0001")
    app.text_area(key="escalations_notes").input("Customer billed twice for the same seats.")
    app.button(key="escalations_escalate_submit").click()
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert any("TEST-CASE-0001" in s.value for s in app.success)
    assert "TEST-CASE-0001" in set(app.dataframe[0].value.case_number)
    with read_session() as session:
        found = session.scalar(select(Escalation).where(Escalation.microsoft_case_number == "TEST-CASE-0001"))
        ticket_status = session.scalar(select(Ticket.status).where(Ticket.external_id == ticket_id))
        event = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert found is not None and (found.kind, found.vehicle, found.created_by) == (
        "commercial",
        None,
        "helpdesk",
    )
    assert ticket_status == "escalated"
    assert event is not None and (event.permission, event.target) == (
        "ticket.escalate",
        f"ticket:{ticket_id}",
    )


def test_a_refusal_is_shown_and_nothing_is_written(demo: str) -> None:
    app = page()
    app.text_input(key="escalations_ticket").input("NO-SUCH-TICKET")
    app.text_input(key="escalations_case_number").input("TEST-CASE-0002")
    app.button(key="escalations_escalate_submit").click()
    app.run()
    assert [e.value for e in app.error] == ["There is no ticket with id 'NO-SUCH-TICKET'."]
    with read_session() as session:
        assert (
            session.scalar(select(Escalation).where(Escalation.microsoft_case_number == "TEST-CASE-0002"))
            is None
        )


def test_a_helpdesk_agent_updates_a_status(demo: str) -> None:
    app = page()
    picked = app.selectbox(key="escalations_update_pick").value
    assert picked is not None
    escalation_id = int(picked)
    with read_session() as session:
        before = session.get_one(Escalation, escalation_id).status
    target = "resolved" if before != "resolved" else "closed"
    app.selectbox(key="escalations_update_status").select(target)
    app.button(key="escalations_update_submit").click()
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    with read_session() as session:
        assert session.get_one(Escalation, escalation_id).status == target


def test_an_empty_database_shows_the_empty_state(database: str) -> None:
    app = page()
    assert [i.value for i in app.info] == ["No ticket has been escalated to Microsoft yet."]
    assert not app.dataframe


def test_a_sales_agent_has_no_escalations_page(demo: str) -> None:
    app = signed_in("sales")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
