"""Collections: the overdue accounts worth chasing first, and what billing does on one of them."""

import hashlib
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.collections import (
    add_note,
    email_reminder,
    log_contact,
    open_dispute,
    record_promise,
    resolve_dispute,
    send_all_due,
    set_up_payment_plan,
)
from data_access.actions.collections_run import ensure_current
from data_access.actions.credit_notes import issue_credit_note, reverse_credit_note
from data_access.actions.payments import apply_credit, record_payment, reverse_payment
from data_access.config import InvalidSetting
from data_access.documents.exports import plain
from data_access.errors import InvalidAction
from data_access.ledger import AlreadyRecorded, PossibleDuplicate
from data_access.mail.outbox import delivery_route, retry
from data_access.mail.reminders import reminders_due
from data_access.money import day, money, typed_amount
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.collections import (
    FIRST_SCREEN_ROWS,
    open_invoices,
    worklist_choices,
    worklist_first_screen,
)
from data_access.queries.credit_notes import customer_credit_notes
from data_access.queries.outbox import activities_with_messages, undelivered
from data_access.queries.payments import customer_payments
from data_access.queries.stages import stage_history
from data_access.queries.time_zone import partner_time_zone
from data_access.rules.entries import credit_note_entry, installments
from data_access.text import days_past_due, plural, readable, sentence
from ui.cache import cached
from ui.flash import Note, flash, show_flash
from ui.session_keys import (
    COLLECTIONS_LAST_TABLE,
    COLLECTIONS_PAYMENT_PENDING,
    COLLECTIONS_PAYMENT_TOKEN,
    COLLECTIONS_PICKED,
    COLLECTIONS_TABLE_GENERATION,
)
from ui.signin import current_actor

ALL = "All"
ROWS_SHOWN = (FIRST_SCREEN_ROWS, 1000, 5000, None)
NO_STAGE = "(no stage)"
# What billing acts on first, in the order it reads them: customer (pinned) to days past due fit a 1440 px window
# without scrolling; the rest follows to the right.
WORKLIST_COLUMNS = {
    "name": st.column_config.TextColumn("Customer", width=155, pinned=True),
    "stage": st.column_config.TextColumn("Stage", width=120),
    "due_now": st.column_config.TextColumn("Due now", width=115, help="What the policy asks for today"),
    "next_step": st.column_config.TextColumn("Next step", width=120),
    "next_step_on": st.column_config.TextColumn("Next step on", width=88),
    "broken_promises": st.column_config.NumberColumn(
        "Broken promises", width=65, help="Broken promises to pay"
    ),
    "last_contact_on": st.column_config.TextColumn("Last contact", width=88),
    "overdue": st.column_config.NumberColumn("Overdue", format="accounting", width=92),
    "days_past_due": st.column_config.NumberColumn("Days past due", width=88),
    "currency": st.column_config.TextColumn("Currency", width=65),
    "last_contact": st.column_config.TextColumn("Contact kind", width=90),
    "held_by_promise": st.column_config.CheckboxColumn("Promise stands", width=80),
    "disputed": st.column_config.NumberColumn("Disputed", format="accounting", width=95),
    "unapplied": st.column_config.NumberColumn("Unapplied credit", format="accounting", width=95),
    "account_manager": st.column_config.TextColumn("Account manager", width=110),
    "customer_id": st.column_config.TextColumn("Customer ID", width=95),
}


def done(message: str, *more: Note) -> NoReturn:
    """After an action: a fresh table (its selection forgotten), and what happened said on the next run."""
    st.session_state[COLLECTIONS_TABLE_GENERATION] = st.session_state.get(COLLECTIONS_TABLE_GENERATION, 0) + 1
    flash(message, *more)


def picked_customer(table: pd.DataFrame, rows: list[int], table_key: str) -> str | None:
    """The customer selected in the table; kept across a refreshed table, dropped when the row is deselected."""
    if rows and rows[0] < len(table):
        st.session_state[COLLECTIONS_PICKED] = str(table.iloc[rows[0]].customer_id)
    elif st.session_state.get(COLLECTIONS_LAST_TABLE) == (table_key, True):
        st.session_state[COLLECTIONS_PICKED] = None
    st.session_state[COLLECTIONS_LAST_TABLE] = (table_key, bool(rows))
    chosen = st.session_state.get(COLLECTIONS_PICKED)
    return chosen if chosen in set(table.customer_id) else None


