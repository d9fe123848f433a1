"""The support mailbox e-mail comes in from, read from BILLING_DESK_IMAP_URL, and the few IMAP commands the fetch
uses (imaplib).

    imaps://user:pass@host:993/INBOX                 TLS from the first byte (implicit TLS)
    imap://user:pass@host:143/INBOX?starttls=true    STARTTLS before the login
    ...?timeout=30                                   seconds to wait for the server (default 20)

User and password are percent-encoded (`p%40ss` for `p@ss`), and so is the folder (`/Support%20desk`; default
INBOX). A password is never sent over a connection that is not encrypted: imap:// without STARTTLS is refused.
Certificates are checked against the system's trust store (`ssl.create_default_context`, which honours
SSL_CERT_FILE).

Messages are named by their UID and read with BODY.PEEK, which leaves them unseen: a message is marked \\Seen only
when the caller says it is safely stored, so one the fetch died on is read again next time.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from data_access.config import InvalidSetting, settings

Security = Literal["tls", "starttls"]
DEFAULT_TIMEOUT = 20.0
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
_EXAMPLE = "imaps://user:password@host:993/INBOX or imap://user:password@host:143/INBOX?starttls=true"
ImapError = (imaplib.IMAP4.error, OSError)
"""What a conversation with the server can fail with (ssl.SSLError and timeouts are OSErrors)."""


class MailboxError(Exception):
    """The server could not be reached, refused the login or the folder, or broke off: a sentence saying which."""


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    timeout: float = DEFAULT_TIMEOUT

    def describe(self) -> str:
        """Which mailbox, for people (never the password): "imap.example.com:993 (TLS), folder INBOX"."""
        how = {"starttls": "STARTTLS", "tls": "TLS"}[self.security]
        return f"{self.username} at {self.host}:{self.port} ({how}), folder {self.folder}"


def imap_server() -> ImapServer:
    """The mailbox from BILLING_DESK_IMAP_URL; InvalidSetting when it is unset or cannot be used."""
    raw = settings().imap_url
    if raw is None:
        raise InvalidSetting(f"BILLING_DESK_IMAP_URL is not set; set it like {_EXAMPLE}.")
    return parse_imap_url(raw)


def parse_imap_url(raw: str) -> ImapServer:
    """The URL's mailbox, or InvalidSetting naming BILLING_DESK_IMAP_URL and what is wrong with it."""

    def refuse(problem: str) -> InvalidSetting:
        return InvalidSetting(f"BILLING_DESK_IMAP_URL {problem}; set it like {_EXAMPLE}.")

    try:
        url = urlsplit(raw.strip())
        port = url.port
    except ValueError:
        raise refuse("has a port that is not a number from 1 to 65535") from None
    if url.scheme not in ("imap", "imaps"):
        raise refuse(
            f"starts with {url.scheme + '://' if url.scheme else 'no scheme'}, not imaps:// or imap://"
        )
    if not url.hostname:
        raise refuse("names no server")
    if not url.username or url.password is None:
        raise refuse("names no user and password to log in with")
    try:
        options = dict(parse_qsl(url.query, keep_blank_values=True, strict_parsing=bool(url.query)))
    except ValueError:
        raise refuse(f"has options that cannot be read ({url.query!r})") from None
    unknown = sorted(set(options) - {"starttls", "timeout"})
    if unknown:
        raise refuse(f"has unknown options ({', '.join(unknown)}); it takes starttls and timeout")
    starttls = options.get("starttls", "false").strip().lower()
    if starttls not in _TRUE + _FALSE:
        raise refuse(f"has starttls={starttls!r}; use true or false")
    if url.scheme == "imaps" and starttls in _TRUE:
        raise refuse("asks for STARTTLS on imaps://, which is encrypted from the start; drop ?starttls=true")
    if url.scheme == "imap" and starttls not in _TRUE:
        raise refuse(
            "has no encryption, so the password would cross the network in clear; add ?starttls=true"
        )
    folder = unquote(url.path.lstrip("/")) or "INBOX"
    if url.fragment or any(c in folder for c in '"\\') or not (folder.isprintable() and folder.isascii()):
        raise refuse(f"names a folder that cannot be used ({folder!r}: ASCII, no quotes or backslashes)")
    security: Security = "tls" if url.scheme == "imaps" else "starttls"
    return ImapServer(
        host=url.hostname,
        port=port or (993 if security == "tls" else 143),
        security=security,
        username=unquote(url.username),
        password=unquote(url.password),
        folder=folder,
        timeout=_timeout(options.get("timeout"), refuse),
    )


def _timeout(raw: str | None, refuse: Callable[[str], InvalidSetting]) -> float:
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise refuse(f"has timeout={raw!r}; use a number of seconds above 0, at most 600")
    return value


