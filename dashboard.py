"""Billing Desk entry point: settings, the sign-in gate, and the navigation the signed-in user's roles allow."""

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from data_access import db
from data_access.auth import userstore
from data_access.permissions import (
    BILLING_ADMIN,
    GLOBAL_ADMIN,
    HELPDESK_AGENT,
    SALES_AGENT,
    USER_MANAGEMENT_ADMIN,
    Actor,
    allowed,
)
from ui.cache import finish_run, start_run
from ui.outage import database_trouble
from ui.production import refuse_to_serve_unready_production
from ui.session_keys import PAGE_PINNED
from ui.signin import account_sidebar, gate

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
    ("app_pages/margin.py", "Margin", ":material/trending_up:", "margin", "margin.view"),
    ("app_pages/policies.py", "Policies", ":material/policy:", "policies", "policies.view"),
    ("app_pages/import_data.py", "Import", ":material/upload_file:", "import", "data.import"),
    ("app_pages/users.py", "Users", ":material/manage_accounts:", "users", "users.manage"),
    ("app_pages/audit_log.py", "Audit log", ":material/history:", "audit-log", "audit.view"),
]  # fmt: skip
ACCOUNT = "app_pages/account.py"
# Where each role starts (the app's root, "/"): the page its work begins on; a user with several roles starts where
# the first role in this list says. Global and Billing admins start on the Overview (the collections worklist is
# one click from its stages chart), helpdesk agents on Tickets, sales agents on Customers, user-management admins
# on Users. A role whose page the user cannot open falls through to their first page.
LANDING = [
    (GLOBAL_ADMIN, "overview"),
    (BILLING_ADMIN, "overview"),
    (HELPDESK_AGENT, "tickets"),
    (SALES_AGENT, "customers"),
    (USER_MANAGEMENT_ADMIN, "users"),
]
# The tab icon is a file served by this app: a Material icon name makes the browser fetch a font from the internet.
PAGE_ICON = str(Path(__file__).resolve().parent / "ui" / "billing-desk.png")


def landing_page(actor: Actor, mine: list[tuple[str, str, str, str, str]]) -> tuple[str, str, str, str, str]:
    """The page `actor` starts on, among the pages they may open (`mine`, never empty)."""
    paths = {page[3]: page for page in mine}
    for role, path in LANDING:
        if role in actor.roles and path in paths:
            return paths[path]
    return mine[0]


def navigation_for(actor: Actor | None) -> StreamlitPage:
    """The pages of `actor`. Signed out: every page's URL showing only the sign-in form, so a deep link keeps its
    page across sign-in. The app's root is a hidden page of its own: Streamlit serves the default page only at
    the root, so making the first real page the default would leave its own URL (e.g. /overview) answering
    "page not found". A user who must change their password, or has no page, gets the account page alone."""
    if actor is None:
        root = st.Page(lambda: None, title="Billing Desk", url_path="home", default=True, visibility="hidden")
        hidden = [
            st.Page(lambda: None, title=title, icon=icon, url_path=path) for _, title, icon, path, _ in PAGES
        ]
        return st.navigation([root, *hidden], position="hidden")
    account_sidebar(actor)
    if userstore.users()[actor.username].must_change_password:
        return st.navigation([st.Page(ACCOUNT, title="Change password", url_path="account")])
    mine = [page for page in PAGES if allowed(actor, page[4])]
    if not mine:
        return st.navigation([st.Page(ACCOUNT, title="Account", url_path="account")])
    module, title, icon, _, _ = landing_page(actor, mine)
    root = st.Page(module, title=title, icon=icon, url_path="home", default=True, visibility="hidden")
    pages = [st.Page(module, title=title, icon=icon, url_path=path) for module, title, icon, path, _ in mine]
    # Every page listed: past 12 pages Streamlit otherwise shows 10 and hides the rest behind "View more".
    return st.navigation([root, *pages], expanded=True)


def pin_requested_page() -> None:
    """On a session's first run the browser has not been told yet which page its URL names: a rerun it asks for
    before this run's st.navigation has reached it carries the entry script's hash instead, and with fastReruns
    that rerun replaces this run at once and lands on the default page. The cookie component's first report asks
    for one ~0.2 s after it is drawn, and the sign-in delay (0.7 s by default) is slept on signed-out runs, so
    without this pin every reload, bookmark, new tab and deep link lost its page. So the first run names every
    page URL to the browser before anything else is drawn (the signed-out pages: the real navigation, later in
    this run, replaces them)."""
    if st.session_state.get(PAGE_PINNED):
        return
    st.session_state[PAGE_PINNED] = True
    navigation_for(None)


st.set_page_config(page_title="Billing Desk", page_icon=PAGE_ICON, layout="wide")
try:
    start_run()
    refuse_to_serve_unready_production()
    pin_requested_page()
    navigation_for(gate()).run()
except db.DatabaseError as error:
    database_trouble(error)
finally:
    finish_run()