def rows_label(rows: int | None) -> str:
    return "All" if rows is None else f"{rows:,}"


def given(value: object) -> bool:
    return value is not None and not pd.isna(value)  # type: ignore[call-overload]


def describe(row: pd.Series) -> str:
    parts = [f"Stage: **{plain(row.stage) if given(row.stage) else 'none'}**"]
    parts.append(f"due now: **{plain(row.due_now)}**" if given(row.due_now) else "nothing due now")
    if row.held_by_promise:
        parts.append("held by a promise to pay")
    if given(row.next_step):
        parts.append(f"next: **{plain(row.next_step)}** on {day(row.next_step_on)}")
    return " · ".join(parts)


def act(actor: Actor, row: pd.Series, invoices: pd.DataFrame, today: date) -> None:
    """One tab per action on the account; each refuses with the action's own sentence."""
    customer_id, currency = str(row.customer_id), str(row.currency)
    numbers = list(invoices.invoice_number)
    names = ["Contact", "Reminder", "Promise to pay", "Payment plan", "Dispute", "Note"]
    if allowed(actor, "payment.record"):
        names.append("Payment")
    if allowed(actor, "credit_note.issue"):
        names.append("Credit / write-off")
    if allowed(actor, "payment.reverse") or allowed(actor, "credit_note.reverse"):
        names.append("Reverse")
    if allowed(actor, "credit.apply") and row.unapplied:
        names.append("Apply credit")
    tabs = dict(zip(names, st.tabs(names), strict=True))
    try:
        with tabs["Contact"], st.form("collections_contact_form", clear_on_submit=True):
            kind = st.segmented_control(
                "Kind",
                ["call", "email"],
                default="call",
                format_func=str.capitalize,
                key="collections_contact_kind",
            )
            notes = st.text_area("What was said", key="collections_contact_notes")
            if st.form_submit_button("Log contact", key="collections_contact_submit"):
                log_contact(actor, customer_id=customer_id, kind=kind or "", notes=notes)
                done(f"{(kind or '').capitalize()} logged.")
        with tabs["Reminder"]:
            if given(row.stage):
                st.caption(
                    f"E-mails the **{plain(row.stage)}** message, filled in with today's figures, with the overdue "
                    "invoices and the statement of account, to the billing contact, and records it."
                )
            if st.button("Send reminder", key="collections_send_reminder", disabled=not given(row.stage)):
                sent = email_reminder(actor, customer_id=customer_id, as_of=today)
                delivered = sent.emailed is not None and sent.emailed.status == "sent"
                done(
                    sentence(f"{row.stage} reminder sent to {row['name']}"),
                    Note(sent.text, "info"),
                    Note(sent.delivery(), "success" if delivered else "warning"),
                )
        with tabs["Promise to pay"], st.form("collections_promise_form", clear_on_submit=True):
            promised = st.text_input(f"Amount ({plain(currency)})", key="collections_promise_amount")
            promised_for = st.date_input(
                "Promised for", value=today + timedelta(days=7), key="collections_promise_date"
            )
            if st.form_submit_button("Record promise to pay", key="collections_promise_submit"):
                record_promise(
                    actor,
                    customer_id=customer_id,
                    amount=typed_amount(promised),
                    promised_for=promised_for,
                    today=today,
                )
                done("Promise to pay recorded.")
        with tabs["Payment plan"], st.form("collections_plan_form", clear_on_submit=True):
            st.caption("One installment a line: date and amount, e.g. `2026-12-15, 250.00`.")
            lines = st.text_area("Installments", key="collections_plan_installments")
            plan_notes = st.text_input("Notes", key="collections_plan_notes")
            if st.form_submit_button("Set up payment plan", key="collections_plan_submit"):
                set_up_payment_plan(
                    actor,
                    customer_id=customer_id,
                    installments=installments(lines),
                    notes=plan_notes,
                    today=today,
                )
                done("Payment plan set up.")
        with tabs["Dispute"], st.form("collections_dispute_form", clear_on_submit=True):
            disputed = set(invoices[invoices.disputed].invoice_number)
            number = st.selectbox(
                "Invoice",
                numbers,
                format_func=lambda n: f"{n} (disputed)" if n in disputed else n,
                key="collections_dispute_invoice",
            )
            why = st.text_input("Reason or resolution", key="collections_dispute_text")
            opening, resolving = st.columns(2)
            if opening.form_submit_button("Open dispute", key="collections_dispute_open"):
                open_dispute(actor, invoice_number=str(number), reason=why)
                done(f"Invoice {number} is disputed; it is off the collections clock until resolved.")
            if resolving.form_submit_button("Resolve dispute", key="collections_dispute_resolve"):
                resolve_dispute(actor, invoice_number=str(number), resolution=why)
                done(f"The dispute on invoice {number} is resolved.")
        with tabs["Note"], st.form("collections_note_form", clear_on_submit=True):
            note = st.text_area("Note", key="collections_note_text")
            if st.form_submit_button("Add note", key="collections_note_submit"):
                add_note(actor, customer_id=customer_id, notes=note)
                done("Note added.")
        if "Payment" in tabs:
            with tabs["Payment"]:
                payment_form(actor, customer_id, currency, numbers, today)
        if "Credit / write-off" in tabs:
            with tabs["Credit / write-off"], st.form("collections_credit_form", clear_on_submit=True):
                kind = st.segmented_control(
                    "Kind", ["Credit note", "Write-off"], default="Credit note", key="collections_credit_kind"
                )
                invoice = st.selectbox("Invoice", numbers, key="collections_credit_invoice")
                credited = st.text_input(
                    f"Amount ({plain(currency)}); empty for the whole open balance",
                    key="collections_credit_amount",
                )
                note_number = st.text_input("Credit note number", key="collections_credit_number")
                reason = st.text_input(
                    "Reason (credit notes; a write-off's reason is “write-off”)",
                    key="collections_credit_reason",
                )
                if st.form_submit_button("Issue", key="collections_credit_submit"):
                    entry = credit_note_entry(
                        write_off=kind == "Write-off",
                        number=note_number,
                        amount=credited,
                        reason=reason,
                        open_balance=invoices.set_index("invoice_number").open.get(invoice, Decimal(0)),
                    )
                    issue_credit_note(
                        actor,
                        invoice_number=str(invoice),
                        number=entry.number,
                        amount=entry.amount,
                        issued_on=today,
                        reason=entry.reason,
                    )
                    done(f"{'Write-off' if kind == 'Write-off' else 'Credit note'} {entry.number} issued.")
        if "Reverse" in tabs:
            with tabs["Reverse"]:
                reverse_form(actor, customer_id, today)
        if "Apply credit" in tabs:
            with tabs["Apply credit"]:
                apply_credit_form(actor, customer_id, currency, row.unapplied, numbers)
    except (PermissionDenied, InvalidAction, InvalidSetting) as exc:
        st.error(plain(exc))


