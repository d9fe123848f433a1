"""Tickets: volumes, backlog and SLA attainment, the filterable list with each ticket's SLA clocks, and what an
agent does on a ticket: its e-mail conversation, a reply to the customer, its escalations to Microsoft, the actions
on it (resolving or closing one with an open escalation asks whether Microsoft's case is resolved)."""

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from data_access.actions.escalations import escalate
from data_access.actions.ticket_mail import send_reply, set_customer
from data_access.actions.tickets import (
    TRANSITIONS,
    assign,
    change_status,
    create_ticket,
    reopen,
    resolve,
    respond,
)
from data_access.documents.exports import chart_text, plain
from data_access.enums import EscalationKind, Severity, TicketCategory, TicketStatus
from data_access.errors import InvalidAction
from data_access.money import moment
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.escalations import TicketEscalation, available_vehicles, ticket_escalations
from data_access.queries.ticket_messages import (
    ConversationMessage,
    attachment_file,
    conversation,
    reference,
    reply_target,
)
from data_access.queries.tickets import (
    AGE_BUCKETS,
    ATTRIBUTES,
    DONE,
    backlog_by_age,
    display_time_zone,
    open_clocks,
    sla_attainment,
    tickets,
    tickets_report,
)
from data_access.text import plural, readable
from ui.cache import cached
from ui.flash import Note, flash, show_flash
from ui.session_keys import TICKETS_REPLY_TOKEN
from ui.severity import SEVERITY_COLOURS, SEVERITY_ORDER, severity_badge
from ui.signin import current_actor

ALL = "All"
OPEN_BACKLOG = "Open (not resolved or closed)"
CHANNELS = ("email", "phone", "web", "chat")
BILLING_CATEGORIES = (TicketCategory.BILLING_QUESTION.value, TicketCategory.INVOICE_DISPUTE.value)
STATE_TEXT = {"breached": "🔴 breached", "at risk": "🟠 at risk", "met": "met", "on track": "on track"}
RANGES = {"day": timedelta(days=30), "week": timedelta(weeks=26), "month": timedelta(days=365)}
# Attachments are offered for download with their own type only when a browser will not run them.
DOWNLOAD_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain", "text/csv"}
NO_VEHICLE = "None (commercial)"
MICROSOFT_ANSWERS = {"resolved": "Yes: resolve it with the ticket", "open": "No: it stays open"}


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def create_form(actor: Actor) -> None:
    with st.expander("New ticket"), st.form("tickets_create_form", clear_on_submit=True):
        customer_id = st.text_input("Customer ID", key="tickets_new_customer")
        title = st.text_input("Title", key="tickets_new_title")
        description = st.text_area("Description", key="tickets_new_description")
        category_col, severity_col, channel_col = st.columns(3)
        category = category_col.selectbox("Category", TicketCategory.values(), key="tickets_new_category")
        severity = severity_col.selectbox("Severity", Severity.values(), index=1, key="tickets_new_severity")
        channel = channel_col.selectbox("Channel", CHANNELS, key="tickets_new_channel")
        if st.form_submit_button("Create ticket", type="primary", key="tickets_new_submit"):
            try:
                created = create_ticket(
                    actor,
                    customer_id=customer_id,
                    title=title,
                    description=description,
                    category=str(category),
                    severity=str(severity),
                    channel=str(channel),
                )
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                flash(f"Ticket {created} created.")


def microsoft_question(ticket_id: str, still_open: list[TicketEscalation]) -> tuple[bool | None, str]:
    """Whether Microsoft's open case is resolved, asked before the ticket is resolved or closed; the answer and
    the reason a case stays open go with Resolve and with closing."""
    cases = " and ".join(case.case_number for case in still_open)
    st.markdown(
        plain(f"Microsoft's case {cases} is still open. Before this ticket is resolved or closed, say:")
    )
    answer = st.radio(
        "Is Microsoft's case resolved?",
        list(MICROSOFT_ANSWERS),
        format_func=MICROSOFT_ANSWERS.__getitem__,
        index=None,
        horizontal=True,
        key=f"tickets_microsoft_answer_{ticket_id}",
    )
    reason = st.text_input("Why the case stays open", key=f"tickets_microsoft_reason_{ticket_id}")
    return (None if answer is None else answer == "resolved"), reason


