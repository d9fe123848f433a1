"""Microsoft payables: what the partner owes Microsoft, when, and whether customers' money arrives in time."""

from decimal import Decimal

import pandas as pd
import plotly.express as px
import streamlit as st

from data_access import clock
from data_access.documents.exports import chart_text, csv_bytes, plain
from data_access.money import day, money
from data_access.permissions import allowed
from data_access.queries.margin import reconciliation_invoices
from data_access.queries.microsoft_payables import (
    cash_cover,
    cash_cover_every_currency,
    microsoft_invoices,
    monthly_payables_and_collections,
    next_microsoft_payment,
    receivables_due_by,
)
from data_access.text import plural, readable
from ui.cache import cached
from ui.flash import show_flash
from ui.signin import current_actor

PAYABLES = "Microsoft payables (by due date)"
COLLECTIONS = "Customer collections (by date received)"


def days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def days_left(until_due: int) -> str:
    if until_due < 0:
        return f":red[{days(-until_due)} overdue]"
    return "due today" if until_due == 0 else days(until_due)


def status(row: pd.Series) -> str:
    if row.status == "paid":
        return "paid"
    if row.status == "overdue":
        return f"overdue by {days(-row.days_until_due)}"
    return "due today" if row.days_until_due == 0 else f"due in {days(row.days_until_due)}"


actor = current_actor()
st.title("Microsoft payables")
show_flash()
as_of = clock.today()
with st.spinner("Reading Microsoft invoices…"):
    invoices = cached(microsoft_invoices)(actor, as_of=as_of)

if invoices.empty:
    st.info(
        "No Microsoft invoices yet. Put the partner's invoices from Microsoft (Partner Center, Billing) in a CSV "
        "with the columns `invoice_number,period_start,period_end,amount,currency,due_date,paid_on` and import "
        "it with `python -m data_access import microsoft-invoices FILE.csv`; this page then shows what is due "
        "to Microsoft and whether customers' payments cover it."
    )
    st.stop()

st.caption(f"At {day(as_of)}. Amounts in different currencies are never added together.")
payment = cached(next_microsoft_payment)(actor, as_of=as_of)
if payment is None:
    st.success("Every Microsoft invoice is paid.")
    currency = invoices.currency.mode().iloc[0]
