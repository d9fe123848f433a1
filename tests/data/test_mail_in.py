"""E-mail in, against a real IMAP server on loopback (dovecot, tests/support/imap.py): a customer's message becomes
a ticket for the right customer (billing contact, then domain; unknown senders a triage ticket), attachments kept
in the database or a folder, each Message-ID taken once however often it is delivered or fetched, a crash between
the commit and \\Seen (injected, or a killed process) creates nothing twice, two fetches at once take each message
once, and malformed messages (bad encodings, no sender, no Message-ID, a 20 MB attachment, one that cannot be
stored) become a ticket or a recorded refusal, never a stuck mailbox. Settings and servers that cannot be used are
refused in a sentence, by the function and by `mail fetch`."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.actions import ticket_mail
from data_access.audit import MailRefused, TicketCreatedFromEmail, parse_event
from data_access.config import InvalidSetting
from data_access.db import read_session
from data_access.mail import imap
from data_access.mail.imap import MailboxError, parse_imap_url
from data_access.mail.inbox import Fetched
from data_access.models import AuditEvent, Customer, ReceivedMail, Ticket, TicketAttachment, TicketMessage
from data_access.permissions import PermissionDenied
from data_access.queries.ticket_messages import attachment_file, conversation
from data_access.queries.tickets import UNKNOWN_SENDER, tickets
from tests.support import factories
from tests.support.actors import ADMIN, HELPDESK, SALES
from tests.support.cli import cli
from tests.support.contexts import in_fresh_context
from tests.support.environment import ROOT
from tests.support.imap import ImapServer, customer_mail, dovecot_server
from tests.support.mail import closed_port

DESK = "Northwind Support <support@partner.example>"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[ImapServer]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def mailbox(database: str, dovecot: ImapServer, monkeypatch: pytest.MonkeyPatch) -> ImapServer:
    """An empty support mailbox the app reads over STARTTLS, trusting the server's certificate."""
    dovecot.clear()
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", dovecot.url())
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certificate.cert))
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", DESK)
    factories.customer("C-CONTOSO", name="Contoso", domain="contoso.example",
                       billing_contact_email="AP@Contoso.example")  # fmt: skip
    factories.customer("C-FABRIKAM", name="Fabrikam", domain="fabrikam.example")
    return dovecot


def stored_tickets() -> list[dict[str, Any]]:
    with read_session() as session:
        found = session.execute(
            select(Ticket, Customer.external_id)
            .outerjoin(Customer, Customer.id == Ticket.customer_id)
            .order_by(Ticket.id)
        ).all()
        return [
            {"id": t.id, "external_id": t.external_id, "customer": customer, "title": t.title,
             "description": t.description, "channel": t.channel, "category": t.category, "severity": t.severity,
             "status": t.status}
            for t, customer in found
        ]  # fmt: skip


def messages() -> list[TicketMessage]:
    with read_session() as session:
        return list(session.scalars(select(TicketMessage).order_by(TicketMessage.id)))


def count(model: Any) -> int:
    with read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_customers_email_becomes_their_ticket(mailbox: ImapServer) -> None:
    sent = customer_mail(sender="Ann Payable <ap@contoso.example>", subject="Invoice INV-1001 charged twice",
                         text="Hello,\nINV-1001 was charged twice.\nAnn\n")  # fmt: skip
    mailbox.deliver(sent)

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.replies, fetched.duplicates, fetched.refused) == (1, 0, 0, 0)
    [ticket] = stored_tickets()
    assert ticket["customer"] == "C-CONTOSO"  # matched by the billing contact's address, in any case
    assert (ticket["channel"], ticket["category"], ticket["severity"], ticket["status"]) == (
        "email", "other", "minimal", "new"
    )  # fmt: skip
    assert ticket["title"] == "Invoice INV-1001 charged twice"
    assert ticket["description"] == "Hello,\nINV-1001 was charged twice.\nAnn"
    [message] = messages()
    assert (message.direction, message.message_id, message.ticket_id) == (
        "in",
        sent["Message-ID"],
        ticket["id"],
    )
    assert message.sender == "Ann Payable <ap@contoso.example>"
    assert "support@partner.example" in message.recipients
    assert mailbox.flags() == [{"\\Seen"}]
    with read_session() as session:
        event = session.scalars(select(AuditEvent)).one()
    created = parse_event(event.permission, event.details)
    assert isinstance(created, TicketCreatedFromEmail)
    assert (created.customer_id, created.matched_by, event.target) == (
        "C-CONTOSO", "billing contact address", f"ticket:{ticket['external_id']}"
    )  # fmt: skip


