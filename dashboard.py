"""Billing Desk entry point: settings, sign-in, and the navigation the signed-in user's roles allow."""

import os
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from app_pages.state import ACTOR, READ_FLOOR, SIGN_OUT_REQUESTED, SIGNED_IN_AT, SIGNIN_MESSAGE
from data_access import db
from data_access.auth import signin, users, userstore
from data_access.config import cookie_key, settings
from data_access.documents.exports import plain
from data_access.permissions import Actor, allowed

# (module, title, icon, URL path, permission that opens it); order is the navigation's order.
PAGES = [
    ("app_pages/overview.py", "Overview", ":material/dashboard:", "overview", "overview.view"),
    ("app_pages/receivables.py", "Receivables", ":material/account_balance_wallet:", "receivables", "receivables.view"),
    ("app_pages/collections.py", "Collections", ":material/phone_in_talk:", "collections", "collections.view"),
    ("app_pages/suspensions.py", "Suspensions", ":material/block:", "suspensions", "subscription.suspend"),
    ("app_pages/tickets.py", "Tickets", ":material/support_agent:", "tickets", "tickets.view"),
    ("app_pages/escalations.py", "Escalations", ":material/escalator_warning:", "escalations", "escalations.view"),
    ("app_pages/customers.py", "Customers", ":material/person_search:", "customers", "customers.view"),
    ("app_pages/microsoft_payables.py", "Microsoft payables", ":material/receipt_long:", "microsoft-payables", "payables.view"),
    ("app_pages/policies.py", "Policies", ":material/policy:", "policies", "policies.view"),
    ("app_pages/import_data.py", "Import", ":material/upload_file:", "import", "data.import"),
    ("app_pages/users.py", "Users", ":material/manage_accounts:", "users", "users.manage"),
    ("app_pages/audit_log.py", "Audit log", ":material/history:", "audit-log", "audit.view"),
]  # fmt: skip
OUTCOME_MESSAGES = {
    signin.Outcome.WRONG: "The username or password is not right.",
    signin.Outcome.LOCKED: "Too many failed sign-ins: this username is locked for a while. "
    "A user-management admin can unlock it sooner.",
    signin.Outcome.DISABLED: "This account is disabled. Ask a user-management admin.",
}

RETRY_SECONDS = 5
# Our claim in the sign-in cookie: when its session signed in with a password, kept as it is on every re-emission.
SIGNED_IN_CLAIM = "signed_in_at"

st.set_page_config(page_title="Billing Desk", page_icon=":material/account_balance:", layout="wide")


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
        st.caption(f"Last tried at {datetime.now(UTC):%H:%M:%S} UTC.")

    wait_for_database()
    st.stop()


# Reads see this user's own writes (the replica may lag them); caches are keyed on the data version read here.
# (max: a widget callback, which runs before this script in the same context, may have written already.)
db.set_read_floor(max(st.session_state.get(READ_FLOOR, 0), db.read_floor()))
try:
    db.data_version()
except db.DatabaseError as error:
    database_trouble(error)


def production_problems() -> list[str]:
    """What keeps a production server from starting: each is something a team of servers must get right."""
    problems = []
    if demo := users.demo_passwords_in_use():
        problems.append(
            f"Demo passwords still work ({', '.join(demo)}). Give those users real passwords or remove them from "
            "auth.yaml (`python -m data_access users reset-password USER`)."
        )
    if not os.environ.get("BILLING_DESK_COOKIE_KEY"):
        problems.append(
            "BILLING_DESK_COOKIE_KEY is not set. Set it to a long random string, the same on every app server, "
            "so a sign-in made on one server is honoured by the others."
        )
    return problems


if settings().environment == "production" and (problems := production_problems()):
    st.error(
        "Billing Desk will not start in production until this is fixed, then restart:\n\n"
        + "\n".join(f"- {problem}" for problem in problems)
    )
    st.stop()


def build_authenticator() -> stauth.Authenticate:
    """One per run: credentials as a dict from the store (never the path, which it would rewrite)."""
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
        login_sleep_time=float(os.environ.get("BILLING_DESK_LOGIN_DELAY", "0.7")),
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
    return False