@contextmanager
def connected(server: ImapServer) -> Iterator[imaplib.IMAP4]:
    """A session with the mailbox: encrypted as the URL says, logged in, the folder selected for reading and
    flagging; logged out after. MailboxError (a sentence) when any of that fails."""
    context = ssl.create_default_context()
    where = f"{server.host}:{server.port}"
    try:
        if server.security == "tls":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=context, timeout=server.timeout
            )
        else:
            client = imaplib.IMAP4(server.host, server.port, timeout=server.timeout)
    except ImapError as error:
        raise MailboxError(
            f"The mailbox at {where} could not be reached: {_reason(error, server)}."
        ) from None
    try:
        if server.security == "starttls":
            try:
                client.starttls(ssl_context=context)
            except ImapError as error:
                raise MailboxError(
                    f"STARTTLS with the mailbox at {where} failed: {_reason(error, server)}."
                ) from None
        try:
            client.login(server.username, server.password)
        except ImapError as error:
            raise MailboxError(
                f"The mailbox at {where} refused {server.username}: {_reason(error, server)}."
            ) from None
        status, reply = _quiet(lambda: client.select(_quoted(server.folder)))
        if status != "OK":
            raise MailboxError(
                f"The mailbox at {where} has no folder {server.folder!r} ({_text(reply)}); name one that exists."
            )
        yield client
    finally:
        try:
            client.logout()
        except ImapError:
            with contextlib.suppress(OSError):
                client.shutdown()


def _quiet(command: Callable[[], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """A command's (status, data); a NO or BAD reply comes back as such instead of an exception."""
    try:
        return command()
    except imaplib.IMAP4.error as error:
        return "NO", [str(error).encode()]


def _quoted(folder: str) -> str:
    return '"' + folder + '"'


def unseen(client: imaplib.IMAP4) -> list[str]:
    """UIDs of the messages not marked \\Seen, oldest first."""
    status, data = client.uid("SEARCH", "UNSEEN")
    _check(status, data, "list the unread messages")
    found = b" ".join(part for part in data if isinstance(part, bytes)).decode("ascii", "replace").split()
    return sorted((uid for uid in found if uid.isdigit()), key=int)


def size(client: imaplib.IMAP4, uid: str) -> int | None:
    """The message's size in bytes as the server counts it, or None when it is gone (expunged meanwhile)."""
    status, data = client.uid("FETCH", uid, "(RFC822.SIZE)")
    _check(status, data, "read a message's size")
    for part in data:
        text = part[0] if isinstance(part, tuple) else part
        if isinstance(text, bytes) and (found := re.search(rb"RFC822\.SIZE (\d+)", text)):
            return int(found.group(1))
    return None


def whole(client: imaplib.IMAP4, uid: str) -> bytes | None:
    """The message as stored, leaving it unseen."""
    return _fetch(client, uid, "(BODY.PEEK[])")


def head(client: imaplib.IMAP4, uid: str, limit: int) -> bytes | None:
    """The message's header and the first `limit` bytes of its body, leaving it unseen."""
    header = _fetch(client, uid, "(BODY.PEEK[HEADER])")
    body = _fetch(client, uid, f"(BODY.PEEK[TEXT]<0.{limit}>)")
    return None if header is None else header + (body or b"")


def _fetch(client: imaplib.IMAP4, uid: str, what: str) -> bytes | None:
    status, data = client.uid("FETCH", uid, what)
    _check(status, data, "read a message")
    for part in data:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None


def mark(client: imaplib.IMAP4, uid: str, *, flagged: bool = False) -> None:
    """Mark the message \\Seen (and \\Flagged, for a person to look at in the mailbox)."""
    flags = "(\\Seen \\Flagged)" if flagged else "(\\Seen)"
    status, data = client.uid("STORE", uid, "+FLAGS", flags)
    _check(status, data, "mark a message as read")


def _check(status: str, data: list[Any], doing: str) -> None:
    if status != "OK":
        raise MailboxError(f"The mailbox would not {doing}: {_text(data)}.")


def _text(data: list[Any]) -> str:
    words = b" ".join(part for part in data if isinstance(part, bytes)).decode("utf-8", "replace")
    return " ".join(words.split()) or "no reason given"


def _reason(error: BaseException, server: ImapServer) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"it did not answer within {server.timeout:g} s"
    if isinstance(error, imaplib.IMAP4.error):
        text = str(error).strip()
        return text.removeprefix("b'").removeprefix('b"').rstrip("'\"") or "no reason given"
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return str(error)


def describe_error(error: BaseException, server: ImapServer) -> str:
    """A failure in the middle of a session (the server hung up, timed out), as a sentence."""
    if isinstance(error, MailboxError):
        return str(error)
    return f"The mailbox at {server.host}:{server.port} broke off: {_reason(error, server)}."
