"""Settings, read from the environment here and nowhere else, with defaults that run the demo on SQLite.

| Variable | Setting | Default |
|---|---|---|
| DATABASE_URL | database_url | a SQLite file in var/ |
| DATABASE_READ_URL | database_read_url | none: reads go to DATABASE_URL |
| BILLING_DESK_AUTH_FILE | auth_file | auth.yaml in the project folder |
| BILLING_DESK_ENV | environment | development (or production) |
| BILLING_DESK_COOKIE_KEY | cookie_key | none: a key kept in var/cookie_key (see `cookie_key()`) |
| BILLING_DESK_SESSION_DAYS | session_days | none: the cookie's expiry_days in auth.yaml |
| BILLING_DESK_LOGIN_DELAY | login_delay_seconds | 0.7 |
| BILLING_DESK_MAX_ATTEMPTS | max_login_attempts | 5 |
| BILLING_DESK_LOCKOUT_MINUTES | lockout_minutes | 15 |
| BILLING_DESK_STATEMENT_TIMEOUT | statement_timeout_seconds | 60 |
| BILLING_DESK_AGING_BUCKETS | aging_buckets | none: 30,60,90,120 (the receivables reader parses it) |
| BILLING_DESK_SMTP_URL | smtp_url | none: e-mail is written as .eml files to the outbox folder (mail/smtp.py parses it) |
| BILLING_DESK_MAIL_FROM | mail_from | none: the partner profile's contact e-mail |
| BILLING_DESK_OUTBOX_DIR | outbox_dir | var/outbox in the project folder |
| BILLING_DESK_IMAP_URL | imap_url | none: `mail fetch` says it is not set (mail/imap.py parses it) |
| BILLING_DESK_ATTACHMENTS_DIR | attachments_dir | none: e-mail attachments are kept in the database |
| BILLING_DESK_MAIL_MAX_MB | mail_max_mb | 10: a larger e-mail keeps its text, not its attachments |
| BILLING_DESK_REPORTING_CURRENCY | reporting_currency | USD: the currency converted totals are given in |

An empty variable counts as unset. A value that cannot be used raises InvalidSetting naming the variable.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "billing_desk.sqlite3"
COOKIE_KEY_FILE = PROJECT_ROOT / "var" / "cookie_key"
ENVIRONMENTS = ("development", "production")


class InvalidSetting(ValueError):
    """An environment variable holds a value the app cannot use; the message names it and what it takes."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_read_url: str | None
    auth_file: Path
    environment: str
    cookie_key: str | None
    session_days: float | None
    login_delay_seconds: float
    max_login_attempts: int
    lockout_minutes: int
    statement_timeout_seconds: int
    aging_buckets: str | None
    smtp_url: str | None = None
    mail_from: str | None = None
    outbox_dir: Path = PROJECT_ROOT / "var" / "outbox"
    imap_url: str | None = None
    attachments_dir: Path | None = None
    mail_max_mb: int = 10
    reporting_currency: str = "USD"


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def settings() -> Settings:
    """Read on every call, so a test or a CLI option that changes the environment takes effect."""
    environment = _text("BILLING_DESK_ENV") or "development"
    if environment not in ENVIRONMENTS:
        raise InvalidSetting(f"BILLING_DESK_ENV is {environment!r}; set it to development or production.")
    delay = _number("BILLING_DESK_LOGIN_DELAY", "a number of seconds, 0 or more", zero=True)
    return Settings(
        database_url=_text("DATABASE_URL") or default_database_url(),
        database_read_url=_text("DATABASE_READ_URL"),
        auth_file=Path(_text("BILLING_DESK_AUTH_FILE") or PROJECT_ROOT / "auth.yaml"),
        environment=environment,
        cookie_key=_text("BILLING_DESK_COOKIE_KEY"),
        session_days=_number("BILLING_DESK_SESSION_DAYS", "a number of days above 0", zero=False),
        login_delay_seconds=0.7 if delay is None else delay,
        max_login_attempts=_whole("BILLING_DESK_MAX_ATTEMPTS", 5, "attempts"),
        lockout_minutes=_whole("BILLING_DESK_LOCKOUT_MINUTES", 15, "minutes"),
        statement_timeout_seconds=_whole("BILLING_DESK_STATEMENT_TIMEOUT", 60, "seconds"),
        aging_buckets=_text("BILLING_DESK_AGING_BUCKETS"),
        smtp_url=_text("BILLING_DESK_SMTP_URL"),
        mail_from=_text("BILLING_DESK_MAIL_FROM"),
        outbox_dir=Path(_text("BILLING_DESK_OUTBOX_DIR") or PROJECT_ROOT / "var" / "outbox"),
        imap_url=_text("BILLING_DESK_IMAP_URL"),
        attachments_dir=_folder("BILLING_DESK_ATTACHMENTS_DIR"),
        mail_max_mb=_whole("BILLING_DESK_MAIL_MAX_MB", 10, "megabytes"),
        reporting_currency=_currency("BILLING_DESK_REPORTING_CURRENCY", "USD"),
    )


def _text(name: str) -> str | None:
    return os.environ.get(name) or None


def _currency(name: str, default: str) -> str:
    value = (_text(name) or default).strip().upper()
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise InvalidSetting(
            f"{name} is {value[:20]!r}; set it to a three-letter currency code such as USD or EUR."
        )
    return value


def _folder(name: str) -> Path | None:
    raw = _text(name)
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidSetting(f"{name} is {raw!r}; set it to an absolute path, like /srv/billing-desk/mail.")
    return path


def _whole(name: str, default: int, unit: str) -> int:
    raw = _text(name)
    if raw is None:
        return default
    if not (raw.strip().isascii() and raw.strip().isdigit()) or int(raw) < 1:
        raise InvalidSetting(
            f"{name} is {raw!r}; set it to a whole number of {unit}, 1 or more (default {default})."
        )
    return int(raw)


def _number(name: str, takes: str, *, zero: bool) -> float | None:
    raw = _text(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise InvalidSetting(f"{name} is {raw!r}; set it to {takes}.")
    return value


def cookie_key() -> str:
    """BILLING_DESK_COOKIE_KEY, or else a random key made once and kept in var/ (git-ignored), never a constant."""
    from_env = settings().cookie_key
    if from_env:
        return from_env
    COOKIE_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(COOKIE_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return COOKIE_KEY_FILE.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
    return COOKIE_KEY_FILE.read_text(encoding="utf-8").strip()
