"""The Margin page under AppTest: its headline figures equal the files' rows and the invoices summed by hand in the
reporting currency; leakage and unmatched lines are listed; a Microsoft invoice is recorded from the files."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.csv_import import import_csv
from data_access.csv_import.partner_center import INVOICE_COLUMNS
from data_access.db import read_session
from data_access.models import MicrosoftInvoice
from tests.support import factories, pages
from tests.support.actors import ADMIN

PAGE = "app_pages/margin.py"
OURS = "8f2d2c4e-0000-4000-8000-00000000000a"
STRANGER = "8f2d2c4e-0000-4000-8000-0000000000ff"


def month_start(back: int) -> date:
    today = clock.today()
    month = today.month - 1 - back
    return date(today.year + month // 12, month % 12 + 1, 1)


def book(tmp_path: Path) -> None:
    """One EUR customer invoiced EUR 1,000.00 last month; Microsoft bills USD 700.00 for its 10 seats (12 billed:
    leakage) and USD 50.00 for a stranger's tenant. EUR at 1.10 USD."""
    last = month_start(1)
    factories.customer("C-1", name="Contoso GmbH", currency="EUR", tenant_id=OURS)
    factories.subscription("C-1", "SUB-1", quantity=10)
    factories.invoice("C-1", "INV-1", issued=last + timedelta(days=2), cents=100_000, currency="EUR")
    rates = tmp_path / "rates.csv"
    rates.write_text(f"rate_date,currency,rate\n{(last - timedelta(days=1)).isoformat()},EUR,1.10\n")
    assert import_csv(ADMIN, "exchange-rates", rates).ok
    lines = tmp_path / "invoice.csv"
    with lines.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, INVOICE_COLUMNS)
        writer.writeheader()
        for tenant, subscription, subtotal, seats in (
            (OURS, "SUB-1", "700.00", "12"),
            (STRANGER, "X-9", "50.00", "1"),
        ):
            writer.writerow({"CustomerId": tenant, "InvoiceNumber": "G000000777", "ChargeType": "cycleCharge",
                             "Subtotal": subtotal, "TaxTotal": "0", "Currency": "USD", "SubscriptionId": subscription,
                             "ChargeStartDate": last.isoformat(), "BillableQuantity": seats,
                             "CustomerName": "Somebody Else" if tenant == STRANGER else "Contoso GmbH"})  # fmt: skip
    report = import_csv(ADMIN, "partner-center-invoice", lines)
    assert report.ok, report.errors


def open_page(username: str = "billing") -> AppTest:
    return pages.open_page(PAGE, username)


def metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def test_headline_figures_are_the_rows_converted_by_hand(sqlite_database: str, tmp_path: Path) -> None:
    book(tmp_path)
    app = open_page()
    assert [t.value for t in app.title] == ["Margin"]
    # Revenue EUR 1,000.00 x 1.10 = USD 1,100.00; cost USD 700.00 (ours) — the stranger's 50.00 is no customer's.
    assert metric(app, "Revenue") == "USD 1,100.00"
    assert metric(app, "Microsoft cost") == "USD 700.00"
    assert metric(app, "Margin") == "USD 400.00"
    assert next(m.proto.delta for m in app.metric if m.label == "Margin") == "36.4% of revenue", [
        m.proto for m in app.metric
    ]
    shown = " ".join(e.value for e in app.error)
    assert "seats above ours" in shown and "not our customer" in shown
    leaks = next(d.value for d in app.dataframe if "kind" in d.value.columns)
    seats = leaks[leaks.kind == "seats above ours"].iloc[0]
    assert seats.amount == Decimal("116.67")  # 700.00 x (12 - 10) / 12 = 116.666... -> 116.67
    assert leaks[leaks.kind == "not our customer"].iloc[0].amount == Decimal("50.00")


def test_a_missing_rate_says_so_and_gives_no_total(sqlite_database: str, tmp_path: Path) -> None:
    book(tmp_path)
    factories.customer("C-2", name="Fabrikam Pty", currency="AUD")
    factories.invoice("C-2", "INV-2", issued=month_start(1) + timedelta(days=3), cents=5_000, currency="AUD")
    app = open_page()
    assert metric(app, "Revenue") == "no rate"
    assert any("no exchange rate for AUD" in w.value for w in app.warning)


