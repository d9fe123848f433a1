"""Import: bring a partner's own CSV files in, checked row by row, all or nothing."""

import io

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.csv_import import KIND_NAMES, import_csv
from data_access.csv_import.kinds import KINDS, Context
from data_access.csv_import.partner_center import INVOICE_COLUMNS, USAGE_COLUMNS
from data_access.documents.exports import plain
from data_access.errors import InvalidAction
from data_access.permissions import PermissionDenied
from ui.flash import show_flash
from ui.signin import current_actor

ORDER_HINT = (
    "Import in this order: customers, subscriptions, invoices, payments, credit-notes, tickets; then Partner "
    "Center's reconciliation files and exchange rates for the Margin page."
)
MICROSOFT_LAYOUT = {"partner-center-invoice": INVOICE_COLUMNS, "partner-center-usage": USAGE_COLUMNS}

actor = current_actor()
st.title("Import")
show_flash()
st.caption(f"CSV files in UTF-8 (with or without BOM), one header line. {ORDER_HINT}")

left, right = st.columns([1, 2])
kind = left.selectbox("What the file holds", KIND_NAMES, key="import_kind")
columns = KINDS[kind].columns(Context(date_format=None, update=False, today=clock.today()))
if kind in MICROSOFT_LAYOUT:
    header = MICROSOFT_LAYOUT[kind]
    proper = {name.lower(): name for name in (*header, "ResellerMpnId")}
    read = [proper[c.name] + (" (required)" if c.required else "") for c in columns if c.read]
    right.markdown(
        "**Partner Center's own file, as downloaded** (new commerce; Microsoft's column names). Billing Desk "
        "reads " + ", ".join(f"`{name}`" for name in read) + "; the other columns of Microsoft's layout are "
        "accepted and not used. US dates need the date format `%m/%d/%Y`. The same file imported again adds "
        "nothing; a billed file replaces the unbilled lines of its months. Very large files: use "
        "`python -m data_access import " + kind + " FILE.csv`."
    )
else:
    right.markdown(
        "**Columns:** " + ", ".join(f"`{c.name}`" + (" (required)" if c.required else "") for c in columns)
    )
upload = st.file_uploader("CSV file", type=["csv"], key="import_file")
date_format = st.text_input(
    "Date format (leave empty for ISO dates such as 2026-11-24)",
    placeholder="%m/%d/%Y",
    key="import_date_format",
)
update = st.toggle("Update rows that already exist (otherwise they are skipped)", key="import_update")

if upload is None:
    st.info("Choose a CSV file to see a preview and a check of every row before anything is written.")
    st.stop()

data = upload.getvalue()
try:
    preview = pd.read_csv(io.BytesIO(data), dtype=str, nrows=20, encoding="utf-8-sig", keep_default_na=False)
    st.subheader("Preview (first rows)")
    st.dataframe(preview, hide_index=True, width="stretch")
except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
    st.warning(f"The preview could not be drawn ({plain(exc)}); the check below says what is wrong.")

options = {"date_format": date_format or None, "update": update}
total_rows = max(data.count(b"\n") - 1, 1)


def show(report) -> None:  # type: ignore[no-untyped-def]
    for warning in report.warnings:
        st.warning(plain(warning))
    if report.ok:
        st.success(plain(report.summary()))
    else:
        st.error(f"{len(report.errors)} bad row(s); nothing was written. Fix them and try again.")
        st.dataframe(
            pd.DataFrame([{"line": e.line, "problem": e.reason} for e in report.errors]),
            hide_index=True,
            width="stretch",
        )


try:
    with st.spinner("Checking every row…"):
        checked = import_csv(actor, kind, data, dry_run=True, **options)
    st.subheader("Check")
    show(checked)
    if checked.ok and st.button(f"Import {checked.rows} rows", type="primary", key="import_go"):
        bar = st.progress(0.0, text="Importing…")

        def progress(phase: str, rows: int) -> None:
            share = min(rows / total_rows, 1.0)
            bar.progress(
                share / 2 if phase == "checking" else 0.5 + share / 2,
                text=f"{phase.capitalize()}: {rows} rows",
            )

        report = import_csv(actor, kind, data, progress=progress, file_name=upload.name, **options)
        bar.progress(1.0, text="Done")
        show(report)
except (PermissionDenied, InvalidAction) as exc:
    st.error(plain(exc))
