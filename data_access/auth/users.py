"""Users and roles: who is signed in (read from the store on every run) and the user-management actions.

Each action checks `users.manage`, then, in one database transaction, writes its audit event and edits auth.yaml
under the store's lock; if the edit is refused the event rolls back with it. A password change or reset and a
disable also end every session the user signed in before them, in every browser (`signin.revoke_sessions`).
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime

import pandas as pd
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from data_access.audit import (
    Event,
    OwnPasswordChanged,
    PasswordReset,
    RolesSet,
    UserAdded,
    UserDisabled,
    UserEnabled,
    UserUnlocked,
    record_event,
)
from data_access.auth import signin, userstore
from data_access.db import transaction
from data_access.errors import InvalidAction, NotFound
from data_access.permissions import GLOBAL_ADMIN, ROLES, Actor, requires

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


MIN_PASSWORD_LENGTH = 12


# Names the app itself acts or could be mistaken for acting under, in the audit log and elsewhere.
RESERVED_USERNAMES = frozenset(
    {signin.SYSTEM.username, "root", "anonymous", "import", "scheduler", "collections-run", "timer", "cli"}
)


def actor_for(username: str | None) -> Actor | None:
    """The signed-in person as the store says now: None when unknown or disabled, roles as they are today."""
    if not username:
        return None
    user = userstore.users().get(username)
    if user is None or user.disabled:
        return None
    return Actor.of(user.username, user.roles)


def _validated_roles(roles: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(roles))
    unknown = [role for role in chosen if role not in ROLES]
    if unknown:
        raise InvalidAction(f"{', '.join(unknown)} is not a role; the roles are: {', '.join(ROLES)}.")
    if not chosen:
        raise InvalidAction("Give at least one role; to stop someone signing in, disable them instead.")
    return [role for role in ROLES if role in chosen]


def _entries(document: CommentedMap) -> CommentedMap:
    credentials = document.setdefault("credentials", CommentedMap())
    usernames = credentials.setdefault("usernames", CommentedMap())
    if usernames is None:
        usernames = credentials["usernames"] = CommentedMap()
    return usernames  # type: ignore[no-any-return]


def _entry(document: CommentedMap, username: str) -> CommentedMap:
    entry = _entries(document).get(username)
    if entry is None:
        raise NotFound(f"There is no user {username!r}.")
    return entry  # type: ignore[no-any-return]


def _active_global_admins(document: CommentedMap) -> set[str]:
    return {
        name
        for name, entry in _entries(document).items()
        if GLOBAL_ADMIN in (entry.get("roles") or []) and not entry.get("disabled", False)
    }


def _guard_global_admin(actor: Actor, *, target_roles: Iterable[str], granting: Iterable[str] = ()) -> None:
    """Only a Global admin may create, change or grant Global admin."""
    if GLOBAL_ADMIN in actor.roles:
        return
    if GLOBAL_ADMIN in target_roles or GLOBAL_ADMIN in granting:
        raise InvalidAction("Only a Global admin may create, change or grant a Global admin.")


def _guard_last_global_admin(document: CommentedMap, username: str) -> None:
    if _active_global_admins(document) == {username}:
        raise InvalidAction(
            f"{username} is the last active Global admin; make someone else Global admin first."
        )


def _temporary_password() -> str:
    return secrets.token_urlsafe(12)


def _change(
    actor: Actor,
    event: Event,
    *,
    username: str,
    edit: Callable[[CommentedMap], None],
    revoke: bool = False,
) -> None:
    with transaction() as session:
        record_event(session, actor, event, target=f"user:{username}")
        session.flush()
        with userstore.editing() as document:
            edit(document)
        if revoke:
            # Only once the new store is in place: a sign-in that read the old one began before this moment.
            signin.revoke_sessions(session, username)


@requires("users.manage")
def list_users(actor: Actor) -> pd.DataFrame:
    """Every user with roles, status and any lockout in force."""
    locked = signin.lockouts()
    rows = [
        {
            "username": user.username,
            "name": user.name,
            "email": user.email,
            "roles": ", ".join(user.roles),
            "status": "disabled" if user.disabled else "active",
            "locked_until": locked.get(user.username),
            "must_change_password": user.must_change_password,
        }
        for user in userstore.users().values()
    ]
    columns = ["username", "name", "email", "roles", "status", "locked_until", "must_change_password"]
    return pd.DataFrame(rows, columns=columns)


@requires("users.manage")
def add_user(actor: Actor, *, username: str, name: str, email: str, roles: Iterable[str]) -> str:
    """A new user with a temporary password (returned once, never stored in clear) to change at first sign-in;
    reserved names are refused, and no session of an earlier holder of the name survives."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidAction(
            "A username is 2 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a "
            "letter or digit."
        )
    if username in RESERVED_USERNAMES:
        raise InvalidAction(
            f"{username!r} is reserved: Billing Desk uses it for its own work (the audit log would not tell them "
            "apart). Choose another username."
        )
    if not name.strip():
        raise InvalidAction("Give the user's name.")
    if email and not EMAIL.match(email.strip()):
        raise InvalidAction(f"{email!r} is not an e-mail address.")
    chosen = _validated_roles(roles)
    _guard_global_admin(actor, target_roles=chosen)
    password = _temporary_password()

    def edit(document: CommentedMap) -> None:
        entries = _entries(document)
        if username in entries:
            raise InvalidAction(f"A user named {username!r} already exists.")
        entry = CommentedMap()
        entry["name"] = name.strip()
        entry["email"] = email.strip()
        entry["roles"] = CommentedSeq(chosen)
        entry["password"] = signin.hash_password(password)
        entry["must_change_password"] = True
        entries[username] = entry

    _change(
        actor, UserAdded(roles=tuple(chosen), name=name.strip()), username=username, edit=edit, revoke=True
    )
    return password


