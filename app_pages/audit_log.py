"""Audit log: who did what to which record, newest first, filtered by actor, action, customer and date."""

import streamlit as st

from data_access import clock
from data_access.queries import audit_log
from data_access.text import readable
from ui.cache import cached
from ui.flash import show_flash
from ui.signin import current_actor

ALL = "All"
PAGE_SIZES = [100, 500, 1000]


def chosen(value: str | None) -> str | None:
    return None if value in (None, ALL) else value


actor = current_actor()
st.title("Audit log")
show_flash()
with st.spinner("Reading the audit log…"):
    choices = cached(audit_log.audit_filters)(actor)
if not choices.actors:
    st.info(
        "No audit events yet. Every action writes one as it happens: payments, credit notes, imports, user "
        "changes and sign-in lockouts appear here with who did them and what changed."
    )
    st.stop()

by_actor, by_action, by_customer, by_start, by_end, by_size = st.columns([2, 2, 2, 1.5, 1.5, 1])
actor_name = by_actor.selectbox("Actor", [ALL, *choices.actors], key="audit_actor")
action = by_action.selectbox("Action", [ALL, *choices.actions], key="audit_action")
customer_id = by_customer.text_input(
    "Customer ID",
    key="audit_customer",
    help="Events on the customer (payments) and on its invoices (credit notes).",
)
start = by_start.date_input("From", value=None, format="YYYY-MM-DD", key="audit_from")
end = by_end.date_input("To", value=None, format="YYYY-MM-DD", key="audit_to")
limit = by_size.selectbox("Show", PAGE_SIZES, index=len(PAGE_SIZES) - 1, key="audit_limit")
if start and end and start > end:
    st.error("The From date is after the To date.")
    st.stop()

with st.spinner("Reading the audit log…"):
    page = cached(audit_log.audit_events)(
        actor,
        actor_name=chosen(actor_name),
        action=chosen(action),
        customer_id=customer_id.strip() or None,
        start=start,
        end=end,
        limit=limit,
    )
if page.events.empty:
    st.info("No audit events match these filters.")
    st.stop()

more = f" newest first; narrow the filters to see the other {page.more:,}" if page.more else " newest first"
st.caption(
    f"Showing {len(page.events):,} of {page.total:,} matching events,{more}. Times in {page.time_zone}; "
    "dates filter by calendar day there, both ends included."
)
st.dataframe(
    readable(page.events, moments=["occurred_at"], zone=page.time_zone),
    hide_index=True,
    width="stretch",
    key="audit_table",
    column_config={
        "occurred_at": f"Time ({page.time_zone})",
        "actor": "Actor",
        "roles": "Roles",
        "action": "Action",
        "target": "Target",
        "details": st.column_config.TextColumn("Details", width="large"),
    },
)
st.download_button(
    "Download shown events (CSV)",
    lambda: audit_log.export_csv(actor, page.events),
    file_name=f"audit-log-{clock.today()}.csv",
    mime="text/csv",
    key="audit_download",
    on_click="ignore",
    icon=":material/download:",
)
