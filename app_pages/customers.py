"""Customers: find a customer, see their standing before a call, and download their statement of account."""

from dataclasses import asdict, replace
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.collections_run import ensure_current
from data_access.actions.customers import update_customer
from data_access.actions.invoices import add_invoice, correct_invoice, void_invoice
from data_access.documents.exports import plain
from data_access.documents.statement import statement, statement_csv, statement_pdf
from data_access.errors import InvalidAction
from data_access.money import InvalidAmount, day, from_cents, moment, money, typed_amount
from data_access.permissions import Actor, PermissionDenied, allowed
from data_access.queries.customers import (
    CustomerDetails,
    CustomerStatus,
    customer_details,
    customer_status,
    recent_activity,
    search_customers,
)
from data_access.queries.invoices import customer_invoices
from data_access.queries.stages import NO_STAGE, customer_standing, stage_history
from data_access.rules import policy
from data_access.text import readable
from ui.cache import cached
from ui.flash import flash, show_flash
from ui.signin import current_actor

SEARCH_LIMIT = 50
BADGES = {
    "good standing": ("green", ":material/check_circle:"),
    "overdue": ("orange", ":material/schedule:"),
    "suspended": ("red", ":material/block:"),
}
DAYS_LATE_HELP = (
    "Averaged over the invoices settled in the last 12 months (days from the due date to the payment or credit "
    "note that settled each one; early payment counts as 0, invoices cancelled by credit notes alone do not count) "
    "and the invoices still open past their due date (days late so far)."
)