@requires("users.manage")
def set_roles(actor: Actor, username: str, roles: Iterable[str]) -> None:
    """Replace a user's roles, keeping at least one active Global admin."""
    chosen = _validated_roles(roles)

    def edit(document: CommentedMap) -> None:
        entry = _entry(document, username)
        before = list(entry.get("roles") or [])
        _guard_global_admin(actor, target_roles=before, granting=chosen)
        if GLOBAL_ADMIN in before and GLOBAL_ADMIN not in chosen:
            _guard_last_global_admin(document, username)
        entry["roles"] = CommentedSeq(chosen)

    _change(actor, RolesSet(roles=tuple(chosen)), username=username, edit=edit)


def _set_disabled(actor: Actor, username: str, disabled: bool) -> None:
    def edit(document: CommentedMap) -> None:
        entry = _entry(document, username)
        _guard_global_admin(actor, target_roles=entry.get("roles") or [])
        if disabled:
            if username == actor.username:
                raise InvalidAction("You cannot disable yourself.")
            _guard_last_global_admin(document, username)
        entry["disabled"] = disabled

    event = UserDisabled() if disabled else UserEnabled()
    _change(actor, event, username=username, edit=edit, revoke=disabled)


@requires("users.manage")
def disable_user(actor: Actor, username: str) -> None:
    """A disabled user is signed out at their next interaction and cannot sign in; enabling them again does not
    bring back a session from before."""
    _set_disabled(actor, username, True)


@requires("users.manage")
def enable_user(actor: Actor, username: str) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(actor, username, False)


@requires("users.manage")
def reset_password(actor: Actor, username: str) -> str:
    """A new temporary password (returned once), to be changed at the next sign-in; every earlier session ends,
    so nobody resets their own (it would sign them out before they saw the new one)."""
    if username == actor.username:
        raise InvalidAction(
            "You cannot reset your own password: it would sign you out before you saw the new one. Ask another "
            "user-management admin, or run `python -m data_access users reset-password` on the server."
        )
    password = _temporary_password()

    def edit(document: CommentedMap) -> None:
        entry = _entry(document, username)
        _guard_global_admin(actor, target_roles=entry.get("roles") or [])
        entry["password"] = signin.hash_password(password)
        entry["must_change_password"] = True

    _change(actor, PasswordReset(), username=username, edit=edit, revoke=True)
    return password


@requires("users.manage")
def unlock_user(actor: Actor, username: str) -> None:
    """Lift a lockout before it ends by itself."""
    if username not in userstore.users():
        raise NotFound(f"There is no user {username!r}.")
    with transaction() as session:
        if not signin.clear_lockout(session, username):
            raise InvalidAction(f"{username} is not locked.")
        record_event(session, actor, UserUnlocked(), target=f"user:{username}")


def change_own_password(username: str, *, current: str, new: str) -> datetime:
    """A signed-in user replaces their own password (required after a temporary one); every session signed in
    before it ends. Returns the change's time: the session that made it counts as signed in then, and stays."""
    user = userstore.users().get(username)
    if user is None or user.disabled:
        raise NotFound(f"There is no active user {username!r}.")
    if not signin.password_matches(current, user.password_hash):
        raise InvalidAction("The current password is not right.")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise InvalidAction(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if new == current or new == f"{username}-demo":
        raise InvalidAction("Choose a new password, not the current or the demo one.")
    actor = Actor.of(username, user.roles)

    def edit(document: CommentedMap) -> None:
        entry = _entry(document, username)
        entry["password"] = signin.hash_password(new)
        entry["must_change_password"] = False

    with transaction() as session:
        record_event(session, actor, OwnPasswordChanged(), target=f"user:{username}")
        session.flush()
        with userstore.editing() as document:
            edit(document)
        return signin.revoke_sessions(session, username)


def demo_passwords_in_use() -> list[str]:
    """Usernames whose password is still '<username>-demo' (production refuses to start while any remain)."""
    return list(_demo_passwords(tuple((u.username, u.password_hash) for u in userstore.users().values())))


@functools.lru_cache(maxsize=8)
def _demo_passwords(hashes: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(name for name, hashed in hashes if signin.password_matches(f"{name}-demo", hashed))
