"""The streamlit-authenticator glue: one authenticator per run, the sign-in form, the cookie kept honest, and who
is signed in, decided from the user store on every run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import jwt
import pandas as pd
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from data_access.auth import signin, users, userstore
from data_access.config import cookie_key, settings
from data_access.documents.exports import plain
from data_access.permissions import Actor
from ui.session_keys import (
    ACTOR,
    AUTHENTICATION_STATUS,
    LOGOUT,
    SIGN_OUT_REQUESTED,
    SIGNED_IN_AT,
    SIGNIN_MESSAGE,
    USERNAME,
)

OUTCOME_MESSAGES = {
    signin.Outcome.WRONG: "The username or password is not right.",
    signin.Outcome.LOCKED: "Too many failed sign-ins: this username is locked for a while. "
    "A user-management admin can unlock it sooner.",
    signin.Outcome.DISABLED: "This account is disabled. Ask a user-management admin.",
}
# Our claim in the sign-in cookie: when its session signed in with a password, kept as it is on every re-emission.
SIGNED_IN_CLAIM = "signed_in_at"


def current_actor() -> Actor:
    """The signed-in user as dashboard.py resolved them from the user store on this run."""
    actor = st.session_state.get(ACTOR)
    if not isinstance(actor, Actor):
        st.error("You are not signed in.")
        st.stop()
    return actor


@st.fragment
def build_authenticator() -> stauth.Authenticate:
    """One per run: credentials as a dict from the store (never the path, which it would rewrite).

    A fragment, because constructing it draws the cookie component, which reports the browser's cookies once per
    page load, ~0.2 s after it is drawn (nothing reads that report: the cookie is read from st.context.cookies).
    Drawn by the page run, its report reran the whole app and, with fastReruns, threw away the page run under way,
    so every reload and new tab ran its page twice; from a fragment it reruns this fragment alone."""
    cookie = userstore.cookie_config()
    credentials = {
        "usernames": {
            user.username: {"name": user.name, "email": user.email, "password": user.password_hash,
                            "roles": list(user.roles)}
            for user in userstore.users().values()
            if not user.disabled
        }
    }  # fmt: skip
    authenticator = stauth.Authenticate(
        credentials,
        cookie.name,
        cookie_key(),
        cookie.expiry_days,
        login_sleep_time=settings().login_delay_seconds,
    )

    def check_credentials(username: str, password: str) -> bool:
        # Taken before the password is read: a change the check did not see yet must still end this session.
        started = datetime.now(UTC)
        outcome = signin.check_password(username, password)
        st.session_state[SIGNIN_MESSAGE] = OUTCOME_MESSAGES.get(outcome)
        if outcome is signin.Outcome.SIGNED_IN:
            st.session_state[SIGNED_IN_AT] = started
        return outcome is signin.Outcome.SIGNED_IN

    authenticator.authentication_controller.authentication_model.check_credentials = check_credentials
    return authenticator


def sign_in_form(authenticator: stauth.Authenticate) -> bool:
    """The sign-in form; True when it signed someone in on this run."""
    st.title("Billing Desk")
    with st.form("signin_form"):
        st.subheader("Sign in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        st.session_state.pop(SIGNIN_MESSAGE, None)
        if authenticator.authentication_controller.login(username, password):
            return True
        st.error(st.session_state.get(SIGNIN_MESSAGE) or OUTCOME_MESSAGES[signin.Outcome.WRONG])
    elif message := st.session_state.get(SIGNIN_MESSAGE):
        # Kept until the next attempt: the rerun that the cookie component starts would wipe it at once.
        st.info(message)
    load_page_code()
    return False


def load_page_code() -> None:
    """While the user types, have the browser load and compile the code of what the first page draws (metric
    cards, Vega-Lite charts, tables): Streamlit fetches each element's code the first time one is drawn, and on
    the page after sign-in that wait (~1 s for the chart code) came after the click. Drawn hidden, off the
    layout."""
    st.html("<style>.st-key-signin_preload{display:none}</style>")
    with st.container(key="signin_preload", height=1, border=False):
        st.metric("preload", 0)
        st.altair_chart(alt.Chart(pd.DataFrame({"x": [0]})).mark_point().encode(x="x:Q"), height=1)
        st.dataframe(pd.DataFrame({"x": [0]}), height=40)


def end_session(authenticator: stauth.Authenticate) -> None:
    """Forget the session and make the browser drop the cookie: it is overwritten with an expired, invalid
    value on the path it was set with (the component's own delete leaves it in place)."""
    if st.session_state.get(AUTHENTICATION_STATUS):
        authenticator.logout(location="unrendered")
    st.session_state[LOGOUT] = True
    st.session_state.pop(SIGNED_IN_AT, None)
    cookie = userstore.cookie_config()
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        cookie.name, "signed-out", key="signout_cookie", expires_at=datetime.now(UTC) - timedelta(days=1)
    )


def sign_out(authenticator: stauth.Authenticate) -> None:
    """The user asked to sign out: this session and every other one they signed in before now, in any browser."""
    if username := st.session_state.get(USERNAME):
        signin.record_sign_out(username)
    end_session(authenticator)


