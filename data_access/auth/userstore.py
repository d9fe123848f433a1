"""auth.yaml, the user store: read on every run (cheaply, by file signature), edited under a file lock, written
atomically (temp file + rename) with its comments and key order kept."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from data_access.config import settings
from data_access.errors import InvalidAction


@dataclass(frozen=True)
class UserRecord:
    username: str
    name: str
    email: str
    roles: tuple[str, ...]
    disabled: bool
    must_change_password: bool
    password_hash: str


@dataclass(frozen=True)
class CookieConfig:
    name: str
    expiry_days: float


_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def auth_path() -> Path:
    return settings().auth_file


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _document() -> dict[str, Any]:
    """The parsed file, re-read only when its modification time or size changed."""
    path = auth_path()
    try:
        signature = _signature(path)
    except FileNotFoundError:
        raise InvalidAction(f"The user store {path} does not exist; set BILLING_DESK_AUTH_FILE.") from None
    cached = _cache.get(path)
    if cached is None or cached[0] != signature:
        with path.open(encoding="utf-8") as handle:
            document = _yaml().load(handle) or CommentedMap()
        _cache[path] = (signature, document)
        return dict(document)
    return dict(cached[1])


def _record(username: str, entry: dict[str, Any]) -> UserRecord:
    return UserRecord(
        username=username,
        name=str(entry.get("name") or username),
        email=str(entry.get("email") or ""),
        roles=tuple(str(role) for role in entry.get("roles") or ()),
        disabled=bool(entry.get("disabled", False)),
        must_change_password=bool(entry.get("must_change_password", False)),
        password_hash=str(entry.get("password") or ""),
    )


def users() -> dict[str, UserRecord]:
    """Every user in the store, by username."""
    entries = (_document().get("credentials") or {}).get("usernames") or {}
    return {str(name): _record(str(name), entry or {}) for name, entry in entries.items()}


def cookie_config() -> CookieConfig:
    """Cookie name and sign-in lifetime (days); BILLING_DESK_SESSION_DAYS overrides the file."""
    cookie = _document().get("cookie") or {}
    days = settings().session_days or cookie.get("expiry_days") or 1
    return CookieConfig(name=str(cookie.get("name") or "billing_desk_session"), expiry_days=float(days))


@contextmanager
def editing() -> Iterator[CommentedMap]:
    """Yield the freshly read document under an exclusive lock; write it back atomically if the block succeeds.

    The lock is a sibling file, so concurrent editors (several app servers, the CLI) queue instead of losing
    each other's changes; readers never see a half-written file because the new one is renamed into place.
    """
    path = auth_path()
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with path.open(encoding="utf-8") as handle:
                document = _yaml().load(handle)
            yield document
            mode = path.stat().st_mode & 0o777
            fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    _yaml().dump(document, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(temp_name).chmod(mode)
                Path(temp_name).replace(path)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
