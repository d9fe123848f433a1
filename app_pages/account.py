"""Account: change your own password (required after a temporary one)."""

import streamlit as st

from data_access.auth import userstore
from data_access.auth.users import MIN_PASSWORD_LENGTH, change_own_password
from data_access.errors import InvalidAction
from ui.flash import flash, show_flash
from ui.session_keys import SIGNED_IN_AT
from ui.signin import current_actor

actor = current_actor()
user = userstore.users()[actor.username]
st.title("Change password" if user.must_change_password else "Account")
show_flash()
if user.must_change_password:
    st.warning("You signed in with a temporary password. Choose your own before you go on.")
elif not actor.roles:
    st.info("You have no role yet, so there are no pages for you. Ask a user-management admin for one.")

with st.form("account_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password")
    new = st.text_input(f"New password (at least {MIN_PASSWORD_LENGTH} characters)", type="password")
    repeat = st.text_input("New password again", type="password")
    if st.form_submit_button("Change password", type="primary"):
        if new != repeat:
            st.error("The two new passwords differ.")
        else:
            try:
                changed_at = change_own_password(actor.username, current=current, new=new)
            except InvalidAction as exc:
                st.error(str(exc))
            else:
                st.session_state[SIGNED_IN_AT] = changed_at
                flash("Password changed.")
