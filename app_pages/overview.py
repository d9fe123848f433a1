"""Overview: the business at a glance, each figure shown only to those who may open the page behind it.

The charts are Vega-Lite (st.altair_chart): its browser bundle is a sixth of plotly's (0.8 MB against 4.7 MB)
and draws the page's charts in a fraction of the time, which is most of what a sign-in waited for (issue 14)."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.collections_run import ensure_current
from data_access.documents.exports import plain
from data_access.money import day, money
from data_access.permissions import allowed
from data_access.queries.aging import AgingFilter
from data_access.queries.collections import accounts_per_stage
from data_access.queries.exchange_rates import Converted, rates_at
from data_access.queries.overview import escalations_by_status, overview, receivables_trend, ticket_volume
from data_access.queries.payments import unapplied_credit
from data_access.queries.receivables import converted_receivables, receivables_summary
from data_access.queries.tickets import tickets_report
from ui.cache import cached
from ui.flash import show_flash
from ui.signin import current_actor

BLUE, RED, GREY = "#0F6CBD", "#C50F1F", "#8A8886"
HEIGHT = 320
CREDIT_ROWS = 100
PAGES = Path(__file__).resolve().parent


BREACHING_HELP = (
    "Tickets open now whose first response or resolution is already past its due time (business hours). "
    "A count of today's open tickets, not a share: the SLA attainment chart below is the share of tickets "
    "answered or resolved in each week that met the target."
)


def figure(amount: Decimal | None) -> str:
    return "-" if amount is None else money(amount)


def converted_figure(total: Converted) -> str:
    return "no rate" if total.amount is None else money(total.amount)


def change(now: Decimal | int | None, before: Decimal | int | None, unit: str = "") -> str | None:
    if now is None or before is None:
        return None
    difference = now - before
    shown = money(difference) if isinstance(difference, Decimal) else f"{difference:,}"
    return f"{'+' if difference > 0 else ''}{shown}{unit}"


def link(page: str, label: str, permission: str) -> None:
    if allowed(actor, permission) and (PAGES / page).exists():
        st.page_link(f"app_pages/{page}", label=label, icon=":material/arrow_forward:")


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def titled(
    chart: alt.Chart | alt.LayerChart, title: str, subtitle: str | None = None
) -> alt.Chart | alt.LayerChart:
    return chart.properties(
        title=alt.TitleParams(title, subtitle=subtitle or [], anchor="start", fontSize=15), height=HEIGHT
    )


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
    figures = cached(overview)(actor, as_of=as_of, currency=currency, convert=False)
    rates = cached(rates_at)(as_of) if sees_receivables else None
now, before = figures.now, figures.last_month
# Converted only where there is more than the reporting currency to add up.
converted = (
    converted_receivables(every_currency, rates)
    if every_currency is not None and rates is not None and set(currencies) - {rates.reporting}
    else None
)
st.caption(
    f"At {day(as_of)}; changes are against {day(before.as_of)}. Per-currency figures are never added together"
    + ("." if converted is None else f"; the {converted.total.currency} totals convert each at its rate.")
)

cards = []
if now.total_receivables is not None:
    cards += [
        (f"Total receivables ({plain(currency)})", figure(now.total_receivables),
         change(now.total_receivables, before.total_receivables), "off"),
        (f"Overdue ({plain(currency)})", figure(now.overdue), change(now.overdue, before.overdue), "inverse"),
    ]  # fmt: skip
if now.total_receivables is not None and converted is not None:
    cards += [
        (f"All receivables in {converted.total.currency}", converted_figure(converted.total),
         None, "off", plain(converted.total.explain())),
        (f"All overdue in {converted.total.currency}", converted_figure(converted.overdue), None, "off",
         plain(converted.overdue.explain())),
    ]  # fmt: skip
if now.total_receivables is not None:
    cards += [
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
                  "inverse", BREACHING_HELP))  # fmt: skip
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
    for column, (label, value, delta, color, *explained) in zip(
        st.columns(4), cards[start : start + 4], strict=False
    ):
        column.metric(
            label, value, delta, delta_color=color, border=True, help=explained[0] if explained else None
        )
if converted is not None:
    st.caption(plain(converted.total.explain()))

if sees_receivables:
    # The aging of every currency read above, cut to the one shown: reading it again per currency cost a second scan.
    summary = (
        every_currency[every_currency.currency == currency].reset_index(drop=True)
        if currency and every_currency is not None
        else pd.DataFrame()
    )
    if summary.empty:
        st.info("No receivables yet: import customers and invoices on the Import page, or with "
                "`python -m data_access import invoices FILE.csv`.")  # fmt: skip
    else:
        left, right = st.columns(2)
        buckets = list(summary.bucket)
        aging_data = summary.assign(
            amount=summary.amount.astype(float), due=["not yet due"] + ["overdue"] * (len(summary) - 1)
        )
        bars = alt.Chart(aging_data).encode(
            x=alt.X("bucket:N", sort=buckets, title="Days past due", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("amount:Q", title=f"Open ({currency})"),
            tooltip=[alt.Tooltip("bucket:N", title="Days past due"), alt.Tooltip("amount:Q", format=",.2f")],
        )
        aging = bars.mark_bar().encode(
            color=alt.Color("due:N", scale=alt.Scale(domain=["not yet due", "overdue"], range=[BLUE, RED]),
                            legend=None)
        ) + bars.mark_text(dy=-6).encode(text=alt.Text("amount:Q", format=",.0f"))  # fmt: skip
        left.altair_chart(titled(aging, "Receivables aging (days past due)"), width="stretch")
        # One month more than shown: the trend is 12 complete month ends, then today (its month is not over).
        trend = cached(receivables_trend)(actor, as_of=as_of, currency=currency, months=13)
        month_over = (as_of + timedelta(days=1)).day == 1
        partial = trend.month_end == as_of if not month_over else trend.month_end != trend.month_end
        long = trend.melt(id_vars="month_end", value_vars=["receivables", "overdue"], var_name="figure",
                          value_name="amount")  # fmt: skip
        long = long.assign(amount=long.amount.astype(float), month_end=pd.to_datetime(long.month_end),
                           point=[("today (month to date)" if p else "month end")
                                  for p in pd.concat([partial, partial], ignore_index=True)])  # fmt: skip
        complete = long[long.point == "month end"].groupby("figure").tail(12)
        today_points = long[long.point != "month end"]
        colors = alt.Scale(domain=["receivables", "overdue"], range=[BLUE, RED])
        base = alt.Chart(complete).encode(
            x=alt.X("month_end:T", title="Month end", axis=alt.Axis(format="%Y-%m")),
            y=alt.Y("amount:Q", title=f"Amount ({currency})"),
            color=alt.Color("figure:N", scale=colors, title=None, legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("month_end:T", title="Month end", format="%Y-%m-%d"), "figure:N",
                     alt.Tooltip("amount:Q", format=",.2f")],
        )  # fmt: skip
        line = base.mark_line(point=True)
        if not today_points.empty:
            line = line + alt.Chart(today_points).mark_point(shape="diamond", size=90, filled=False).encode(
                x="month_end:T", y="amount:Q", color=alt.Color("figure:N", scale=colors),
                tooltip=[alt.Tooltip("month_end:T", title="Today (month to date)", format="%Y-%m-%d"), "figure:N",
                         alt.Tooltip("amount:Q", format=",.2f")],
            )  # fmt: skip
        right.altair_chart(
            titled(line, "Receivables and overdue, last 12 month ends",
                   None if today_points.empty else f"Hollow diamonds: today, {day(as_of)} (the month is not over)"),
            width="stretch",
        )  # fmt: skip
        with left:
            link("receivables.py", "Receivables aging by customer", "receivables.view")
        credit = cached(unapplied_credit)(actor, currency=currency, limit=CREDIT_ROWS)
        if not credit.empty:
            with right:
                largest = f" (the {CREDIT_ROWS} largest)" if len(credit) == CREDIT_ROWS else ""
                st.markdown(f"**Unapplied credit on account{largest}**")
                st.dataframe(credit, hide_index=True, width="stretch", height=180,
                             column_config={"customer_id": "Customer", "customer_name": "Name", "currency": None,
                                            "unapplied": st.column_config.NumberColumn(format="accounting")})  # fmt: skip

if allowed(actor, "collections.view"):
    with st.spinner("Bringing collections up to date…"):
        ensure_current(as_of)
    stages = cached(accounts_per_stage)(actor, as_of=as_of)
    if stages.accounts.sum():
        order = list(stages.stage)
        stage_bars = alt.Chart(stages.assign(last=[False] * (len(stages) - 1) + [True])).encode(
            x=alt.X("stage:N", sort=order, title="Stage (the policy's order)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("accounts:Q", title="Accounts"),
        )
        stage_chart = stage_bars.mark_bar().encode(
            color=alt.Color("last:N", scale=alt.Scale(domain=[False, True], range=[RED, GREY]), legend=None)
        ) + stage_bars.mark_text(dy=-6).encode(text="accounts:Q")
        st.altair_chart(titled(stage_chart, "Overdue accounts by collections stage"), width="stretch")
        link("collections.py", "Collections worklist", "collections.view")

if allowed(actor, "tickets.view") or allowed(actor, "escalations.view"):
    left, right = st.columns(2)
    this_week = week_start(as_of)
    partial_week = f"The week of {day(this_week)} is not over (lighter)."
    if allowed(actor, "tickets.view"):
        tickets = cached(ticket_volume)(actor, as_of=as_of)
        if tickets.empty:
            left.info("No tickets in the last 12 weeks.")
        else:
            weekly = tickets.assign(week=pd.to_datetime(tickets.week), so_far=tickets.week == this_week)
            volume = alt.Chart(weekly).mark_bar().encode(
                x=alt.X("yearmonthdate(week):O", title="Week starting", axis=alt.Axis(format="%Y-%m-%d", labelAngle=0)),
                y=alt.Y("sum(tickets):Q", title="Tickets"),
                color=alt.Color("category:N", title="Category", legend=alt.Legend(orient="top")),
                opacity=alt.Opacity("so_far:N", scale=alt.Scale(domain=[False, True], range=[1.0, 0.45]),
                                    legend=None),
                tooltip=[alt.Tooltip("week:T", title="Week starting", format="%Y-%m-%d"), "category:N", "tickets:Q"],
            )  # fmt: skip
            left.altair_chart(titled(volume, "Tickets opened per week", partial_week), width="stretch")
        attainment = cached(tickets_report)(actor, start=as_of - timedelta(weeks=12), end=as_of, by="week")
        shares = attainment.melt(id_vars="period", value_vars=["first_response_sla_met", "resolution_sla_met"],
                                 var_name="clock", value_name="share").dropna()  # fmt: skip
        if not shares.empty:
            shares = shares.assign(share=shares.share.astype(float), period=pd.to_datetime(shares.period),
                                   clock=shares.clock.map({"first_response_sla_met": "first response",
                                                           "resolution_sla_met": "resolution"}))  # fmt: skip
            sla = alt.Chart(shares).mark_line(point=True).encode(
                x=alt.X("period:T", title="Week starting", axis=alt.Axis(format="%Y-%m-%d")),
                y=alt.Y("share:Q", title="Met on time", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
                color=alt.Color("clock:N", title="Clock", legend=alt.Legend(orient="top")),
                tooltip=[alt.Tooltip("period:T", title="Week starting", format="%Y-%m-%d"), "clock:N",
                         alt.Tooltip("share:Q", format=".1%", title="Met on time")],
            )  # fmt: skip
            left.altair_chart(
                titled(sla, "SLA attainment per week (business hours)", partial_week), width="stretch"
            )
            left.caption(
                "Of the tickets first answered (or resolved) in each week, the share that met the support offering's "
                'target. It looks back; "Tickets breaching SLA" above counts the tickets open now that are already '
                "past a due time."
            )
        with left:
            link("tickets.py", "Tickets", "tickets.view")
    if allowed(actor, "escalations.view"):
        escalations = cached(escalations_by_status)(actor)
        if escalations.empty:
            right.info("No escalations to Microsoft yet.")
        else:
            statuses = ["submitted", "in progress", "waiting on partner", "resolved", "closed"]
            board = alt.Chart(escalations).mark_bar().encode(
                x=alt.X("status:N", sort=statuses, title="Status", axis=alt.Axis(labelAngle=0)),
                xOffset=alt.XOffset("vehicle:N"),
                y=alt.Y("escalations:Q", title="Escalations"),
                color=alt.Color("vehicle:N", title="Vehicle", legend=alt.Legend(orient="top")),
                tooltip=["status:N", "vehicle:N", "escalations:Q"],
            )  # fmt: skip
            right.altair_chart(
                titled(board, "Escalations to Microsoft by status and support vehicle"), width="stretch"
            )
        with right:
            link("escalations.py", "Escalations board", "escalations.view")
