"""The outbox: e-mail queued in the same transaction as what it tells (`queue`: a collections reminder, a ticket
reply; once per key, with a Message-ID made from the key), then delivered (`deliver_due`): sent over SMTP, or
written as an .eml file to the outbox folder when no SMTP server is configured; nothing is ever dropped.

Claim, send, mark. Due messages (queued, next attempt now or earlier; or stuck in "sending" for over 15 minutes, as
after a crash) are claimed in a short transaction that commits before anything is sent: status "sending", one
more attempt, the claim's time. On PostgreSQL the claim skips rows another deliverer holds (FOR UPDATE SKIP
LOCKED); on SQLite the write transaction serialises claims. Each message is then sent and its outcome written at
once, only if the claim is still ours:

- accepted by the server (or written to the folder): "sent", with the time and the route (smtp or folder);
- a temporary failure (no connection, a timeout, a 4xx reply, a refused login or TLS handshake): queued again,
  next attempt after 1, 2, 4 ... minutes (at most 4 hours), the server's reply kept;
- a permanent refusal of the message (a 5xx reply to its sender, recipients or content), or the 8th failed
  attempt: "failed", the reply kept. A billing admin may retry it (`retry`).

A message is sent at most once, except when a deliverer dies between the server's acceptance and the mark: then
it goes again 15 minutes later with the same Message-ID, which receivers use to drop the copy.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data_access.audit import MessageRetried, record_event
from data_access.config import settings
from data_access.db import read_session, transaction
from data_access.errors import InvalidAction
from data_access.mail.smtp import SmtpServer, connected, smtp_server
from data_access.models import Customer, OutboxMessage
from data_access.money import moment
from data_access.permissions import Actor, requires
from data_access.text import plural

MAX_ATTEMPTS = 8
STUCK_AFTER = timedelta(minutes=15)
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=4)
BATCH = 20
"""Messages claimed (and sent over one SMTP connection) at a time: few in "sending" should the deliverer die."""

Progress = Callable[[int, int], None]
POLICY = policy.default
"""Headers folded at 78 characters, non-ASCII text in encoded words of at most 75 (RFC 2047). A subject that fits a
line of its own but not after "Subject: " starts on the next line; readers trim the space that unfolding leaves."""


@dataclass(frozen=True)
class Route:
    """Where messages go: over SMTP to a server, or as .eml files into a folder."""

    via: str
    where: str

    def sentence(self) -> str:
        if self.via == "smtp":
            return f"E-mail goes out through the SMTP server {self.where}."
        return (
            f"No SMTP server is configured (BILLING_DESK_SMTP_URL), so e-mail is not sent: each message is written "
            f"as an .eml file to {self.where}."
        )


@dataclass(frozen=True)
class Delivery:
    """What one delivery round did: sent (or written to the folder), queued again after a temporary failure,
    failed for good, and still due but not attempted (the limit, or another deliverer has them)."""

    route: Route
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    left: int = 0

    def sentence(self) -> str:
        done = "written to the outbox folder" if self.route.via == "folder" else "sent"
        parts = [f"{self.sent} {done}"]
        if self.retrying:
            parts.append(f"{self.retrying} to be retried")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.left:
            parts.append(f"{self.left} still waiting in the outbox")
        return ", ".join(parts) + "."


@dataclass(frozen=True)
class MessageState:
    """One message's delivery state after an attempt."""

    id: int
    to: str
    subject: str
    status: str
    delivered_via: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    file: str | None

    def sentence(self) -> str:
        if self.status == "sent" and self.delivered_via == "folder":
            return f"E-mail to {self.to} written to {self.file} (no SMTP server is configured)."
        if self.status == "sent":
            return f"E-mail sent to {self.to}."
        if self.status == "failed":
            return f"E-mail to {self.to} failed after {plural(self.attempts, 'attempt')}; the server said: {self.last_error}"
        if self.last_error:
            return (
                f"E-mail to {self.to} not delivered yet (attempt {self.attempts} of {MAX_ATTEMPTS}); the server "
                f"said: {self.last_error}. It is retried from {moment(self.next_attempt_at)}."
            )
        return f"E-mail to {self.to} is queued."


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


