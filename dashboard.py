"""Billing Desk entry point: settings, the sign-in gate, and the navigation the signed-in user's roles allow."""

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from data_access import db
from data_access.auth import userstore
from data_access.permissions import Actor, allowed
from ui.cache import finish_run, start_run
from ui.outage import database_trouble
from ui.production import refuse_to_serve_unready_production
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
    ("app_pages/policies.py", "Policies", ":material/policy:", "policies", "policies.view"),
    ("app_pages/import_data.py", "Import", ":material/upload_file:", "import", "data.import"),
    ("app_pages/users.py", "Users", ":material/manage_accounts:", "users", "users.manage"),
    ("app_pages/audit_log.py", "Audit log", ":material/history:", "audit-log", "audit.view"),
]  # fmt: skip
ACCOUNT = "app_pages/account.py"


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
    module, title, icon, _, _ = mine[0]
    root = st.Page(module, title=title, icon=icon, url_path="home", default=True, visibility="hidden")
    pages = [st.Page(module, title=title, icon=icon, url_path=path) for module, title, icon, path, _ in mine]
    return st.navigation([root, *pages])


st.set_page_config(page_title="Billing Desk", page_icon=":material/account_balance:", layout="wide")
try:
    start_run()
    refuse_to_serve_unready_production()
    navigation_for(gate()).run()
except db.DatabaseError as error:
    database_trouble(error)
finally:
    finish_run()
