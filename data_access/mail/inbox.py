"""E-mail from the support mailbox: the fetch (`fetch_new`) hands each unread message, oldest first, to the caller's
`store` and marks it \\Seen only after the store has committed, so a fetch that dies part-way leaves the rest
unread for the next one; and each message read into what a ticket needs (`read_message`), whatever it carries.

Reading never fails: headers in any encoding (RFC 2047 words, raw 8-bit bytes, unknown charsets) are decoded as
well as they can be and what cannot is replaced; control characters are dropped; the text is the text/plain part,
or the text/html part turned into plain text; every other part is an attachment. A message without a Message-ID
gets one made from its content, the same on every fetch. A message larger than BILLING_DESK_MAIL_MAX_MB is read
only as far as its header and the first 256 KB of its body: its text is kept, its attachments are not, and
`notes` says so.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import Message
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Literal

from data_access.checks import valid_email
from data_access.config import settings
from data_access.mail import imap
from data_access.mail.smtp import email_address
from data_access.text import plural

Outcome = Literal["ticket", "reply", "duplicate", "refused"]
Store = Callable[["Incoming"], Outcome]
HEAD_BYTES = 256 * 1024
"""How much of the body of a message over the size limit is read: its text, not its attachments."""
MAX_TEXT = 200_000
"""Characters of a message's text kept; the rest is cut, and the notes say so."""
MAX_PARTS = 200
_ID = re.compile(r"<[^<>\s]{1,500}>")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
MAX_ADDRESS_HEADER = 2_000
"""Characters of a From, Sender or Reply-To read for its address: the address parser's time grows with the square
of the length."""


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Incoming:
    """One message as a ticket needs it; `sender` is the From address, lower case, or None when there is none."""

    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    sender: str | None
    from_header: str | None
    reply_to: str | None
    recipients: str
    subject: str
    text: str
    dated_at: datetime | None
    automatic: bool
    attachments: tuple[Attachment, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def sender_domain(self) -> str | None:
        return self.sender.rpartition("@")[2] if self.sender else None

    def threads(self) -> tuple[str, ...]:
        """The Message-IDs this message answers: In-Reply-To first, then References, newest first."""
        ids = ([self.in_reply_to] if self.in_reply_to else []) + list(reversed(self.references))
        return tuple(dict.fromkeys(ids))


@dataclass(frozen=True)
class Fetched:
    """What one fetch did with the unread messages."""

    mailbox: str
    tickets: int = 0
    replies: int = 0
    duplicates: int = 0
    refused: int = 0
    left: int = 0

    def line(self) -> str:
        parts = [plural(self.tickets, "new ticket"), plural(self.replies, "reply", "replies") + " on tickets"]
        if self.duplicates:
            parts.append(f"{plural(self.duplicates, 'message')} taken before (marked read)")
        if self.refused:
            parts.append(f"{self.refused} refused (flagged in the mailbox)")
        if self.left:
            parts.append(f"{self.left} left unread for the next fetch")
        return f"Mail from {self.mailbox}: " + ", ".join(parts) + "."


def fetch_new(store: Store, *, limit: int | None = None) -> Fetched:
    """Every unread message of the mailbox (at most `limit`), oldest first: read, handed to `store`, which commits
    and says what became of it, then marked \\Seen (and \\Flagged when refused). InvalidSetting when
    BILLING_DESK_IMAP_URL cannot be used; MailboxError (a sentence, with what was done before) when the server
    cannot be reached or breaks off."""
    server = imap.imap_server()
    limit_mb = settings().mail_max_mb
    counts: Counter[str] = Counter()
    left = 0

    def so_far() -> Fetched:
        return Fetched(
            mailbox=server.describe(),
            tickets=counts["ticket"],
            replies=counts["reply"],
            duplicates=counts["duplicate"],
            refused=counts["refused"],
            left=left,
        )

    with imap.connected(server) as client:
        try:
            uids = imap.unseen(client)
            for number, uid in enumerate(uids):
                if limit is not None and number >= limit:
                    left = len(uids) - number
                    break
                size = imap.size(client, uid)
                if size is None:
                    continue  # expunged since the search
                complete = size <= limit_mb * 1024 * 1024
                raw = imap.whole(client, uid) if complete else imap.head(client, uid, HEAD_BYTES)
                if raw is None:
                    continue
                outcome = store(read_message(raw, size=size, complete=complete, limit_mb=limit_mb))
                imap.mark(client, uid, flagged=outcome == "refused")
                counts[outcome] += 1
        except imap.ImapError as error:
            done = so_far().line().partition(": ")[2]
            raise imap.MailboxError(f"{imap.describe_error(error, server)} Before that: {done}") from None
    return so_far()


# Reading one message


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)
    count: int = 0


