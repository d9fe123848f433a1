"""Overview: receivables at a glance, aged by due date at today's date."""

from datetime import date

import plotly.express as px
import streamlit as st

from app_pages.common import current_actor
from data_access import clock
from data_access.aging import AgingFilter
from data_access.permissions import Actor, allowed
from data_access.receivables import receivables_by_customer, receivables_summary, unapplied_credit


@st.cache_data(ttl=60, show_spinner=False)
def cached_summary(_actor: Actor, username: str, as_of: date):
    return receivables_summary(_actor, AgingFilter(as_of=as_of))


@st.cache_data(ttl=60, show_spinner=False)
def cached_by_customer(_actor: Actor, username: str, as_of: date):
    return receivables_by_customer(_actor, AgingFilter(as_of=as_of))


@st.cache_data(ttl=60, show_spinner=False)
def cached_unapplied(_actor: Actor, username: str):
    return unapplied_credit(_actor)


actor = current_actor()
st.title("Overview")
as_of = clock.today()
if not allowed(actor, "receivables.view"):
    st.info(
        "Ticket and escalation figures will appear here; receivables are shown to those who may read them."
    )
    st.stop()
with st.spinner("Reading receivables…"):
    summary = cached_summary(actor, actor.username, as_of)

if summary.empty:
    st.info(
        "No open receivables yet. Seed the demo with `python -m data_access seed --demo`, "
        "or bring your own data with `python -m data_access import invoices FILE.csv`."
    )
    st.stop()

currencies = list(
    summary.groupby("currency").invoices.sum().sort_values(ascending=False, kind="stable").index
)
currency = st.segmented_control("Currency", currencies, default=currencies[0], key="overview_currency")
currency = currency or currencies[0]
rows = summary[summary.currency == currency]
total = sum(rows.amount)
overdue = sum(rows[rows.bucket != "current"].amount)
share = overdue / total if total else 0

left, middle, right = st.columns(3)
left.metric("Total receivables", f"{currency} {total:,.2f}", border=True)
middle.metric("Overdue", f"{currency} {overdue:,.2f}", border=True)
right.metric("Overdue share", f"{share:.1%}", border=True)

chart = rows.assign(amount=rows.amount.astype(float))
figure = px.bar(
    chart,
    x="bucket",
    y="amount",
    text_auto=",.0f",
    labels={"bucket": "Days past due", "amount": f"Open amount ({currency})"},
    title=f"Receivables aging at {as_of:%d %b %Y}",
)
figure.update_traces(marker_color="#0F6CBD")
st.plotly_chart(figure, width="stretch")

customers = cached_by_customer(actor, actor.username, as_of)
customers = customers[customers.currency == currency]
overdue_columns = [
    c for c in customers.columns if c not in ("customer_id", "customer_name", "currency", "current", "total")
]
top = customers.assign(overdue=customers[overdue_columns].sum(axis=1)).sort_values("overdue", ascending=False)
st.subheader("Largest overdue balances")
money = st.column_config.NumberColumn(format="accounting")
st.dataframe(
    top.head(10),
    hide_index=True,
    width="stretch",
    column_config={
        "customer_id": "Customer",
        "customer_name": "Name",
        "currency": None,
        **{column: money for column in [*customers.columns[3:], "overdue"]},
    },
)

credit = cached_unapplied(actor, actor.username)
credit = credit[credit.currency == currency]
if not credit.empty:
    st.subheader("Unapplied credit on account")
    st.caption("Money received that no open invoice absorbed; it stays on the customer's account.")
    st.dataframe(
        credit,
        hide_index=True,
        width="stretch",
        column_config={
            "customer_id": "Customer",
            "customer_name": "Name",
            "currency": None,
            "unapplied": money,
        },
    )