def act(actor: Actor, row: pd.Series, cases: tuple[TicketEscalation, ...]) -> None:
    """The actions on one ticket; each refuses with the action's own sentence."""
    ticket_id, status = str(row.ticket_id), str(row.status)
    still_open = [case for case in cases if case.open]
    try:
        microsoft_resolved, open_reason = (
            microsoft_question(ticket_id, still_open)
            if still_open and status != TicketStatus.CLOSED.value
            else (None, "")
        )
        assign_col, status_col = st.columns(2)
        with assign_col, st.form("tickets_assign_form", clear_on_submit=True):
            assignee = st.text_input("Assign to (username)", key="tickets_assignee")
            if st.form_submit_button("Assign", key="tickets_assign_submit"):
                assign(actor, ticket_id=ticket_id, assignee=assignee)
                flash(f"Ticket {ticket_id} assigned to {assignee.strip()}.")
        with status_col, st.form("tickets_status_form"):
            options = list(TRANSITIONS[status])
            chosen = st.selectbox("New status", options, key="tickets_new_status", disabled=not options)
            if st.form_submit_button("Change status", key="tickets_status_submit", disabled=not options):
                change_status(
                    actor,
                    ticket_id=ticket_id,
                    status=str(chosen),
                    microsoft_resolved=microsoft_resolved,
                    open_reason=open_reason,
                )
                closing = chosen == TicketStatus.CLOSED.value
                flash(
                    f"Ticket {ticket_id} is now {chosen}."
                    + (settled(still_open, microsoft_resolved) if closing else "")
                )
        respond_col, resolve_col, reopen_col = st.columns(3)
        finished = status in DONE
        if respond_col.button(
            "Record first response",
            key="tickets_respond",
            disabled=finished or pd.notna(row.first_response_at),
        ):
            respond(actor, ticket_id=ticket_id)
            flash(f"First response recorded on ticket {ticket_id}.")
        if resolve_col.button("Resolve", key="tickets_resolve", type="primary", disabled=finished):
            resolve(
                actor, ticket_id=ticket_id, microsoft_resolved=microsoft_resolved, open_reason=open_reason
            )
            flash(f"Ticket {ticket_id} resolved." + settled(still_open, microsoft_resolved))
        if reopen_col.button("Reopen", key="tickets_reopen", disabled=not finished):
            reopen(actor, ticket_id=ticket_id)
            flash(f"Ticket {ticket_id} reopened.")
    except (PermissionDenied, InvalidAction) as exc:
        st.error(plain(exc))


def settled(still_open: list[TicketEscalation], microsoft_resolved: bool | None) -> str:
    if not still_open:
        return ""
    cases = " and ".join(case.case_number for case in still_open)
    return f" Microsoft's case {cases} " + ("resolved with it." if microsoft_resolved else "stays open.")


def escalations_section(actor: Actor, row: pd.Series, cases: tuple[TicketEscalation, ...], zone: str) -> None:
    """The ticket's Microsoft cases, and escalating it from here (a second open case only when confirmed)."""
    st.subheader("Escalations to Microsoft")
    if not cases:
        st.caption("Not escalated to Microsoft.")
    for case in cases:
        st.markdown(
            f"**{plain(case.case_number)}** · {plain(case.vehicle)} · {severity_badge(case.severity)} · "
            f"**{case.status}** · submitted {moment(case.submitted_at, zone)}"
        )
        if case.notes:
            st.text(case.notes)
    if allowed(actor, "ticket.escalate") and row.status not in DONE:
        escalate_form(actor, row, [case for case in cases if case.open])