def read_message(
    raw: bytes, *, size: int | None = None, complete: bool = True, limit_mb: int = 10
) -> Incoming:
    """The message's ids, sender, recipients, subject, date, text and attachments, read as well as they can be;
    `complete=False` for a message read only as far as its head (over the size limit): no attachment is kept."""
    message = message_from_bytes(raw, policy=policy.compat32)
    notes: list[str] = []
    parts = _Parts()
    _walk(message, parts, keep=complete, depth=0)
    text = "\n\n".join(t for t in parts.plain if t.strip()) or html_text("\n".join(parts.html))
    if len(text) > MAX_TEXT:
        notes.append(f"The text was cut at {MAX_TEXT:,} characters.")
        text = text[:MAX_TEXT]
    if not complete:
        megabytes = f"{(size or len(raw)) / 1024 / 1024:.1f} MB"
        dropped = f": {', '.join(parts.not_kept)}" if parts.not_kept else ""
        notes.append(
            f"The message was {megabytes}, over the {limit_mb} MB limit (BILLING_DESK_MAIL_MAX_MB): its text is "
            f"kept, its attachments are not{dropped}."
        )
    if parts.count > MAX_PARTS:
        notes.append(f"Only the first {MAX_PARTS} parts of the message were read.")
    if message.defects or any(part.defects for part in message.walk()):
        notes.append("The message was not well formed; what could be read is kept.")
    sender = _address(message, "From") or _address(message, "Sender")
    if sender is None:
        notes.append("The message names no sender.")
    reply_to = _address(message, "Reply-To")
    return Incoming(
        message_id=_message_id(_header(message, "Message-ID")) or _made_id(raw),
        in_reply_to=next(iter(_ids(_header(message, "In-Reply-To"))), None),
        references=tuple(_ids(_header(message, "References")))[-50:],
        sender=sender,
        from_header=_line(_header(message, "From")) or None,
        reply_to=reply_to,
        recipients=", ".join(filter(None, (_line(_header(message, name)) for name in ("To", "Cc"))))[:2000],
        subject=_line(_header(message, "Subject"))[:300],
        text=text,
        dated_at=_date(_header(message, "Date")),
        automatic=_automatic(message, sender),
        attachments=tuple(parts.attachments),
        notes=tuple(notes),
    )


def _walk(part: Message, found: _Parts, *, keep: bool, depth: int) -> None:
    found.count += 1
    if found.count > MAX_PARTS or depth > 30:
        return
    content_type = _content_type(part)
    if content_type == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = _line(_header(inner, "Subject")) if isinstance(inner, Message) else ""
        data = _bytes_of(inner) if isinstance(inner, Message) else _payload(part)
        _attach(found, _file_name(f"{subject or 'message'}.eml"), "message/rfc822", data, keep=keep)
        return
    if part.is_multipart():
        payload = part.get_payload()
        for inner in payload if isinstance(payload, list) else []:
            if isinstance(inner, Message):
                _walk(inner, found, keep=keep, depth=depth + 1)
        return
    name = _attachment_name(part)
    disposition = part.get_content_disposition()
    if content_type in ("text/plain", "text/html") and name is None and disposition != "attachment":
        text = _decode(_payload(part), part.get_content_charset())
        (found.plain if content_type == "text/plain" else found.html).append(text)
        return
    extension = {"text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics"}.get(content_type, "")
    _attach(found, name or f"attachment-{len(found.attachments) + 1}{extension}", content_type, _payload(part),
            keep=keep)  # fmt: skip


def _attach(found: _Parts, name: str, content_type: str, data: bytes, *, keep: bool) -> None:
    if keep:
        found.attachments.append(Attachment(name, content_type, data))
    else:
        found.not_kept.append(name)


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: what is there, undecoded
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _bytes_of(message: Message) -> bytes:
    try:
        return message.as_bytes()
    except Exception:
        return message.as_string().encode("utf-8", "surrogateescape")


def _content_type(part: Message) -> str:
    found = part.get_content_type().lower()
    return (
        found if re.fullmatch(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,58}", found) else "application/octet-stream"
    )


def _attachment_name(part: Message) -> str | None:
    try:
        raw = part.get_filename()
    except Exception:
        raw = None
    if raw is None:
        return None
    return _file_name(_line(raw))


