"""What a page shows when the database fails it: a sentence, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NoReturn

import streamlit as st

from data_access import db
from data_access.config import settings
from data_access.documents.exports import plain
from data_access.money import moment

RETRY_SECONDS = 5


def database_trouble(error: db.DatabaseError) -> NoReturn:
    """A banner instead of a traceback when the database fails us; an unreachable database is retried every few
    seconds and the page comes back by itself when it answers. An error that the request itself caused (a value
    the database cannot hold) is that request's message, not an outage."""
    refused = db.refusal(error)
    if refused is not None:
        st.error(plain(refused))
        st.stop()
    if db.query_cancelled(error):
        st.warning(
            f"This page asked the database for something that took longer than "
            f"{settings().statement_timeout_seconds} s, so it was stopped. Narrow the filters or try again in a "
            "moment; other pages and other users are not affected."
        )
        st.stop()
    st.error(
        "**The billing database cannot be reached right now.** Nothing you entered was half-saved: an action "
        "either finished before this or did not happen at all. Billing Desk tries again every "
        f"{RETRY_SECONDS} seconds and this page comes back by itself when the database answers.",
        icon=":material/cloud_off:",
    )

    @st.fragment(run_every=RETRY_SECONDS)
    def wait_for_database() -> None:
        if db.ping():
            st.rerun(scope="app")
        st.caption(f"Last tried at {moment(datetime.now(UTC).replace(microsecond=0))}.")

    wait_for_database()
    st.stop()
