"""Receivables: what customers owed at a date, aged in buckets, by customer, with one customer's open invoices."""

import hashlib
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st
from plotly.colors import sample_colorscale

from data_access import clock
from data_access.actions.collections_run import ensure_current
from data_access.documents.exports import chart_text, plain
from data_access.errors import InvalidAction
from data_access.money import day, money
from data_access.permissions import allowed
from data_access.queries import receivables as detail
from data_access.queries.aging import AgingFilter
from data_access.queries.assessments import NO_STAGE
from data_access.queries.exchange_rates import rates_at
from data_access.queries.receivables import converted_receivables, receivables_summary
from data_access.rules.buckets import DEFAULT_BUCKETS, parse_buckets
from ui.cache import cached
from ui.flash import show_flash
from ui.signin import current_actor

HEADERS = {
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "currency": "Currency",
    "current": "Current",
    "total": "Total",
}
TOTAL_MINUS_CURRENT = {"due": "Overdue", "issue": "Beyond current"}
SORT_NOTES = {
    "due": "Largest overdue amount (total minus current) first.",
    "issue": "Largest amount beyond current (total minus current: with ages from the issue date, all but what "
    "was invoiced on the as-of date) first.",
}
BASES = {"due": "Due date", "issue": "Issue date"}
EARLIEST = date(2000, 1, 1)
ALL = "All"
ROWS_SHOWN = (detail.FIRST_SCREEN_ROWS, 1000, 5000, None)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_label(rows: int | None) -> str:
    return "All" if rows is None else f"{rows:,}"


def bucket_colours(labels: list[str]) -> dict[str, str]:
    """Current in the house blue, then the older buckets from amber to deep red as they age."""
    older = sample_colorscale("YlOrRd", len(labels) - 1, low=0.3, high=1.0)
    return dict(zip(labels, ["#0F6CBD", *older], strict=True))


actor = current_actor()
st.title("Receivables")
show_flash()
with st.spinner("Reading receivables…"):
    has_invoices = cached(detail.has_invoices)(actor)
if not has_invoices:
    where = "the Import page" if allowed(actor, "data.import") else "a billing admin's Import page"
    st.info(
        "No invoices yet, so nothing to age. Bring in your customers and their invoices with "
        "`python -m data_access import customers FILE.csv` and `python -m data_access import invoices FILE.csv` "
        f"(then payments and credit notes), or on {where}; to look around first, seed demo data with "
        "`python -m data_access seed --demo`."
    )
    st.stop()

try:
    default_edges = detail.default_buckets()
except InvalidAction as exc:
    st.warning(f"{plain(exc)} The standard buckets are used instead.")
    default_edges = DEFAULT_BUCKETS
managers, countries = cached(detail.account_managers)(actor), cached(detail.countries)(actor)

when, counted_from, edges = st.columns([1, 1, 2])
as_of = when.date_input(
    "As of",
    value=clock.today(),
    min_value=EARLIEST,
    format="YYYY-MM-DD",
    key="receivables_as_of",
    help="Any past date: what was open then, before later payments and credit notes.",
)
basis = counted_from.segmented_control(
    "Age counted from", list(BASES), default="due", format_func=BASES.get, key="receivables_basis"
)
bucket_text = edges.text_input(
    "Bucket edges (days)",
    value=",".join(map(str, default_edges)),
    key="receivables_buckets",
    help="Upper edge of each overdue bucket in days, increasing, e.g. 30,60,90,120 gives 1-30, 31-60, 61-90, "
    "91-120 and 121+. 'current' is what is not yet due (counted from the issue date: issued on the as-of "
    "date).",
)
by_manager, by_country, by_currency, by_stage, by_dispute = st.columns(5, vertical_alignment="bottom")
manager = by_manager.selectbox("Account manager", [ALL, *managers], key="receivables_account_manager")
country = by_country.selectbox("Country", [ALL, *countries], key="receivables_country")
disputed_only = by_dispute.toggle("Disputed invoices only", key="receivables_disputed_only")
stage = by_stage.selectbox(
    "Collections stage", [ALL, *cached(detail.collections_stage_names)(actor), NO_STAGE], key="receivables_stage",
    help="The collections policy's stage at the as-of date; only overdue customers have one.",
)  # fmt: skip
# Read only when a stage is chosen: any day but today, knowing who stands where means assessing every customer.
in_stage: tuple[str, ...] = ()
if stage != ALL:
    with st.spinner("Bringing collections up to date…"):
        ensure_current(as_of)
    with st.spinner("Finding the customers at that collections stage…"):
        in_stage = cached(detail.customers_in_stage)(actor, as_of=as_of, stage=stage)