else:
    currency = payment.currency
    st.subheader(f"Next payment to Microsoft: invoice {plain(payment.number)}")
    overdue = invoices[invoices.status == "overdue"].sort_values("due_date")
    if not overdue.empty:
        owed = " and ".join(
            money(sum(rows.amount, Decimal(0)), str(c)) for c, rows in overdue.groupby("currency")
        )
        listed = ", ".join(f"{plain(row.number)} (due {day(row.due_date)})" for row in overdue.itertuples())
        st.error(f"The partner is late paying Microsoft: {owed} overdue on {listed}.")
    left, middle, right = st.columns(3)
    left.metric("Amount due", money(payment.amount, currency), border=True)
    middle.metric("Due date", day(payment.due_date), border=True)
    right.metric("Days left", days_left(payment.days_until_due), border=True)

    cover = cached(cash_cover)(actor, as_of=as_of, pay_by=payment.due_date, currency=currency)
    st.subheader(f"Cash cover: customer invoices due by {day(payment.due_date)}")
    overdue_share = cover.already_overdue / cover.due_before if cover.due_before else Decimal(0)
    left, middle, right = st.columns(3)
    left.metric(
        "Customer receivables due by then",
        money(cover.due_before, currency),
        delta=f"{money(cover.not_yet_due, currency)} not yet due",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help=f"Open balances of customer invoices in {plain(currency)} due on or before that date.",
    )
    middle.metric(
        "Already overdue",
        money(cover.already_overdue, currency),
        delta=f"{overdue_share:.0%} of receivables due by then",
        delta_color="red" if cover.already_overdue else "off",
        delta_arrow="off",
        border=True,
        help="The part customers should have paid already and have not: it may not arrive in time.",
    )
    right.metric(
        "Cover ratio",
        "—" if cover.cover_ratio is None else f"{cover.cover_ratio:.0%}",
        delta=f"of {money(cover.microsoft_due, currency)} owed to Microsoft by then",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Customer receivables due by then ÷ Microsoft invoices unpaid and due by then. Below 100%, "
        "even if every customer pays on time, their money does not cover Microsoft's bill.",
    )
    others = cached(receivables_due_by)(actor, as_of=as_of, pay_by=payment.due_date)
    others = others[others.currency != currency]
    if not others.empty:
        listed = " · ".join(
            f"{money(row.due_before, str(row.currency))} ({money(row.already_overdue)} overdue)"
            for row in others.itertuples()
        )
        st.caption(
            f"Only customer invoices in {plain(currency)} count above. Also due by then in other currencies: "
            f"{listed}."
        )
        every = cached(cash_cover_every_currency)(
            actor, as_of=as_of, pay_by=payment.due_date, currency=currency
        )
        left, middle, right = st.columns(3)
        unknown = "no rate"
        left.metric(
            f"Receivables due by then, every currency ({plain(currency)})",
            unknown if every.due_before is None else money(every.due_before, currency),
            border=True,
            help="Open balances of customer invoices in every currency due on or before that date, each "
            f"converted to {plain(currency)}.",
        )
        middle.metric(
            f"Already overdue, every currency ({plain(currency)})",
            unknown if every.already_overdue is None else money(every.already_overdue, currency),
            border=True,
        )
        right.metric(
            "Cover ratio, every currency",
            "—" if every.cover_ratio is None else f"{every.cover_ratio:.0%}",
            delta=f"of {money(cover.microsoft_due, currency)} owed to Microsoft by then",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
        st.caption(plain(every.explain()))

st.subheader("Monthly Microsoft payables and customer collections")
months = st.segmented_control(
    "Months", [6, 12, 24], default=12, format_func=lambda n: f"{n} months", key="payables_months"
)
monthly = cached(monthly_payables_and_collections)(actor, as_of=as_of, months=months or 12, currency=currency)
chart = monthly.melt(
    id_vars="month", value_vars=["microsoft_payables", "collections"], var_name="series", value_name="amount"
)
chart = chart.assign(
    amount=chart.amount.astype(float),
    series=chart.series.map({"microsoft_payables": PAYABLES, "collections": COLLECTIONS}),
)
figure = px.bar(
    chart,
    x="month",
    y="amount",
    color="series",
    barmode="group",
    labels={"month": "Month", "amount": f"Amount ({chart_text(currency)})", "series": ""},
    color_discrete_map={PAYABLES: "#C50F1F", COLLECTIONS: "#0F6CBD"},
)
figure.update_xaxes(dtick="M1", tickformat="%b %Y")
figure.update_layout(legend={"orientation": "h", "y": 1.1})
st.plotly_chart(figure, width="stretch")
st.caption(
    f"{plain(currency)} only. A Microsoft invoice counts in the month it falls due, when its cash must leave, so a "
    "month can hold two invoices or none; collections are customer payments received in the month (this month "
    "up to today)."
)

st.subheader("Microsoft invoices")
if allowed(actor, "margin.view"):
    # Each recorded invoice checked against Partner Center's reconciliation files, when they hold its number.
    files = cached(reconciliation_invoices)(actor)
    differs = files[files.status == "differs"] if not files.empty else files
    if not differs.empty:
        listed = "; ".join(
            f"{plain(row.invoice_number)}: files {money(row.total, str(row.currency))}, recorded "
            f"{money(row.recorded_amount, str(row.currency))}"
            for row in differs.itertuples()
        )
        st.warning(
            f"{plural(len(differs), 'invoice')} {'differs' if len(differs) == 1 else 'differ'} from Partner Center's reconciliation files — {listed}. "
            'The Margin page\'s "Microsoft invoices in the files" tab has every line.',
            icon=":material/difference:",
        )
    missing = int((files.status == "not recorded").sum()) if not files.empty else 0
    if missing:
        st.info(
            f"{plural(missing, 'invoice number')} in the reconciliation files {'is' if missing == 1 else 'are'} "
            "not recorded here; record them from the files on the Margin page."
        )
st.dataframe(
    readable(
        invoices.assign(status=invoices.apply(status, axis=1)),
        days=["period_start", "period_end", "due_date", "paid_on"],
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "number": "Invoice",
        "period_start": "Period from",
        "period_end": "Period to",
        "amount": st.column_config.NumberColumn("Amount", format="accounting"),
        "currency": "Currency",
        "due_date": "Due date",
        "paid_on": "Paid on",
        "status": "Status",
        "days_until_due": None,
    },
)
st.download_button(
    "Download CSV",
    csv_bytes(invoices),
    file_name=f"microsoft-invoices-{as_of}.csv",
    mime="text/csv",
    key="payables_download",
    on_click="ignore",
)