def escalate_form(actor: Actor, row: pd.Series, still_open: list[TicketEscalation]) -> None:
    ticket_id = str(row.ticket_id)
    vehicles = cached(available_vehicles)(actor)
    with st.expander("Escalate to Microsoft"), st.form("tickets_escalate_form", clear_on_submit=True):
        st.caption(
            "Commercial escalations are open to every CSP partner; technical ones go through a support vehicle "
            f"the partner holds ({plain(', '.join(vehicles)) or 'none set up'})."
        )
        left, right = st.columns(2)
        kind = left.selectbox(
            "Kind", EscalationKind.values(), format_func=str.capitalize, key="tickets_escalate_kind"
        )
        case_number = right.text_input("Microsoft case number", key="tickets_escalate_case")
        severities = Severity.values()
        severity = left.selectbox(
            "Severity",
            severities,
            index=severities.index(row.severity) if row.severity in severities else 1,
            key="tickets_escalate_severity",
        )
        vehicle = right.selectbox("Support vehicle", [NO_VEHICLE, *vehicles], key="tickets_escalate_vehicle")
        notes = st.text_area("Notes", key="tickets_escalate_notes")
        another = False
        if still_open:
            cases = " and ".join(case.case_number for case in still_open)
            another = st.checkbox(
                plain(f"Open a second case although case {cases} is still open"),
                key="tickets_escalate_confirm",
            )
        if st.form_submit_button("Escalate", key="tickets_escalate_submit"):
            try:
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
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                flash(f"Ticket {ticket_id} escalated to Microsoft as case {case_number.strip()}.")


def email_message(actor: Actor, message: ConversationMessage, zone: str) -> None:
    """One e-mail of the conversation, as plain text, with its attachments to download."""
    customer = message.direction == "in"
    with st.chat_message("user" if customer else "assistant", avatar=":material/mail:" if customer else None):
        who = message.sender or "Unknown sender"
        byline = f"{who} → {message.recipients} · {moment(message.recorded_at, zone)}"
        if message.author:
            byline += f" · by {message.author}"
        st.caption(plain(byline))
        if message.delivery:
            delivered = message.delivery_status == "sent"
            (st.caption if delivered else st.warning)(plain(f"E-mail {message.delivery}"))
        st.text(message.body or "(no text)")
        if message.notes:
            st.caption(plain(message.notes))
        for file in message.attachments:
            st.download_button(
                plain(f"{file.name} ({file.size_bytes / 1024:,.0f} KB)"),
                partial(download, actor, file.id),
                file_name=file.name,
                mime=file.content_type if file.content_type in DOWNLOAD_TYPES else "application/octet-stream",
                icon=":material/attach_file:",
                key=f"tickets_attachment_{file.id}",
                on_click="ignore",
            )


def download(actor: Actor, attachment_id: int) -> bytes:
    return attachment_file(actor, attachment_id=attachment_id).data


def reply_form(actor: Actor, ticket_id: str) -> None:
    """The agent's reply by e-mail, sent at once through the outbox; once per form (a double submit sends it
    once)."""
    target = cached(reply_target)(actor, ticket_id=ticket_id)
    with st.form("tickets_reply_form", clear_on_submit=True):
        if target is None:
            st.caption("No e-mail address is known for this ticket, so it cannot be answered by e-mail.")
        else:
            st.caption(plain(f"Reply by e-mail to {target}; the subject carries {reference(ticket_id)}."))
        text = st.text_area("Reply", key="tickets_reply_text", height=160, disabled=target is None)
        wait = st.checkbox("Then wait for the customer's answer", key="tickets_reply_pending")
        if st.form_submit_button(
            "Send reply", type="primary", key="tickets_reply_submit", disabled=target is None
        ):
            send(actor, ticket_id, text, wait=wait)


def send(actor: Actor, ticket_id: str, text: str, *, wait: bool) -> None:
    token = st.session_state.setdefault(TICKETS_REPLY_TOKEN, uuid.uuid4().hex)
    try:
        sent = send_reply(actor, ticket_id=ticket_id, text=text, pending_customer=wait, submission=token)
    except (PermissionDenied, InvalidAction) as exc:
        st.error(plain(exc))
        return
    st.session_state.pop(TICKETS_REPLY_TOKEN, None)
    said = f"Reply on ticket {ticket_id}: {sent.sentence()}"
    flash(Note(said, "success" if sent.state.status == "sent" and not sent.problem else "warning"))


