"""Overview: the business at a glance, each figure shown only to those who may open the page behind it."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from data_access import clock
from data_access.documents.exports import chart_text, plain
from data_access.money import day, money
from data_access.permissions import allowed
from data_access.queries.aging import AgingFilter
from data_access.queries.collections import accounts_per_stage
from data_access.queries.overview import escalations_by_status, overview, receivables_trend, ticket_volume
from data_access.queries.payments import unapplied_credit
from data_access.queries.receivables import receivables_summary
from data_access.queries.tickets import tickets_report
from ui.cache import cached
from ui.flash import show_flash
from ui.signin import current_actor

BLUE, RED, GREY = "#0F6CBD", "#C50F1F", "#8A8886"
PAGES = Path(__file__).resolve().parent


def figure(amount: Decimal | None) -> str:
    return "-" if amount is None else money(amount)


def change(now: Decimal | int | None, before: Decimal | int | None, unit: str = "") -> str | None:
    if now is None or before is None:
        return None
    difference = now - before
    shown = money(difference) if isinstance(difference, Decimal) else f"{difference:,}"
    return f"{'+' if difference > 0 else ''}{shown}{unit}"


def link(page: str, label: str, permission: str) -> None:
    if allowed(actor, permission) and (PAGES / page).exists():
        st.page_link(f"app_pages/{page}", label=label, icon=":material/arrow_forward:")


def currencies_by_invoices(summary: pd.DataFrame) -> list[str]:
    """The currencies with receivables, the one with the most open invoices first."""
    counts = summary.groupby("currency").invoices.sum().sort_values(ascending=False, kind="stable")
    return list(counts.index)


actor = current_actor()
as_of = clock.today()
st.title("Overview")
show_flash()
sees_receivables = allowed(actor, "receivables.view")

with st.spinner("Reading the figures…"):
    every_currency = (
        cached(receivables_summary)(actor, AgingFilter(as_of=as_of)) if sees_receivables else None
    )
    currencies = [] if every_currency is None else currencies_by_invoices(every_currency)
    currency = currencies[0] if currencies else None
    if len(currencies) > 1:
        picked = st.segmented_control(
            "Currency", currencies, default=currencies[0], format_func=plain, key="overview_currency"
        )
        currency = picked or currencies[0]
    figures = cached(overview)(actor, as_of=as_of, currency=currency)
now, before = figures.now, figures.last_month
st.caption(f"At {day(as_of)}; changes are against {day(before.as_of)}. Currencies are never added together.")

cards = []
if now.total_receivables is not None:
    cards += [
        (f"Total receivables ({plain(currency)})", figure(now.total_receivables),
         change(now.total_receivables, before.total_receivables), "off"),
        (f"Overdue ({plain(currency)})", figure(now.overdue), change(now.overdue, before.overdue), "inverse"),
        ("Overdue share", f"{now.overdue_share:.1%}",
         change((now.overdue_share or 0) * 100, (before.overdue_share or 0) * 100, " pts"), "inverse"),
        ("Days sales outstanding", f"{now.dso_days} days", change(now.dso_days, before.dso_days), "inverse"),
        (f"Collected this month ({plain(currency)})", figure(now.collected_this_month),
         change(now.collected_this_month, before.collected_this_month), "normal"),
    ]  # fmt: skip
if now.suspended_subscriptions is not None:
    cards.append(("Subscriptions suspended", f"{now.suspended_subscriptions:,}",
                  change(now.suspended_subscriptions, before.suspended_subscriptions), "inverse"))  # fmt: skip
if now.open_tickets is not None:
    cards.append(
        ("Open tickets", f"{now.open_tickets:,}", change(now.open_tickets, before.open_tickets), "inverse")
    )
if now.sla_breaches is not None:
    cards.append(("Tickets breaching SLA", f"{now.sla_breaches:,}", change(now.sla_breaches, before.sla_breaches),
                  "inverse"))  # fmt: skip
if now.open_escalations is not None:
    cards.append(("Open escalations", f"{now.open_escalations:,}",
                  change(now.open_escalations, before.open_escalations), "inverse"))  # fmt: skip
if allowed(actor, "payables.view"):
    payment = now.next_microsoft_payment
    label = "Next Microsoft payment" + ("" if payment is None else f" ({plain(payment.currency)})")
    cards.append((label, "none due" if payment is None else money(payment.amount),
                  None if payment is None else f"due {day(payment.due_date)}", "off"))  # fmt: skip

if not cards:
    st.info("Nothing to show for your roles yet.")
    st.stop()
for start in range(0, len(cards), 4):
    for column, (label, value, delta, color) in zip(st.columns(4), cards[start : start + 4], strict=False):
        column.metric(label, value, delta, delta_color=color, border=True)

if sees_receivables:
    summary = (
        cached(receivables_summary)(actor, AgingFilter(as_of=as_of, currency=currency))
        if currency
        else pd.DataFrame()
    )
    if summary.empty:
        st.info("No receivables yet: import customers and invoices on the Import page, or with "
                "`python -m data_access import invoices FILE.csv`.")  # fmt: skip
    else:
        left, right = st.columns(2)
        aging = px.bar(summary.assign(amount=summary.amount.astype(float)), x="bucket", y="amount",
                       text_auto=",.0f", title="Receivables aging (days past due)",
                       labels={"bucket": "Days past due", "amount": f"Open ({chart_text(currency)})"})  # fmt: skip
        aging.update_traces(marker_color=[BLUE] + [RED] * (len(summary) - 1))
        left.plotly_chart(aging, width="stretch")
        trend = cached(receivables_trend)(actor, as_of=as_of, currency=currency)
        long = trend.melt(id_vars="month_end", value_vars=["receivables", "overdue"], var_name="figure",
                          value_name="amount")  # fmt: skip
        line = px.line(long.assign(amount=long.amount.astype(float)), x="month_end", y="amount", color="figure",
                       markers=True, title="Receivables and overdue, last 12 month ends",
                       labels={"month_end": "Month end", "amount": f"Amount ({chart_text(currency)})",
                               "figure": ""},
                       color_discrete_map={"receivables": BLUE, "overdue": RED})  # fmt: skip
        right.plotly_chart(line, width="stretch")
        with left:
            link("receivables.py", "Receivables aging by customer", "receivables.view")
        credit = cached(unapplied_credit)(actor)
        credit = credit[credit.currency == currency]
        if not credit.empty:
            with right:
                st.markdown("**Unapplied credit on account**")
                st.dataframe(credit, hide_index=True, width="stretch", height=180,
                             column_config={"customer_id": "Customer", "customer_name": "Name", "currency": None,
                                            "unapplied": st.column_config.NumberColumn(format="accounting")})  # fmt: skip

if allowed(actor, "collections.view"):
    stages = cached(accounts_per_stage)(actor, as_of=as_of)
    if stages.accounts.sum():
        bars = px.bar(stages.assign(stage=stages.stage.map(chart_text)), x="stage", y="accounts", text_auto=True,
                      title="Overdue accounts by collections stage",
                      labels={"stage": "Stage (the policy's order)", "accounts": "Accounts"})  # fmt: skip
        bars.update_traces(marker_color=[*[RED] * (len(stages) - 1), GREY])
        st.plotly_chart(bars, width="stretch")
        link("collections.py", "Collections worklist", "collections.view")

if allowed(actor, "tickets.view") or allowed(actor, "escalations.view"):
    left, right = st.columns(2)
    if allowed(actor, "tickets.view"):
        tickets = cached(ticket_volume)(actor, as_of=as_of)
        if tickets.empty:
            left.info("No tickets in the last 12 weeks.")
        else:
            volume = px.bar(tickets, x="week", y="tickets", color="category", title="Tickets opened per week",
                            labels={"week": "Week starting", "tickets": "Tickets", "category": "Category"})  # fmt: skip
            left.plotly_chart(volume, width="stretch")
        attainment = cached(tickets_report)(actor, start=as_of - timedelta(weeks=12), end=as_of, by="week")
        shares = attainment.melt(id_vars="period", value_vars=["first_response_sla_met", "resolution_sla_met"],
                                 var_name="clock", value_name="share").dropna()  # fmt: skip
        if not shares.empty:
            shares = shares.assign(share=shares.share.astype(float),
                                   clock=shares.clock.map({"first_response_sla_met": "first response",
                                                           "resolution_sla_met": "resolution"}))  # fmt: skip
            trend = px.line(shares, x="period", y="share", color="clock", markers=True,
                            title="SLA attainment per week (business hours)",
                            labels={"period": "Week starting", "share": "Met on time", "clock": "Clock"})  # fmt: skip
            trend.update_yaxes(tickformat=".0%", range=[0, 1.05])
            left.plotly_chart(trend, width="stretch")
        with left:
            link("tickets.py", "Tickets", "tickets.view")
    if allowed(actor, "escalations.view"):
        escalations = cached(escalations_by_status)(actor)
        if escalations.empty:
            right.info("No escalations to Microsoft yet.")
        else:
            board = px.bar(escalations, x="status", y="escalations", color="vehicle", barmode="group",
                           title="Escalations to Microsoft by status and support vehicle",
                           category_orders={"status": ["submitted", "in progress", "waiting on partner", "resolved",
                                                       "closed"]},
                           labels={"status": "Status", "escalations": "Escalations", "vehicle": "Vehicle"})  # fmt: skip
            right.plotly_chart(board, width="stretch")
        with right:
            link("escalations.py", "Escalations board", "escalations.view")
