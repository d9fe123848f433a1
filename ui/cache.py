"""One cache for every page's reads: `cached(function)(actor, ...)` calls a data_access function once per version
of what it reads, actor and arguments, so a change committed on any app server (or by the CLI) shows on the next
rerun and nobody clears caches by hand. What a function reads is declared in data_access/subjects.py (aging reads
receivables and customers, ...): a call is keyed on the versions of those subjects only, so a ticket update leaves
the receivables pages warm; a function declared nowhere is keyed on the data version (any write makes it cold).
The versions are read once, at the start of the run (`start_run`), and move up with what the run itself writes."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import streamlit as st

from data_access import clock, db
from data_access.permissions import Actor
from data_access.subjects import function_name, reads_of
from ui.session_keys import READ_FLOOR

P = ParamSpec("P")
R = TypeVar("R")

# Entries of an old data version are never read again; the TTL and the count only bound the memory they hold.
TTL = timedelta(minutes=5)
MAX_ENTRIES = 2000


def key_of(value: object) -> object:
    """A hashable, order-independent stand-in for an argument: an actor is its username and sorted roles, sets
    are sorted, dataclasses are their fields. Anything else must be hashable itself (no DataFrames, no lists of
    lists), so two calls share an entry exactly when their arguments are equal."""
    if isinstance(value, Actor):
        return ("actor", value.username, tuple(sorted(value.roles)))
    if isinstance(value, enum.Enum):
        return (type(value).__qualname__, value.value)
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((key_of(item) for item in value), key=repr)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(key_of(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((str(k), key_of(v)) for k, v in value.items()), key=repr)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, key_of(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (type(value).__qualname__, fields)
    hash(value)  # refuses what cannot be a key, rather than caching it under a wrong one
    return value


@st.cache_data(ttl=TTL, max_entries=MAX_ENTRIES, show_spinner=False)
def _stored(
    name: str,
    version: int,
    arguments: object,
    _function: Callable[..., Any],
    _args: tuple[Any, ...],
    _kwargs: dict[str, Any],
) -> Any:
    return _function(*_args, **_kwargs)


def cached(function: Callable[P, R]) -> Callable[P, R]:
    """`function` read through the cache: keyed on the version of the subjects it reads as this run sees them
    (every subject's when it is not declared), the function, and every argument, the actor (username and roles)
    included, and today's date: what a function works out from "today" without taking it as an argument (days
    past due, the month to date) is read again on a new day even when nothing was written overnight. Exceptions
    (PermissionDenied...) are never cached."""
    name = function_name(function)
    subjects = reads_of(function)

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        arguments = key_of((args, kwargs))
        version = db.cache_version() if subjects is None else db.subjects_version(subjects)
        key = (clock.today(), arguments)
        return _stored(name, version, key, function, args, kwargs)  # type: ignore[no-any-return]

    return call


def start_run() -> None:
    """Reads on this run see this user's own writes (a replica may lag them), and cached reads are keyed on the
    versions read here (max: a widget callback, which runs before the script, may have written already)."""
    db.set_read_floor(max(st.session_state.get(READ_FLOOR, 0), db.read_floor()))
    db.data_version()


def finish_run() -> None:
    """An action on this run may have written: the user's later runs must read it."""
    st.session_state[READ_FLOOR] = db.read_floor()
