"""Suspensions: eligible accounts to suspend (billing decides, the app never does), suspended ones to reinstate."""

from datetime import date

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.collections_run import ensure_current
from data_access.actions.suspensions import StillOverdue, reinstate_subscription, suspend_subscription
from data_access.documents.exports import plain
from data_access.errors import InvalidAction
from data_access.money import day, money
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.margin import suspension_costs, suspension_period_costs
from data_access.queries.suspensions import (
    NEARING_DELETION_DAYS,
    eligible_accounts,
    suspended_subscriptions,
    suspension_history,
    suspension_periods,
)
from data_access.queries.time_zone import partner_time_zone
from data_access.rules.suspension import PartnerCenterStep
from data_access.text import plural, readable, sentence
from ui.cache import cached
from ui.flash import Note, flash, show_flash
from ui.session_keys import (
    SUSPENSIONS_CLEAR,
    SUSPENSIONS_PENDING,
    SUSPENSIONS_PICK,
    SUSPENSIONS_REASON,
    SUSPENSIONS_REINSTATE_PENDING,
    SUSPENSIONS_REINSTATE_REASON,
)
from ui.signin import current_actor

CONSEQUENCE = "Service stops at once, with no grace period."
NEW_COMMERCE = (
    "Microsoft may keep billing you for a suspended subscription until its term ends (New Commerce "
    "commitments): suspension limits the customer's access, not your cost."
)
DELETION = "After 90 days suspended, Microsoft may delete the customer's data."
NEARING_DAYS = NEARING_DELETION_DAYS


def tenant_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def label(row: pd.Series) -> str:
    return f"{row['customer_name']}: {row['product']} ({row['subscription_id']})"


def forget_pending() -> None:
    st.session_state.pop(SUSPENSIONS_PENDING, None)


def clear_on_next_run(*widgets: str) -> None:
    """After an action, its widgets start empty on the next run (set before they are drawn, so the browser's copy
    of the old value does not come back): the reason typed for one customer is not there for the next."""
    st.session_state[SUSPENSIONS_CLEAR] = (*st.session_state.get(SUSPENSIONS_CLEAR, ()), *widgets)


def clear_suspension_form() -> None:
    clear_on_next_run(SUSPENSIONS_PICK, SUSPENSIONS_REASON)


def empty_cleared_widgets() -> None:
    cleared = st.session_state.pop(SUSPENSIONS_CLEAR, ())
    if SUSPENSIONS_PICK in cleared:
        st.session_state[SUSPENSIONS_PICK] = []
    if SUSPENSIONS_REASON in cleared:
        st.session_state[SUSPENSIONS_REASON] = ""
    if SUSPENSIONS_REINSTATE_REASON in cleared:
        st.session_state[SUSPENSIONS_REINSTATE_REASON] = ""


def reinstate(actor: Actor, subscription_id: str, reason: str, named: str, *, confirmed: bool) -> None:
    """Reinstate, or hold the request for a confirmation when the customer is still overdue."""
    try:
        step = reinstate_subscription(
            actor, subscription_id=subscription_id, reason=reason, confirm_overdue=confirmed
        )
    except StillOverdue as exc:
        st.session_state[SUSPENSIONS_REINSTATE_PENDING] = (subscription_id, reason, named, str(exc))
        st.rerun()
    except (InvalidAction, PermissionDenied) as exc:
        st.error(plain(exc))
    else:
        st.session_state.pop(SUSPENSIONS_REINSTATE_PENDING, None)
        clear_on_next_run(SUSPENSIONS_REINSTATE_REASON)
        flash(f"{sentence('Reinstated ' + named)} {step.instruction()}")


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
                    messages.append(
                        f"{sentence(f'Suspended {row.product} for {row.customer_name}')} {step.instruction()}"
                    )
        clear_suspension_form()
        flash(*messages, *(Note(error, "error") for error in errors))


actor = current_actor()
empty_cleared_widgets()
st.title("Suspensions")
show_flash()
today = clock.today()
st.caption(
    "Billing suspends; the app never does it by itself. An account is listed only while the collections policy "
    f"marks it eligible, and it is judged again at the moment you suspend. {NEW_COMMERCE}"
)
with st.spinner("Bringing collections up to date…"):
    ensure_current(today)
with st.spinner("Reading eligible and suspended accounts…"):
    eligible = cached(eligible_accounts)(actor, as_of=today)
    suspended = cached(suspended_subscriptions)(actor, as_of=today)
    history = cached(suspension_history)(actor)
    zone = cached(partner_time_zone)()

st.subheader("Eligible for suspension")
if eligible.empty:
    forget_pending()
    st.info(
        f"No account is eligible for suspension on {day(today)}, or none has an Active subscription left."
    )