def message_id_for(key: str, sender: str) -> str:
    """The same Message-ID for the same key, so every delivery attempt of a message carries one id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def queue(
    session: Session,
    *,
    key: str,
    kind: str,
    sender: str,
    to: str,
    subject: str,
    body: str,
    created_by: str,
    attachment: Attachment | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    activity_id: int | None = None,
    stage: str | None = None,
    stage_entered_on: date | None = None,
    headers: Mapping[str, str] | None = None,
) -> int | None:
    """An e-mail put in the outbox in the caller's transaction, due now, at most once per key: its id, or None
    when a message with this key is there already. Two servers queuing one key at the same moment write it once:
    on PostgreSQL the second insert waits for the first's commit, then does nothing. `headers` are sent as given
    (a ticket reply's In-Reply-To, References and Reply-To; "Auto-Submitted: no" for a message a person wrote)."""
    now = _now()
    row = {
        "key": key, "kind": kind, "customer_id": customer_id, "ticket_id": ticket_id, "activity_id": activity_id,
        "stage": stage, "stage_entered_on": stage_entered_on, "message_id": message_id_for(key, sender),
        "sender": sender, "recipients": to, "subject": subject[:300], "body": body,
        "attachment_name": attachment.name if attachment else None,
        "attachment_type": attachment.content_type if attachment else None,
        "attachment": attachment.data if attachment else None,
        "status": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now, "created_by": created_by,
        "headers": dict(headers) if headers else None,
    }  # fmt: skip
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = session.scalar(
        insert(OutboxMessage).values(**row).on_conflict_do_nothing().returning(OutboxMessage.id)
    )
    return None if added is None else int(added)


class _Temporary(Exception):
    """Try again later."""


class _Permanent(Exception):
    """The server refused this message for good."""


def route() -> Route:
    """Where delivery goes now; InvalidSetting (a sentence) when BILLING_DESK_SMTP_URL cannot be used."""
    server = smtp_server()
    if server is None:
        return Route("folder", str(settings().outbox_dir))
    return Route("smtp", server.describe())


@requires("collections.view")
def delivery_route(actor: Actor) -> Route:
    """Where the outbox delivers to (the SMTP server, never its password, or the folder), for the page's caption."""
    return route()


def _now() -> datetime:
    return datetime.now(UTC)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.last_attempt_at < now - STUCK_AFTER),
    )


def _count_due(now: datetime, only: Collection[int] | None) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(_due(now))
    if only is not None:
        query = query.where(OutboxMessage.id.in_(list(only)))
    with read_session() as session:
        return int(session.scalar(query) or 0)


def _claim(size: int, only: Collection[int] | None) -> tuple[datetime, list[int]]:
    """Due messages marked "sending" by this deliverer and committed, before anything is sent."""
    with transaction() as session:
        now = _now()
        query = (
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(size)
        )
        if only is not None:
            query = query.where(OutboxMessage.id.in_(list(only)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status="sending", last_attempt_at=now, attempts=OutboxMessage.attempts + 1)
            )
    return now, ids


def deliver_due(*, limit: int | None = None, progress: Progress | None = None) -> Delivery:
    """Send every message queued and due now (at most `limit`), reporting (done, total) to `progress`; counts
    sent, queued again, failed and left. InvalidSetting, before anything is claimed, when the SMTP URL is bad."""
    return deliver(None, limit=limit, progress=progress)