def _file_name(text: str) -> str:
    """A name safe to offer for download: no folders, no control characters, at most 255 characters."""
    name = _line(text).replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    if len(name) > 255:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: 250 - len(extension)] + dot + extension) if dot and len(extension) < 10 else name[:255]
    return name or "attachment"


# Headers


def _header(message: Message | None, name: str) -> str:
    """The header's first value decoded (RFC 2047 words, raw 8-bit bytes), "" when absent."""
    if message is None:
        return ""
    try:
        value = message.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    text = _unescape(str(value))
    try:
        chunks = decode_header(text)
    except Exception:
        return text
    return "".join(_decode(c, charset) if isinstance(c, bytes) else c for c, charset in chunks)


def _address(message: Message, name: str) -> str | None:
    """The header's first valid address, lower case; parsed as RFC 5322 reads it, so a mailbox's
    address is the one in angle brackets whatever its name says. An encoded word (=?utf-8?q?...?=) stands only in
    a name or a comment, never in an address (RFC 2047), so it is read as a plain word: what it decodes to (line
    breaks, a `Bcc:`, another address) cannot change where the address is."""
    raw = " ".join(_unescape(str(message.get(name) or "")).split())[:MAX_ADDRESS_HEADER]
    try:
        found = [
            address.addr_spec
            for address in policy.default.header_factory(name, _ENCODED_WORD.sub("word", raw)).addresses
        ]
    except Exception:  # a header the parser gives up on names no address
        return None
    return next((a.lower() for a in found if email_address(a) and valid_email(a)), None)


def _ids(text: str) -> list[str]:
    return [found for found in _ID.findall(_clean(text)) if len(found) <= 300]


def _message_id(text: str) -> str | None:
    found = _ID.search(text)
    if found:
        value = found.group(0)
    elif text.strip() and not any(c.isspace() for c in text.strip()):
        value = f"<{text.strip().strip('<>')}>"
    else:
        return None
    value = _line(value)
    if len(value) > 300 or not value.isascii():
        return f"<{hashlib.sha256(value.encode()).hexdigest()[:40]}@long-id.invalid>"
    return value


def _made_id(raw: bytes) -> str:
    """A Message-ID for a message without one: the same for the same bytes, so it too is taken once."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"


def _date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC) if 1990 <= moment.year <= 2200 else None


def _automatic(message: Message, sender: str | None) -> bool:
    """An out-of-office reply, a bounce, a list or bulk message: it must not reopen a ticket."""
    submitted = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    local = (sender or "").partition("@")[0]
    return (
        (bool(submitted) and submitted != "no")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or any(message.get(name) is not None for name in ("X-Autoreply", "X-Autorespond", "List-Id"))
        or local in ("mailer-daemon", "postmaster")
        or _content_type(message) == "multipart/report"
    )


# Text


def _unescape(text: str) -> str:
    """Raw 8-bit header bytes (which the parser keeps as surrogates) read as UTF-8, else Windows-1252."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _decode(data: bytes, charset: str | None) -> str:
    """Bytes in the charset they claim; an unknown or missing one read as UTF-8, else Windows-1252."""
    if charset:
        try:
            return _clean(data.decode(charset.strip().strip('"'), "replace"))
        except (LookupError, ValueError):
            pass
    try:
        return _clean(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _clean(data.decode("cp1252", "replace"))


def _clean(text: str) -> str:
    """Line breaks as \\n; no control characters other than line breaks and tabs (the database refuses them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        c for c in text if c in "\n\t" or c == "\u200d" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )


def _line(text: str) -> str:
    return " ".join(_clean(text).split())


class _HtmlText(HTMLParser):
    BLOCKS = frozenset({
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
        "thead", "tfoot", "tr", "ul",
    })  # fmt: skip
    HIDDEN = frozenset({"head", "script", "style", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "pre":
            self.pre += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.out[start:]).strip()
            if href and href.startswith(("http://", "https://", "mailto:")) and shown not in (href, href[7:]):
                self.out.append(f" ({href})")
        if tag in self.BLOCKS and tag not in ("li", "br"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """An HTML e-mail body as plain text: paragraphs and line breaks kept, lists as "- " lines, links followed by
    their address, scripts, styles and the head left out, at most one blank line in a row."""
    if not html.strip():
        return ""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is for the input it still chokes on
        return _clean(re.sub(r"<[^>]*>", " ", html))
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    text = "\n".join(lines)
    return _clean(re.sub(r"\n{3,}", "\n\n", text).strip())