def test_recording_the_microsoft_invoice_from_the_files(sqlite_database: str, tmp_path: Path) -> None:
    book(tmp_path)
    app = open_page()
    app.selectbox(key="record_invoice_number").set_value("G000000777")
    app.button[[b.label for b in app.button].index("Record invoice")].click().run()
    assert not app.exception
    with read_session() as session:
        recorded = session.scalars(select(MicrosoftInvoice)).one()
    assert (recorded.number, recorded.amount_cents, recorded.currency) == ("G000000777", 75_000, "USD")


@pytest.mark.parametrize("username", ["sales", "helpdesk"])
def test_the_page_is_not_in_the_navigation_of_other_roles(sqlite_database: str, username: str) -> None:
    app = pages.signed_in(username)
    assert "Margin" not in str(app.get("navigation"))
    assert not any(t.value == "Margin" for t in app.title)


def test_no_files_says_how_to_import_them(sqlite_database: str) -> None:
    app = open_page()
    assert any("partner-center-invoice" in i.value for i in app.info)


def test_the_suspensions_page_shows_what_microsoft_billed_since_each_suspension(
    sqlite_database: str, tmp_path: Path
) -> None:
    today = clock.today()
    suspended_on = today - timedelta(days=20)
    factories.customer("C-9", name="Northwind", tenant_id=OURS)
    factories.subscription("C-9", "SUB-S", status="Suspended", suspended_at=factories.at(suspended_on),
                           suspended_by="billing", suspension_reason="Overdue")  # fmt: skip
    lines = tmp_path / "unbilled.csv"
    with lines.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, INVOICE_COLUMNS)
        writer.writeheader()
        # Before the suspension: not counted. On and after it: 30.10 + 12.45 = 42.55.
        for start, subtotal in ((suspended_on - timedelta(days=1), "99.99"), (suspended_on, "30.10"),
                                (today, "12.45")):  # fmt: skip
            writer.writerow({"CustomerId": OURS, "InvoiceNumber": "", "ChargeType": "cycleCharge",
                             "Subtotal": subtotal, "Currency": "USD", "SubscriptionId": "SUB-S",
                             "ChargeStartDate": start.isoformat()})  # fmt: skip
    assert import_csv(ADMIN, "partner-center-invoice", lines).ok
    app = pages.open_page("app_pages/suspensions.py", "billing")
    assert any("Microsoft has billed USD 42.55 on 1 suspended subscription" in w.value for w in app.warning)
    table = next(d.value for d in app.dataframe if "microsoft_cost" in d.value.columns)
    assert list(table.microsoft_cost) == ["USD 42.55"]


def test_a_long_list_of_unmatched_lines_shows_its_first_thousand(
    sqlite_database: str, tmp_path: Path
) -> None:
    last = month_start(1)
    lines = tmp_path / "strangers.csv"
    with lines.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, INVOICE_COLUMNS)
        writer.writeheader()
        for n in range(1001):
            writer.writerow({"CustomerId": STRANGER, "InvoiceNumber": "G000000888", "ChargeType": "cycleCharge",
                             "Subtotal": "1.00", "Currency": "USD", "SubscriptionId": f"X-{n}",
                             "ChargeStartDate": last.isoformat()})  # fmt: skip
    assert import_csv(ADMIN, "partner-center-invoice", lines).ok
    app = open_page()
    assert not app.exception
    assert any("The first 1,000 lines are shown" in c.value for c in app.caption)
    shown = next(d.value for d in app.dataframe if "problem" in d.value.columns)
    assert len(shown) == 1000


def test_the_suspension_history_shows_each_suspensions_cost(sqlite_database: str) -> None:
    from data_access.demo import seed_demo

    seed_demo(customers=40, seed=5)
    app = pages.open_page("app_pages/suspensions.py", "billing")
    history = next(d.value for d in app.dataframe if "action" in d.value.columns)
    costs = [c for c in history.microsoft_cost if c]
    assert costs and all(c.split()[0] in {"USD", "EUR", "GBP", "AUD", "CAD"} for c in costs)
    assert set(history[history.microsoft_cost != ""].action) == {"Suspended"}


def test_the_payables_page_flags_an_invoice_that_differs_from_the_files(
    sqlite_database: str, tmp_path: Path
) -> None:
    book(tmp_path)  # the files bill G000000777 for 700.00 + 50.00 = USD 750.00
    factories.microsoft_invoice("G000000777", cents=70_000, due=clock.today() + timedelta(days=20))
    app = pages.open_page("app_pages/microsoft_payables.py", "billing")
    assert any(
        "1 invoice differs from Partner Center's reconciliation files — G000000777: files USD 750.00, recorded "
        "USD 700.00" in w.value
        for w in app.warning
    ), [w.value for w in app.warning]
