"""A real SMTP server on loopback for the tests (aiosmtpd), what it received read back as e-mail, its replies
scripted (a 4xx or 5xx to a recipient), STARTTLS or implicit TLS with a self-signed certificate made by the
openssl CLI, login; and a port where nothing listens."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from data_access.db import transaction
from data_access.models import OutboxMessage
from tests.support.documents import pdf_text


@dataclass(frozen=True)
class Received:
    """One message as the server took it: the envelope and the parsed e-mail."""

    sender: str
    recipients: tuple[str, ...]
    email: EmailMessage

    @property
    def text(self) -> str:
        part = self.email.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")

    def attachments(self) -> list[tuple[str, bytes]]:
        return [
            (str(part.get_filename()), bytes(part.get_payload(decode=True)))
            for part in self.email.iter_attachments()
        ]

    def attachment_text(self) -> str | None:
        """The first attached PDF's text (pdftotext), or None where poppler is not installed."""
        (name, data), *_ = self.attachments()
        assert name.endswith(".pdf")
        return pdf_text(data)


@dataclass
class Handler:
    """Takes every message unless told to answer a recipient or the data with a reply ("550 No such user")."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        email = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(email, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), email))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    handler: Handler

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, signed by itself, valid for a day (openssl CLI)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


def _server_context(certificate: Certificate) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate.cert), str(certificate.key))
    return context


@contextmanager
def smtp_server(
    *,
    starttls: Certificate | None = None,
    implicit_tls: Certificate | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[MailServer]:
    """An SMTP server on 127.0.0.1 and a free port for the block: plain, STARTTLS required, or TLS from the first
    byte; with `login`, only that user and password may send."""
    handler = Handler()
    options: dict[str, Any] = {}
    if starttls is not None:
        options.update(tls_context=_server_context(starttls), require_starttls=True)
    if login is not None:

        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=check, auth_required=True, auth_require_tls=starttls is not None)
    if implicit_tls is not None:
        options.update(ssl_context=_server_context(implicit_tls))
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield MailServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


def queued_message(number: int, *, to: str = "AP <ap@customer.example>", **columns: Any) -> int:
    """An e-mail in the outbox as a reminder or a ticket reply leaves it: queued, due now; returns its id."""
    with transaction() as session:
        row = OutboxMessage(
            key=f"test:{number}",
            kind="test",
            message_id=f"<test-{number}@billing-desk.test>",
            sender="Partner <billing@partner.example>",
            recipients=to,
            subject=f"Message {number}",
            body=f"Body of message {number}.\n",
            created_by="billing",
            **columns,
        )
        session.add(row)
        session.flush()
        return row.id
