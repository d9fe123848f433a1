"""E-mail out and back, with real servers on loopback: a customer's mail (dovecot) becomes a ticket, the agent's
reply goes through the outbox to an SMTP server (aiosmtpd) and is read back there (to, subject with the ticket's
reference, text, threading headers), and the customer's answer to it lands on the same ticket. The first reply is
the first response; pending and resolved tickets open again on the customer's answer, a closed one gets a
follow-up, an out-of-office changes nothing; a reference from a stranger opens a ticket of its own; a reply is
queued once per submission, audited, refused without an address or permission, and waits in the outbox when the
SMTP server cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select, update

from data_access.actions import ticket_mail
from data_access.actions.tickets import change_status, create_ticket, resolve
from data_access.audit import AgentReplyQueued, CustomerReplyAdded, parse_event
from data_access.db import read_session, transaction
from data_access.errors import InvalidAction
from data_access.mail import outbox
from data_access.models import AuditEvent, OutboxMessage, Ticket, TicketMessage
from data_access.permissions import PermissionDenied
from data_access.queries.ticket_messages import conversation, reply_target
from tests.support import factories
from tests.support.actors import ADMIN, BILLING, HELPDESK, SALES
from tests.support.cli import cli
from tests.support.imap import ImapServer, customer_mail, dovecot_server
from tests.support.mail import MailServer, closed_port, smtp_server

DESK = "Northwind Support <support@partner.example>"
ANN = "Ann Payable <ap@contoso.example>"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[ImapServer]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def mailbox(database: str, dovecot: ImapServer, monkeypatch: pytest.MonkeyPatch) -> ImapServer:
    dovecot.clear()
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", dovecot.url())
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certificate.cert))
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", DESK)
    factories.customer("C-CONTOSO", name="Contoso", domain="contoso.example",
                       billing_contact_email="ap@contoso.example")  # fmt: skip
    return dovecot


@pytest.fixture
def smtp(mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        yield server


def ticket_row(external_id: str) -> Ticket:
    with read_session() as session:
        return session.scalars(select(Ticket).where(Ticket.external_id == external_id)).one()


def only_ticket() -> Ticket:
    with read_session() as session:
        return session.scalars(select(Ticket)).one()


def thread(ticket: Ticket) -> list[tuple[str, str]]:
    with read_session() as session:
        rows = session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
        )
        return [(m.direction, m.body) for m in rows]


def answer(received: EmailMessage, text: str, *, sender: str = ANN, threaded: bool = True) -> EmailMessage:
    """The customer's mail program answering the desk's e-mail: "Re:" subject, quoting headers when threaded."""
    message = customer_mail(
        sender=sender,
        to=str(received["Reply-To"] or received["From"]),
        subject=f"Re: {received['Subject']}",
        text=text,
        message_id=make_msgid(domain="contoso.example"),
        in_reply_to=str(received["Message-ID"]) if threaded else None,
    )
    return message


def test_round_trip_mail_ticket_reply_and_the_customers_answer(mailbox: ImapServer, smtp: MailServer) -> None:
    first = customer_mail(sender=ANN, subject="Invoice INV-1001 charged twice",
                          text="Hello,\nINV-1001 was charged twice.\n")  # fmt: skip
    mailbox.deliver(first)
    assert ticket_mail.fetch_mail(HELPDESK).tickets == 1
    ticket = only_ticket()
    assert ticket.first_response_at is None and ticket.customer_id is not None

    sent = ticket_mail.send_reply(HELPDESK, ticket_id=ticket.external_id,
                                  text="Dear Ann,\nwe have refunded the second charge.", pending_customer=True)  # fmt: skip

    assert sent.state.status == "sent", sent.sentence()
    [received] = smtp.received
    assert received.recipients == ("ap@contoso.example",)
    assert received.email["To"] == "ap@contoso.example"
    assert received.email["Subject"] == f"Re: Invoice INV-1001 charged twice [{ticket.external_id}]"
    assert received.email["From"] == DESK
    assert received.email["Reply-To"] == "support@partner.example"
    assert received.email["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in str(received.email["References"])
    assert received.email["Auto-Submitted"] == "no"
    assert received.text.startswith("Dear Ann,\nwe have refunded the second charge.\n")
    assert "> INV-1001 was charged twice." in received.text  # the customer's words quoted below
    replied = ticket_row(ticket.external_id)
    assert replied.status == "pending customer"
    assert replied.first_response_at is not None and replied.first_response_at >= replied.created_at
    with read_session() as session:
        queued = session.scalars(select(OutboxMessage)).one()
    assert (queued.kind, queued.ticket_id, queued.customer_id, queued.message_id) == (
        "ticket_reply", ticket.id, ticket.customer_id, received.email["Message-ID"]
    )  # fmt: skip

    mailbox.deliver(answer(received.email, "Thanks, I see the refund.\n"))
    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.replies) == (0, 1)
    assert ticket_row(ticket.external_id).status == "open"  # the customer answered: open again
    assert thread(ticket) == [
        ("in", "Hello,\nINV-1001 was charged twice."),
        ("out", "Dear Ann,\nwe have refunded the second charge."),
        ("in", "Thanks, I see the refund."),
    ]
    shown = conversation(SALES, ticket_id=ticket.external_id)
    assert [(m.direction, m.delivery_status) for m in shown] == [("in", None), ("out", "sent"), ("in", None)]
    assert shown[1].delivery is not None and shown[1].delivery.startswith("sent ")


def test_the_first_reply_is_the_first_response_once(mailbox: ImapServer, smtp: MailServer) -> None:
    mailbox.deliver(customer_mail())
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    at = ticket.created_at + timedelta(minutes=30)
    ticket_mail.reply(HELPDESK, ticket_id=ticket.external_id, text="First.", now=at)
    ticket_mail.reply(BILLING, ticket_id=ticket.external_id, text="Second.", now=at + timedelta(hours=1))

    after = ticket_row(ticket.external_id)
    assert (after.first_response_at, after.status) == (at, "open")
    with read_session() as session:
        events = [
            parse_event(e.permission, e.details)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.permission == "ticket.update"))
        ]
    replies = [e for e in events if isinstance(e, AgentReplyQueued)]
    assert [(e.first_response_at, e.status_before, e.status_after) for e in replies] == [
        (at, "new", "open"), (None, "open", "open")
    ]  # fmt: skip
    assert outbox.deliver_due().sent == 2
    subjects = [r.email["Subject"] for r in smtp.received]
    assert subjects == [f"Re: Question about invoice INV-1001 [{ticket.external_id}]"] * 2


def test_a_subject_reference_adds_the_mail_when_the_sender_takes_part(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender=ANN, subject="Where is my credit note?"))
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    reference = f"[{ticket.external_id}]"
    mailbox.deliver(customer_mail(sender="colleague@contoso.example", subject=f"More on {reference}"))
    mailbox.deliver(customer_mail(sender="mallory@evil.example", subject=f"Re: {reference} hello"))

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.replies) == (1, 1)
    assert [direction for direction, _ in thread(ticket)] == ["in", "in"]
    with read_session() as session:
        stranger = session.scalars(select(Ticket).where(Ticket.id != ticket.id)).one()
        note = session.scalar(select(TicketMessage.notes).where(TicketMessage.ticket_id == stranger.id))
    assert stranger.customer_id is None
    assert note is not None and f"names {ticket.external_id}, but its sender has no part" in note


def test_a_resolved_ticket_opens_again_and_a_closed_one_gets_a_follow_up(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender=ANN, subject="Refund"))
    mailbox.deliver(customer_mail(sender=ANN, subject="Seats"))
    ticket_mail.fetch_mail(HELPDESK)
    with read_session() as session:
        refund, seats = session.scalars(select(Ticket).order_by(Ticket.id)).all()
    resolve(HELPDESK, ticket_id=refund.external_id)
    resolve(HELPDESK, ticket_id=seats.external_id)
    change_status(HELPDESK, ticket_id=seats.external_id, status="closed")
    mailbox.deliver(
        customer_mail(sender=ANN, subject=f"Re: Refund [{refund.external_id}]", text="Not yet.\n")
    )
    mailbox.deliver(customer_mail(sender=ANN, subject=f"Re: Seats [{seats.external_id}]", text="Again.\n"))

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.replies) == (1, 1)
    reopened = ticket_row(refund.external_id)
    assert (reopened.status, reopened.resolved_at) == ("open", None)
    assert ticket_row(seats.external_id).status == "closed"
    with read_session() as session:
        follow_up = session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(1)).one()
        note = session.scalar(select(TicketMessage.notes).where(TicketMessage.ticket_id == follow_up.id))
        added = [
            parse_event(e.permission, e.details)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.target == f"ticket:{refund.external_id}")
            )
        ]
    assert follow_up.customer_id == seats.customer_id and follow_up.description == "Again."
    assert note == f"It answers {seats.external_id}, which is closed, so it opened this ticket."
    assert [(e.status_before, e.status_after) for e in added if isinstance(e, CustomerReplyAdded)] == [
        ("resolved", "open")
    ]


def test_an_out_of_office_reply_changes_nothing(mailbox: ImapServer, smtp: MailServer) -> None:
    mailbox.deliver(customer_mail(sender=ANN))
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    ticket_mail.send_reply(HELPDESK, ticket_id=ticket.external_id, text="Done.", pending_customer=True)
    away = answer(smtp.received[0].email, "I am out of the office until Monday.\n")
    away["Auto-Submitted"] = "auto-replied"
    mailbox.deliver(away)

    assert ticket_mail.fetch_mail(HELPDESK).replies == 1
    assert ticket_row(ticket.external_id).status == "pending customer"
    assert len(thread(ticket)) == 3


def test_a_reply_goes_to_the_billing_contact_on_a_ticket_no_mail_started(smtp: MailServer) -> None:
    created = create_ticket(HELPDESK, customer_id="C-CONTOSO", title="Called about seats", description="",
                            category="subscription change", severity="moderate", channel="phone")  # fmt: skip
    assert reply_target(HELPDESK, ticket_id=created) == "ap@contoso.example"
    ticket_mail.send_reply(HELPDESK, ticket_id=created, text="As discussed on the phone.")
    [received] = smtp.received
    assert received.email["Subject"] == f"Called about seats [{created}]"
    assert received.email["In-Reply-To"] is None and received.email["Reply-To"] is None


@pytest.mark.parametrize(
    ("reply_to", "kept", "goes_to"),
    [
        pytest.param(
            b"Accounts <ap@contoso.example>", "ap@contoso.example", "ap@contoso.example", id="plain"
        ),
        pytest.param(
            b"=?utf-8?q?x=0D=0ABcc:_v2@evil.example?= <ap@contoso.example>",
            "ap@contoso.example",
            "ap@contoso.example",
            id="encoded-line-break-in-the-name",
        ),
        pytest.param(
            b"=?utf-8?q?Bcc:_v2@evil.example?= <ap@contoso.example>",
            "ap@contoso.example",
            "ap@contoso.example",
            id="address-in-the-encoded-name",
        ),
        pytest.param(b"_v2@evil.example?=", None, "ann.p@contoso.example", id="not-an-address"),
        pytest.param(
            b"v2@evil.example?= <ap@contoso.example>", None, "ann.p@contoso.example", id="malformed"
        ),
    ],
)
def test_a_reply_goes_to_the_reply_to_address_in_angle_brackets_else_to_the_sender(
    mailbox: ImapServer, smtp: MailServer, reply_to: bytes, kept: str | None, goes_to: str
) -> None:
    mailbox.deliver(
        b"From: Ann Payable <ann.p@contoso.example>\r\n"
        b"To: Support <support@partner.example>\r\n"
        b"Reply-To: " + reply_to + b"\r\n"
        b"Subject: Invoice INV-1001 charged twice\r\n"
        b"Message-ID: <reply-to@contoso.example>\r\n"
        b"\r\n"
        b"INV-1001 was charged twice.\r\n"
    )
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    with read_session() as session:
        stored = session.scalars(select(TicketMessage)).one()
    assert (stored.sender, stored.reply_to) == ("Ann Payable <ann.p@contoso.example>", kept)
    assert reply_target(HELPDESK, ticket_id=ticket.external_id) == goes_to
    sent = ticket_mail.send_reply(HELPDESK, ticket_id=ticket.external_id, text="Refunded.")
    assert sent.state.status == "sent", sent.sentence()
    [received] = smtp.received
    assert (received.recipients, received.email["To"]) == ((goes_to,), goes_to)


def test_a_reply_to_address_stored_before_it_was_checked_is_passed_over(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender="Ann Payable <ann.p@contoso.example>"))
    ticket_mail.fetch_mail(HELPDESK)
    with transaction() as session:
        session.execute(update(TicketMessage).values(reply_to="_v2@evil.example?="))
    assert reply_target(HELPDESK, ticket_id=only_ticket().external_id) == "ann.p@contoso.example"


def test_a_reply_is_refused_without_an_address_a_text_or_the_permission(mailbox: ImapServer) -> None:
    factories.customer("C-NOMAIL", name="No Mail")
    created = create_ticket(HELPDESK, customer_id="C-NOMAIL", title="Phone only", description="",
                            category="other", severity="minimal", channel="phone")  # fmt: skip
    with pytest.raises(InvalidAction, match="no e-mail address to reply to"):
        ticket_mail.reply(HELPDESK, ticket_id=created, text="Hello")
    mailbox.deliver(customer_mail())
    ticket_mail.fetch_mail(HELPDESK)
    emailed = ticket_row(next(t for t in _external_ids() if t != created))
    with pytest.raises(InvalidAction, match="Write the reply"):
        ticket_mail.reply(HELPDESK, ticket_id=emailed.external_id, text="  \n ")
    with pytest.raises(PermissionDenied, match=r"ticket\.update"):
        ticket_mail.reply(SALES, ticket_id=emailed.external_id, text="Hello")
    resolve(HELPDESK, ticket_id=emailed.external_id)
    change_status(HELPDESK, ticket_id=emailed.external_id, status="closed")
    with pytest.raises(InvalidAction, match="is closed; reopen it"):
        ticket_mail.reply(HELPDESK, ticket_id=emailed.external_id, text="Hello")
    with read_session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def _external_ids() -> list[str]:
    with read_session() as session:
        return list(session.scalars(select(Ticket.external_id)))


def test_one_submission_is_queued_once(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail())
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    ticket_mail.reply(HELPDESK, ticket_id=ticket.external_id, text="Once.", submission="form-token-1")
    with pytest.raises(InvalidAction, match="was sent already"):
        ticket_mail.reply(HELPDESK, ticket_id=ticket.external_id, text="Once.", submission="form-token-1")
    with read_session() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1
    assert [d for d, _ in thread(ticket)] == ["in", "out"]


def test_an_unreachable_smtp_server_leaves_the_reply_queued_and_mail_send_delivers_it_later(
    database: str, mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.deliver(customer_mail())
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://127.0.0.1:{closed_port()}")

    waiting = ticket_mail.send_reply(HELPDESK, ticket_id=ticket.external_id, text="Soon.")

    assert waiting.state.status == "queued" and "not delivered yet" in waiting.sentence()
    [shown] = [m for m in conversation(HELPDESK, ticket_id=ticket.external_id) if m.direction == "out"]
    assert shown.delivery_status == "queued" and shown.delivery is not None and "next try" in shown.delivery
    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        with transaction() as session:  # the retry's time has come
            session.execute(
                update(OutboxMessage).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        sent = cli("mail", "send", database_url=database)
        assert (sent.returncode, sent.stdout, sent.stderr) == (0, "Outbox: 1 sent.\n", "")
        assert [r.email["Subject"] for r in server.received] == [
            f"Re: Question about invoice INV-1001 [{ticket.external_id}]"
        ]


def test_a_triage_ticket_is_given_its_customer(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender="someone@elsewhere.example"))
    ticket_mail.fetch_mail(HELPDESK)
    ticket = only_ticket()
    assert ticket.customer_id is None
    ticket_mail.set_customer(HELPDESK, ticket_id=ticket.external_id, customer_id="C-CONTOSO")
    with pytest.raises(InvalidAction, match="already the ticket of Contoso"):
        ticket_mail.set_customer(ADMIN, ticket_id=ticket.external_id, customer_id="C-CONTOSO")
    assert only_ticket().customer_id is not None
