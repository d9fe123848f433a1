"""The SMTP server e-mail goes out through, from BILLING_DESK_SMTP_URL, and the sender from BILLING_DESK_MAIL_FROM.

    smtp://host:25                          plain SMTP (a relay on the same network)
    smtp://user:pass@host:587?starttls=true STARTTLS, then login
    smtps://user:pass@host:465              TLS from the first byte (implicit TLS), then login
    ...?timeout=30                          seconds to wait for the server (default 20)

User and password are percent-encoded in the URL (`p%40ss` for `p@ss`). A password is never sent over a connection
that is not encrypted: a URL with a user and no TLS is refused. Certificates are checked against the system's
trust store (`ssl.create_default_context`, which honours SSL_CERT_FILE). No URL: messages go to the outbox folder.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from data_access.config import InvalidSetting, settings

Security = Literal["starttls", "tls", "none"]
DEFAULT_TIMEOUT = 20.0
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
_EXAMPLE = "smtp://user:password@host:587?starttls=true or smtps://user:password@host:465"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    def describe(self) -> str:
        """Where mail goes, for people (never the password): "smtp.example.com:587 (STARTTLS)"."""
        how = {"starttls": "STARTTLS", "tls": "TLS", "none": "no encryption"}[self.security]
        return f"{self.host}:{self.port} ({how})"


def smtp_server() -> SmtpServer | None:
    """The server from BILLING_DESK_SMTP_URL, or None when it is unset (messages are written to the folder)."""
    raw = settings().smtp_url
    return None if raw is None else parse_smtp_url(raw)


def parse_smtp_url(raw: str) -> SmtpServer:
    """The URL's server, or InvalidSetting naming BILLING_DESK_SMTP_URL and what is wrong with it."""

    def refuse(problem: str) -> InvalidSetting:
        return InvalidSetting(f"BILLING_DESK_SMTP_URL {problem}; set it like {_EXAMPLE}.")

    try:
        url = urlsplit(raw.strip())
        port = url.port
    except ValueError:
        raise refuse("has a port that is not a number from 1 to 65535") from None
    if url.scheme not in ("smtp", "smtps"):
        raise refuse(
            f"starts with {url.scheme + '://' if url.scheme else 'no scheme'}, not smtp:// or smtps://"
        )
    if not url.hostname:
        raise refuse("names no server")
    if url.path not in ("", "/") or url.fragment:
        raise refuse("has a path after the server, which SMTP does not use")
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
    if url.scheme == "smtps" and starttls in _TRUE:
        raise refuse("asks for STARTTLS on smtps://, which is encrypted from the start; drop ?starttls=true")
    timeout = _timeout(options.get("timeout"), refuse)
    security: Security = "tls" if url.scheme == "smtps" else "starttls" if starttls in _TRUE else "none"
    username = unquote(url.username) if url.username else None
    if username and security == "none":
        raise refuse("has a user but no encryption, so the password would cross the network in clear")
    return SmtpServer(
        host=url.hostname,
        port=port or (465 if security == "tls" else 587 if security == "starttls" else 25),
        security=security,
        username=username,
        password=unquote(url.password) if url.password is not None else None,
        timeout=timeout,
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


def mail_from() -> str | None:
    """BILLING_DESK_MAIL_FROM as a From header ("Name <address>" or an address), or None when it is unset."""
    raw = settings().mail_from
    if raw is None:
        return None
    address = email_address(raw)
    if address is None:
        raise InvalidSetting(
            f"BILLING_DESK_MAIL_FROM is {raw!r}, which is not an e-mail address; set it like "
            "billing@example.com or 'Billing <billing@example.com>'."
        )
    name = parseaddr(raw)[0]
    return formataddr((name, address)) if name else address


def email_address(text: str | None) -> str | None:
    """The address in `text` ("a@b.example" or "Name <a@b.example>") when it is one, else None."""
    if not text or any(c in text for c in "\r\n"):
        return None
    address = parseaddr(text.strip())[1]
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain) or any(c.isspace() for c in address) or address.count("@") != 1:
        return None
    return address


@contextmanager
def connected(server: SmtpServer) -> Iterator[smtplib.SMTP]:
    """An SMTP session with the server: encrypted as the URL says, logged in when it names a user, closed after.
    Errors are smtplib's and the socket's own (OSError, ssl.SSLError, smtplib.SMTPException)."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.security == "tls":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    try:
        client.ehlo()
        if server.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if server.username:
            client.login(server.username, server.password or "")
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
