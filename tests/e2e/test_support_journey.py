"""The support journey in a real browser against a real server: a helpdesk agent opens a ticket, escalates it as
technical through an entitled support vehicle, and the Overview's escalation chart counts it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from data_access.queries import escalations
from data_access.queries.overview import escalations_by_status
from tests.e2e.helpers import (
    open_expander,
    pick_in,
    read,
    screenshots,
    settle,
    sign_in,
    ticket_by_title,
    ticket_status,
    wait_for_heading,
    wait_for_session_cookie,
)
from tests.support.actors import HELPDESK
from tests.support.servers import Server

pytestmark = pytest.mark.browser

CHART_TITLE = "Escalations to Microsoft by status and support vehicle"
shot = screenshots("support")


def a_customer(server: Server) -> tuple[str, str]:
    def query() -> tuple[str, str]:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import Customer

        with read_session() as session:
            row = session.execute(
                select(Customer.external_id, Customer.name).order_by(Customer.id).limit(1)
            ).one()
            return str(row.external_id), str(row.name)

    return read(server, query)


def submitted_through(server: Server, vehicle: str) -> int:
    """The count escalations_by_status gives for (status "submitted", the vehicle): what the chart draws."""
    frame = read(server, lambda: escalations_by_status(HELPDESK))
    match = frame[(frame.status == "submitted") & (frame.vehicle == vehicle)]
    return int(match.escalations.sum())


def chart_bar(page: Any, title: str, status: str, vehicle: str) -> float | None:
    """The height of the bar for (status, vehicle) in the Vega-Lite chart titled `title`, read from the marks'
    descriptions (Vega draws SVG and labels each bar "Status: ...; Vehicle: ...; Escalations: n"); None if the
    chart has no such bar."""
    return page.evaluate(
        """([title, status, vehicle]) => {
            for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
                const texts = Array.from(chart.querySelectorAll('text')).map(t => t.textContent);
                if (!texts.includes(title)) continue;
                for (const mark of chart.querySelectorAll('path[aria-label]')) {
                    const fields = Object.fromEntries(mark.getAttribute('aria-label').split('; ')
                        .map(pair => [pair.slice(0, pair.indexOf(': ')), pair.slice(pair.indexOf(': ') + 2)]));
                    if (fields.status === status && fields.vehicle === vehicle) return Number(fields.escalations);
                }
                return null;
            }
            throw new Error('no chart titled ' + title);
        }""",
        [title, status, vehicle],
    )


def test_helpdesk_opens_a_ticket_escalates_it_technically_and_the_overview_counts_it(
    server: Server, page: Any
) -> None:
    customer_id, customer_name = a_customer(server)
    vehicles = read(server, lambda: escalations.available_vehicles(HELPDESK))
    assert vehicles, "the demo support offering lists no technical support vehicle"
    vehicle = vehicles[0]
    unique = uuid.uuid4().hex[:10]
    title = f"Support journey {unique}: Teams calls drop after five minutes"
    case_number = f"SJ-{unique}"

    # The helpdesk agent opens a ticket for a demo customer.
    page.goto(f"{server.url}/tickets")
    sign_in(page, "helpdesk", "helpdesk-demo")
    wait_for_heading(page, "Tickets")
    wait_for_session_cookie(page)
    settle(page)
    open_expander(page, "New ticket", "Create ticket")
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Create ticket"))
    form.get_by_role("textbox", name="Customer ID").fill(customer_id)
    form.get_by_role("textbox", name="Title").fill(title)
    form.get_by_role("textbox", name="Description").fill("Opened by the support journey browser test.")
    pick_in(form, page, "Category", "technical")
    shot(page, "1-new-ticket")
    form.get_by_role("button", name="Create ticket").click()
    created = page.locator('[data-testid="stAlert"]').filter(has_text="created.")
    created.first.wait_for()
    settle(page)
    shot(page, "2-ticket-created")
    tickets = ticket_by_title(server, title)
    assert len(tickets) == 1, tickets
    ticket_id, owner, status = tickets[0]
    assert owner == customer_id and status not in ("escalated", "resolved", "closed"), tickets
    assert created.first.inner_text().strip() == f"Ticket {ticket_id} created."

    # What the Overview's chart counts for (submitted, the vehicle) before the escalation.
    before = submitted_through(server, vehicle)

    # The agent escalates it to Microsoft as technical, through an entitled support vehicle.
    page.goto(f"{server.url}/escalations")
    wait_for_heading(page, "Escalations")
    settle(page)
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Escalate"))
    form.get_by_role("textbox", name="Ticket ID").fill(ticket_id)
    form.get_by_role("textbox", name="Microsoft case number").fill(case_number)
    pick_in(form, page, "Kind", "Technical")
    pick_in(form, page, "Support vehicle", vehicle)
    pick_in(form, page, "Severity", "critical")
    form.get_by_role("textbox", name="Notes").fill("Escalated by the support journey browser test.")
    shot(page, "3-escalate-form")
    form.get_by_role("button", name="Escalate", exact=True).click()
    page.locator('[data-testid="stAlert"]').filter(
        has_text=f"Ticket {ticket_id} escalated to Microsoft as case {case_number}."
    ).first.wait_for()
    settle(page)
    shot(page, "4-escalated")
    board = read(server, lambda: escalations.board(HELPDESK, now=datetime.now(UTC)))
    ours = board[board.case_number == case_number]
    assert len(ours) == 1, ours
    row = ours.iloc[0]
    assert (row.ticket, row.customer_id, row.kind, row.vehicle, row.severity, row.status) == (
        ticket_id,
        customer_id,
        "technical",
        vehicle,
        "critical",
        "submitted",
    ), row
    assert row.customer == customer_name
    assert ticket_status(server, ticket_id) == "escalated"
    assert submitted_through(server, vehicle) == before + 1

    # The Overview's escalation chart counts it.
    page.goto(f"{server.url}/overview")  # a helpdesk agent starts on Tickets
    wait_for_heading(page, "Overview")
    page.get_by_text(CHART_TITLE).first.wait_for()
    settle(page)
    page.get_by_text(CHART_TITLE).first.scroll_into_view_if_needed()
    shot(page, "5-overview-chart")
    assert chart_bar(page, CHART_TITLE, "submitted", vehicle) == before + 1
