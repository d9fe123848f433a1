"""Settings read from the environment, with defaults that run the demo on SQLite."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "billing_desk.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_read_url: str | None
    auth_file: Path
    environment: str
    max_login_attempts: int
    lockout_minutes: int
    statement_timeout_seconds: int


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def settings() -> Settings:
    """Read on every call, so a test or a CLI option that changes the environment takes effect."""
    env = os.environ
    return Settings(
        database_url=env.get("DATABASE_URL") or default_database_url(),
        database_read_url=env.get("DATABASE_READ_URL") or None,
        auth_file=Path(env.get("BILLING_DESK_AUTH_FILE") or PROJECT_ROOT / "auth.yaml"),
        environment=env.get("BILLING_DESK_ENV", "development"),
        max_login_attempts=int(env.get("BILLING_DESK_MAX_ATTEMPTS", "5")),
        lockout_minutes=int(env.get("BILLING_DESK_LOCKOUT_MINUTES", "15")),
        statement_timeout_seconds=int(env.get("BILLING_DESK_STATEMENT_TIMEOUT", "60")),
    )


COOKIE_KEY_FILE = PROJECT_ROOT / "var" / "cookie_key"


def cookie_key() -> str:
    """BILLING_DESK_COOKIE_KEY, or else a random key made once and kept in var/ (git-ignored), never a constant."""
    from_env = os.environ.get("BILLING_DESK_COOKIE_KEY")
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
