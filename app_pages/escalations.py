"""Escalations: the Microsoft cases on a status board, and escalating a ticket or moving a case along."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from data_access.actions.escalations import FINISHED, escalate, update_status
from data_access.documents.exports import plain
from data_access.enums import EscalationKind, Severity
from data_access.errors import InvalidAction
from data_access.money import moment
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.escalations import COMMERCIAL, STATUSES, available_vehicles, board, duration
from data_access.queries.time_zone import partner_time_zone
from data_access.text import plural, readable
from ui.cache import cached
from ui.flash import flash, show_flash
from ui.severity import severity_badge
from ui.signin import current_actor

ALL = "All"
NO_VEHICLE = "None (commercial)"
CARDS_PER_COLUMN = 8
TABLE_COLUMNS = {
    "id": None,
    "ticket": "Ticket",
    "ticket_title": "Title",
    "customer_id": "Customer ID",
    "customer": "Customer",
    "kind": "Kind",
    "vehicle": "Vehicle",
    "case_number": "Microsoft case",
    "severity": "Severity",
    "status": "Status",
    "submitted_at": "Submitted",
    "status_changed_at": None,
    "age": "Age",
    "time_in_status": "In status",
    "waiting_on_partner": st.column_config.CheckboxColumn("Waiting on us"),
}


def card(row: pd.Series) -> None:
    lines = (
        f"**{plain(row.case_number)}** · {severity_badge(row.severity)}  \n"
        f"{plain(row.customer)} ({plain(row.customer_id)})  \n"
        f"{plain(row.vehicle)}  \n"
        f"Age {duration(row.age)} · in status {duration(row.time_in_status)}"
    )
    if row.waiting_on_partner:
        st.warning(lines, icon=":material/pending_actions:")
    else:
        with st.container(border=True):
            st.markdown(lines)


def status_board(table: pd.DataFrame) -> None:
    """One column per status: open ones oldest first, finished ones latest first, a few cards each."""
    for status, column in zip(STATUSES, st.columns(len(STATUSES)), strict=True):
        rows = table[table.status == status]
        if status in FINISHED:
            rows = rows.sort_values("status_changed_at", ascending=False)
        with column:
            st.markdown(f"**{status.capitalize()}** · {len(rows)}")
            for _, row in rows.head(CARDS_PER_COLUMN).iterrows():
                card(row)
            if len(rows) > CARDS_PER_COLUMN:
                st.caption(f"and {len(rows) - CARDS_PER_COLUMN} more in the table below")


def escalate_form(actor: Actor) -> None:
    vehicles = cached(available_vehicles)(actor)
    with st.form("escalations_escalate_form", clear_on_submit=True):
        st.markdown("**Escalate a ticket to Microsoft**")
        st.caption(
            "Commercial escalations are open to every CSP partner; technical ones go through a support vehicle "
            f"the partner holds ({plain(', '.join(vehicles)) or 'none set up'})."
        )
        left, right = st.columns(2)
        ticket_id = left.text_input("Ticket ID", key="escalations_ticket")
        case_number = right.text_input("Microsoft case number", key="escalations_case_number")
        kind = left.selectbox(
            "Kind", EscalationKind.values(), format_func=str.capitalize, key="escalations_kind"
        )
        vehicle = right.selectbox("Support vehicle", [NO_VEHICLE, *vehicles], key="escalations_vehicle")
        severity = left.selectbox("Severity", Severity.values(), index=1, key="escalations_severity")
        notes = st.text_area("Notes", key="escalations_notes")
        another = st.checkbox(
            "The ticket has an open case already: open a second one", key="escalations_confirm_another"
        )
        if st.form_submit_button("Escalate", key="escalations_escalate_submit"):
            escalate(
                actor,
                ticket_id=ticket_id,
                kind=str(kind),
                vehicle=None if vehicle == NO_VEHICLE else vehicle,
                case_number=case_number,
                severity=str(severity),
                notes=notes,
                confirm_another=another,
            )
            flash(f"Ticket {ticket_id.strip()} escalated to Microsoft as case {case_number.strip()}.")


def update_form(actor: Actor, table: pd.DataFrame) -> None:
    movable = table[table.status != "closed"].sort_values("submitted_at")
    labels = {
        int(row.id): f"{row.case_number} · {row.customer} · {row.status}" for _, row in movable.iterrows()
    }
    with st.form("escalations_update_form", clear_on_submit=True):
        st.markdown("**Update status**")
        picked = st.selectbox(
            "Escalation", list(labels), format_func=labels.__getitem__, key="escalations_update_pick"
        )
        status = st.selectbox("New status", STATUSES, key="escalations_update_status")
        notes = st.text_input("Notes", key="escalations_update_notes")
        if st.form_submit_button("Update status", key="escalations_update_submit", disabled=not labels):
            if picked is None:
                raise InvalidAction("Choose the escalation to update.")
            update_status(actor, escalation_id=int(picked), status=str(status), notes=notes)
            flash(f"Escalation {labels[int(picked)].split(' · ')[0]} is now {status}.")


actor = current_actor()
st.title("Escalations")
show_flash()
now = datetime.now(UTC).replace(second=0, microsecond=0)
with st.spinner("Reading escalations…"):
    everyone = cached(board)(actor, now=now)

if everyone.empty:
    st.info("No ticket has been escalated to Microsoft yet.")
    table = everyone
else:
    by_vehicle, by_customer = st.columns(2)
    vehicles: list[str] = sorted({str(v) for v in everyone.vehicle}, key=lambda v: (v != COMMERCIAL, v))
    customers = {str(row.customer_id): str(row.customer) for row in everyone.itertuples()}
    vehicle = by_vehicle.selectbox("Vehicle", [ALL, *vehicles], key="escalations_filter_vehicle")
    customer_id = by_customer.selectbox(
        "Customer",
        [ALL, *sorted(customers)],
        format_func=lambda c: c if c == ALL else f"{c} · {customers[c]}",
        key="escalations_filter_customer",
    )
    table = cached(board)(
        actor,
        now=now,
        vehicle=None if vehicle == ALL else vehicle,
        customer_id=None if customer_id == ALL else customer_id,
    )
    waiting = int(table.waiting_on_partner.sum())
    st.caption(
        f"{plural(len(table), 'escalation')}; age since submitted, time in the current status, as of "
        f"{moment(now, cached(partner_time_zone)())}."
        + (f" **{plural(waiting, 'wait')} on us**: highlighted." if waiting else "")
    )
    status_board(table)
    zone = cached(partner_time_zone)()
    shown = readable(
        table.assign(age=table.age.map(duration), time_in_status=table.time_in_status.map(duration)),
        moments=["submitted_at"],
        zone=zone,
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="escalations_table",
        column_config={**TABLE_COLUMNS, "submitted_at": f"Submitted ({zone})"},
    )

if allowed(actor, "ticket.escalate"):
    escalating, updating = st.columns(2)
    try:
        with escalating:
            escalate_form(actor)
        with updating:
            update_form(actor, table)
    except (PermissionDenied, InvalidAction) as exc:
        st.error(plain(exc))