try:
    buckets = parse_buckets(bucket_text)
except InvalidAction as exc:
    st.error(plain(exc))
    st.stop()

every_currency = AgingFilter(
    as_of=as_of,
    basis=basis or "due",
    buckets=buckets,
    account_manager=None if manager == ALL else manager,
    country=None if country == ALL else country,
    disputed_only=disputed_only,
    customer_ids=in_stage or (("",) if stage != ALL else ()),
)
with st.spinner("Ageing receivables…"):
    summary = cached(receivables_summary)(actor, every_currency)
picked_currency = by_currency.selectbox(
    "Currency", [ALL, *summary.currency.unique()], key="receivables_currency"
)
currency = None if picked_currency == ALL else picked_currency
flt = replace(every_currency, currency=currency)
summary = summary if currency is None else summary[summary.currency == currency]
if summary.empty:
    st.info(f"Nothing was open on {day(as_of)} for these filters.")
    st.stop()

age_unit = "days past the due date" if flt.basis == "due" else "days since the issue date"
st.caption(
    f"Open balances at {day(as_of)}, aged in {age_unit}: payments and credit notes dated later do not count, "
    "invoices issued later do not exist. Currencies are never added together."
)
# Overdue means past the due date whatever the age basis, so with ages from the issue date it needs its own figures.
past_due = summary if flt.basis == "due" else cached(receivables_summary)(actor, replace(flt, basis="due"))
per_currency = list(past_due.groupby("currency"))
rates = cached(rates_at)(as_of)
cards: list[dict[str, Any]] = []
converted = None
if past_due.currency.nunique() > 1:
    # One number for a manager first, then each currency as it is.
    converted = converted_receivables(past_due, rates)
    total_then, overdue_then = converted.total.amount, converted.overdue.amount
    cards.append({
        "label": f"All currencies in {rates.reporting}", "value": "no rate" if total_then is None else money(total_then),
        "delta": None if overdue_then is None else f"{money(overdue_then)} overdue",
        "delta_color": "red" if overdue_then else "off",
        "help": "Every currency's open receivables converted at its rate and added up.",
    })  # fmt: skip
for code, rows in per_currency:
    total = sum(rows.amount, Decimal(0))
    overdue = sum(rows[rows.bucket != "current"].amount, Decimal(0))
    share = overdue / total if total else Decimal(0)
    cards.append({
        "label": f"Open receivables ({plain(code)})", "value": money(total),
        "delta": f"{money(overdue)} overdue ({share:.1%})", "delta_color": "red" if overdue else "off",
        "help": f"Everything open in {plain(code)} at the as-of date; overdue is what was past its due date then.",
    })  # fmt: skip
for first in range(0, len(cards), 4):
    for column, card in zip(st.columns(4), cards[first : first + 4], strict=False):
        column.metric(card["label"], card["value"], delta=card["delta"], delta_color=card["delta_color"],
                      delta_arrow="off", border=True, help=card["help"])  # fmt: skip
if converted is not None:
    st.caption(plain(converted.total.explain()))
unranked = sorted(code for code in summary.currency.unique() if rates.rate(code) is None)

chart = summary.assign(
    amount=summary.amount.astype(float),
    share=summary.amount / summary.groupby("currency").amount.transform("sum"),
    label=[chart_text(money(a, c)) for a, c in zip(summary.amount, summary.currency, strict=True)],
    currency=summary.currency.map(chart_text),
)
figure = px.bar(
    chart.assign(share=chart.share.astype(float)),
    x="share",
    y="currency",
    color="bucket",
    orientation="h",
    custom_data=["label", "invoices"],
    category_orders={"bucket": flt.labels},
    color_discrete_map=bucket_colours(flt.labels),
    labels={
        "share": "Share of the currency's open receivables",
        "currency": "",
        "bucket": f"Age ({age_unit})",
    },
)
figure.update_traces(
    hovertemplate="%{customdata[0]} in %{fullData.name}: %{customdata[1]} invoice(s)<extra></extra>"
)
figure.update_layout(
    barmode="stack",
    xaxis_tickformat=".0%",
    yaxis_categoryorder="category descending",
    height=120 + 50 * chart.currency.nunique(),
    legend={"orientation": "h", "y": -0.35},
    margin={"t": 10},
)
st.plotly_chart(figure, width="stretch")

st.subheader("By customer")
find, how_many = st.columns([3, 1])
search = find.text_input(
    "Find a customer", key="receivables_search", placeholder="Customer ID or name",
    help="Keeps the customers whose ID or name contains this text (any case).",
)  # fmt: skip
rows = how_many.selectbox("Rows shown", ROWS_SHOWN, format_func=rows_label, key="receivables_rows")
with st.spinner("Ageing each customer's invoices…"):
    first = cached(detail.receivables_largest_overdue_first)(actor, flt, rows=rows, search=search)