def triage_form(actor: Actor, ticket_id: str) -> None:
    with st.form("tickets_triage_form", clear_on_submit=True):
        st.caption("This e-mail came from a sender no customer matched. Name the customer it belongs to.")
        customer_id = st.text_input("Customer ID", key="tickets_triage_customer")
        if st.form_submit_button("Set customer", key="tickets_triage_submit"):
            try:
                set_customer(actor, ticket_id=ticket_id, customer_id=customer_id)
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                flash(f"Ticket {ticket_id} is now the ticket of customer {customer_id.strip()}.")


def conversation_section(
    actor: Actor, row: pd.Series, messages: tuple[ConversationMessage, ...], zone: str, *, may_update: bool
) -> None:
    ticket_id = str(row.ticket_id)
    st.subheader("Conversation")
    if not messages:
        st.caption("No e-mail on this ticket yet.")
    for message in messages:
        email_message(actor, message, zone)
    if not may_update:
        return
    if pd.isna(row.customer_id):
        triage_form(actor, ticket_id)
    if row.status != TicketStatus.CLOSED.value:
        reply_form(actor, ticket_id)


actor = current_actor()
st.title("Tickets")
show_flash()
now = datetime.now(UTC).replace(second=0, microsecond=0)
today = now.date()
may_create = allowed(actor, "ticket.create")
may_update = allowed(actor, "ticket.update")
if may_create:
    create_form(actor)
elif not may_update:
    st.caption("You can read tickets; creating and updating them is for helpdesk agents and billing admins.")

with st.spinner("Reading the backlog…"):
    clocks = cached(open_clocks)(actor, now=now)
    attainment = cached(sla_attainment)(actor, start=today - timedelta(days=29), end=today)
backlog_metric, breached_metric, risk_metric, first_metric, resolution_metric = st.columns(5)
backlog_metric.metric("Open backlog", f"{clocks.open:,}")
breached_metric.metric("Breaching SLA", f"{clocks.breached:,}")
risk_metric.metric("At risk", f"{clocks.at_risk:,}")
first_metric.metric("First response in SLA (30 days)", share(attainment.first_response))
resolution_metric.metric("Resolution in SLA (30 days)", share(attainment.resolution))

volume_col, backlog_col = st.columns([3, 2])
with volume_col:
    st.subheader("Volumes")
    period_col, colour_col = st.columns(2)
    period = period_col.segmented_control(
        "Per", list(RANGES), default="week", key="tickets_period", format_func=str.capitalize
    )
    colour = colour_col.segmented_control(
        "Colour by",
        list(ATTRIBUTES),
        default="category",
        key="tickets_colour",
        format_func=str.capitalize,
    )
    period, colour = str(period or "week"), str(colour or "category")
    volumes = cached(tickets_report)(actor, start=today - RANGES[period], end=today, by=period, split=colour)
    if volumes.opened.sum() == 0:
        st.info("No tickets were opened in this range.")
    else:
        figure = px.bar(
            volumes.assign(**{colour: volumes[colour].map(chart_text)}),
            x="period",
            y="opened",
            color=colour,
            color_discrete_map=SEVERITY_COLOURS if colour == "severity" else None,
            category_orders={"severity": SEVERITY_ORDER},
            labels={"period": period.capitalize(), "opened": "Opened"},
        )
        st.plotly_chart(figure, key="tickets_volume_chart")
with backlog_col:
    st.subheader("Backlog by age")
    backlog = cached(backlog_by_age)(actor, now=now)
    if backlog.empty:
        st.info("No open tickets.")
    else:
        figure = px.bar(
            backlog,
            x="age",
            y="tickets",
            color="severity",
            color_discrete_map=SEVERITY_COLOURS,
            category_orders={"age": [name for name, _ in AGE_BUCKETS], "severity": SEVERITY_ORDER},
            labels={"age": "Age", "tickets": "Open tickets"},
        )
        st.plotly_chart(figure, key="tickets_backlog_chart")