def payment_form(actor: Actor, customer_id: str, currency: str, numbers: list[str], today: date) -> None:
    """Record a payment once: the form carries a token (a double submit records it once), and one that looks like
    a payment already recorded waits for a confirmation."""
    token = st.session_state.setdefault(COLLECTIONS_PAYMENT_TOKEN, uuid.uuid4().hex)
    pending = st.session_state.get(COLLECTIONS_PAYMENT_PENDING)
    if pending is not None and pending["customer_id"] == customer_id:
        st.warning(plain(pending["warning"]))
        confirm, cancel = st.columns(2)
        if confirm.button("Record it as a second payment", key="collections_payment_confirm", type="primary"):
            st.session_state.pop(COLLECTIONS_PAYMENT_PENDING)
            record(actor, pending["payment"], confirm_duplicate=True)
        if cancel.button("Do not record it", key="collections_payment_cancel"):
            st.session_state.pop(COLLECTIONS_PAYMENT_PENDING)
            st.rerun()
        return
    with st.form("collections_payment_form", clear_on_submit=True):
        paid = st.text_input(f"Amount ({plain(currency)})", key="collections_payment_amount")
        received_on = st.date_input(
            "Received on", value=today, max_value=today, key="collections_payment_date"
        )
        target = st.selectbox("Invoice", ["Oldest first", *numbers], key="collections_payment_invoice")
        reference = st.text_input("Reference", key="collections_payment_reference")
        if st.form_submit_button("Record payment", key="collections_payment_submit"):
            payment = {
                "customer_id": customer_id,
                "amount": typed_amount(paid),
                "received_on": received_on,
                "invoice_number": None if target == "Oldest first" else str(target),
                "reference": reference.strip() or None,
                "today": today,
                "entry_key": token,
            }
            try:
                record(actor, payment, confirm_duplicate=False)
            except PossibleDuplicate as exc:
                st.session_state[COLLECTIONS_PAYMENT_PENDING] = {"customer_id": customer_id, "payment": payment,
                                                     "warning": str(exc)}  # fmt: skip
                st.rerun()


