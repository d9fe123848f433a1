"""The tickets page under AppTest: it renders over the demo data, a helpdesk agent creates and acts on a ticket,
a sales agent only reads, and an empty database says so."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.db import read_session
from data_access.demo import seed_demo
from data_access.models import AuditEvent, Customer, Ticket
from tests.support.pages import open_page

PAGE = "app_pages/tickets.py"


@pytest.fixture
def demo(database: str) -> str:
    seed_demo(customers=40, seed=3, today=clock.today())
    return database


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    return app


def test_renders_the_demo_tickets(demo: str) -> None:
    app = open_page(PAGE, "helpdesk")
    assert [title.value for title in app.title] == ["Tickets"]
    assert not app.error, [e.value for e in app.error]
    labels = [metric.label for metric in app.metric]
    assert labels[:3] == ["Open backlog", "Breaching SLA", "At risk"]
    assert len(app.dataframe) == 1
    assert {"first_response_due", "resolution_state"} <= set(app.dataframe[0].value.columns)
    app.selectbox(key="tickets_status").set_value("Open (not resolved or closed)")
    run(app)
    assert set(app.dataframe[0].value.status) <= {"new", "open", "pending customer", "escalated"}


def test_helpdesk_agent_creates_a_ticket_and_resolves_it(demo: str) -> None:
    app = open_page(PAGE, "helpdesk")
    with read_session() as session:
        customer = session.scalar(select(Ticket.customer_id).limit(1))
        external = session.scalar(select(Customer.external_id).where(Customer.id == customer))
    app.text_input(key="tickets_new_customer").set_value(str(external))
    app.text_input(key="tickets_new_title").set_value("Please resend invoice")
    app.selectbox(key="tickets_new_category").set_value("billing question")
    app.button(key="tickets_new_submit").click()
    run(app)
    created = [s.value for s in app.success]
    assert len(created) == 1 and created[0].startswith("Ticket TCK-"), created
    ticket_id = created[0].split()[1]
    with read_session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.external_id == ticket_id))
        assert ticket is not None and ticket.title == "Please resend invoice" and ticket.status == "new"
    app.selectbox(key="tickets_picked").set_value(ticket_id)
    run(app)
    assert app.get("page_link"), "billing questions link to the customer's invoices"
    app.button(key="tickets_resolve").click()
    run(app)
    assert f"Ticket {ticket_id} resolved." in [s.value for s in app.success]
    with read_session() as session:
        assert session.scalar(select(Ticket.status).where(Ticket.external_id == ticket_id)) == "resolved"
        targets = list(
            session.scalars(select(AuditEvent.target).where(AuditEvent.target == f"ticket:{ticket_id}"))
        )
    assert len(targets) == 2


def test_bad_customer_is_refused_on_the_page(demo: str) -> None:
    app = open_page(PAGE, "billing")
    app.text_input(key="tickets_new_customer").set_value("NOPE-1")
    app.text_input(key="tickets_new_title").set_value("Anything")
    app.button(key="tickets_new_submit").click()
    app.run()
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == ["There is no customer with id 'NOPE-1'."]


def test_sales_agent_reads_without_acting(demo: str) -> None:
    app = open_page(PAGE, "sales")
    assert [title.value for title in app.title] == ["Tickets"]
    keys = {w.key for w in app.text_input} | {w.key for w in app.button}
    assert "tickets_new_title" not in keys and "tickets_new_submit" not in keys
    assert len(app.dataframe) == 1
    first = app.dataframe[0].value.ticket_id.iloc[0]
    app.selectbox(key="tickets_picked").set_value(first)
    run(app)
    assert not [b for b in app.button if b.key in ("tickets_resolve", "tickets_reopen", "tickets_respond")]


def test_empty_database(database: str) -> None:
    app = open_page(PAGE, "helpdesk")
    assert [title.value for title in app.title] == ["Tickets"]
    assert "No tickets yet." in [i.value for i in app.info]