def deliver(
    only: Collection[int] | None, *, limit: int | None = None, progress: Progress | None = None
) -> Delivery:
    """deliver_due, for the messages whose ids are given (None: all) when they are due."""
    server = smtp_server()
    folder = settings().outbox_dir
    where = Route("smtp", server.describe()) if server else Route("folder", str(folder))
    total = _count_due(_now(), only)
    if limit is not None:
        total = min(total, limit)
    counts = {"sent": 0, "queued": 0, "failed": 0}
    done = 0
    if progress:
        progress(0, total)
    unreachable: list[str] = []
    while (limit is None or done < limit) and not unreachable:
        size = BATCH if limit is None else min(BATCH, limit - done)
        claimed_at, ids = _claim(size, only)
        if not ids:
            break
        for status in _send_batch(ids, claimed_at, server, folder, unreachable):
            counts[status] += 1
            done += 1
            if progress:
                progress(done, max(total, done))
    # A server that cannot be reached is not tried again for every batch: the rest wait, untouched, for next time.
    return Delivery(
        route=where,
        sent=counts["sent"],
        retrying=counts["queued"],
        failed=counts["failed"],
        left=_count_due(_now(), only),
    )


def _load(ids: list[int]) -> list[OutboxMessage]:
    with read_session() as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))))
        session.expunge_all()
    return sorted(rows, key=lambda row: ids.index(row.id))


def _send_batch(
    ids: list[int], claimed_at: datetime, server: SmtpServer | None, folder: Path, unreachable: list[str]
) -> Iterator[str]:
    """Each claimed message sent (over one SMTP session) or written, yielding the status written; when the server
    cannot be reached or hangs up, the message in hand and the rest of the batch wait, and `unreachable` says why."""
    pending = _load(ids)
    if server is None:
        for message in pending:
            yield _attempt(message, claimed_at, lambda m: _write(m, folder), "folder")
        return
    try:
        with connected(server) as client:
            while pending:
                status = _attempt(pending[0], claimed_at, lambda m: _send(client, m), "smtp")
                pending.pop(0)
                yield status
    except (smtplib.SMTPException, OSError) as error:
        unreachable.append(_connection_error(error, server))
        for message in pending:
            yield _mark(message, claimed_at, temporary=unreachable[0])


def _attempt(
    message: OutboxMessage, claimed_at: datetime, send: Callable[[OutboxMessage], str | None], via: str
) -> str:
    try:
        note = send(message)
    except _Permanent as refused:
        return _mark(message, claimed_at, permanent=str(refused))
    except _Temporary as later:
        return _mark(message, claimed_at, temporary=str(later))
    return _mark(message, claimed_at, via=via, note=note)


def _mark(
    message: OutboxMessage,
    claimed_at: datetime,
    *,
    via: str | None = None,
    note: str | None = None,
    temporary: str | None = None,
    permanent: str | None = None,
) -> str:
    """Write the attempt's outcome, if this deliverer's claim still holds; returns the status written."""
    now = _now()
    attempts = message.attempts  # read after the claim, which counted this attempt
    if via is not None:
        values: dict[str, object] = {
            "status": "sent", "sent_at": now, "delivered_via": via, "last_error": note
        }  # fmt: skip
    elif permanent is not None or attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "last_error": (permanent or temporary or "")[:4000]}
    else:
        wait = min(FIRST_WAIT * 2 ** (attempts - 1), LONGEST_WAIT)
        values = {"status": "queued", "next_attempt_at": now + wait, "last_error": (temporary or "")[:4000]}
    with transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == "sending",
                OutboxMessage.last_attempt_at == claimed_at,
            )
            .values(**values)
        )
    return str(values["status"])


def email_of(message: OutboxMessage) -> EmailMessage:
    """The message as sent: headers, the text, and the attachment; the same bytes' meaning on every attempt."""
    email = EmailMessage(policy=POLICY)
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email["From"] = message.sender
    email["To"] = message.recipients
    email["Subject"] = message.subject
    extra = message.headers or {}
    email["Auto-Submitted"] = extra.get("Auto-Submitted", "auto-generated")
    for name, value in extra.items():
        if name != "Auto-Submitted":
            email[name] = value
    email.set_content(message.body)
    if message.attachment is not None and message.attachment_name:
        maintype, _, subtype = (message.attachment_type or "application/octet-stream").partition("/")
        email.add_attachment(
            message.attachment, maintype=maintype, subtype=subtype, filename=message.attachment_name
        )
    return email


