"""Margin: what Microsoft bills the partner (Partner Center's reconciliation files) against what the partner invoices
its customers, per customer and month, with the leakage in between."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from data_access import clock
from data_access.actions.reconciliation import record_microsoft_invoice_from_files
from data_access.documents.exports import chart_text, csv_bytes, plain, xlsx_bytes
from data_access.errors import InvalidAction
from data_access.money import day, money
from data_access.permissions import PermissionDenied, allowed
from data_access.queries.exchange_rates import reporting_currency
from data_access.queries.margin import (
    customer_margin_lines,
    customer_subscription_costs,
    leakage,
    margin_report,
    reconciliation_invoices,
    unmatched_lines,
)
from data_access.text import readable
from ui.cache import cached
from ui.flash import flash, show_flash
from ui.signin import current_actor

PER_CUSTOMER_MONTH = ["customer_id", "customer_name", "month", "revenue", "microsoft_cost", "margin", "margin_pct",
                      "revenue_per_currency", "cost_per_currency"]  # fmt: skip
SHOWN = 1000
"""Per-line tables show their first lines; their downloads hold every line."""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_COLUMNS = ("microsoft_cost", "revenue", "margin", "microsoft_cost_converted", "revenue_converted",
                 "margin_converted", "amount", "cost", "subtotal", "tax", "total", "recorded_amount",
                 "difference")  # fmt: skip


def first_of_month(when: date, back: int = 0) -> date:
    month = when.month - 1 - back
    return date(when.year + month // 12, month % 12 + 1, 1)


LABELS = {
    "customer_id": "Customer ID", "month": "Month", "currency": "Currency", "margin_pct": "Margin %",
    "revenue_per_currency": "Revenue per currency", "cost_per_currency": "Microsoft cost per currency",
    "reporting_currency": "Reporting currency", "rate_date": "Rates of", "kind": "Leakage", "detail": "Detail",
    "customer_tenant": "Tenant (CustomerId)", "subscription_id": "Subscription ID", "problem": "Problem",
    "line_id": "Line", "source": "File", "invoice_number": "InvoiceNumber", "subscription_ref": "SubscriptionId",
    "charge_date": "Charge date", "lines": "Lines", "status": "Status", "product": "Product", "sku": "SKU or meter",
    "charge_type": "ChargeType", "quantity": "Quantity", "unit_price": "Unit price",
    "max_billed_quantity": "Most seats billed",
}  # fmt: skip
MONEY_LABELS = {
    "microsoft_cost": "Microsoft cost", "revenue": "Revenue", "margin": "Margin", "amount": "Amount",
    "microsoft_cost_converted": "Microsoft cost, converted", "revenue_converted": "Revenue, converted",
    "margin_converted": "Margin, converted", "cost": "Cost", "subtotal": "Subtotal", "tax": "Tax", "total": "Total",
    "recorded_amount": "Recorded invoice", "difference": "Difference",
}  # fmt: skip


def money_config(frame: pd.DataFrame, suffix: str = "") -> dict[str, object]:
    """Readable headers; money in accounting format (negative in brackets)."""
    config: dict[str, object] = {c: LABELS[c] for c in frame.columns if c in LABELS}
    config |= {
        c: st.column_config.NumberColumn(MONEY_LABELS[c] + suffix, format="accounting")
        for c in frame.columns
        if c in MONEY_LABELS
    }
    config["customer_name"] = st.column_config.TextColumn("Customer", pinned=True)
    return config


def table(frame: pd.DataFrame, key: str, suffix: str = "") -> None:
    """A table as people read it: empty cells blank (not "None"), days as 2026-12-07, money in accounting format
    where every value is there (a column with gaps shows its figures as text)."""
    gaps = [c for c in frame.columns if (c in MONEY_LABELS or c == "margin_pct") and frame[c].isna().any()]
    days = [
        c
        for c in ("charge_date", "rate_date", "suspended_on", "month")
        if c in frame.columns and c != "month"
    ]
    shown = readable(frame, days=days, amounts=gaps)
    config = money_config(shown, suffix)
    for column in gaps:
        config[column] = st.column_config.TextColumn(
            MONEY_LABELS.get(column, LABELS.get(column, column)) + suffix
        )
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, key=key)


def exports(frame: pd.DataFrame | Callable[[], pd.DataFrame], name: str, key: str) -> None:
    """CSV and Excel downloads (formula-safe); `frame` may be a function, called when the button is clicked, for
    tables shown only in part."""
    if isinstance(frame, pd.DataFrame) and frame.empty:
        return
    whole: Callable[[], pd.DataFrame] = (lambda: frame) if isinstance(frame, pd.DataFrame) else frame
    left, right, _ = st.columns([1, 1, 3])
    left.download_button("Download (CSV)", lambda: csv_bytes(whole()), file_name=f"{name}.csv", mime="text/csv",
                         key=f"{key}_csv", on_click="ignore", icon=":material/download:")  # fmt: skip
    right.download_button("Download (Excel)", lambda: xlsx_bytes(whole(), sheet=name[:31]),
                          file_name=f"{name}.xlsx", mime=XLSX, key=f"{key}_xlsx", on_click="ignore",
                          icon=":material/download:")  # fmt: skip


def converted_sum(frame: pd.DataFrame, column: str) -> Decimal | None:
    values = list(frame[column])
    if any(v is None or (isinstance(v, float) and pd.isna(v)) for v in values):
        return None
    return sum((Decimal(v) for v in values), Decimal(0))


def shown_money(value: Decimal | None, currency: str) -> str:
    return "no rate" if value is None else money(value, currency)


def absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def per_customer_month(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-currency rows of a customer's month added up in the reporting currency (None when a rate is
    missing), with what they hold in each currency as text. One pass over the rows (tens of thousands for a large
    partner's half year)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        key = (str(row.customer_id), str(row.customer_name), str(row.month))
        group = groups.setdefault(key, {"revenue": Decimal(0), "cost": Decimal(0), "missing": False,
                                        "revenue_text": [], "cost_text": []})  # fmt: skip
        if absent(row.revenue_converted) or absent(row.microsoft_cost_converted):
            group["missing"] = True
        else:
            group["revenue"] += row.revenue_converted
            group["cost"] += row.microsoft_cost_converted
        if row.revenue:
            group["revenue_text"].append(money(row.revenue, str(row.currency)))
        if row.microsoft_cost:
            group["cost_text"].append(money(row.microsoft_cost, str(row.currency)))
    out = []
    for (customer_id, name, month), group in sorted(groups.items()):
        revenue = None if group["missing"] else group["revenue"]
        cost = None if group["missing"] else group["cost"]
        margin = None if revenue is None or cost is None else revenue - cost
        pct = None if margin is None or not revenue else (margin / revenue * 100).quantize(Decimal("0.01"))
        out.append((customer_id, name, month, revenue, cost, margin, pct, " + ".join(group["revenue_text"]),
                    " + ".join(group["cost_text"])))  # fmt: skip
    table = pd.DataFrame(out, columns=pd.Index(PER_CUSTOMER_MONTH), dtype=object)
    if table.empty:
        return table
    order = [float("inf") if v is None else float(v) for v in table.margin_pct]  # ordering only
    return table.assign(_order=order).sort_values(["_order", "customer_id", "month"]).drop(columns="_order")


actor = current_actor()
st.title("Margin")
show_flash()
today = clock.today()
reporting = reporting_currency()
left, right, _ = st.columns([1, 1, 2])
start = left.date_input("From", value=first_of_month(today, back=5), max_value=today, key="margin_from")
end = right.date_input("To", value=today, max_value=today + timedelta(days=366), key="margin_to")
if not isinstance(start, date) or not isinstance(end, date) or end < start:
    st.error("Choose a From date on or before the To date.")
    st.stop()
st.caption(
    f"Microsoft cost: Partner Center's reconciliation files (Subtotal of invoice lines by charge start, "
    f"BillingPreTaxTotal of usage lines by usage date). Revenue: customer invoices issued in the month, voided ones "
    f"left out. Converted to {reporting} at the rates on or before each month's last day; per-currency figures "
    "are never added together."
)

with st.spinner("Reading reconciliation lines and invoices…"):
    rows = cached(margin_report)(actor, start, end)
    months = cached(margin_report)(actor, start, end, by="month")
    leaks = cached(leakage)(actor, start, end)
    unmatched = cached(unmatched_lines)(actor, start, end, limit=SHOWN + 1)
    files = cached(reconciliation_invoices)(actor)

if rows.empty and leaks.empty and unmatched.empty and files.empty:
    st.info(
        "No Partner Center reconciliation lines in these months. Download the invoice reconciliation file "
        "(billed or unbilled) and the daily rated usage file from Partner Center (Billing), import them on the "
        "Import page (kinds partner-center-invoice and partner-center-usage) or with `python -m data_access import "
        "partner-center-invoice FILE.csv`, and import exchange rates (kind exchange-rates) for the converted totals."
    )
    st.stop()

cost, revenue = converted_sum(months, "microsoft_cost_converted"), converted_sum(months, "revenue_converted")
margin = None if cost is None or revenue is None else revenue - cost
a, b, c = st.columns(3)
a.metric("Revenue", shown_money(revenue, reporting), border=True, help="Customer invoices issued, converted.")
b.metric(
    "Microsoft cost", shown_money(cost, reporting), border=True, help="The files' own amounts, converted."
)
pct = None if margin is None or not revenue else (margin / revenue * 100).quantize(Decimal("0.1"))
c.metric(
    "Margin",
    shown_money(margin, reporting),
    delta="—" if pct is None else f"{pct}% of revenue",
    delta_color="off" if pct is None else ("normal" if pct >= 0 else "inverse"),
    delta_arrow="off",
    border=True,
    help="Revenue − Microsoft cost; the percentage is margin ÷ revenue.",
)
if cost is None or revenue is None:
    missing = sorted(
        set(months[months.revenue_converted.isna() | months.microsoft_cost_converted.isna()].currency)
    )
    st.warning(
        f"No converted total: no exchange rate for {', '.join(map(plain, missing))} in some months. Import "
        "exchange rates (Import page, kind exchange-rates); nothing is guessed."
    )
leak_total = leaks.dropna(subset=["amount"])
if not leak_total.empty:
    per_kind = leak_total.groupby(["kind", "currency"], as_index=False).agg(items=("amount", "size"),
                                                                           amount=("amount", "sum"))  # fmt: skip
    listed = " · ".join(f"{plain(r.kind)}: {r['items']} ({money(r.amount, str(r.currency))})"
                        for _, r in per_kind.iterrows())  # fmt: skip
    st.error(f"Leakage in these months — {listed}. See the Leakage tab.")

if not months.empty:
    chart = months.dropna(subset=["revenue_converted", "microsoft_cost_converted"])
    chart = chart.groupby("month", as_index=False)[["revenue_converted", "microsoft_cost_converted"]].sum()
    if not chart.empty:
        current = today.strftime("%Y-%m")
        chart["month"] = [f"{m} (so far)" if m == current else m for m in chart.month]
        long = chart.melt(id_vars="month", var_name="figure", value_name="amount")
        long["figure"] = long.figure.map(
            {"revenue_converted": "Revenue", "microsoft_cost_converted": "Microsoft cost"}
        )
        long["amount"] = long.amount.astype(float)  # drawing only; the figures above are exact
        figure = px.bar(long, x="month", y="amount", color="figure", barmode="group",
                        labels={"amount": reporting, "month": "", "figure": ""},
                        color_discrete_map={"Revenue": "#2e7d32", "Microsoft cost": "#c62828"})  # fmt: skip
        figure.update_layout(height=300, margin={"t": 10, "b": 10}, legend_title_text="")
        figure.update_xaxes(type="category")
        st.plotly_chart(figure, width="stretch", key="margin_chart")
        st.caption(chart_text(f"Revenue and Microsoft cost per month, in {reporting}."))

by_customer, leak_tab, unmatched_tab, invoices_tab, drill_tab = st.tabs(
    [
        "By customer and month",
        f"Leakage ({len(leaks)})",
        f"Unmatched lines ({len(unmatched) if len(unmatched) <= SHOWN else f'{SHOWN:,}+'})",
        f"Microsoft invoices in the files ({len(files)})",
        "Customer drill-down",
    ]
)
with by_customer:
    st.caption(
        f"One row per customer and month in {reporting}, lowest margin first; the per-currency figures behind "
        "each row (what `report margin` prints) are below."
    )
    converted = per_customer_month(rows)
    table(converted, "margin_converted", f" ({reporting})")
    exports(converted, f"margin-{reporting}-{start}-{end}", "margin_converted")
    with st.expander("Per currency"):
        table(rows, "margin_rows")
        exports(rows, f"margin-{start}-{end}", "margin_rows")
with leak_tab:
    st.caption(
        "Seats above ours: cycle charges billing more seats than the subscription holds. Billed while suspended: "
        "in new commerce Microsoft keeps billing a suspended subscription until it is cancelled or its term ends. "
        "Not our customer: a tenant that is none of our customers. Billed below cost: a customer invoiced less "
        "than Microsoft charged for it that month."
    )
    table(leaks, "margin_leaks")
    exports(leaks, f"leakage-{start}-{end}", "margin_leaks")
with unmatched_tab:
    st.caption(
        "Lines that match no customer (by CustomerId, the tenant id) or no subscription (by SubscriptionId)."
    )
    if len(unmatched) > SHOWN:
        st.caption(f"The first {SHOWN:,} lines are shown; the downloads hold every one.")
    table(unmatched.head(SHOWN), "margin_unmatched")
    exports(lambda: unmatched_lines(actor, start, end), f"unmatched-{start}-{end}", "margin_unmatched")
with invoices_tab:
    st.caption(
        "Each billed InvoiceNumber in the files: Subtotal and TaxTotal summed, against the Microsoft invoice "
        "recorded under that number (Microsoft payables page)."
    )
    table(files, "margin_files")
    missing_invoices = sorted(files[files.status == "not recorded"].invoice_number) if not files.empty else []
    if missing_invoices and allowed(actor, "data.import"):
        with st.form("record_invoice", clear_on_submit=True, border=True):
            st.markdown("**Record a Microsoft invoice from the file's totals**")
            number = st.selectbox("Invoice number", missing_invoices, key="record_invoice_number")
            due = st.date_input("Due date", value=today + timedelta(days=30), key="record_invoice_due")
            if st.form_submit_button("Record invoice", type="primary"):
                try:
                    made = record_microsoft_invoice_from_files(actor, str(number), due_date=due)
                except (InvalidAction, PermissionDenied) as exc:
                    st.error(plain(exc))
                else:
                    flash(f"Microsoft invoice {plain(made.number)} recorded: "
                          f"{money(Decimal(made.amount_cents) / 100, made.currency)}, due {day(made.due_date)}.")  # fmt: skip
with drill_tab:
    customers = (
        rows.drop_duplicates("customer_id")[["customer_id", "customer_name"]] if not rows.empty else rows
    )
    if customers.empty:
        st.info("No customer has Microsoft cost or revenue in these months.")
    else:
        labels = {str(r.customer_id): f"{r.customer_name} ({r.customer_id})" for r in customers.itertuples()}
        chosen = st.selectbox(
            "Customer", list(labels), format_func=lambda k: plain(labels[k]), key="margin_customer"
        )
        subs = cached(customer_subscription_costs)(actor, str(chosen), start, end)
        st.markdown("**Subscriptions**")
        table(subs, "margin_subs")
        lines = cached(customer_margin_lines)(actor, str(chosen), start, end, limit=SHOWN + 1)
        if len(lines) > SHOWN:
            st.markdown(f"**Charge lines (the first {SHOWN:,}; the downloads hold every one)**")
        else:
            st.markdown(f"**Charge lines ({len(lines)})**")
        table(lines.head(SHOWN), "margin_lines")
        exports(lambda: customer_margin_lines(actor, str(chosen), start, end), f"charges-{chosen}-{start}-{end}",
                "margin_lines")  # fmt: skip