def end_session(authenticator: stauth.Authenticate) -> None:
    """Forget the session and make the browser drop the cookie: it is overwritten with an expired, invalid
    value on the path it was set with (the component's own delete leaves it in place)."""
    if st.session_state.get("authentication_status"):
        authenticator.logout(location="unrendered")
    st.session_state["logout"] = True
    st.session_state.pop(SIGNED_IN_AT, None)
    cookie = userstore.cookie_config()
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        cookie.name, "signed-out", key="signout_cookie", expires_at=datetime.now(UTC) - timedelta(days=1)
    )


def sign_out(authenticator: stauth.Authenticate) -> None:
    """The user asked to sign out: this session and every other one they signed in before now, in any browser."""
    if username := st.session_state.get("username"):
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
    if st.session_state.get("authentication_status"):
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
        st.session_state["logout"] = True  # the authenticator then leaves the cookie alone for this session
    else:
        st.session_state[SIGNED_IN_AT] = signed_in_at


def signed_in_actor(authenticator: stauth.Authenticate) -> Actor | None:
    """Who is signed in, decided from the user store now, whatever the cookie carried at sign-in: nobody when the
    user is disabled or removed, or their sessions were ended after this one signed in."""
    if not st.session_state.get("authentication_status"):
        return None
    actor = users.actor_for(st.session_state.get("username"))
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


def navigation_for(actor: Actor | None) -> list[st.Page]:
    """The pages of `actor` (every page's URL, each showing only the sign-in form, when nobody is signed in, so a
    deep link keeps its page across sign-in). The app's root is a hidden page of its own: Streamlit serves the
    default page only at the root, so making the first real page the default would leave its own URL (e.g.
    /overview) answering "page not found"."""
    if actor is None:
        root = st.Page(lambda: None, title="Billing Desk", url_path="home", default=True, visibility="hidden")
        return [root] + [
            st.Page(lambda: None, title=title, icon=icon, url_path=path) for _, title, icon, path, _ in PAGES
        ]
    pages = [
        st.Page(module, title=title, icon=icon, url_path=path)
        for module, title, icon, path, permission in PAGES
        if allowed(actor, permission)
    ]
    if not pages:
        return []
    first = next(page for page in PAGES if allowed(actor, page[4]))
    root = st.Page(
        first[0], title=first[1], icon=first[2], url_path="home", default=True, visibility="hidden"
    )
    return [root, *pages]


def keep_cookie(authenticator: stauth.Authenticate, username: str) -> None:
    """The sign-in cookie is written by a browser component after the run ends; a click that starts the next run
    first can drop it, so re-emit it on every run of a session whose connection did not bring this very sign-in.
    It carries the session's sign-in time, never the time it is re-emitted, so a revocation reaches it however
    often it is re-emitted (a session that does not know when it signed in gets no cookie)."""
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
    user = userstore.users()[actor.username]
    with st.sidebar:
        st.markdown(f"**{plain(user.name)}**  \n{', '.join(sorted(actor.roles)) or 'no role'}")
        st.button(
            "Sign out", key="signout", on_click=lambda: st.session_state.update({SIGN_OUT_REQUESTED: True})
        )


authenticator = build_authenticator()
if st.session_state.pop(SIGN_OUT_REQUESTED, False):
    sign_out(authenticator)
screen_cookie(authenticator)
try:
    authenticator.login(location="unrendered")
except LoginError:
    end_session(authenticator)

actor = signed_in_actor(authenticator)
just_signed_in = False
if actor is None:
    form = st.empty()
    with form.container():
        just_signed_in = sign_in_form(authenticator)
    if just_signed_in:
        form.empty()
        actor = signed_in_actor(authenticator)
if actor is not None:
    keep_cookie(authenticator, actor.username)

st.session_state[ACTOR] = actor
if actor is None:
    navigation = st.navigation(navigation_for(None), position="hidden")
elif userstore.users()[actor.username].must_change_password:
    account_sidebar(actor)
    navigation = st.navigation([st.Page("app_pages/account.py", title="Change password", url_path="account")])
else:
    account_sidebar(actor)
    pages = navigation_for(actor)
    navigation = st.navigation(
        pages or [st.Page("app_pages/account.py", title="Account", url_path="account")]
    )
try:
    navigation.run()
except db.DatabaseError as error:
    database_trouble(error)
finally:
    # An action on this run (or in a callback before it) may have written: later runs must read it.
    st.session_state[READ_FLOOR] = db.read_floor()