def blank(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Empty text cells shown empty, not as a grey None."""
    present = [c for c in columns if c in frame.columns]
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), "") for c in present})


def months_back(day: date, months: int) -> date:
    """The first day of the month `months` before day's month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def standing_badges(status: CustomerStatus) -> str:
    color, icon = BADGES[status.standing]
    badges = [f":{color}-badge[{icon} {status.standing_label}]"]
    if status.standing == "suspended" and status.days_overdue:
        badges.append(f":orange-badge[:material/schedule: Overdue {status.days_overdue} days]")
    if status.exempt_from_collections:
        badges.append(":gray-badge[Exempt from collections]")
    return " ".join(badges)


def identity(status: CustomerStatus) -> str:
    parts = [
        status.customer_id,
        status.domain,
        f"tenant {status.tenant_id}" if status.tenant_id else None,
        status.country,
        f"account manager {status.account_manager}" if status.account_manager else None,
        f"terms {status.payment_terms_days} days",
        f"credit limit {money(status.credit_limit, status.currency)}"
        if status.credit_limit is not None
        else None,
    ]
    return " · ".join(part for part in parts if part)


def local_times(frame: pd.DataFrame, columns: list[str], zone: str) -> pd.DataFrame:
    return frame.assign(**{c: pd.to_datetime(frame[c], utc=True).dt.tz_convert(zone) for c in columns})


def show_metrics(status: CustomerStatus) -> None:
    """One row per currency; the currency goes in the label so that large amounts fit the card."""
    for index, balance in enumerate(status.balances):
        cells = st.columns(4)
        code = plain(balance.currency)
        cells[0].metric(f"Open balance ({code})", money(balance.open), border=True, height="stretch")
        cells[1].metric(
            f"Overdue ({code})",
            money(balance.overdue),
            border=True,
            height="stretch",
            help=f"Open and past its due date at {day(status.as_of)}.",
        )
        cells[2].metric(
            f"Unapplied credit ({code})",
            money(balance.unapplied_credit),
            border=True,
            height="stretch",
            help="Money received that no invoice absorbed: on the customer's account, not deducted from the "
            "open balance.",
        )
        if index == 0:
            late = status.average_days_late
            count = status.invoices_paid_last_12_months
            running = status.invoices_open_overdue
            counted = f"{count} paid, {running} open overdue" if running else f"{count} paid in 12 months"
            cells[3].metric(
                "Average days late",
                "—" if late is None else f"{late} days",
                delta=counted,
                delta_color="off",
                delta_arrow="off",
                border=True,
                height="stretch",
                help=DAYS_LATE_HELP,
            )


def show_service(status: CustomerStatus) -> None:
    st.subheader("Subscriptions")
    if status.subscriptions:
        subscriptions = blank(
            pd.DataFrame([asdict(s) for s in status.subscriptions]), ["suspension_reason", "sku"]
        )
        st.dataframe(
            subscriptions,
            hide_index=True,
            width="stretch",
            column_config={
                "subscription_id": None,
                "product": "Product",
                "sku": "SKU",
                "quantity": st.column_config.NumberColumn("Quantity", format="%d"),
                "status": "Status",
                "billing_cycle": "Billing",
                "term_end": st.column_config.DateColumn("Term ends", format="YYYY-MM-DD"),
                "suspension_reason": (
                    "Suspended because" if (subscriptions.suspension_reason != "").any() else None
                ),
            },
        )
    else:
        st.caption("No subscriptions.")

    st.subheader("Open tickets and escalations")
    zone = status.time_zone
    if status.open_tickets:
        tickets = local_times(pd.DataFrame([asdict(t) for t in status.open_tickets]), ["created_at"], zone)
        tickets = blank(tickets, ["assignee"])
        st.dataframe(
            tickets,
            hide_index=True,
            width="stretch",
            column_config={
                "ticket_id": "Ticket",
                "title": "Title",
                "category": "Category",
                "severity": "Severity",
                "status": "Status",
                "assignee": "Assignee",
                "created_at": st.column_config.DatetimeColumn(
                    "Opened", format="YYYY-MM-DD HH:mm", timezone=zone
                ),
            },
        )
    else:
        st.caption("No open tickets.")
    if status.open_escalations:
        escalations = local_times(
            pd.DataFrame([asdict(e) for e in status.open_escalations]),
            ["submitted_at", "status_changed_at"],
            zone,
        )
        escalations = blank(escalations, ["vehicle"])
        st.dataframe(
            escalations,
            hide_index=True,
            width="stretch",
            column_config={
                "case_number": "Microsoft case",
                "ticket_id": "Ticket",
                "kind": "Kind",
                "vehicle": "Support vehicle",
                "severity": "Severity",
                "status": "Status",
                "submitted_at": st.column_config.DatetimeColumn(
                    "Submitted", format="YYYY-MM-DD HH:mm", timezone=zone
                ),
                "status_changed_at": st.column_config.DatetimeColumn(
                    "Status since", format="YYYY-MM-DD HH:mm", timezone=zone
                ),
            },
        )
    else:
        st.caption("No open escalations to Microsoft.")
    if status.open_tickets or status.open_escalations:
        st.caption(f"Times in {zone}.")


def show_recent_activity(actor: Actor, status: CustomerStatus) -> None:
    """Collections contacts and payments received, newest first, in one list."""
    st.subheader("Recent activity")
    found = cached(recent_activity)(actor, customer_id=status.customer_id, as_of=status.as_of)
    if found.empty:
        st.caption("No collections contact or payment recorded.")
        return
    shown = pd.DataFrame(
        {
            "On": [day(d) for d in found["on"]],
            "What": found["what"],
            "By": [b if isinstance(b, str) else "" for b in found["by"]],
            "Amount": [
                money(a, c) if isinstance(a, Decimal) else ""
                for a, c in zip(found.amount, found.currency, strict=True)
            ],
            "Details": [d if isinstance(d, str) else "" for d in found["details"]],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="customers_activity",
        column_config={"Details": st.column_config.TextColumn("Details", width="large")},
    )
    contact = status.last_contact
    if contact is not None:
        text = (
            f"Last collections contact: {contact.kind.replace('_', ' ')} on "
            f"{moment(contact.occurred_at, status.time_zone)} by {plain(contact.actor)}"
        )
        st.caption(text + (f"  \n{plain(contact.notes)}" if contact.notes else ""))


def show_collections(actor: Actor, customer_id: str, today: date) -> None:
    """Where the account stands under the collections policy: its stage, what billing owes it now, what is next,
    and the stages it has been through."""
    st.subheader("Collections")
    with st.spinner("Bringing collections up to date…"):
        ensure_current(today)
    found = cached(customer_standing)(actor, customer_id=customer_id, as_of=today)
    if found is None:
        return
    if found.stage is None:
        why = "nothing is overdue"
        if found.below_minimum:
            why = "the overdue balance is below the policy's minimum"
        elif found.overdue_cents == 0 and found.disputed_cents:
            why = "everything overdue is in dispute"
        elif found.overdue_cents:
            why = "the collections policy has no stage for it yet"
        st.markdown(f"No collections stage: {why}.")
    else:
        overdue = plain(money(from_cents(found.overdue_cents), found.currency))
        st.markdown(
            f"Stage **{plain(found.stage)}** since {day(found.stage_entered_on)}: {overdue} overdue, "
            f"{found.days_past_due} days past due."
        )
    if found.promise_until is not None:
        promised = plain(money(from_cents(found.promise_cents), found.currency))
        st.markdown(f"A promise to pay {promised} by {day(found.promise_until)} stands.")
    if found.due_now:
        st.markdown(f"Due now: **{policy.ACTION_LABELS[found.due_now]}**.")
    elif found.stage is not None:
        st.markdown("Nothing due now.")
    if found.next_step is not None:
        st.markdown(f"Next step: **{plain(found.next_step)}** on {day(found.next_step_on)}.")
    changes = cached(stage_history)(actor, customer_id=customer_id)
    if not changes.empty:
        st.dataframe(
            readable(changes.fillna({"stage": NO_STAGE}), days=["entered_on", "left_on"]),
            hide_index=True,
            width="stretch",
            key="customers_stage_history",
            column_config={
                "stage": "Stage",
                "entered_on": "Entered on",
                "entered_because": "Why",
                "left_on": "Left on",
                "left_because": "Why it was left",
            },
        )


def show_statement(actor: Actor, status: CustomerStatus, today: date) -> None:
    st.subheader("Statement of account")
    period = st.date_input(
        "Period",
        value=(months_back(today, 3), today),
        max_value=today,
        format="YYYY-MM-DD",
        key="customers_statement_period",
    )
    if not isinstance(period, tuple) or len(period) != 2:
        st.info("Pick the last day of the period too.")
        return
    start, end = period
    try:
        with st.spinner("Preparing the statement…"):
            found = cached(statement)(actor, customer_id=status.customer_id, start=start, end=end)
    except (PermissionDenied, InvalidAction) as exc:
        st.error(plain(exc))
        return
    summary = pd.DataFrame(
        [
            {
                "currency": s.currency,
                "opening": s.opening_balance,
                "invoiced": s.total_debits,
                "paid_and_credited": s.total_credits,
                "closing": s.closing_balance,
                "unapplied_credit": s.unapplied_credit,
            }
            for s in found.sections
        ]
    )
    if summary.empty:
        st.caption("No invoices, payments or credit notes up to the end of this period.")
    else:
        st.dataframe(
            summary,
            hide_index=True,
            width="stretch",
            column_config={
                "currency": "Currency",
                "opening": st.column_config.NumberColumn(
                    f"Opening ({day(start - timedelta(days=1))})", format="accounting"
                ),
                "invoiced": st.column_config.NumberColumn("Invoiced", format="accounting"),
                "paid_and_credited": st.column_config.NumberColumn("Paid and credited", format="accounting"),
                "closing": st.column_config.NumberColumn(f"Closing ({day(end)})", format="accounting"),
                "unapplied_credit": st.column_config.NumberColumn("Unapplied credit", format="accounting"),
            },
        )
        st.caption(
            "Closing = opening + invoiced − paid and credited, and equals the aging total at the end date. "
            "Unapplied credit is money received but not applied to an invoice: the statement shows it below "
            "the closing balance, not deducted from it."
        )
    name = f"statement-{status.customer_id}-{start}-{end}"
    left, right, _ = st.columns([1, 1, 3])
    # The files are drawn when clicked: the PDF alone takes about a second to lay out.
    left.download_button(
        "Download PDF",
        lambda: statement_pdf(found),
        file_name=f"{name}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key="customers_statement_pdf",
        on_click="ignore",
    )
    right.download_button(
        "Download CSV",
        lambda: statement_csv(found),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/table:",
        key="customers_statement_csv",
        on_click="ignore",
    )


def _version(details: CustomerDetails) -> str:
    """Widget keys follow the stored details, so a saved form starts again from what was saved."""
    return str(abs(hash(details)))


def edit_customer(actor: Actor, customer_id: str) -> None:
    """Billing and global admins change the customer's details; the form shows what is stored now."""
    before = cached(customer_details)(actor, customer_id=customer_id)
    v = _version(before)
    with st.expander("Edit customer", icon=":material/edit:"), st.form(f"customers_edit_{v}"):
        left, right = st.columns(2)
        name = left.text_input("Name", value=before.name, max_chars=200, key=f"customers_edit_name_{v}")
        domain = right.text_input("Domain", value=before.domain or "", key=f"customers_edit_domain_{v}")
        tenant = left.text_input(
            "Microsoft tenant id", value=before.tenant_id or "", key=f"customers_edit_tenant_{v}"
        )
        country = right.text_input(
            "Country (ISO code, e.g. US)",
            value=before.country or "",
            max_chars=2,
            key=f"customers_edit_country_{v}",
        )
        contact_name = left.text_input(
            "Billing contact", value=before.billing_contact_name or "", key=f"customers_edit_contact_{v}"
        )
        email = right.text_input(
            "Billing contact e-mail",
            value=before.billing_contact_email or "",
            key=f"customers_edit_email_{v}",
        )
        manager = left.text_input(
            "Account manager (username)",
            value=before.account_manager or "",
            key=f"customers_edit_manager_{v}",
        )
        currency = right.text_input(
            "Billing currency",
            value=before.currency,
            max_chars=3,
            key=f"customers_edit_currency_{v}",
            help="Changes only while the customer has no invoices or payments.",
        )
        terms = left.number_input(
            "Payment terms (days)",
            min_value=0,
            max_value=365,
            step=1,
            value=before.payment_terms_days,
            key=f"customers_edit_terms_{v}",
        )
        limit = right.text_input(
            f"Credit limit ({before.currency}; empty for none)",
            value="" if before.credit_limit is None else str(before.credit_limit),
            key=f"customers_edit_limit_{v}",
        )
        exempt = st.toggle(
            "Exempt from collections",
            value=before.exempt_from_collections,
            key=f"customers_edit_exempt_{v}",
            help="Exempt customers get reminders but never reach suspension or review for cancellation.",
        )
        if st.form_submit_button("Save customer", type="primary", key=f"customers_edit_save_{v}"):
            try:
                after = replace(
                    before,
                    name=name,
                    domain=domain or None,
                    tenant_id=tenant or None,
                    country=country or None,
                    billing_contact_name=contact_name or None,
                    billing_contact_email=email or None,
                    account_manager=manager or None,
                    currency=currency,
                    payment_terms_days=int(terms),
                    credit_limit=typed_amount(limit) if limit.strip() else None,
                    exempt_from_collections=exempt,
                )
                changed = update_customer(actor, customer_id=customer_id, before=before, after=after)
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                if changed:
                    flash(
                        f"Saved {customer_id}: {len(changed)} detail{'' if len(changed) == 1 else 's'} changed."
                    )
                st.info("Nothing changed.")


def _amount(text: str) -> Decimal:
    try:
        return typed_amount(text)
    except InvalidAmount as exc:
        raise InvalidAction(f"The amount: {exc}") from None


def show_invoices(actor: Actor, status: CustomerStatus, today: date) -> None:
    """Billing and global admins list the customer's invoices, add one, correct or void one nothing is paid on."""
    st.subheader("Invoices")
    found = cached(customer_invoices)(actor, customer_id=status.customer_id)
    if found.empty:
        st.caption("No invoices yet.")
    else:
        table = pd.DataFrame(
            {
                "Invoice": found.number,
                "Issued": [day(d) for d in found.issue_date],
                "Due": [day(d) for d in found.due_date],
                "Amount": [money(a, c) for a, c in zip(found.amount, found.currency, strict=True)],
                "Open": [money(a, c) for a, c in zip(found.open, found.currency, strict=True)],
                "Status": [
                    s + (" (disputed)" if d else "")
                    for s, d in zip(found.status, found.disputed, strict=True)
                ],
                "Note": [
                    f"voided {day(v)}: {r}" if isinstance(r, str) else ""
                    for v, r in zip(found.voided_on, found.void_reason, strict=True)
                ],
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="customers_invoices",
            height=min(36 * 9, 36 * (len(table) + 1) + 2),
        )
    v = str(len(found))
    editable = [str(n) for n in found[found.editable].number] if not found.empty else []
    add_tab, correct_tab, void_tab = st.tabs(["Add an invoice", "Correct an invoice", "Void an invoice"])
    with add_tab, st.form(f"customers_invoice_add_{v}"):
        left, middle, right = st.columns(3)
        number = left.text_input("Invoice number", max_chars=64, key=f"customers_invoice_number_{v}")
        issued = middle.date_input(
            "Issued", value=today, format="YYYY-MM-DD", key=f"customers_invoice_issued_{v}"
        )
        due = right.date_input(
            "Due (empty: after the payment terms)",
            value=None,
            format="YYYY-MM-DD",
            key=f"customers_invoice_due_{v}",
        )
        amount = left.text_input("Amount", placeholder="1234.50", key=f"customers_invoice_amount_{v}")
        currency = middle.text_input(
            "Currency", value=status.currency, max_chars=3, key=f"customers_invoice_cur_{v}"
        )
        reason = right.text_input("Note for the audit log (optional)", key=f"customers_invoice_reason_{v}")
        if st.form_submit_button("Add invoice", type="primary", key=f"customers_invoice_add_save_{v}"):
            try:
                added = add_invoice(
                    actor, customer_id=status.customer_id, number=number, issue_date=issued, due_date=due,
                    amount=_amount(amount), currency=currency, reason=reason or None,
                )  # fmt: skip
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                flash(f"Invoice {added} added.")
    with correct_tab:
        if not editable:
            st.caption(
                "No invoice can be corrected: each has a payment or credit note against it, or is voided."
            )
        else:
            picked = st.selectbox("Invoice", editable, key="customers_invoice_correct_pick")
            row = found[found.number == picked].iloc[0]
            key = f"{picked}_{row.issue_date}_{row.due_date}_{row.amount}_{row.currency}"
            with st.form(f"customers_invoice_correct_{key}"):
                left, middle, right = st.columns(3)
                issued = left.date_input(
                    "Issued", value=row.issue_date, format="YYYY-MM-DD", key=f"customers_fix_issued_{key}"
                )
                due = middle.date_input(
                    "Due", value=row.due_date, format="YYYY-MM-DD", key=f"customers_fix_due_{key}"
                )
                amount = right.text_input("Amount", value=str(row.amount), key=f"customers_fix_amount_{key}")
                currency = left.text_input(
                    "Currency", value=row.currency, max_chars=3, key=f"customers_fix_cur_{key}"
                )
                reason = st.text_input("Reason (for the audit log)", key=f"customers_fix_reason_{key}")
                if st.form_submit_button("Save correction", type="primary", key=f"customers_fix_save_{key}"):
                    try:
                        correct_invoice(
                            actor, number=picked, issue_date=issued, due_date=due, amount=_amount(amount),
                            currency=currency, reason=reason,
                        )  # fmt: skip
                    except (PermissionDenied, InvalidAction) as exc:
                        st.error(plain(exc))
                    else:
                        flash(f"Invoice {picked} corrected.")
    with void_tab:
        if not editable:
            st.caption(
                "No invoice can be voided: each has a payment or credit note against it, or is voided."
            )
        else:
            st.caption(
                "A voided invoice was issued in error: it owes nothing from the start and leaves receivables, aging "
                "and statements. An invoice with payments or credit notes cannot be voided; issue a credit note."
            )
            with st.form(f"customers_invoice_void_{v}"):
                picked = st.selectbox("Invoice", editable, key=f"customers_invoice_void_pick_{v}")
                reason = st.text_input("Reason (for the audit log)", key=f"customers_void_reason_{v}")
                if st.form_submit_button("Void invoice", key=f"customers_void_save_{v}"):
                    try:
                        void_invoice(actor, number=str(picked), reason=reason, today=today)
                    except (PermissionDenied, InvalidAction) as exc:
                        st.error(plain(exc))
                    else:
                        flash(f"Invoice {picked} voided.")


actor = current_actor()
st.title("Customers")
show_flash()
today = clock.today()
with st.spinner("Reading customers…"):
    first = cached(search_customers)(actor, "", limit=SEARCH_LIMIT)

if first.empty:
    where = (
        "or on the Import page"
        if allowed(actor, "data.import")
        else "or ask a billing admin to import them on the Import page"
    )
    st.info(
        "No customers yet. Put them in a CSV with the columns "
        "`customer_id,name,tenant_id,domain,country,currency,account_manager,email` and import it with "
        f"`python -m data_access import customers FILE.csv`, {where}; then their subscriptions, invoices and "
        "payments. This page then finds a customer by name, domain or tenant id and shows their standing."
    )
    st.stop()

text = st.text_input(
    "Search customers",
    placeholder="Name, domain, tenant id or customer id",
    key="customers_search",
)
found = cached(search_customers)(actor, text, limit=SEARCH_LIMIT) if text.strip() else first
if found.empty:
    st.warning(f"No customer's name, domain, tenant id or customer id contains “{plain(text.strip())}”.")
    st.stop()

labels = {
    row.customer_id: " · ".join(
        str(v) for v in (row.name, row.customer_id, row.domain) if v and not pd.isna(v)
    )
    for row in found.itertuples()
}
customer_id = st.selectbox("Customer", list(labels), format_func=labels.__getitem__, key="customers_pick")
if not text.strip():
    st.caption(f"The first {len(found)} customers by name; search to find any other.")
elif len(found) >= SEARCH_LIMIT:
    st.caption(f"Showing the first {SEARCH_LIMIT} matches by name; type more to narrow them down.")
else:
    st.caption(f"{len(found)} match{'' if len(found) == 1 else 'es'}.")

try:
    with st.spinner("Reading the customer's account…"):
        status = cached(customer_status)(actor, customer_id=customer_id, as_of=today)
except (PermissionDenied, InvalidAction) as exc:
    st.error(plain(exc))
    st.stop()

st.header(plain(status.name), divider="gray")
st.markdown(standing_badges(status))
st.caption(plain(identity(status)))
contact = ", ".join(c for c in (status.billing_contact_name, status.billing_contact_email) if c)
if contact:
    st.text(f"Billing contact: {contact}")
st.caption(f"Balances at {day(today)}. Amounts in different currencies are never added together.")
show_metrics(status)
if allowed(actor, "customer.edit"):
    edit_customer(actor, status.customer_id)
show_service(status)
show_recent_activity(actor, status)
show_collections(actor, status.customer_id, today)
if allowed(actor, "invoice.edit"):
    show_invoices(actor, status, today)
show_statement(actor, status, today)
