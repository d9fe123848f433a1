"""What every page needs from the run that dashboard.py set up."""

import streamlit as st

from app_pages.state import ACTOR
from data_access.permissions import Actor


def current_actor() -> Actor:
    """The signed-in user as dashboard.py resolved them from the user store on this run."""
    actor = st.session_state.get(ACTOR)
    if not isinstance(actor, Actor):
        st.error("You are not signed in.")
        st.stop()
    return actor