def record(actor: Actor, payment: dict[str, Any], *, confirm_duplicate: bool) -> None:
    try:
        record_payment(actor, **payment, confirm_duplicate=confirm_duplicate)
    except AlreadyRecorded:
        st.session_state.pop(COLLECTIONS_PAYMENT_TOKEN, None)
        done("This payment was recorded already (the form was sent twice); it was recorded once.")
    st.session_state.pop(COLLECTIONS_PAYMENT_TOKEN, None)
    done("Payment recorded.")


def reverse_form(actor: Actor, customer_id: str, today: date) -> None:
    """Undo a payment the bank returned, or a credit note issued in error; the invoices re-open from that day."""
    payments = cached(customer_payments)(actor, customer_id=customer_id)
    notes = cached(customer_credit_notes)(actor, customer_id=customer_id)
    choices: dict[str, tuple[str, str]] = {}
    if allowed(actor, "payment.reverse"):
        for p in payments[payments.reversed_on.isna()].itertuples():
            label = f"Payment {p.payment_id}: {money(p.amount, p.currency)} received {day(p.received_on)}"
            choices[label + (f", ref. {p.reference}" if given(p.reference) else "")] = (
                "payment",
                str(p.payment_id),
            )
    if allowed(actor, "credit_note.reverse"):
        for n in notes[notes.reversed_on.isna() & (notes.amount > 0)].itertuples():
            label = f"Credit note {n.number}: {money(n.amount, n.currency)} on {n.invoice_number}, {day(n.issued_on)}"
            choices[label] = ("credit_note", str(n.number))
    if not choices:
        st.caption(
            "Nothing to reverse: no payment or credit note on this account that is not reversed already."
        )
        return
    with st.form("collections_reverse_form", clear_on_submit=True):
        picked = st.selectbox("Payment or credit note", list(choices), key="collections_reverse_item")
        reversed_on = st.date_input(
            "Reversed on", value=today, max_value=today, key="collections_reverse_date"
        )
        reason = st.text_input("Reason (e.g. returned by the bank)", key="collections_reverse_reason")
        if st.form_submit_button("Reverse", key="collections_reverse_submit"):
            kind, ident = choices[picked]
            if kind == "payment":
                reopened = reverse_payment(
                    actor, payment_id=int(ident), reason=reason, reversed_on=reversed_on, today=today
                )
                done(f"Payment {ident} reversed; {money(reopened)} put back on its invoices.")
            reversal = reverse_credit_note(
                actor, number=ident, reason=reason, reversed_on=reversed_on, today=today
            )
            done(f"Credit note {ident} reversed by {reversal}.")


def apply_credit_form(
    actor: Actor, customer_id: str, currency: str, unapplied: Decimal, numbers: list[str]
) -> None:
    st.caption(
        f"{plain(money(unapplied, currency))} received from this customer is not applied to any invoice. Apply it to the "
        "oldest open invoices, or choose the invoices in the order to settle them."
    )
    with st.form("collections_apply_form"):
        chosen = st.multiselect("Invoices (empty: oldest first)", numbers, key="collections_apply_invoices")
        if st.form_submit_button("Apply credit", key="collections_apply_submit"):
            applied = apply_credit(actor, customer_id=customer_id, invoice_numbers=tuple(chosen))
            done(f"{money(applied, currency)} of unapplied credit applied.")