def _send(client: smtplib.SMTP, message: OutboxMessage) -> str | None:
    """Hand the message to the server; a note naming recipients it refused when it took the others."""
    recipients = [address for _, address in getaddresses([message.recipients]) if address]
    try:
        refused = client.send_message(
            email_of(message), from_addr=parseaddr(message.sender)[1], to_addrs=recipients
        )
    except smtplib.SMTPRecipientsRefused as error:
        replies = [_reply(code, text) for code, text in error.recipients.values()]
        permanent = all(500 <= code < 600 for code, _ in error.recipients.values())
        raise (_Permanent if permanent else _Temporary)("; ".join(replies)) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        reply = _reply(error.smtp_code, error.smtp_error)
        raise (_Permanent if 500 <= error.smtp_code < 600 else _Temporary)(reply) from None
    if not refused:
        return None
    return "; ".join(f"{who}: {_reply(code, text)}" for who, (code, text) in refused.items())


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


def _connection_error(error: BaseException, server: SmtpServer) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    if isinstance(error, ssl.SSLError):
        return f"TLS with {server.host}:{server.port} failed: {error.reason or error}"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"{server.host}:{server.port} does not offer STARTTLS"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"{server.host}:{server.port} closed the connection ({error or 'no reason given'})"
    if isinstance(error, TimeoutError):
        return f"{server.host}:{server.port} did not answer within {server.timeout:g} s"
    return (
        f"could not connect to {server.host}:{server.port}: {error.strerror or error}"
        if isinstance(error, OSError)
        else str(error)
    )


def eml_path(message: OutboxMessage, folder: Path) -> Path:
    """One file per message (a second attempt rewrites it): its id, then its key made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", message.key).strip("-")[:120]
    return folder / f"{message.id:08d}-{safe}.eml"


def _write(message: OutboxMessage, folder: Path) -> None:
    """The message as an .eml file, whole or not at all (written aside, then renamed into place)."""
    path = eml_path(message, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(bytes(email_of(message)))
        partial.replace(path)
    except OSError as error:
        raise _Temporary(f"could not write {path}: {error.strerror or error}") from None


def state(message_id: int) -> MessageState:
    with read_session() as session:
        message = session.get_one(OutboxMessage, message_id)
        file = None
        if message.delivered_via == "folder":
            file = str(eml_path(message, settings().outbox_dir))
        return MessageState(
            id=message.id,
            to=message.recipients,
            subject=message.subject,
            status=message.status,
            delivered_via=message.delivered_via,
            attempts=message.attempts,
            last_error=message.last_error,
            next_attempt_at=message.next_attempt_at,
            file=file,
        )


def deliver_one(message_id: int) -> MessageState:
    """Deliver this message now if it is due (just queued, or its retry time has come), and say where it stands."""
    deliver([message_id])
    return state(message_id)


@requires("collections.act")
def retry(actor: Actor, *, message_id: int) -> MessageState:
    """A message not delivered (queued for a retry, or failed) tried again now, audited; a message sent, or being
    sent this moment, is left alone."""
    route()  # a bad SMTP URL is refused before the message is touched
    with transaction() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            raise InvalidAction(f"There is no e-mail number {message_id} in the outbox.")
        _retriable(session, message)
        event = MessageRetried(
            message=message.id,
            key=message.key,
            status_before=message.status,
            attempts_before=message.attempts,
            last_error=message.last_error,
        )
        message.status, message.next_attempt_at = "queued", _now()
        customer = session.get(Customer, message.customer_id) if message.customer_id else None
        target = f"customer:{customer.external_id}" if customer else f"outbox:{message.id}"
        record_event(session, actor, event, target=target)
    return deliver_one(message_id)


def _retriable(session: Session, message: OutboxMessage) -> None:
    if message.status == "sent":
        raise InvalidAction(
            f"The e-mail to {message.recipients} was delivered already; there is nothing to retry."
        )
    stuck = message.last_attempt_at is not None and message.last_attempt_at < _now() - STUCK_AFTER
    if message.status == "sending" and not stuck:
        raise InvalidAction(
            f"The e-mail to {message.recipients} is being sent at this moment; look again shortly."
        )
