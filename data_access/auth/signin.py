"""Checking a password against the user store, with failed attempts and lockouts kept in the database so that
every app server sees the same ones."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import bcrypt
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data_access.audit import LockedOut, LockoutExpired, record_event
from data_access.auth import userstore
from data_access.config import settings
from data_access.db import changes_reads, get_engine, read_session, transaction
from data_access.models import LoginAttempt, utcnow
from data_access.permissions import Actor

SYSTEM = Actor.of("system", [])


# Compared against when the username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=12))


class Outcome(enum.Enum):
    SIGNED_IN = "signed in"
    WRONG = "wrong username or password"
    LOCKED = "locked"
    DISABLED = "disabled"


def password_matches(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def _attempt(session: Session, username: str) -> LoginAttempt:
    """The username's row, locked for this transaction. It is created first if missing, with ON CONFLICT DO
    NOTHING: two first sign-ins of one username at the same moment (two tabs, two servers) must not both insert
    it, and a lock on a row that does not exist yet would hold nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginAttempt).values(username=username, failed_count=0).on_conflict_do_nothing(
            index_elements=[LoginAttempt.username]
        )
    )  # fmt: skip
    attempt = session.scalar(
        select(LoginAttempt)
        .where(LoginAttempt.username == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert attempt is not None
    return attempt


def _expire_lock(session: Session, attempt: LoginAttempt, now: datetime) -> None:
    if attempt.locked_until is not None and attempt.locked_until <= now:
        attempt.locked_until = None
        attempt.failed_count = 0
        changes_reads(session)  # the audit log and the Users page show it
        record_event(session, SYSTEM, LockoutExpired(), target=f"user:{attempt.username}")


def locked_until(username: str, now: datetime | None = None) -> datetime | None:
    """When the username's lockout ends, or None if it may sign in."""
    now = now or utcnow()
    with read_session() as session:
        until = session.scalar(select(LoginAttempt.locked_until).where(LoginAttempt.username == username))
    return until if until is not None and until > now else None


def check_password(username: str, password: str, now: datetime | None = None) -> Outcome:
    """Sign-in rule: a locked username is refused without looking at the password; the configured number of
    wrong passwords in a row locks it for the configured minutes; a right password resets the count."""
    now = now or utcnow()
    username = username.strip().lower()
    config = settings()
    user = userstore.users().get(username)
    # The counters are bookkeeping no cached page shows: a sign-in must not make every cached page cold. A lockout
    # (or its end) is shown, on the Users page and in the audit log, and bumps the data version after all.
    with transaction(versioned=False) as session:
        attempt = _attempt(session, username)
        _expire_lock(session, attempt, now)
        if attempt.locked_until is not None:
            return Outcome.LOCKED
        if password_matches(password, user.password_hash if user else _DUMMY_HASH.decode()) and user:
            if user.disabled:
                return Outcome.DISABLED
            attempt.failed_count = 0
            return Outcome.SIGNED_IN
        attempt.failed_count += 1
        attempt.last_failed_at = now
        if attempt.failed_count >= config.max_login_attempts:
            attempt.locked_until = now + timedelta(minutes=config.lockout_minutes)
            changes_reads(session)
            record_event(
                session,
                SYSTEM,
                LockedOut(failed_attempts=attempt.failed_count, locked_until=attempt.locked_until),
                target=f"user:{username}",
            )
            return Outcome.LOCKED
        return Outcome.WRONG


def clear_lockout(session: Session, username: str) -> bool:
    """Lift a lockout inside the caller's transaction; True if there was one."""
    attempt = session.scalar(select(LoginAttempt).where(LoginAttempt.username == username).with_for_update())
    if attempt is None or (attempt.locked_until is None and attempt.failed_count == 0):
        return False
    was_locked = attempt.locked_until is not None and attempt.locked_until > utcnow()
    attempt.locked_until = None
    attempt.failed_count = 0
    return was_locked


def lockouts() -> dict[str, datetime]:
    """Usernames locked right now, with the time each lock ends."""
    now = utcnow()
    with read_session() as session:
        rows = session.execute(
            select(LoginAttempt.username, LoginAttempt.locked_until).where(LoginAttempt.locked_until > now)
        )
        return {row.username: row.locked_until for row in rows if row.locked_until is not None}


def revoke_sessions(session: Session, username: str, now: datetime | None = None) -> datetime:
    """Inside the caller's transaction: every session of this user that signed in before now is over, in every
    browser, whatever its cookie says; returns the time from which sign-ins count (it never moves back)."""
    now = now or utcnow()
    attempt = _attempt(session, username)
    if attempt.signed_out_at is None or attempt.signed_out_at < now:
        attempt.signed_out_at = now
    return attempt.signed_out_at


def record_sign_out(username: str, now: datetime | None = None) -> None:
    """Signing out ends every session of this user signed in before it, in every browser."""
    with transaction() as session:
        revoke_sessions(session, username, now)


def session_revoked(username: str, signed_in_at: datetime | None) -> bool:
    """True when the user's sessions were revoked after this one signed in (a sign-in time that is not known
    counts as earlier than any revocation). Read from the primary: a lagging replica must not prolong a session."""
    with Session(get_engine()) as session:
        valid_from = session.scalar(
            select(LoginAttempt.signed_out_at).where(LoginAttempt.username == username)
        )
    if valid_from is None:
        return False
    return signed_in_at is None or signed_in_at < valid_from