def test_customers_are_matched_by_domain_and_unknown_senders_get_triage_tickets(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender="bob@fabrikam.example", subject="From Fabrikam"))
    mailbox.deliver(customer_mail(sender="eve@unknown.example", subject="From nobody we know"))
    mailbox.deliver(customer_mail(sender="carl@Contoso.Example", subject="Another Contoso person"))

    assert ticket_mail.fetch_mail(HELPDESK).tickets == 3

    by_title = {t["title"]: t["customer"] for t in stored_tickets()}
    assert by_title == {
        "From Fabrikam": "C-FABRIKAM",
        "From nobody we know": None,
        "Another Contoso person": "C-CONTOSO",
    }
    listed = tickets(SALES, now=datetime.now(UTC))
    triage = listed[listed.title == "From nobody we know"].iloc[0]
    assert triage.customer_name == UNKNOWN_SENDER and pd.isna(triage.customer_id)


def test_an_address_two_customers_share_is_told_apart_by_domain_or_gives_a_triage_ticket(
    mailbox: ImapServer,
) -> None:
    factories.customer(
        "C-OTHER", name="Other", domain="other.example", billing_contact_email="ap@contoso.example"
    )
    for name in ("C-BOOKS-1", "C-BOOKS-2"):  # one bookkeeper pays for two customers
        factories.customer(
            name, domain=f"{name.lower()}.example", billing_contact_email="ledger@books.example"
        )
    mailbox.deliver(customer_mail(sender="ap@contoso.example", subject="Shared, same domain as one"))
    mailbox.deliver(customer_mail(sender="ledger@books.example", subject="Shared, neither domain"))
    ticket_mail.fetch_mail(HELPDESK)
    by_title = {t["title"]: t["customer"] for t in stored_tickets()}
    assert by_title == {"Shared, same domain as one": "C-CONTOSO", "Shared, neither domain": None}


def test_attachments_are_kept_in_the_database(mailbox: ImapServer) -> None:
    pdf = b"%PDF-1.4 remittance " + bytes(range(256)) * 40
    mailbox.deliver(customer_mail(attachments=(("remittance advice.pdf", "application/pdf", pdf),
                                               ("notes.txt", "text/plain", b"paid on the 3rd\n"))))  # fmt: skip
    ticket_mail.fetch_mail(HELPDESK)

    with read_session() as session:
        kept = {a.file_name: a for a in session.scalars(select(TicketAttachment))}
    assert set(kept) == {"remittance advice.pdf", "notes.txt"}
    assert kept["remittance advice.pdf"].content == pdf
    assert (kept["remittance advice.pdf"].size_bytes, kept["remittance advice.pdf"].content_type) == (
        len(pdf), "application/pdf"
    )  # fmt: skip
    assert kept["remittance advice.pdf"].sha256 == hashlib.sha256(pdf).hexdigest()
    assert kept["notes.txt"].content == b"paid on the 3rd\n"
    [ticket] = stored_tickets()
    [shown] = conversation(HELPDESK, ticket_id=ticket["external_id"])
    assert [a.name for a in shown.attachments] == ["remittance advice.pdf", "notes.txt"]
    assert attachment_file(HELPDESK, attachment_id=shown.attachments[0].id).data == pdf


