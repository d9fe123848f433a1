"""Suspensions: eligible accounts to suspend (billing decides, the app never does), suspended ones to reinstate."""

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.suspensions import reinstate_subscription, suspend_subscription
from data_access.documents.exports import plain
from data_access.errors import InvalidAction
from data_access.money import day
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.suspensions import eligible_accounts, suspended_subscriptions, suspension_history
from data_access.rules.suspension import PartnerCenterStep
from ui.cache import cached
from ui.flash import Note, flash, show_flash
from ui.session_keys import SUSPENSIONS_PENDING
from ui.signin import current_actor

CONSEQUENCE = "Service stops at once, with no grace period."
NEW_COMMERCE = (
    "Microsoft may keep billing you for a suspended subscription until its term ends (New Commerce "
    "commitments): suspension limits the customer's access, not your cost."
)
DELETION = "After 90 days suspended, Microsoft may delete the customer's data."


def tenant_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def label(row: pd.Series) -> str:
    return f"{row['customer_name']}: {row['product']} ({row['subscription_id']})"


def forget_pending() -> None:
    st.session_state.pop(SUSPENSIONS_PENDING, None)


@st.dialog("Confirm suspension", width="large", on_dismiss=forget_pending)
def confirm_suspension(actor: Actor, chosen: pd.DataFrame, reason: str) -> None:
    customers = chosen.groupby(["customer_id", "customer_name", "tenant_id"], dropna=False)
    for (customer_id, name, tenant), rows in customers:
        products = ", ".join(rows["product"])
        st.markdown(
            f"**Suspend {plain(name)}** ({plain(customer_id)}, tenant {plain(tenant_of(tenant) or 'not on file')}): "
            f"{plain(products)}"
        )
    st.warning(f"{CONSEQUENCE} The customer loses access to these subscriptions as soon as you set them to "
               "Suspended in Partner Center.", icon=":material/block:")  # fmt: skip
    st.warning(NEW_COMMERCE, icon=":material/payments:")
    st.markdown("**Then, in Partner Center** (its API is the system of record for access):")
    for row in chosen.itertuples():
        step = PartnerCenterStep(tenant_of(row.tenant_id), str(row.subscription_id), "Suspended")
        st.markdown(f"- {plain(step.instruction())}")
    st.caption(f"Reason on the record: {plain(reason)}")
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", key="suspensions_cancel"):
        forget_pending()
        st.rerun()
    if confirm.button("Suspend now", type="primary", key="suspensions_confirm", icon=":material/block:"):
        forget_pending()
        messages: list[str] = []
        errors: list[str] = []
        with st.spinner("Suspending…"):
            for row in chosen.itertuples():
                try:
                    step = suspend_subscription(
                        actor, subscription_id=str(row.subscription_id), reason=reason
                    )
                except (InvalidAction, PermissionDenied) as exc:
                    errors.append(str(exc))
                else:
                    messages.append(f"Suspended {row.product} for {row.customer_name}. {step.instruction()}")
        flash(*messages, *(Note(error, "error") for error in errors))


actor = current_actor()
st.title("Suspensions")
show_flash()
today = clock.today()
st.caption(
    "Billing suspends; the app never does it by itself. An account is listed only while the collections policy "
    f"marks it eligible, and it is judged again at the moment you suspend. {NEW_COMMERCE}"
)
with st.spinner("Assessing overdue accounts…"):
    eligible = cached(eligible_accounts)(actor, as_of=today)
    suspended = cached(suspended_subscriptions)(actor, as_of=today)
    history = cached(suspension_history)(actor)

st.subheader("Eligible for suspension")
if eligible.empty:
    forget_pending()
    st.info(
        f"No account is eligible for suspension on {day(today)}, or none has an Active subscription left."
    )