table = first.table
headers = {**HEADERS, "overdue": TOTAL_MINUS_CURRENT[flt.basis]}
shown = table.rename(columns=headers)
count = f"All {first.matching:,} rows." if len(table) == first.matching else (
    f"The first {len(table):,} of {first.matching:,} rows: find a customer above, or show more rows."
)  # fmt: skip
compared = f"Compared in {rates.reporting} at the rates on or before {day(as_of)}" + "".join(
    f"; no rate for {plain(code)}: ranked after the others" for code in unranked
)
st.caption(
    f"{SORT_NOTES[flt.basis]} {compared}. {count} Amounts are in each row's currency. "
    "Select a row to see that customer's open invoices and the payments against them."
)
view = hashlib.sha256(repr((flt, search, rows)).encode()).hexdigest()[:12]
selection = st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=f"receivables_table_{view}",
    column_config={
        column: st.column_config.NumberColumn(column, format="accounting") for column in shown.columns[3:]
    },
)
if allowed(actor, "receivables.export"):
    name = f"receivables-{as_of}-{flt.basis}"
    csv_button, excel_button, _ = st.columns([1, 1, 3])
    same = (
        "The whole table for these filters and search, every row (not only those shown), in this order, with "
        "these columns; amounts exact. It is read when you click."
    )

    def whole_table() -> pd.DataFrame:
        every_row = detail.receivables_largest_overdue_first(actor, flt, rows=None, search=search)
        return every_row.table.rename(columns=headers)

    csv_button.download_button(
        "Download table (CSV)",
        lambda: detail.export_csv(actor, whole_table()),
        file_name=f"{name}.csv",
        mime="text/csv",
        key="receivables_export_csv",
        on_click="ignore",
        icon=":material/download:",
        help=same,
    )
    excel_button.download_button(
        "Download table (Excel)",
        lambda: detail.export_xlsx(actor, whole_table()),
        file_name=f"{name}.xlsx",
        mime=XLSX,
        key="receivables_export_xlsx",
        on_click="ignore",
        icon=":material/download:",
        help=same,
    )

picked = [row for row in selection.selection.rows if row < len(table)]
if picked:
    chosen = table.iloc[picked[0]]
    code = str(chosen.currency)
    with st.spinner("Reading the customer's invoices…"):
        scope = {"customer_id": str(chosen.customer_id), "as_of": as_of, "currency": code,
                 "disputed_only": flt.disputed_only}  # fmt: skip
        invoices = cached(detail.customer_open_invoices)(actor, basis=flt.basis, buckets=flt.buckets, **scope)
        movements = cached(detail.customer_movements)(actor, **scope)
    st.subheader(plain(f"{chosen.customer_name} ({chosen.customer_id})"))
    st.caption(
        f"{plain(code)} invoices open at {day(as_of)}{', disputed only' if disputed_only else ''}: "
        f"{plain(money(sum(invoices.open_at_as_of, Decimal(0)), code))}, the customer's total above. "
        f"Buckets count {age_unit}."
    )
    st.dataframe(
        invoices,
        hide_index=True,
        width="stretch",
        key="receivables_customer_invoices",
        column_config={
            "invoice_number": "Invoice",
            "currency": None,
            "issue_date": st.column_config.DateColumn("Issued", format="YYYY-MM-DD"),
            "due_date": st.column_config.DateColumn("Due", format="YYYY-MM-DD"),
            "days_past_due": st.column_config.NumberColumn("Days past due"),
            "days_since_issue": st.column_config.NumberColumn("Days since issue"),
            "bucket": "Bucket",
            "amount": st.column_config.NumberColumn("Invoiced", format="accounting"),
            "open_at_as_of": st.column_config.NumberColumn(f"Open on {day(as_of)}", format="accounting"),
            "disputed": st.column_config.CheckboxColumn("Disputed"),
        },
    )
    st.markdown(f"**Payments and credit notes against these invoices, up to {day(as_of)}**")
    if movements.empty:
        st.caption("None: nothing had been paid or credited on these invoices by then.")
    else:
        st.dataframe(
            movements.assign(reason=movements.reason.fillna("")),
            hide_index=True,
            width="stretch",
            key="receivables_customer_movements",
            column_config={
                "date": st.column_config.DateColumn("Date", format="YYYY-MM-DD"),
                "kind": "Kind",
                "invoice_number": "Invoice",
                "amount": st.column_config.NumberColumn("Amount", format="accounting"),
                "reference": "Reference",
                "reason": "Reason",
            },
        )