def test_attachments_go_to_the_configured_folder(
    mailbox: ImapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "attachments"
    monkeypatch.setenv("BILLING_DESK_ATTACHMENTS_DIR", str(folder))
    data = os.urandom(50_000)
    mailbox.deliver(customer_mail(attachments=(("scan.png", "image/png", data),)))
    ticket_mail.fetch_mail(HELPDESK)

    with read_session() as session:
        kept = session.scalars(select(TicketAttachment)).one()
    digest = hashlib.sha256(data).hexdigest()
    assert (kept.content, kept.path) == (None, f"{digest[:2]}/{digest}")
    assert (folder / digest[:2] / digest).read_bytes() == data
    assert attachment_file(HELPDESK, attachment_id=kept.id).data == data
    monkeypatch.delenv("BILLING_DESK_ATTACHMENTS_DIR")
    with pytest.raises(Exception, match="BILLING_DESK_ATTACHMENTS_DIR is not set"):
        attachment_file(HELPDESK, attachment_id=kept.id)


def test_an_html_only_message_is_read_as_text(mailbox: ImapServer) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "ap@contoso.example",
        "support@partner.example",
        "HTML",
    )
    message["Message-ID"] = "<html-1@contoso.example>"
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>Dear support,</p><p>please see "
        '<a href="https://contoso.example/po/7">PO 7</a>.</p><ul><li>one</li><li>two &amp; three</li></ul>'
        "<script>alert(1)</script></body></html>",
        subtype="html",
    )
    mailbox.deliver(message)
    ticket_mail.fetch_mail(HELPDESK)
    [ticket] = stored_tickets()
    assert ticket["description"] == (
        "Dear support,\n\nplease see PO 7 (https://contoso.example/po/7).\n\n- one\n- two & three"
    )


def test_the_same_message_delivered_twice_or_fetched_again_makes_one_ticket(mailbox: ImapServer) -> None:
    sent = customer_mail(message_id="<twice@contoso.example>")
    mailbox.deliver(sent)
    mailbox.deliver(sent)

    first = ticket_mail.fetch_mail(HELPDESK)
    assert (first.tickets, first.duplicates) == (1, 1)
    mailbox.deliver(sent)  # a third copy, a fetch later
    second = ticket_mail.fetch_mail(HELPDESK)
    third = ticket_mail.fetch_mail(HELPDESK)

    assert (second.tickets, second.duplicates) == (0, 1)
    assert (third.tickets, third.duplicates) == (0, 0)
    assert (len(stored_tickets()), count(TicketMessage), count(ReceivedMail)) == (1, 1, 1)
    assert mailbox.unseen() == 0