else:
    st.dataframe(
        eligible.drop(columns=["currency", "sku", "billing_cycle"]),
        hide_index=True,
        width="stretch",
        key="suspensions_eligible",
        column_config={
            "customer_id": "Customer ID",
            "customer_name": "Customer",
            "tenant_id": "Tenant ID",
            "overdue": st.column_config.NumberColumn("Overdue", format="accounting"),
            "days_past_due": "Days past due",
            "stage": "Stage",
            "eligible_since": st.column_config.DateColumn("Eligible since", format="D MMM YYYY"),
            "subscription_id": "Subscription ID",
            "product": "Product",
            "quantity": "Seats",
            "term_end": st.column_config.DateColumn("Term ends", format="D MMM YYYY"),
        },
    )
    labels = {str(row.subscription_id): label(row) for _, row in eligible.iterrows()}
    picked = st.multiselect(
        "Subscriptions to suspend", list(labels), format_func=labels.__getitem__, key="suspensions_pick"
    )
    reason = st.text_input("Reason (required, goes on the record)", key="suspensions_reason")
    if st.button("Suspend…", key="suspensions_suspend", icon=":material/block:"):
        if not picked:
            st.error("Choose at least one subscription to suspend.")
        elif not reason.strip():
            st.error("Give a reason for the suspension; it goes on the record.")
        elif not allowed(actor, "subscription.suspend"):
            st.error(f"{plain(actor.username)} may not suspend subscriptions.")
        else:
            st.session_state[SUSPENSIONS_PENDING] = (tuple(picked), reason.strip())
    if SUSPENSIONS_PENDING in st.session_state:
        pending, why = st.session_state[SUSPENSIONS_PENDING]
        confirm_suspension(actor, eligible[eligible.subscription_id.isin(pending)], why)

st.subheader("Suspended")
if suspended.empty:
    st.info("No subscription is suspended.")
else:
    st.caption(f"{DELETION} {NEW_COMMERCE}")
    for row in suspended[suspended.warning != ""].itertuples():
        st.warning(plain(f"{row.customer_name}: {row.product} ({row.subscription_id}) has been suspended "
                         f"{row.days_suspended} days: {row.warning}."), icon=":material/warning:")  # fmt: skip
    ready = suspended[suspended.ready_to_reinstate]
    if not ready.empty:
        names = "; ".join(label(row) for _, row in ready.iterrows())
        st.success(f"Ready to reinstate, the overdue balance is now paid: {plain(names)}.")
    st.dataframe(
        suspended.drop(columns=["currency", "tenant_id"]),
        hide_index=True,
        width="stretch",
        key="suspensions_suspended",
        column_config={
            "customer_id": "Customer ID",
            "customer_name": "Customer",
            "subscription_id": "Subscription ID",
            "product": "Product",
            "term_end": st.column_config.DateColumn("Term ends", format="D MMM YYYY"),
            "suspended_at": st.column_config.DatetimeColumn("Suspended at", format="D MMM YYYY HH:mm"),
            "suspended_by": "By",
            "reason": "Reason",
            "days_suspended": "Days suspended",
            "warning": "Warning",
            "overdue": st.column_config.NumberColumn("Overdue now", format="accounting"),
            "ready_to_reinstate": st.column_config.CheckboxColumn("Ready to reinstate"),
            "partner_center": "Partner Center",
        },
    )
    if allowed(actor, "subscription.reinstate"):
        first_ready = suspended.sort_values("ready_to_reinstate", ascending=False, kind="stable")
        choices = {
            str(row["subscription_id"]): label(row)
            + (" - ready to reinstate" if row["ready_to_reinstate"] else "")
            for _, row in first_ready.iterrows()
        }
        with st.form("suspensions_reinstate_form"):
            chosen = st.selectbox(
                "Subscription to reinstate", list(choices), format_func=choices.__getitem__,
                key="suspensions_reinstate_pick",
            )  # fmt: skip
            why = st.text_input("Reason (required)", key="suspensions_reinstate_reason")
            if st.form_submit_button("Reinstate", icon=":material/restart_alt:"):
                try:
                    step = reinstate_subscription(actor, subscription_id=str(chosen), reason=why)
                except (InvalidAction, PermissionDenied) as exc:
                    st.error(plain(exc))
                else:
                    flash(f"Reinstated {choices[str(chosen)]}. {step.instruction()}")

st.subheader("History")
if history.empty:
    st.info("Nothing has been suspended or reinstated yet.")
else:
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        key="suspensions_history",
        column_config={
            "occurred_at": st.column_config.DatetimeColumn("When", format="D MMM YYYY HH:mm"),
            "action": "Action",
            "actor": "By",
            "customer_id": "Customer ID",
            "customer_name": "Customer",
            "subscription_id": "Subscription ID",
            "product": "Product",
            "reason": "Reason",
            "partner_center": "Partner Center",
        },
    )
