"""What every page needs from the run that dashboard.py set up."""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import streamlit as st

from app_pages.state import ACTOR
from data_access import db
from data_access.permissions import Actor

P = ParamSpec("P")
R = TypeVar("R")


def current_actor() -> Actor:
    """The signed-in user as dashboard.py resolved them from the user store on this run."""
    actor = st.session_state.get(ACTOR)
    if not isinstance(actor, Actor):
        st.error("You are not signed in.")
        st.stop()
    return actor


def cached(ttl: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`st.cache_data` keyed also on the database's data version, so a change committed through any app server
    (or the CLI) shows on this server's next rerun; the TTL only bounds how long an unused entry is kept.

    The wrapped function keeps its module and name, which is how Streamlit tells cached functions apart."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        def at_version(data_version: int, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        at_version.__module__ = function.__module__
        at_version.__qualname__ = function.__qualname__
        at_version.__name__ = function.__name__
        at_version.__doc__ = function.__doc__
        stored = st.cache_data(ttl=ttl, show_spinner=False)(at_version)

        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return stored(db.cache_version(), *args, **kwargs)  # type: ignore[no-any-return]

        call.__module__ = function.__module__
        call.__qualname__ = function.__qualname__
        call.__name__ = function.__name__
        call.__doc__ = function.__doc__
        call.clear = stored.clear  # type: ignore[attr-defined]
        return call

    return decorate