def test_a_crash_after_the_commit_and_before_seen_creates_nothing_twice(
    mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        mailbox.deliver(customer_mail(subject=f"Question {n}", message_id=f"<crash-{n}@contoso.example>"))
    marking = imap.mark
    calls: list[str] = []

    def crash_on_the_second(client: Any, uid: str, *, flagged: bool = False) -> None:
        calls.append(uid)
        if len(calls) == 2:
            raise RuntimeError("the fetch died here")
        marking(client, uid, flagged=flagged)

    monkeypatch.setattr(imap, "mark", crash_on_the_second)
    with pytest.raises(RuntimeError, match="died"):
        ticket_mail.fetch_mail(HELPDESK)
    assert [t["title"] for t in stored_tickets()] == ["Question 0", "Question 1"]  # 1 committed, not marked
    assert [("\\Seen" in flags) for flags in mailbox.flags()] == [True, False, False]

    monkeypatch.setattr(imap, "mark", marking)
    again = ticket_mail.fetch_mail(HELPDESK)

    assert (again.tickets, again.duplicates) == (1, 1)
    assert [t["title"] for t in stored_tickets()] == ["Question 0", "Question 1", "Question 2"]
    assert mailbox.unseen() == 0


def test_a_killed_fetch_creates_nothing_twice(database: str, mailbox: ImapServer) -> None:
    total = 60
    for n in range(total):
        mailbox.deliver(customer_mail(subject=f"Message {n}", message_id=f"<killed-{n}@contoso.example>"))
    env = {**os.environ, "DATABASE_URL": database}
    process = subprocess.Popen([sys.executable, "-m", "data_access", "mail", "fetch"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while count(Ticket) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    still_running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    taken = count(Ticket)
    assert still_running and 0 < taken < total, (taken, process.stderr.read() if process.stderr else "")

    finished = cli("mail", "fetch", database_url=database)

    assert finished.returncode == 0, finished.stderr
    titles = [t["title"] for t in stored_tickets()]
    assert sorted(titles) == sorted(f"Message {n}" for n in range(total))
    assert count(TicketMessage) == count(ReceivedMail) == total
    assert mailbox.unseen() == 0
    assert finished.stdout.count("\n") == 1 and "new ticket" in finished.stdout


def test_two_fetches_at_once_take_each_message_once(mailbox: ImapServer) -> None:
    total = 12
    for n in range(total):
        mailbox.deliver(customer_mail(subject=f"Race {n}", message_id=f"<race-{n}@contoso.example>"))
    start = threading.Barrier(2)
    results: list[Fetched] = []

    def fetch() -> Fetched:
        start.wait()
        return ticket_mail.fetch_mail(HELPDESK)

    workers = [threading.Thread(target=lambda: results.append(in_fresh_context(fetch))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(results) == 2
    assert sum(r.tickets for r in results) == total
    assert sorted(t["title"] for t in stored_tickets()) == sorted(f"Race {n}" for n in range(total))
    assert mailbox.unseen() == 0


def test_bad_encodings_are_read_as_well_as_they_can_be(mailbox: ImapServer) -> None:
    raw = (
        b"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@contoso.example>\r\n"
        b"To: support@partner.example\r\n"
        b"Subject: Rechnung \xfcber 5\xa0000 \xe2\x82\xac =?x-unknown?q?caf=E9?=\r\n"
        b"Message-ID: <bad-encoding@contoso.example>\r\n"
        b"Content-Type: text/plain; charset=x-made-up\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Gr\xfc\xdfe,\r\nnull \x00 and escape \x1b[31m and bidi \xe2\x80\xae here.\r\n"
    )
    mailbox.deliver(raw)

    assert ticket_mail.fetch_mail(HELPDESK).tickets == 1
    [ticket] = stored_tickets()
    assert ticket["customer"] == "C-CONTOSO"  # matched by domain
    assert ticket["title"].startswith("Rechnung ") and "5" in ticket["title"]
    assert ticket["description"] is not None and "null" in ticket["description"]
    assert not any(c in ticket["description"] for c in "\x00\x1b\u202e")
    [message] = messages()
    assert message.sender is not None and "joerg@contoso.example" in message.sender
    assert "Jörg Müller" in message.sender
    assert mailbox.unseen() == 0


def test_a_message_without_sender_or_message_id_gets_a_triage_ticket_once(mailbox: ImapServer) -> None:
    raw = b"To: support@partner.example\r\nSubject: who am I\r\n\r\nNo From, no Message-ID.\r\n"
    mailbox.deliver(raw)
    mailbox.deliver(raw)  # the same bytes again: the id made from them is the same

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.duplicates) == (1, 1)
    [ticket] = stored_tickets()
    assert (ticket["customer"], ticket["title"]) == (None, "who am I")
    [message] = messages()
    assert message.message_id == f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"
    assert message.notes is not None and "no sender" in message.notes
    assert mailbox.unseen() == 0


def test_a_message_over_the_size_limit_keeps_its_text_and_not_its_attachment(
    mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_MAIL_MAX_MB", "10")
    big = os.urandom(20 * 1024 * 1024)
    mailbox.deliver(customer_mail(subject="Huge scan", text="Scan attached.\n",
                                  attachments=(("scan.tif", "image/tiff", big),)))  # fmt: skip
    mailbox.deliver(customer_mail(subject="Small one", message_id="<after-big@contoso.example>"))

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert fetched.tickets == 2
    big_ticket = next(t for t in stored_tickets() if t["title"] == "Huge scan")
    assert big_ticket["description"] == "Scan attached."
    assert count(TicketAttachment) == 0
    note = next(m.notes for m in messages() if m.ticket_id == big_ticket["id"])
    assert note is not None and "over the 10 MB limit" in note and "scan.tif" in note
    assert mailbox.unseen() == 0


def test_a_message_that_cannot_be_stored_is_refused_flagged_and_does_not_block_the_rest(
    mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = ticket_mail._keep

    def broken(session: Any, ticket: Any, incoming: Any, now: Any, note: Any) -> Any:
        if incoming.subject == "Poison":
            raise ValueError("cannot store this one")
        return keep(session, ticket, incoming, now, note)

    monkeypatch.setattr(ticket_mail, "_keep", broken)
    mailbox.deliver(customer_mail(subject="Poison", message_id="<poison@contoso.example>"))
    mailbox.deliver(customer_mail(subject="Fine", message_id="<fine@contoso.example>"))

    fetched = ticket_mail.fetch_mail(HELPDESK)

    assert (fetched.tickets, fetched.refused) == (1, 1)
    assert [t["title"] for t in stored_tickets()] == ["Fine"]
    assert mailbox.flags() == [{"\\Seen", "\\Flagged"}, {"\\Seen"}]
    with read_session() as session:
        refused = session.scalars(select(ReceivedMail).where(ReceivedMail.outcome == "refused")).one()
        events = [parse_event(e.permission, e.details) for e in session.scalars(select(AuditEvent))]
    assert refused.message_id == "<poison@contoso.example>"
    assert refused.reason is not None and "cannot store this one" in refused.reason
    assert [e.reason for e in events if isinstance(e, MailRefused)] == [refused.reason]
    assert ticket_mail.fetch_mail(HELPDESK).refused == 0  # taken once: never tried again


def test_settings_the_fetch_cannot_use_stop_it_and_leave_the_mail_unread(
    mailbox: ImapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.deliver(customer_mail(attachments=(("a.pdf", "application/pdf", b"%PDF"),)))
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("BILLING_DESK_ATTACHMENTS_DIR", str(blocked))
    with pytest.raises(
        InvalidSetting, match=r"BILLING_DESK_ATTACHMENTS_DIR is .* where attachments cannot be written"
    ):
        ticket_mail.fetch_mail(HELPDESK)
    monkeypatch.delenv("BILLING_DESK_ATTACHMENTS_DIR")
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", "not an address")
    with pytest.raises(InvalidSetting, match="BILLING_DESK_MAIL_FROM"):
        ticket_mail.fetch_mail(HELPDESK)
    assert (stored_tickets(), count(ReceivedMail), mailbox.unseen()) == ([], 0, 1)
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", DESK)
    assert ticket_mail.fetch_mail(HELPDESK).tickets == 1


def test_mail_from_the_desks_own_address_is_refused(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail(sender=DESK, subject="Loop?"))
    assert ticket_mail.fetch_mail(HELPDESK).refused == 1
    assert stored_tickets() == []
    assert mailbox.flags() == [{"\\Seen", "\\Flagged"}]


def test_implicit_tls_works_too(mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", mailbox.url(tls="implicit"))
    mailbox.deliver(customer_mail())
    assert ticket_mail.fetch_mail(HELPDESK).tickets == 1


def test_a_mailbox_that_cannot_be_used_is_a_sentence_and_nothing_is_marked(
    mailbox: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.deliver(customer_mail())
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", mailbox.url(password="wrong"))
    with pytest.raises(
        MailboxError, match=r"refused support: .*AUTHENTICATIONFAILED|refused support: .*fail"
    ):
        ticket_mail.fetch_mail(HELPDESK)
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", mailbox.url(mailbox="Nope"))
    with pytest.raises(MailboxError, match="has no folder 'Nope'"):
        ticket_mail.fetch_mail(HELPDESK)
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", mailbox.url())
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(
        MailboxError, match=r"STARTTLS with the mailbox at .* failed: its certificate is not trusted"
    ):
        ticket_mail.fetch_mail(HELPDESK)
    monkeypatch.setenv("BILLING_DESK_IMAP_URL", f"imaps://u:p@127.0.0.1:{closed_port()}/INBOX")
    with pytest.raises(MailboxError, match="could not be reached"):
        ticket_mail.fetch_mail(HELPDESK)
    assert stored_tickets() == [] and mailbox.unseen() == 1


def test_mail_fetch_from_the_command_line(database: str, mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail())
    done = cli("mail", "fetch", database_url=database)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"Mail from support at 127.0.0.1:{mailbox.port} (STARTTLS), folder INBOX: 1 new ticket, 0 replies on "
        "tickets.\n"
    )
    idle = cli("mail", "send", database_url=database)
    assert (idle.returncode, idle.stdout) == (0, "Outbox: nothing due.\n")
    refused = subprocess.run([sys.executable, "-m", "data_access", "mail", "fetch"], cwd=ROOT, text=True,
                             capture_output=True, env={**os.environ, "DATABASE_URL": database,
                                                       "BILLING_DESK_IMAP_URL": "imap://u:p@host/INBOX"})  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: BILLING_DESK_IMAP_URL has no encryption, so the password would cross the network in clear; add "
        "?starttls=true; set it like imaps://user:password@host:993/INBOX or "
        "imap://user:password@host:143/INBOX?starttls=true.\n"
    )
    unreachable = subprocess.run([sys.executable, "-m", "data_access", "mail", "fetch"], cwd=ROOT, text=True,
                                 capture_output=True, env={**os.environ, "DATABASE_URL": database,
                                 "BILLING_DESK_IMAP_URL": f"imaps://u:p@127.0.0.1:{closed_port()}/"})  # fmt: skip
    assert unreachable.returncode == 1
    assert (
        unreachable.stderr.startswith("error: The mailbox at 127.0.0.1:")
        and unreachable.stderr.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("pop3://u:p@host/", "starts with pop3://"),
        ("imaps://host/INBOX", "names no user and password"),
        ("imaps://u:p@/INBOX", "names no server"),
        ("imaps://u:p@host:99999/", "port that is not a number"),
        ("imaps://u:p@host/?starttls=true", "asks for STARTTLS on imaps://"),
        ("imap://u:p@host/", "has no encryption"),
        ("imap://u:p@host/?starttls=maybe", "starttls='maybe'"),
        ("imaps://u:p@host/?tls=1", "unknown options (tls)"),
        ("imaps://u:p@host/?timeout=0", "timeout='0'"),
        ("imaps://u:p@host/Caf%C3%A9", "folder that cannot be used"),
    ],
)
def test_bad_imap_urls_are_refused_in_a_sentence_naming_the_variable(url: str, problem: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        parse_imap_url(url)
    assert str(refused.value).startswith("BILLING_DESK_IMAP_URL ") and problem in str(refused.value)


def test_imap_urls_that_can_be_used() -> None:
    server = parse_imap_url("imaps://help%40partner.example:p%40ss@imap.example.com/Support%20desk?timeout=5")
    assert (server.host, server.port, server.security, server.username, server.password, server.folder,
            server.timeout) == ("imap.example.com", 993, "tls", "help@partner.example", "p@ss", "Support desk",
                                5.0)  # fmt: skip
    plain = parse_imap_url("imap://u:p@imap.example.com?starttls=true")
    assert (plain.port, plain.security, plain.folder) == (143, "starttls", "INBOX")
    assert "p@ss" not in repr(server) and "p@ss" not in server.describe()


def test_fetching_needs_the_ticket_create_permission(mailbox: ImapServer) -> None:
    mailbox.deliver(customer_mail())
    with pytest.raises(PermissionDenied, match=r"ticket\.create"):
        ticket_mail.fetch_mail(SALES)
    assert mailbox.unseen() == 1
    assert ticket_mail.fetch_mail(ADMIN).tickets == 1