def email_reminders(actor: Actor, today: date) -> None:
    """Where e-mail goes; every reminder due sent after a preview and a confirmation; e-mail not delivered, with
    the server's reply and a retry."""
    failed = cached(undelivered)(actor)
    if not failed.empty:
        st.warning(f"{plural(len(failed), 'e-mail')} not delivered: see E-mail reminders.")
    with st.expander("E-mail reminders", expanded=not failed.empty):
        try:
            st.caption(plain(delivery_route(actor).sentence()))
        except InvalidSetting as exc:
            st.error(plain(exc))
        try:
            if allowed(actor, "collections.act") and st.toggle(
                "Show who gets a reminder now", key="collections_mail_preview"
            ):
                send_all(actor, today)
            if failed.empty:
                st.caption("Every e-mail queued has reached its server.")
            else:
                retry_form(actor, failed)
        except (PermissionDenied, InvalidAction, InvalidSetting) as exc:
            st.error(plain(exc))


def send_all(actor: Actor, today: date) -> None:
    due = cached(reminders_due)(actor, as_of=today)
    if due.empty:
        st.caption(f"No reminder or final notice is due on {day(today)}.")
        return
    st.dataframe(
        readable(due.drop(columns=["sends"]), amounts=["total"]),
        hide_index=True,
        width="stretch",
        key="collections_mail_due",
        column_config={
            "customer_id": "Customer ID", "customer_name": "Customer", "to": "To", "stage": "Stage",
            "currency": "Currency", "total": st.column_config.TextColumn("Total overdue", alignment="right"),
            "invoices": "Invoices", "why_not": "Not sent because",
        },
    )  # fmt: skip
    sending = int(due.sends.sum())
    confirmed = st.checkbox(
        f"E-mail {plural(sending, 'reminder')} now", key="collections_mail_confirm", disabled=not sending
    )
    if st.button("Send all due", key="collections_mail_send_all", type="primary", disabled=not confirmed):
        bar = st.progress(0.0, text="Queuing reminders…")

        def progress(what: str, count: int, total: int) -> None:
            bar.progress(count / total if total else 1.0, f"{what}: {count} of {total}")

        summary = send_all_due(actor, as_of=today, progress=progress)
        flash(Note(summary.sentence(), "success" if summary.all_delivered else "warning"))


def retry_form(actor: Actor, failed: pd.DataFrame) -> None:
    zone = cached(partner_time_zone)()
    st.dataframe(
        readable(failed.drop(columns=["message"]), moments=["next_attempt_at", "created_at"], zone=zone),
        hide_index=True,
        width="stretch",
        key="collections_mail_undelivered",
        column_config={
            "customer_id": "Customer ID", "customer_name": "Customer", "to": "To", "subject": "Subject",
            "status": "Status", "attempts": "Attempts", "last_error": "Server's reply",
            "next_attempt_at": f"Next try ({zone})", "created_at": f"Queued ({zone})",
        },
    )  # fmt: skip
    if not allowed(actor, "collections.act"):
        return
    choices = {
        f"{subject} to {to} (e-mail {message})": int(message)
        for message, subject, to in zip(failed.message, failed.subject, failed.to, strict=True)
    }
    picked = st.selectbox("E-mail to retry", list(choices), key="collections_mail_retry_pick")
    if st.button("Retry now", key="collections_mail_retry") and picked is not None:
        state = retry(actor, message_id=choices[picked])
        flash(Note(state.sentence(), "success" if state.status == "sent" else "warning"))


actor = current_actor()
st.title("Collections")
show_flash()
today = clock.today()
with st.spinner("Bringing collections up to date…"):
    ensure_current(today)
email_reminders(actor, today)
with st.spinner("Reading overdue accounts…"):
    choices = cached(worklist_choices)(actor, as_of=today)
if not choices.accounts:
    st.info(f"No overdue accounts on {day(today)}: nothing to chase.")
    st.stop()

