"""The customers page under AppTest: search, standing and figures equal what plain Python makes of the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from data_access import clock
from tests.support import factories, pages
from tests.support.environment import ROOT

PAGE = "app_pages/customers.py"
TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def open_page(username: str = "sales") -> AppTest:
    return pages.open_page(PAGE, username)


def search(app: AppTest, text: str) -> AppTest:
    app.text_input(key="customers_search").input(text).run()
    assert not app.exception, app.exception
    return app


def add_customer(external_id: str, name: str, domain: str, tenant: str) -> str:
    return factories.customer(external_id, name=name, domain=domain, tenant_id=tenant,
                              billing_contact_name="Ann Payable", billing_contact_email=f"ap@{domain}")  # fmt: skip


def write_customers() -> None:
    """Fabrikam is in arrears with history; Northwind is another customer the search must tell apart."""
    today = clock.today()
    add_customer("C-FAB", "Fabrikam Inc.", "fabrikam.example", TENANT)
    add_customer("C-NW", "Northwind Traders", "northwind.example", "aaaaaaaa-0000-4000-8000-000000000001")
    day = lambda n: today - timedelta(days=n)  # noqa: E731
    factories.invoice("C-FAB", "F-1", issued=day(100), cents=100_000)  # due 70 days ago, paid 10 days late
    factories.payment("C-FAB", cents=100_000, received_on=day(60), invoice="F-1")
    factories.invoice(
        "C-FAB", "F-2", issued=day(70), cents=50_000
    )  # due 40 days ago, paid early, 12.34 too much
    factories.payment("C-FAB", cents=51_234, received_on=day(45), invoice="F-2")
    factories.invoice("C-FAB", "F-3", issued=day(50), cents=300_000)  # due 20 days ago, a third paid
    factories.payment("C-FAB", cents=100_000, received_on=day(10), invoice="F-3")
    factories.invoice("C-FAB", "F-4", issued=day(5), cents=45_055)  # not yet due
    factories.invoice("C-NW", "N-1", issued=day(10), cents=99_900)
    factories.subscription("C-FAB", "SUB-1", "Microsoft 365", sku="Microsoft 365 E3", quantity=25)
    factories.ticket(
        "C-FAB", "T-1", title="Why was I charged twice?", created_at=datetime.now(UTC) - timedelta(days=2)
    )
    factories.escalation("T-1", "MS-42", kind="commercial")


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_a_new_partner_is_told_how_to_import_customers(sqlite_database: str) -> None:
    app = open_page("billing")
    assert [title.value for title in app.title] == ["Customers"]
    message = app.info[0].value
    assert "No customers yet" in message and "python -m data_access import customers FILE.csv" in message
    assert "Import page" in message
    assert not app.text_input and not app.metric
    assert "ask a billing admin" in open_page("sales").info[0].value


@pytest.mark.parametrize("text", ["FABRIKAM.example", TENANT[:13].upper(), "c-fab", "fabrik"])
def test_search_finds_the_customer_by_domain_tenant_id_id_or_name(database: str, text: str) -> None:
    write_customers()
    app = search(open_page(), text)
    assert app.selectbox(key="customers_pick").options == ["Fabrikam Inc. · C-FAB · fabrikam.example"]
    assert [header.value for header in app.header] == ["Fabrikam Inc."]
    assert TENANT in app.caption[1].value


def test_no_match_says_so(sqlite_database: str) -> None:
    write_customers()
    app = search(open_page(), "contoso")
    assert "contoso" in app.warning[0].value
    assert not app.metric


def test_the_metrics_and_standing_equal_what_was_written(database: str) -> None:
    write_customers()
    app = search(open_page(), "fabrikam")
    # Open: F-3 3,000 - 1,000 paid (due 20 days ago) + F-4 450.55 (not yet due); F-2's payment left 12.34.
    # Days late: F-1 paid 10 days after its due date, F-2 early (counts as 0), F-3 open and 20 days late so far:
    # 10.0 over three invoices.
    assert metrics(app) == {
        "Open balance (USD)": "2,450.55",
        "Overdue (USD)": "2,000.00",
        "Unapplied credit (USD)": "12.34",
        "Average days late": "10.0 days",
    }
    assert app.metric[3].proto.delta == "2 paid, 1 open overdue"
    assert ":orange-badge[:material/schedule: Overdue 20 days]" in [m.value for m in app.markdown]
    frames = [frame.value for frame in app.dataframe]
    subscriptions, tickets, escalations, activity, summary = frames
    # Payments are in the recent activity, newest first; empty cells are blank, never "None".
    assert list(activity["What"]) == ["Payment received"] * 3
    assert list(activity["Amount"]) == ["USD 1,000.00", "USD 512.34", "USD 1,000.00"]
    assert "None" not in activity.to_string() and "None" not in tickets.to_string()
    assert list(subscriptions["product"]) == ["Microsoft 365"]
    assert list(tickets["title"]) == ["Why was I charged twice?"]
    assert list(escalations["case_number"]) == ["MS-42"]
    # The default period reaches today: the statement closes at the open balance.
    assert summary.to_dict(orient="records")[0]["closing"] == Decimal("2450.55")
    assert summary.to_dict(orient="records")[0]["unapplied_credit"] == Decimal("12.34")


def test_the_statement_period_changes_the_statement_and_both_files_download(sqlite_database: str) -> None:
    write_customers()
    app = search(open_page(), "fabrikam")
    today = clock.today()
    assert [button.key for button in app.get("download_button")] == [
        "customers_statement_pdf",
        "customers_statement_csv",
    ]
    app.date_input(key="customers_statement_period").set_value(
        (today - timedelta(days=120), today - timedelta(days=55))
    ).run()
    assert not app.exception, app.exception
    (row,) = app.dataframe[-1].value.to_dict(orient="records")
    # F-1 and F-2 invoiced; F-1 paid (1,000); F-3 issued 50 days ago is after the period.
    assert (row["opening"], row["invoiced"], row["paid_and_credited"], row["closing"]) == (
        Decimal("0.00"), Decimal("1500.00"), Decimal("1000.00"), Decimal("500.00")
    )  # fmt: skip
    assert row["unapplied_credit"] == Decimal("0.00")


def test_a_sales_agent_reads_the_page_and_can_change_nothing(sqlite_database: str) -> None:
    write_customers()
    app = search(open_page("sales"), "fabrikam")
    assert [button.key for button in app.button] == ["signout"]
    assert not app.get("form")
    assert not app.error


@pytest.mark.parametrize("username", ["admin", "billing", "helpdesk"])
def test_other_roles_see_the_same_figures(sqlite_database: str, username: str) -> None:
    write_customers()
    app = search(open_page(username), "fabrikam")
    assert metrics(app)["Open balance (USD)"] == "2,450.55"


def test_a_user_management_admin_does_not_have_the_page(sqlite_database: str) -> None:
    write_customers()
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = "usermgr"
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
