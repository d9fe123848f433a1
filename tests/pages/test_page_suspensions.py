"""The suspensions page under AppTest: eligible accounts listed, suspend only through the confirmation, suspended
subscriptions with their warnings and reinstatement, history; the page is not there for sales or helpdesk."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.demo import seed_demo
from data_access.queries import suspensions
from tests.support import pages
from tests.support.actors import BILLING
from tests.support.environment import ROOT
from tests.support.suspensions import add_policy, overdue_account, status

PAGE = "app_pages/suspensions.py"
TODAY = clock.today()


def open_page(username: str = "billing") -> AppTest:
    return pages.open_page(PAGE, username)


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    assert [title.value for title in app.title] == ["Suspensions"]
    return app


TABLES = {"eligible": "eligible_since", "suspended": "days_suspended", "history": "action"}


def table(app: AppTest, name: str) -> pd.DataFrame:
    """One of the page's three tables, told apart by a column only it has."""
    return next(frame.value for frame in app.dataframe if TABLES[name] in frame.value.columns)


def texts(app: AppTest) -> str:
    parts = [*app.markdown, *app.warning, *app.error, *app.success, *app.info, *app.caption]
    return "\n".join(str(part.value) for part in parts)


def test_the_eligible_list_renders_with_demo_data(database: str) -> None:
    seed_demo(customers=40, seed=3, today=TODAY)
    app = run(open_page())
    expected = suspensions.eligible_accounts(BILLING, as_of=TODAY)
    assert not expected.empty, "the demo data holds eligible accounts"
    assert list(table(app, "eligible").subscription_id) == list(expected.subscription_id)
    assert not app.error


def test_suspending_goes_through_a_confirmation_naming_customer_products_and_consequences(
    database: str,
) -> None:
    add_policy()
    overdue_account()
    app = run(open_page())
    assert list(table(app, "eligible").subscription_id) == [
        "SUB-C-001-2",
        "SUB-C-001-1",
    ]
    app.multiselect(key="suspensions_pick").set_value(["SUB-C-001-1", "SUB-C-001-2"])
    app.button(key="suspensions_suspend").click()
    run(app)
    assert "Give a reason" in texts(app)
    assert status("SUB-C-001-1") == "Active"
    app.text_input(key="suspensions_reason").set_value("Unpaid 50 days")
    app.button(key="suspensions_suspend").click()
    run(app)
    shown = texts(app)
    assert "Contoso C-001" in shown and "Microsoft 365 E3" in shown and "Exchange Online (Plan 1)" in shown
    assert "Service stops at once, with no grace period" in shown
    assert "New Commerce" in shown
    assert "set its status to Suspended" in shown
    assert status("SUB-C-001-1") == "Active", "nothing happens before the confirmation"
    app.button(key="suspensions_confirm").click()
    run(app)
    assert status("SUB-C-001-1") == status("SUB-C-001-2") == "Suspended"
    assert "Suspended Microsoft 365 E3 for Contoso C-001" in texts(app)
    assert list(table(app, "suspended").subscription_id) == [
        "SUB-C-001-1",
        "SUB-C-001-2",
    ]
    assert list(table(app, "history").action) == ["Suspended", "Suspended"]

    app.selectbox(key="suspensions_reinstate_pick").set_value("SUB-C-001-1")
    app.text_input(key="suspensions_reinstate_reason").set_value("Paid")
    next(b for b in app.button if b.label == "Reinstate").click()
    run(app)
    assert status("SUB-C-001-1") == "Suspended", "a customer still overdue is reinstated only once confirmed"
    [warning] = [w.value for w in app.warning if "still has" in w.value]
    assert "Contoso C-001 still has USD" in warning and "eligible for suspension again" in warning
    app.button(key="suspensions_reinstate_confirm").click()
    run(app)
    assert status("SUB-C-001-1") == "Active"
    assert "Reinstated" in texts(app)
    assert ".." not in texts(app)
    assert app.text_input(key="suspensions_reinstate_reason").value == ""
    assert not [w for w in app.warning if "still has" in w.value]


def test_after_a_suspension_the_next_customer_starts_with_an_empty_form_and_names_end_once(
    database: str,
) -> None:
    add_policy()
    overdue_account("C-001")
    overdue_account("C-002")
    rename("C-001", "Contoso Ltd.")
    app = run(open_page())
    app.multiselect(key="suspensions_pick").set_value(["SUB-C-001-1"])
    app.text_input(key="suspensions_reason").set_value("Unpaid 50 days")
    app.button(key="suspensions_suspend").click()
    run(app)
    app.button(key="suspensions_confirm").click()
    run(app)
    assert status("SUB-C-001-1") == "Suspended"
    assert "Suspended Microsoft 365 E3 for Contoso Ltd. In Partner Center" in texts(app)
    assert "Ltd.." not in texts(app)
    assert app.text_input(key="suspensions_reason").value == "", (
        "the reason does not carry to the next customer"
    )
    assert app.multiselect(key="suspensions_pick").value == []


def rename(customer_id: str, name: str) -> None:
    from sqlalchemy import update

    from data_access.db import transaction
    from data_access.models import Customer

    with transaction() as session:
        session.execute(update(Customer).where(Customer.external_id == customer_id).values(name=name))


@pytest.mark.parametrize("username", ["sales", "helpdesk"])
def test_the_page_is_not_in_the_navigation_of_a_sales_or_helpdesk_agent(database: str, username: str) -> None:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
    assert [title.value for title in app.title] == [{"sales": "Customers", "helpdesk": "Tickets"}[username]]