st.subheader("Tickets")
status_col, category_col, severity_col, customer_col = st.columns(4)
status = status_col.selectbox("Status", [ALL, OPEN_BACKLOG, *TicketStatus.values()], key="tickets_status")
category = category_col.selectbox("Category", [ALL, *TicketCategory.values()], key="tickets_category")
severity = severity_col.selectbox("Severity", [ALL, *Severity.values()], key="tickets_severity")
customer = customer_col.text_input("Customer ID", key="tickets_customer").strip()
try:
    listed = cached(tickets)(
        actor,
        now=now,
        status=None if status in (ALL, OPEN_BACKLOG) else status,
        category=None if category == ALL else category,
        severity=None if severity == ALL else severity,
        customer_id=customer or None,
        open_only=status == OPEN_BACKLOG,
    )
except InvalidAction as exc:
    st.error(plain(exc))
    st.stop()
if listed.empty:
    st.info("No tickets match these filters." if (status, category, severity, customer) != (ALL, ALL, ALL, "")
            else "No tickets yet.")  # fmt: skip
    st.stop()

zone = display_time_zone(actor)
shown = readable(
    listed, moments=["created_at", "first_response_due", "resolution_due", "resolved_at"], zone=zone
)
for column in ("first_response_state", "resolution_state"):
    shown[column] = shown[column].map(STATE_TEXT)
shown["age"] = pd.to_timedelta(shown["age"]).dt.total_seconds() / 86_400
st.caption(f"{plural(len(shown), 'ticket')}, newest first (at most 500). Times are in {zone}.")
st.dataframe(
    shown.drop(columns=["description", "first_response_at"]),
    hide_index=True,
    width="stretch",
    key="tickets_table",
    column_config={
        "ticket_id": "Ticket",
        "customer_id": "Customer ID",
        "customer_name": "Customer",
        "title": "Title",
        "category": "Category",
        "severity": "Severity",
        "status": "Status",
        "channel": "Channel",
        "assignee": "Assignee",
        "created_at": "Opened",
        "resolved_at": "Resolved",
        "first_response_due": "First response due",
        "resolution_due": "Resolution due",
        "first_response_state": "First response",
        "resolution_state": "Resolution",
        "age": st.column_config.NumberColumn("Age (days)", format="%.1f"),
    },
)

picked = st.selectbox(
    "Ticket",
    list(listed.ticket_id),
    index=None,
    placeholder="Choose a ticket to see or act on",
    format_func=lambda tid: f"{tid} — {listed.set_index('ticket_id').title[tid]}",
    key="tickets_picked",
)
if picked is None:
    st.stop()
row = listed[listed.ticket_id == picked].iloc[0]
known = pd.notna(row.customer_id)
customer_label = plain(f"{row.customer_name} ({row.customer_id})" if known else row.customer_name)
st.markdown(
    f"**{plain(row.title)}** · {customer_label} · {row.category} · {severity_badge(row.severity)} · **{row.status}** · "
    f"assigned to {plain(row.assignee) if pd.notna(row.assignee) else 'nobody'}"
)
messages = cached(conversation)(actor, ticket_id=str(picked))
if pd.notna(row.description) and row.description and not messages:  # an e-mail's text is in the conversation
    st.text(row.description)
if known and row.category in BILLING_CATEGORIES and allowed(actor, "customers.view"):
    st.page_link(
        "app_pages/customers.py",
        label=f"See the invoices of {plain(row.customer_name)} (customer {plain(row.customer_id)}) on the "
        "Customers page",
        icon=":material/receipt:",
    )
conversation_section(actor, row, messages, zone, may_update=may_update)
cases = cached(ticket_escalations)(actor, ticket_id=str(picked)) if allowed(actor, "escalations.view") else ()
if allowed(actor, "escalations.view"):
    escalations_section(actor, row, cases, zone)
if may_update:
    act(actor, row, cases)
