"""The Tickets page under AppTest: a ticket escalated from itself, a second open case only with the confirmation
ticked, resolving and closing a ticket with an open case answered on the page, and severity in colour."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access.db import read_session
from data_access.enums import SupportVehicle
from data_access.models import Escalation, Ticket
from data_access.rules.sla import WEEKDAYS
from tests.support import factories
from tests.support.pages import open_page

PAGE = "app_pages/tickets.py"


@pytest.fixture
def db(database: str) -> str:
    around_the_clock = {day: ["00:00", "24:00"] for day in WEEKDAYS}
    factories.support_offering(business_hours=around_the_clock, entitlements=[SupportVehicle.ADVANCED.value])
    factories.customer("C-001", name="Contoso")
    factories.ticket("C-001", "T-1", title="Seats billed twice", severity="critical", category="technical",
                     created_at=datetime.now(UTC) - timedelta(hours=3))  # fmt: skip
    return database


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def ticket_page(username: str = "helpdesk") -> AppTest:
    app = open_page(PAGE, username)
    app.selectbox(key="tickets_picked").set_value("T-1")
    return run(app)


def escalate(app: AppTest, case_number: str, *, confirm: bool = False) -> AppTest:
    app.selectbox(key="tickets_escalate_kind").set_value("technical")
    app.selectbox(key="tickets_escalate_vehicle").set_value(SupportVehicle.ADVANCED.value)
    app.text_input(key="tickets_escalate_case").set_value(case_number)
    if confirm:
        app.checkbox(key="tickets_escalate_confirm").check()
    app.button(key="tickets_escalate_submit").click()
    return run(app)


def cases() -> dict[str, str]:
    with read_session() as session:
        return {e.microsoft_case_number: e.status for e in session.scalars(select(Escalation))}


def ticket_status() -> str | None:
    with read_session() as session:
        return session.scalar(select(Ticket.status).where(Ticket.external_id == "T-1"))


def test_escalating_from_the_ticket_and_a_second_case_only_when_confirmed(db: str) -> None:
    app = ticket_page()
    assert "Not escalated to Microsoft." in [c.value for c in app.caption]
    assert app.selectbox(key="tickets_escalate_severity").value == "critical"  # the ticket's own severity
    app = escalate(app, "MS-100")
    assert "Ticket T-1 escalated to Microsoft as case MS-100." in [s.value for s in app.success]
    assert cases() == {"MS-100": "submitted"} and ticket_status() == "escalated"
    assert any("MS-100" in m.value and ":red-badge[critical]" in m.value for m in app.markdown)

    app = escalate(app, "MS-200")
    assert [e.value for e in app.error] == [
        "Ticket T-1 already has an open escalation to Microsoft (case MS-100, submitted); confirm that case "
        "MS-200 is a second case before escalating again."
    ]
    assert cases() == {"MS-100": "submitted"}
    app = escalate(app, "MS-200", confirm=True)
    assert not app.error, [e.value for e in app.error]
    assert cases() == {"MS-100": "submitted", "MS-200": "submitted"}


def test_resolving_with_an_open_case_records_microsofts_answer(db: str) -> None:
    factories.escalation("T-1", "MS-100", status="in progress")
    app = ticket_page()
    app.button(key="tickets_resolve").click()
    run(app)
    assert [e.value for e in app.error] == [
        "Ticket T-1 has an open escalation to Microsoft (case MS-100, in progress); say whether Microsoft's "
        "case is resolved before the ticket is resolved."
    ]
    assert ticket_status() == "open"
    app.radio(key="tickets_microsoft_answer_T-1").set_value("resolved")
    app.button(key="tickets_resolve").click()
    run(app)
    assert "Ticket T-1 resolved. Microsoft's case MS-100 resolved with it." in [s.value for s in app.success]
    assert (ticket_status(), cases()) == ("resolved", {"MS-100": "resolved"})


def test_a_case_kept_open_needs_a_reason_then_closing_asks_again(db: str) -> None:
    factories.escalation("T-1", "MS-100", status="waiting on partner")
    app = ticket_page("billing")
    app.radio(key="tickets_microsoft_answer_T-1").set_value("open")
    app.button(key="tickets_resolve").click()
    run(app)
    assert [e.value for e in app.error] == [
        "Say why Microsoft's case MS-100 stays open: an escalation stays open under a resolved ticket only "
        "with a reason."
    ]
    app.text_input(key="tickets_microsoft_reason_T-1").set_value("Microsoft credits it next month")
    app.button(key="tickets_resolve").click()
    run(app)
    assert "Ticket T-1 resolved. Microsoft's case MS-100 stays open." in [s.value for s in app.success]
    assert (ticket_status(), cases()) == ("resolved", {"MS-100": "waiting on partner"})
    assert any(
        "kept open when ticket T-1 was resolved: Microsoft credits it next month" in t.value for t in app.text
    )

    app.radio(key="tickets_microsoft_answer_T-1").set_value("resolved")
    app.selectbox(key="tickets_new_status").set_value("closed")
    app.button(key="tickets_status_submit").click()
    run(app)
    assert "Ticket T-1 is now closed. Microsoft's case MS-100 resolved with it." in [
        s.value for s in app.success
    ]
    assert (ticket_status(), cases()) == ("closed", {"MS-100": "resolved"})
    assert not [
        r for r in app.radio if r.key == "tickets_microsoft_answer_T-1"
    ]  # nothing left open to ask about


def test_severity_in_colour_on_the_ticket_and_the_backlog_chart(db: str) -> None:
    factories.ticket("C-001", "T-2", severity="minimal", created_at=datetime.now(UTC) - timedelta(hours=1))
    factories.ticket("C-001", "T-3", severity="moderate", created_at=datetime.now(UTC) - timedelta(hours=2))
    app = ticket_page()
    assert any(":red-badge[critical]" in m.value for m in app.markdown)
    backlog = next(c for c in app.get("plotly_chart") if "tickets_backlog_chart" in c.proto.id)
    bars = {trace["name"]: trace["marker"]["color"] for trace in json.loads(backlog.proto.spec)["data"]}
    assert bars == {"critical": "#C50F1F", "moderate": "#EAA300", "minimal": "#8A8886"}
    assert list(bars) == ["critical", "moderate", "minimal"]


def test_a_sales_agent_sees_no_escalations_on_the_ticket(db: str) -> None:
    factories.escalation("T-1", "MS-100")
    app = ticket_page("sales")
    assert not [b for b in app.button if b.key == "tickets_escalate_submit"]
    assert not any("MS-100" in m.value for m in app.markdown)
