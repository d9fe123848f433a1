"""Every export opens in a spreadsheet as the text it holds: a cell that starts like a formula (=, +, -, @, tab,
carriage return) is text, with a leading apostrophe in CSV and as a string cell in Excel, while amounts, counts
and dates stay numbers and dates. Each export is produced by the function its page or command uses, over data
written through the usual data_access paths."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import openpyxl
import pandas as pd

from data_access import clock
from data_access.audit import PaymentRecorded, record_event
from data_access.db import transaction
from data_access.documents.exports import FORMULA_STARTS, csv_bytes, formula_safe, render, xlsx_bytes
from data_access.documents.statement import statement, statement_csv
from data_access.permissions import BILLING_ADMIN, Actor
from data_access.queries.aging import AgingFilter
from data_access.queries.audit_log import audit_events
from data_access.queries.audit_log import export_csv as audit_csv
from data_access.queries.microsoft_payables import microsoft_invoices
from data_access.queries.receivables import (
    export_csv,
    export_xlsx,
    largest_overdue_first,
    receivables_by_customer,
)
from tests.support import factories
from tests.support.actors import ADMIN, BILLING

TODAY = clock.today()
HOSTILE_NAMES = ['=HYPERLINK("http://127.0.0.1:9/x","click")', "+1", "-2+3", "@SUM(A1)"]
HOSTILE_CELLS = [*HOSTILE_NAMES, "\tTAB", "\rCR", "=1+1", "-12.50"]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def sheet_rows(data: bytes) -> list[list[openpyxl.cell.cell.Cell]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows()]


def is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def assert_no_live_formula(rows: list[list[str]]) -> None:
    """What a spreadsheet would run: a cell starting like a formula that is not simply a number."""
    live = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS) and not is_number(cell)]
    assert not live, live


def hostile_customers() -> list[str]:
    """One overdue customer per hostile name, each owing a different amount."""
    for index, name in enumerate(HOSTILE_NAMES, start=1):
        factories.customer(f"C-{index}", name=name)
        factories.invoice(
            f"C-{index}", f"INV-{index}", issued=TODAY - timedelta(days=60), cents=10_000 * index
        )
    return [f"C-{index}" for index in range(1, len(HOSTILE_NAMES) + 1)]


def receivables_table() -> pd.DataFrame:
    """The table the Receivables page shows and exports."""
    table = largest_overdue_first(receivables_by_customer(BILLING, AgingFilter(as_of=TODAY)))
    return table.rename(columns={"customer_id": "Customer ID", "customer_name": "Customer", "total": "Total"})


def test_formula_safe_marks_text_that_starts_like_a_formula_and_nothing_else() -> None:
    for text in HOSTILE_CELLS:
        assert formula_safe(text) == "'" + text
    for value in ["Contoso", "", "C-1", "a=b", " =1", Decimal("-12.50"), -3, -1.5, date(2026, 1, 1), None]:
        assert formula_safe(value) == value


def test_csv_and_excel_keep_text_as_text_and_numbers_as_numbers() -> None:
    frame = pd.DataFrame(
        {
            "name": HOSTILE_CELLS,
            "amount": [Decimal("-12.50")] * len(HOSTILE_CELLS),
            "count": [-3] * len(HOSTILE_CELLS),
            "share": [-0.25] * len(HOSTILE_CELLS),
            "day": [date(2026, 11, 24)] * len(HOSTILE_CELLS),
        }
    )
    rows = csv_rows(csv_bytes(frame))
    assert rows[0] == ["name", "amount", "count", "share", "day"]
    assert [row[0] for row in rows[1:]] == ["'" + text for text in HOSTILE_CELLS]
    assert {tuple(row[1:]) for row in rows[1:]} == {("-12.50", "-3", "-0.25", "2026-11-24")}
    one_line = frame[~frame.name.str.contains("\r")]
    assert csv_rows(render(one_line, "csv").encode())[1:] == [row for row in rows[1:] if "\r" not in row[0]]

    cells = sheet_rows(xlsx_bytes(frame, sheet="Table"))
    for row, text in zip(cells[1:], HOSTILE_CELLS, strict=True):
        name, amount, count, share, day = row
        assert name.data_type == "s" and name.quotePrefix, (text, name.data_type)
        assert name.value == text.replace("\r", "\n")  # XML keeps a carriage return as a line feed
        assert (amount.data_type, amount.value, amount.number_format) == ("n", -12.5, "#,##0.00")
        assert (count.data_type, count.value) == ("n", -3)
        assert (share.data_type, share.value) == ("n", -0.25)
        assert day.data_type == "d" and day.value.date() == date(2026, 11, 24)


def test_receivables_csv_opens_formula_like_names_as_text(database: str) -> None:
    hostile_customers()
    table = receivables_table()
    rows = csv_rows(export_csv(BILLING, table))
    names = {row[rows[0].index("Customer")] for row in rows[1:]}
    assert names == {"'" + name for name in HOSTILE_NAMES}
    assert_no_live_formula(rows)
    totals = [Decimal(row[rows[0].index("Total")]) for row in rows[1:]]
    assert sorted(totals) == [Decimal("100.00"), Decimal("200.00"), Decimal("300.00"), Decimal("400.00")]


def test_receivables_excel_holds_formula_like_names_as_string_cells(database: str) -> None:
    hostile_customers()
    table = receivables_table()
    cells = sheet_rows(export_xlsx(BILLING, table))
    header = [cell.value for cell in cells[0]]
    names = [row[header.index("Customer")] for row in cells[1:]]
    assert {cell.value for cell in names} == set(HOSTILE_NAMES)
    assert all(cell.data_type == "s" for row in cells for cell in row if isinstance(cell.value, str))
    assert all(cell.quotePrefix for cell in names)
    totals = [row[header.index("Total")] for row in cells[1:]]
    assert all(cell.data_type == "n" for cell in totals)
    assert sorted(cell.value for cell in totals) == [100, 200, 300, 400]


def test_statement_csv_opens_formula_like_references_as_text(database: str) -> None:
    factories.customer("C-1", name="@Contoso")
    factories.invoice(
        "C-1", '=HYPERLINK("http://127.0.0.1:9/x")', issued=TODAY - timedelta(days=20), cents=50_000
    )
    factories.payment("C-1", cents=70_000, received_on=TODAY - timedelta(days=5), reference="@SUM(A1)")
    factories.invoice("C-1", "INV-2", issued=TODAY - timedelta(days=10), cents=30_000)
    factories.credit_note("INV-2", "-2+3", cents=1_000, issued_on=TODAY, reason="+1")
    found = statement(BILLING, customer_id="C-1", start=TODAY - timedelta(days=30), end=TODAY)
    rows = csv_rows(statement_csv(found))
    assert_no_live_formula(rows)
    lines = {row[rows[0].index("type")]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert lines["payment"]["reference"] == "'@SUM(A1)"
    assert lines["payment"]["invoice"] == '\'=HYPERLINK("http://127.0.0.1:9/x")'
    assert lines["credit note"]["reference"] == "'-2+3"
    assert lines["unapplied credit"]["reference"] == "'@SUM(A1)"
    assert lines["closing balance"]["balance"] == "290.00"


def test_audit_log_csv_opens_formula_like_actors_and_targets_as_text(database: str) -> None:
    with transaction() as session:
        paid = PaymentRecorded(
            payment_id=1, amount=Decimal("1.00"), received_on=TODAY, invoice_number=None, reference="+1",
            unapplied=Decimal("0.00"),
        )  # fmt: skip
        record_event(
            session,
            Actor.of("@someone", [BILLING_ADMIN]),
            paid,
            target='=HYPERLINK("http://127.0.0.1:9/x","y")',
        )
    page = audit_events(ADMIN)
    rows = csv_rows(audit_csv(ADMIN, page.events))
    assert_no_live_formula(rows)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["actor"] == "'@someone"
    assert record["target"] == '\'=HYPERLINK("http://127.0.0.1:9/x","y")'


def test_microsoft_payables_csv_opens_formula_like_numbers_as_text(database: str) -> None:
    factories.microsoft_invoice("=1+1", cents=123_450, due=TODAY + timedelta(days=5))
    factories.microsoft_invoice("-7", cents=500, due=TODAY + timedelta(days=35))
    rows = csv_rows(csv_bytes(microsoft_invoices(BILLING, as_of=TODAY)))
    assert_no_live_formula(rows)
    numbers = {row[rows[0].index("number")] for row in rows[1:]}
    assert numbers == {"'=1+1", "'-7"}
    assert {row[rows[0].index("amount")] for row in rows[1:]} == {"1234.50", "5.00"}
