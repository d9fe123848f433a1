"""The Tickets page shows a ticket's e-mail conversation in order, as plain text, with attachments to download; a
helpdesk agent replies from it (written to the outbox folder here, no SMTP server: the page says so and shows the
reply's delivery state) and the first reply records the first response; a ticket from an unknown sender is
listed for triage and given its customer; a sales agent reads the conversation and cannot reply."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access.actions.ticket_mail import take
from data_access.db import read_session
from data_access.mail.inbox import read_message
from data_access.models import OutboxMessage, Ticket, TicketMessage
from data_access.queries.tickets import UNKNOWN_SENDER
from tests.support import factories
from tests.support.actors import ADMIN
from tests.support.pages import open_page

PAGE = "app_pages/tickets.py"


def incoming(sender: str, subject: str, text: str, *, attachment: bytes | None = None) -> str:
    """A customer's e-mail taken as the fetch takes it (no IMAP server needed here); returns its ticket id."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@partner.example", subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    message.set_content(text)
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename="remittance.pdf")
    assert take(ADMIN, read_message(bytes(message))) == "ticket"
    with read_session() as session:
        return str(session.scalars(select(Ticket.external_id).order_by(Ticket.id.desc()).limit(1)).one())


@pytest.fixture
def desk(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", "Northwind Support <support@partner.example>")
    factories.customer("C-CONTOSO", name="Contoso", domain="contoso.example",
                       billing_contact_email="ap@contoso.example")  # fmt: skip
    return database


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> list[str]:
    return [element.value for element in app.text]


def test_an_agent_reads_the_conversation_and_replies(desk: str, tmp_path: Path) -> None:
    ticket_id = incoming("Ann <ap@contoso.example>", "Refund **please**", "Hello,\nwhere is my *refund*?\n",
                         attachment=b"%PDF-1.4 remittance")  # fmt: skip
    app = open_page(PAGE, "helpdesk")
    app.selectbox(key="tickets_picked").set_value(ticket_id)
    run(app)

    assert "Hello,\nwhere is my *refund*?" in texts(app)  # plain text, never Markdown
    assert [b.label for b in app.get("download_button") if "remittance" in str(b.label)]
    app.text_area(key="tickets_reply_text").set_value("Dear Ann,\nthe refund left today.")
    app.checkbox(key="tickets_reply_pending").check()
    app.button(key="tickets_reply_submit").click()
    run(app)

    said = [w.value for w in app.warning] + [s.value for s in app.success]
    assert any(f"Reply on ticket {ticket_id}" in text and "written to" in text for text in said), said
    with read_session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.external_id == ticket_id)).one()
        queued = session.scalars(select(OutboxMessage)).one()
        replies = session.scalars(select(TicketMessage).where(TicketMessage.direction == "out")).all()
    assert (ticket.status, ticket.first_response_at is not None) == ("pending customer", True)
    assert [r.body for r in replies] == ["Dear Ann,\nthe refund left today."]
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    written = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert (
        written["Subject"] == f"Re: Refund **please** [{ticket_id}]" and written["To"] == "ap@contoso.example"
    )
    assert queued.status == "sent" and queued.delivered_via == "folder"
    app.selectbox(key="tickets_picked").set_value(ticket_id)
    run(app)
    shown = texts(app)
    assert shown.index("Hello,\nwhere is my *refund*?") < shown.index("Dear Ann,\nthe refund left today.")
    assert any("written to the outbox folder" in str(c.value) for c in app.caption)


def test_an_unknown_sender_is_listed_for_triage_and_given_a_customer(desk: str) -> None:
    ticket_id = incoming("stranger@nowhere.example", "Who pays?", "Please call me.\n")
    app = open_page(PAGE, "helpdesk")
    listed = app.dataframe[0].value
    assert listed[listed.ticket_id == ticket_id].customer_name.tolist() == [UNKNOWN_SENDER]
    app.selectbox(key="tickets_picked").set_value(ticket_id)
    run(app)
    app.text_input(key="tickets_triage_customer").set_value("C-CONTOSO")
    app.button(key="tickets_triage_submit").click()
    run(app)
    assert f"Ticket {ticket_id} is now the ticket of customer C-CONTOSO." in [s.value for s in app.success]
    listed = app.dataframe[0].value
    assert listed[listed.ticket_id == ticket_id].customer_name.tolist() == ["Contoso"]


def test_a_sales_agent_reads_the_conversation_without_a_reply_box(desk: str) -> None:
    ticket_id = incoming("ap@contoso.example", "Seats", "Two more seats, please.\n")
    app = open_page(PAGE, "sales")
    app.selectbox(key="tickets_picked").set_value(ticket_id)
    run(app)
    assert "Two more seats, please." in texts(app)
    assert not [t for t in app.text_area if t.key == "tickets_reply_text"]
    assert not [b for b in app.button if b.key == "tickets_reply_submit"]