by_manager, by_stage, by_due = st.columns(3, vertical_alignment="bottom")
manager = by_manager.selectbox(
    "Account manager", [ALL, *choices.account_managers], key="collections_account_manager"
)
stage = by_stage.selectbox("Stage", [ALL, *choices.stages], key="collections_stage")
due_only = by_due.toggle("Due now only", key="collections_due_only")
find, how_many = st.columns([3, 1])
search = find.text_input(
    "Find a customer", key="collections_search", placeholder="Customer ID or name",
    help="Keeps the customers whose ID or name contains this text (any case).",
)  # fmt: skip
rows = how_many.selectbox("Rows shown", ROWS_SHOWN, format_func=rows_label, key="collections_rows")
with st.spinner("Reading overdue accounts…"):
    first = cached(worklist_first_screen)(
        actor,
        as_of=today,
        account_manager=None if manager == ALL else manager,
        stage=None if stage == ALL else stage,
        due_only=due_only,
        rows=rows,
        search=search,
    )
table = first.table
if table.empty:
    st.info("No overdue accounts match these filters.")
    st.stop()

cut = "" if len(table) == first.matching else (
    f" The first {len(table):,} are shown: find a customer above, or show more rows."
)  # fmt: skip
unranked = "".join(f"; no rate for {plain(code)}: ranked after the others" for code in first.unranked)
st.caption(
    f"{plural(first.matching, 'overdue account')} on {day(today)}: broken promises first, then overdue amount × days "
    f"past due, compared in {first.reporting} at the rates on or before {day(today)}{unranked}. Amounts are in each "
    f"row's currency. Select a row to act on the account.{cut}"
)
view = hashlib.sha256(
    repr(
        (manager, stage, due_only, search, rows, st.session_state.get(COLLECTIONS_TABLE_GENERATION, 0))
    ).encode()
).hexdigest()[:12]
table_key = f"collections_table_{view}"
selection = st.dataframe(
    readable(table, days=["next_step_on", "last_contact_on"]),
    hide_index=True,
    column_order=list(WORKLIST_COLUMNS),
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=table_key,
    column_config=WORKLIST_COLUMNS,
)
customer_id = picked_customer(table, list(selection.selection.rows), table_key)
if customer_id is None:
    st.stop()

row = table[table.customer_id == customer_id].iloc[0]
st.subheader(plain(f"{row['name']} ({customer_id})"))
st.markdown(describe(row))
st.caption(
    plain(
        sentence(
            f"Overdue {money(row.overdue, row.currency)}, {days_past_due(int(row.days_past_due))}"
            + (f"; {money(row.disputed, row.currency)} in dispute" if row.disputed else "")
            + (f"; account manager {row.account_manager}" if given(row.account_manager) else "")
        )
    )
)
with st.spinner("Reading the account…"):
    invoices = cached(open_invoices)(actor, customer_id=customer_id)
    history = cached(activities_with_messages)(actor, customer_id=customer_id)
    stage_changes = cached(stage_history)(actor, customer_id=customer_id)
    zone = cached(partner_time_zone)()
act(actor, row, invoices, today)

st.markdown("**Recent collections activity**")
if history.empty:
    st.caption("Nothing recorded yet.")
else:
    st.dataframe(
        readable(
            history.drop(columns=["details"]),
            moments=["occurred_at"],
            zone=zone,
            days=["promised_for"],
            amounts=["promised_amount"],
        ),
        hide_index=True,
        width="stretch",
        key="collections_history",
        column_config={
            "occurred_at": st.column_config.TextColumn(f"When ({zone})"),
            "kind": "Kind",
            "actor": "By",
            "invoice_number": "Invoice",
            "notes": "Notes",
            "promised_amount": st.column_config.TextColumn("Promised", alignment="right"),
            "promised_for": st.column_config.TextColumn("Promised for"),
        },
    )

st.markdown("**Stage history**")
if stage_changes.empty:
    st.caption("No stage recorded yet.")
else:
    st.dataframe(
        readable(stage_changes.fillna({"stage": NO_STAGE}), days=["entered_on", "left_on"]),
        hide_index=True,
        width="stretch",
        key="collections_stage_history",
        column_config={
            "stage": "Stage",
            "entered_on": "Entered on",
            "entered_because": "Why",
            "left_on": "Left on",
            "left_because": "Why it was left",
        },
    )