def cookie_signed_in_at(token: dict[str, object]) -> datetime | None:
    claim = token.get(SIGNED_IN_CLAIM)
    try:
        return datetime.fromisoformat(claim) if isinstance(claim, str) else None
    except ValueError:
        return None


def screen_cookie(authenticator: stauth.Authenticate) -> None:
    """Let the authenticator sign a new session in from the cookie only when the cookie says when its user signed
    in and nothing has ended that sign-in since (a sign-out anywhere, a password change or reset, a disable); the
    session keeps that time, so no re-emitted cookie is ever newer than the sign-in it carries."""
    if st.session_state.get(AUTHENTICATION_STATUS):
        return
    token = authenticator.cookie_controller.get_cookie()
    if not token:
        return
    username, signed_in_at = str(token.get("username") or ""), cookie_signed_in_at(token)
    if (
        signed_in_at is None
        or users.actor_for(username) is None
        or signin.session_revoked(username, signed_in_at)
    ):
        st.session_state[LOGOUT] = True  # the authenticator then leaves the cookie alone for this session
        return
    # The authenticator's own cookie sign-in (what its login() does first), without the pre-login sleep that its
    # login() takes even when the cookie signs the session in.
    try:
        authenticator.authentication_controller.login(token=token)
    except LoginError:  # a user the credentials hold no longer (disabled a moment ago)
        st.session_state[LOGOUT] = True
        return
    st.session_state[SIGNED_IN_AT] = signed_in_at


def signed_in_actor(authenticator: stauth.Authenticate) -> Actor | None:
    """Who is signed in, decided from the user store now, whatever the cookie carried at sign-in: nobody when the
    user is disabled or removed, or their sessions were ended after this one signed in."""
    if not st.session_state.get(AUTHENTICATION_STATUS):
        return None
    actor = users.actor_for(st.session_state.get(USERNAME))
    if actor is None:
        message = "You were signed out: your account is disabled or was removed."
    elif signin.session_revoked(actor.username, st.session_state.get(SIGNED_IN_AT)):
        message = (
            "You were signed out: you signed out in another browser, or your password was changed or reset. "
            "Sign in again."
        )
    else:
        return actor
    end_session(authenticator)
    st.session_state[SIGNIN_MESSAGE] = message
    return None


@st.fragment
def keep_cookie(authenticator: stauth.Authenticate, username: str) -> None:
    """The sign-in cookie is written by a browser component after the run ends; a click that starts the next run
    first can drop it, so re-emit it on every run of a session whose connection did not bring this very sign-in.
    It carries the session's sign-in time, never the time it is re-emitted, so a revocation reaches it however
    often it is re-emitted (a session that does not know when it signed in gets no cookie).

    A fragment, because the component answers the first write with a value: drawn by the page run, that value
    reran the whole app, so the first page after a sign-in (or a password change) ran twice, the first run
    thrown away half-way (fastReruns) or the second one redrawing a page that had settled. From a fragment the
    value reruns this fragment alone."""
    cookie = userstore.cookie_config()
    signed_in_at = st.session_state.get(SIGNED_IN_AT)
    if signed_in_at is None or cookie.expiry_days <= 0:
        return
    brought = authenticator.cookie_controller.get_cookie()
    if brought and brought.get("username") == username and cookie_signed_in_at(brought) == signed_in_at:
        return
    expires = datetime.now(UTC) + timedelta(days=cookie.expiry_days)
    token = jwt.encode(
        {"username": username, "exp_date": expires.timestamp(), SIGNED_IN_CLAIM: signed_in_at.isoformat()},
        cookie_key(),
        algorithm="HS256",
    )
    authenticator.cookie_controller.cookie_model.cookie_manager.set(cookie.name, token, expires_at=expires)


def account_sidebar(actor: Actor) -> None:
    """Who is signed in, with which roles, and the way out."""
    user = userstore.users()[actor.username]
    with st.sidebar:
        st.markdown(f"**{plain(user.name)}**  \n{', '.join(sorted(actor.roles)) or 'no role'}")
        st.button(
            "Sign out", key="signout", on_click=lambda: st.session_state.update({SIGN_OUT_REQUESTED: True})
        )


def gate() -> Actor | None:
    """The sign-in gate, on every run: a requested sign-out, the cookie screened and its sign-in, the form for
    anyone not signed in; the signed-in actor (kept in the session for the pages), or None.

    The authenticator's login() sleeps the configured login delay on every run of a signed-out session, even one
    its cookie then signs in. Its cookie sign-in is done by screen_cookie without the sleep, and login() (with
    the sleep) runs only on runs that end signed out, after the form: so the delay costs a sign-in, a reload or
    a new tab nothing (the page the URL asks for is pinned before, in dashboard.py)."""
    authenticator = build_authenticator()
    if st.session_state.pop(SIGN_OUT_REQUESTED, False):
        sign_out(authenticator)
    screen_cookie(authenticator)
    actor = signed_in_actor(authenticator)
    if actor is None:
        form = st.empty()
        with form.container():
            just_signed_in = sign_in_form(authenticator)
        if just_signed_in:
            form.empty()
            actor = signed_in_actor(authenticator)
        else:
            try:
                authenticator.login(location="unrendered")
            except LoginError:
                end_session(authenticator)
    if actor is not None:
        keep_cookie(authenticator, actor.username)
    st.session_state[ACTOR] = actor
    return actor
