"""Users: who may sign in and with which roles (User management admins and Global admins)."""

import streamlit as st

from data_access.auth import users
from data_access.documents.exports import plain
from data_access.errors import InvalidAction
from data_access.permissions import GLOBAL_ADMIN, ROLES, PermissionDenied
from data_access.queries.time_zone import partner_time_zone
from data_access.text import readable
from ui.flash import Note, flash, show_flash
from ui.signin import current_actor

actor = current_actor()
st.title("Users")
show_flash()

try:
    table = users.list_users(actor)
except PermissionDenied as exc:
    st.error(plain(exc))
    st.stop()

zone = partner_time_zone()
st.dataframe(
    readable(table, moments=["locked_until"], zone=zone),
    hide_index=True,
    width="stretch",
    column_config={
        "username": "Username",
        "name": "Name",
        "email": "E-mail",
        "roles": "Roles",
        "status": "Status",
        "locked_until": f"Locked until ({zone})",
        "must_change_password": st.column_config.CheckboxColumn("Must change password"),
    },
)
grantable = [role for role in ROLES if role != GLOBAL_ADMIN or GLOBAL_ADMIN in actor.roles]


def act(success: str, action, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    try:
        result = action(actor, *args, **kwargs)
    except (PermissionDenied, InvalidAction) as exc:
        st.error(plain(exc))
        return
    if not isinstance(result, str):
        flash(success)
    username = kwargs.get("username") or args[0]
    flash(
        success,
        Note(
            f"Temporary password for {username}, shown once. Give it to the user; they choose their own at first "
            "sign-in.",
            code=result,
        ),
    )


add, change = st.tabs(["Add a user", "Change a user"])
with add, st.form("users_add", clear_on_submit=False):
    username = st.text_input("Username", key="users_add_username")
    name = st.text_input("Full name", key="users_add_name")
    email = st.text_input("E-mail", key="users_add_email")
    roles = st.multiselect("Roles", grantable, key="users_add_roles")
    if st.form_submit_button("Add user", type="primary"):
        act(f"{username} added", users.add_user, username=username, name=name, email=email, roles=roles)

with change:
    chosen = st.selectbox("User", list(table.username), key="users_change_user")
    if chosen:
        row = table[table.username == chosen].iloc[0]
        current_roles = [role for role in row.roles.split(", ") if role]
        with st.form("users_roles"):
            new_roles = st.multiselect("Roles", ROLES, default=current_roles, key=f"users_roles_{chosen}")
            if st.form_submit_button("Save roles"):
                act(f"Roles of {chosen} saved", users.set_roles, chosen, new_roles)
        left, middle, right = st.columns(3)
        if row.status == "active":
            if left.button("Disable", key="users_disable"):
                act(f"{chosen} disabled", users.disable_user, chosen)
        elif left.button("Enable", key="users_enable"):
            act(f"{chosen} enabled", users.enable_user, chosen)
        if middle.button("Reset password", key="users_reset"):
            act(f"Password of {chosen} reset", users.reset_password, chosen)
        if right.button(
            "Unlock", key="users_unlock", disabled=row.locked_until is None or str(row.locked_until) == "NaT"
        ):
            act(f"{chosen} unlocked", users.unlock_user, chosen)
