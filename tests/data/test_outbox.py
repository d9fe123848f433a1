"""Delivering the outbox to a real SMTP server on loopback (aiosmtpd): each message once, however often delivery
runs and with two deliverers at once; an unreachable server leaves messages queued with the error and attempts
counted, a 5xx reply fails them with the reply kept, the 8th attempt gives up; STARTTLS and TLS against a
self-signed certificate the test makes; .eml files without a server; bad settings refused in a sentence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from data_access import clock
from data_access.audit import MessageRetried, parse_event
from data_access.config import InvalidSetting
from data_access.db import read_session, transaction
from data_access.enums import StageAction
from data_access.errors import InvalidAction
from data_access.mail import outbox, reminders
from data_access.mail.smtp import parse_smtp_url
from data_access.models import AuditEvent, OutboxMessage
from data_access.permissions import PermissionDenied
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING, SALES
from tests.support.contexts import in_fresh_context
from tests.support.documents import pdf_text
from tests.support.mail import (
    MailServer,
    closed_port,
    queued_message,
    self_signed_certificate,
    smtp_server,
)


@pytest.fixture
def folder(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No SMTP server configured: the outbox folder is the test's own."""
    monkeypatch.setenv("BILLING_DESK_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("BILLING_DESK_SMTP_URL", raising=False)
    monkeypatch.delenv("BILLING_DESK_MAIL_FROM", raising=False)
    return tmp_path / "outbox"


@pytest.fixture
def mail(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        yield server


def rows() -> list[OutboxMessage]:
    with read_session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def set_columns(**values: object) -> None:
    with transaction() as session:
        session.execute(update(OutboxMessage).values(**values))


def due_again() -> None:
    """Time passes: every message queued for a retry is due now."""
    set_columns(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))


def test_each_message_is_sent_once_however_often_delivery_runs(mail: MailServer) -> None:
    ids = [queued_message(n) for n in range(3)]
    heard: list[tuple[int, int]] = []

    first = outbox.deliver_due(progress=lambda done, total: heard.append((done, total)))
    again = outbox.deliver_due()

    assert (first.sent, first.retrying, first.failed, first.left) == (3, 0, 0, 0)
    assert (again.sent, again.retrying, again.failed, again.left) == (0, 0, 0, 0)
    assert heard == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert sorted(r.email["Message-ID"] for r in mail.received) == sorted(
        f"<test-{n}@billing-desk.test>" for n in range(3)
    )
    assert [r.recipients for r in mail.received] == [("ap@customer.example",)] * 3
    assert all(r.sender == "billing@partner.example" for r in mail.received)
    assert [(row.id, row.status, row.delivered_via, row.attempts) for row in rows()] == [
        (i, "sent", "smtp", 1) for i in ids
    ]
    assert all(row.sent_at is not None for row in rows())


def test_a_limit_leaves_the_rest_for_later(mail: MailServer) -> None:
    for n in range(3):
        queued_message(n)
    delivery = outbox.deliver_due(limit=2)
    assert (delivery.sent, delivery.left) == (2, 1)
    assert delivery.sentence() == "2 sent, 1 still waiting in the outbox."
    assert len(mail.received) == 2


def test_an_unreachable_server_leaves_messages_queued_with_the_error_and_attempts_counted(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://127.0.0.1:{port}?timeout=5")
    for n in range(2):
        queued_message(n)
    before = datetime.now(UTC)

    delivery = outbox.deliver_due()

    assert (delivery.sent, delivery.retrying, delivery.failed, delivery.left) == (0, 2, 0, 0)
    for row in rows():
        assert (row.status, row.attempts, row.sent_at) == ("queued", 1, None)
        assert row.last_error is not None and row.last_error.startswith(
            f"could not connect to 127.0.0.1:{port}"
        )
        assert "refused" in row.last_error.lower()
        assert (
            before + timedelta(minutes=1) <= row.next_attempt_at <= datetime.now(UTC) + timedelta(minutes=1)
        )
    assert outbox.deliver_due().retrying == 0, "not due again before its time"
    assert [row.attempts for row in rows()] == [1, 1]

    due_again()
    before = datetime.now(UTC)
    outbox.deliver_due()
    assert [row.attempts for row in rows()] == [2, 2]
    assert all(row.next_attempt_at >= before + timedelta(minutes=2) for row in rows()), "the wait doubles"

    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        due_again()
        assert outbox.deliver_due().sent == 2
        due_again()
        assert outbox.deliver_due().sent == 0
        assert len(server.received) == 2
    assert [(row.status, row.attempts, row.last_error) for row in rows()] == [("sent", 3, None)] * 2


def test_the_eighth_failed_attempt_gives_up_and_keeps_the_error(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://127.0.0.1:{closed_port()}")
    queued_message(1, attempts=7)
    delivery = outbox.deliver_due()
    assert (delivery.retrying, delivery.failed) == (0, 1)
    (row,) = rows()
    assert (row.status, row.attempts) == ("failed", 8) and "could not connect" in (row.last_error or "")


def test_a_5xx_reply_fails_the_message_with_the_reply_and_a_4xx_waits(mail: MailServer) -> None:
    mail.handler.rcpt_reply = "550 5.1.1 <ap@customer.example>: no such user here"
    queued_message(1)
    assert outbox.deliver_due().failed == 1
    mail.handler.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable"
    queued_message(2)
    assert outbox.deliver_due().retrying == 1
    mail.handler.rcpt_reply = None
    mail.handler.data_reply = "554 5.7.1 Message refused as spam"
    queued_message(3)
    assert outbox.deliver_due().failed == 1
    assert [(row.status, row.attempts, row.last_error) for row in rows()] == [
        ("failed", 1, "550 5.1.1 <ap@customer.example>: no such user here"),
        ("queued", 1, "451 4.3.0 Mailbox temporarily unavailable"),
        ("failed", 1, "554 5.7.1 Message refused as spam"),
    ]
    assert mail.received == []
    failed = outbox.state(rows()[0].id)
    assert failed.sentence() == (
        "E-mail to AP <ap@customer.example> failed after 1 attempt; the server said: "
        "550 5.1.1 <ap@customer.example>: no such user here"
    )


def test_two_deliverers_at_once_send_each_message_once(mail: MailServer) -> None:
    count = 40
    for n in range(count):
        queued_message(n)
    start = threading.Barrier(2)
    results: list[outbox.Delivery] = []

    def deliver() -> outbox.Delivery:
        start.wait()
        return outbox.deliver_due()

    workers = [threading.Thread(target=lambda: results.append(in_fresh_context(deliver))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sum(result.sent for result in results) == count
    ids = [r.email["Message-ID"] for r in mail.received]
    assert len(ids) == len(set(ids)) == count
    assert {(row.status, row.attempts) for row in rows()} == {("sent", 1)}


def test_a_message_stuck_in_sending_is_claimed_again_after_15_minutes(mail: MailServer) -> None:
    queued_message(1)
    set_columns(status="sending", attempts=1, last_attempt_at=datetime.now(UTC) - timedelta(minutes=14))
    assert outbox.deliver_due().sent == 0
    set_columns(last_attempt_at=datetime.now(UTC) - timedelta(minutes=16))
    assert outbox.deliver_due().sent == 1
    assert [(row.status, row.attempts) for row in rows()] == [("sent", 2)]
    assert len(mail.received) == 1


def test_starttls_and_login_against_a_self_signed_certificate(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = self_signed_certificate(tmp_path)
    queued_message(1)
    with smtp_server(starttls=certificate, login=("mailer", "p@ss word")) as server:
        url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{server.port}?starttls=true&timeout=10"
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", url)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-certificates-here"))
        assert outbox.deliver_due().retrying == 1, "an unknown certificate is not trusted"
        (row,) = rows()
        assert row.last_error is not None and row.last_error.startswith(
            f"TLS with 127.0.0.1:{server.port} failed"
        )
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error

        monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", url.replace("p%40ss", "wrong"))
        due_again()
        assert outbox.deliver_due().retrying == 1, "a refused login waits for the settings to be fixed"
        assert (rows()[0].last_error or "").startswith("535")

        monkeypatch.setenv("BILLING_DESK_SMTP_URL", url)
        due_again()
        assert outbox.deliver_due().sent == 1
        assert len(server.received) == 1
        assert outbox.route().sentence() == (
            f"E-mail goes out through the SMTP server 127.0.0.1:{server.port} (STARTTLS)."
        )


def test_implicit_tls(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    queued_message(1)
    with smtp_server(implicit_tls=certificate) as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtps://127.0.0.1:{server.port}")
        assert outbox.deliver_due().sent == 1
        assert len(server.received) == 1


def test_without_a_server_messages_are_written_to_the_folder_with_their_attachment(folder: Path) -> None:
    today = clock.today()
    factories.saved_policy([Stage("Reminder", 1, StageAction.REMINDER, "Please pay {customer_name}.")])
    factories.customer("C-1", name="Contoso Ltd", billing_contact_email="ap@contoso.example")
    factories.invoice("C-1", "INV-1", issued=today - timedelta(days=40), cents=123_456)
    with transaction() as session:
        assert reminders.queue_due_reminders(session, BILLING, as_of=today) == 1

    assert outbox.route().sentence() == (
        "No SMTP server is configured (BILLING_DESK_SMTP_URL), so e-mail is not sent: each message is written as "
        f"an .eml file to {folder}."
    )
    delivery = outbox.deliver_due()
    assert delivery.sentence() == "1 written to the outbox folder."
    (path,) = folder.glob("*.eml")
    email = message_from_bytes(path.read_bytes(), policy=policy.default)
    (row,) = rows()
    assert (row.status, row.delivered_via) == ("sent", "folder")
    assert email["Message-ID"] == row.message_id and email["To"] == "ap@contoso.example"
    body = email.get_body(preferencelist=("plain",))
    assert body is not None and "Total overdue: USD 1,234.56" in body.get_content()
    (attachment,) = email.iter_attachments()  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "application/pdf"
    data = attachment.get_payload(decode=True)
    assert data == row.attachment
    text = pdf_text(data)
    if text is not None:
        assert "Contoso Ltd" in text and "INV-1" in text
    assert (
        outbox.state(row.id).sentence()
        == f"E-mail to ap@contoso.example written to {path} (no SMTP server is configured)."
    )
    assert outbox.deliver_due().sent == 0 and len(list(folder.iterdir())) == 1


def test_a_folder_that_cannot_be_written_keeps_the_message_queued(folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    queued_message(1)
    assert outbox.deliver_due().retrying == 1
    (row,) = rows()
    assert row.status == "queued" and (row.last_error or "").startswith("could not write")


BAD_URLS = {
    "http://mail.example": "starts with http://, not smtp:// or smtps://",
    "mail.example:25": "starts with mail.example://, not smtp:// or smtps://",
    "smtp://": "names no server",
    "smtp://mail.example:99999": "has a port that is not a number from 1 to 65535",
    "smtp://mail.example:x": "has a port that is not a number from 1 to 65535",
    "smtp://user:pw@mail.example:25": "has a user but no encryption",
    "smtp://mail.example?starttls=maybe": "has starttls='maybe'; use true or false",
    "smtp://mail.example?tls=1": "has unknown options (tls); it takes starttls and timeout",
    "smtps://mail.example?starttls=true": "asks for STARTTLS on smtps://",
    "smtp://mail.example?timeout=0": "has timeout='0'",
    "smtp://mail.example/inbox": "has a path after the server",
}


@pytest.mark.parametrize("url", list(BAD_URLS))
def test_a_bad_smtp_url_is_refused_in_a_sentence(url: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        parse_smtp_url(url)
    assert str(refused.value).startswith("BILLING_DESK_SMTP_URL ")
    assert BAD_URLS[url] in str(refused.value)
    assert "\n" not in str(refused.value)


def test_good_smtp_urls() -> None:
    assert parse_smtp_url("smtp://relay.local") == parse_smtp_url("smtp://relay.local:25")
    tls = parse_smtp_url("smtps://u%40x:p%3Aw@mail.example")
    assert (tls.port, tls.security, tls.username, tls.password) == (465, "tls", "u@x", "p:w")
    starttls = parse_smtp_url("smtp://u:p@mail.example?starttls=true&timeout=2.5")
    assert (starttls.port, starttls.security, starttls.timeout) == (587, "starttls", 2.5)
    assert "p" not in repr(starttls).split("username='u'")[1]


def test_a_bad_url_delivers_nothing_and_touches_nothing(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued_message(1)
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", "smtp//mail.example")
    with pytest.raises(InvalidSetting, match="BILLING_DESK_SMTP_URL"):
        outbox.deliver_due()
    assert [(row.status, row.attempts) for row in rows()] == [("queued", 0)]


def test_a_billing_admin_retries_a_failed_message_now(mail: MailServer) -> None:
    mail.handler.rcpt_reply = "550 5.1.1 no such user"
    message = queued_message(1)
    outbox.deliver_due()
    mail.handler.rcpt_reply = None
    with pytest.raises(PermissionDenied):
        outbox.retry(SALES, message_id=message)

    state = outbox.retry(BILLING, message_id=message)

    assert (state.status, state.attempts, state.delivered_via) == ("sent", 2, "smtp")
    assert state.sentence() == "E-mail sent to AP <ap@customer.example>."
    assert len(mail.received) == 1
    with read_session() as session:
        (event,) = session.scalars(select(AuditEvent)).all()
    assert parse_event(event.permission, event.details) == MessageRetried(
        message=message,
        key="test:1",
        status_before="failed",
        attempts_before=1,
        last_error="550 5.1.1 no such user",
    )
    assert event.target == f"outbox:{message}" and event.actor == "billing"
    with pytest.raises(InvalidAction, match="delivered already"):
        outbox.retry(BILLING, message_id=message)
    with pytest.raises(InvalidAction, match="no e-mail number 999"):
        outbox.retry(BILLING, message_id=999)


def test_an_unreachable_server_is_tried_once_per_round_not_once_per_batch(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://127.0.0.1:{closed_port()}")
    for n in range(outbox.BATCH + 5):
        queued_message(n)
    delivery = outbox.deliver_due()
    assert (delivery.sent, delivery.retrying, delivery.left) == (0, outbox.BATCH, 5)
    attempts = [row.attempts for row in rows()]
    assert attempts == [1] * outbox.BATCH + [0] * 5, "the rest wait, untouched, for the next round"


def test_any_e_mail_is_queued_once_per_key_with_a_message_id_made_from_the_key(mail: MailServer) -> None:
    def queue() -> int | None:
        with transaction() as session:
            return outbox.queue(
                session, key="ticket-reply:7:1", kind="ticket_reply", sender="Desk <desk@partner.example>",
                to="ap@customer.example", subject="[TCK-000007] Your question", body="Answered.\n",
                created_by="helpdesk", attachment=outbox.Attachment("notes.txt", "text/plain", b"notes"),
            )  # fmt: skip

    first, second = queue(), queue()
    assert first is not None and second is None
    (row,) = rows()
    assert row.message_id == outbox.message_id_for("ticket-reply:7:1", "desk@partner.example")
    assert row.message_id.endswith("@partner.example>")
    outbox.deliver_due()
    (received,) = mail.received
    assert received.email["Message-ID"] == row.message_id
    assert received.attachments() == [("notes.txt", b"notes")]