else:
    st.dataframe(
        readable(
            eligible.drop(columns=["currency", "sku", "billing_cycle"]), days=["eligible_since", "term_end"]
        ),
        hide_index=True,
        width="stretch",
        key="suspensions_eligible",
        column_order=[
            "customer_name",
            "product",
            "overdue",
            "days_past_due",
            "stage",
            "eligible_since",
            "quantity",
            "term_end",
            "customer_id",
            "subscription_id",
            "tenant_id",
        ],
        column_config={
            "customer_id": "Customer ID",
            "customer_name": st.column_config.TextColumn("Customer", pinned=True),
            "tenant_id": "Tenant ID",
            "overdue": st.column_config.NumberColumn("Overdue", format="accounting"),
            "days_past_due": "Days past due",
            "stage": "Stage",
            "eligible_since": "Eligible since",
            "subscription_id": "Subscription ID",
            "product": "Product",
            "quantity": "Seats",
            "term_end": "Term ends",
        },
    )
    labels = {str(row.subscription_id): label(row) for _, row in eligible.iterrows()}
    picked = st.multiselect(
        "Subscriptions to suspend", list(labels), format_func=labels.__getitem__, key=SUSPENSIONS_PICK
    )
    reason = st.text_input("Reason (required, goes on the record)", key=SUSPENSIONS_REASON)
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
    warned = suspended[suspended.warning != ""]
    if not warned.empty:
        with st.expander(
            f"{plural(len(warned), 'subscription')} suspended for {NEARING_DAYS} days or more: Microsoft may "
            "delete data",
            icon=":material/warning:",
        ):
            st.markdown(
                "\n".join(
                    plain(f"- {row.customer_name}: {row.product} ({row.subscription_id}), "
                          f"{plural(int(row.days_suspended), 'day')} suspended: {row.warning}")
                    for row in warned.itertuples()
                )
            )  # fmt: skip
    costs = cached(suspension_costs)(actor, sorted(str(s) for s in suspended.subscription_id))
    costs = costs[costs.currency.notna()]
    billed = {
        str(sub): " + ".join(money(row.cost, str(row.currency)) for row in group.itertuples())
        for sub, group in costs.groupby("subscription_id")
    }
    suspended = suspended.assign(microsoft_cost=[billed.get(str(s), "") for s in suspended.subscription_id])
    if billed:
        totals = " and ".join(
            money(sum(group.cost), str(currency)) for currency, group in costs.groupby("currency")
        )
        st.warning(
            f"Microsoft has billed {totals} on {plural(len(billed), 'suspended subscription')} since they were "
            "suspended (Partner Center's reconciliation files): in new commerce a suspended subscription is billed "
            "until it is cancelled or its term ends.",
            icon=":material/payments:",
        )
    ready = suspended[suspended.ready_to_reinstate]
    if not ready.empty:
        names = "; ".join(label(row) for _, row in ready.iterrows())
        st.success(f"Ready to reinstate, the overdue balance is now paid: {plain(names)}.")
    st.dataframe(
        readable(
            suspended.drop(columns=["currency", "tenant_id", "still_overdue"]),
            days=["term_end"],
            moments=["suspended_at"],
            zone=zone,
        ),
        hide_index=True,
        width="stretch",
        key="suspensions_suspended",
        column_order=[
            "customer_name",
            "product",
            "days_suspended",
            "microsoft_cost",
            "overdue",
            "ready_to_reinstate",
            "warning",
            "suspended_at",
            "suspended_by",
            "reason",
            "term_end",
            "customer_id",
            "subscription_id",
            "partner_center",
        ],
        column_config={
            "customer_id": "Customer ID",
            "customer_name": st.column_config.TextColumn("Customer", pinned=True),
            "subscription_id": "Subscription ID",
            "product": "Product",
            "term_end": "Term ends",
            "suspended_at": f"Suspended at ({zone})",
            "suspended_by": "By",
            "reason": "Reason",
            "days_suspended": "Days suspended",
            "microsoft_cost": st.column_config.TextColumn(
                "Microsoft cost since suspended",
                help="Charged to the partner on or after the suspension day.",
            ),
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
        pending_reinstatement = st.session_state.get(SUSPENSIONS_REINSTATE_PENDING)
        if pending_reinstatement is not None:
            pending_id, pending_reason, pending_name, warning = pending_reinstatement
            st.warning(plain(warning), icon=":material/warning:")
            go, back = st.columns(2)
            if go.button("Reinstate anyway", key="suspensions_reinstate_confirm", type="primary"):
                reinstate(actor, pending_id, pending_reason, pending_name, confirmed=True)
            if back.button("Do not reinstate", key="suspensions_reinstate_cancel"):
                st.session_state.pop(SUSPENSIONS_REINSTATE_PENDING, None)
                st.rerun()
        with st.form("suspensions_reinstate_form", clear_on_submit=True):
            chosen = st.selectbox(
                "Subscription to reinstate", list(choices), format_func=choices.__getitem__,
                key="suspensions_reinstate_pick",
            )  # fmt: skip
            why = st.text_input("Reason (required)", key=SUSPENSIONS_REINSTATE_REASON)
            if st.form_submit_button("Reinstate", icon=":material/restart_alt:"):
                reinstate(actor, str(chosen), why, choices[str(chosen)], confirmed=False)

st.subheader("History")
if history.empty:
    st.info("Nothing has been suspended or reinstated yet.")
else:
    periods = suspension_periods(history)
    spent = cached(suspension_period_costs)(actor, sorted(periods.values(), key=lambda p: (p[0], p[1])))
    cost_of: dict[tuple[str, date, date | None], str] = {}
    for (sub, since, until), group in spent.groupby(["subscription_id", "suspended_on", "reinstated_on"],
                                                     dropna=False):  # fmt: skip
        key = (str(sub), since, None if pd.isna(until) else until)
        cost_of[key] = " + ".join(money(row.cost, str(row.currency)) for row in group.itertuples())
    history = history.assign(
        microsoft_cost=[cost_of.get(periods[i], "") if i in periods else "" for i in range(len(history))]
    )
    st.dataframe(
        readable(history, moments=["occurred_at"], zone=zone),
        hide_index=True,
        width="stretch",
        key="suspensions_history",
        column_config={
            "microsoft_cost": st.column_config.TextColumn(
                "Microsoft cost during this suspension",
                help="Charged to the partner from the suspension day to the reinstatement day (or today).",
            ),
            "occurred_at": f"When ({zone})",
            "action": "Action",
            "actor": "By",
            "customer_id": "Customer ID",
            "customer_name": st.column_config.TextColumn("Customer", pinned=True),
            "subscription_id": "Subscription ID",
            "product": "Product",
            "reason": "Reason",
            "partner_center": "Partner Center",
        },
    )
