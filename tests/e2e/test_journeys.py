"""Whole journeys across pages and users, in a real browser against a real server."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from data_access import clock, suspensions
from data_access.collections import worklist
from data_access.db import dispose_engines
from data_access.permissions import BILLING_ADMIN, Actor
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_signin_browser import sign_in, wait_for_heading, wait_for_session_cookie

pytestmark = pytest.mark.browser

BILLING = Actor.of("billing", [BILLING_ADMIN])
T = TypeVar("T")


@contextmanager
def server_database(server: Server) -> Iterator[None]:
    """Point data_access at the server's database for the block only, then forget its engines."""
    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "DATABASE_READ_URL")}
    os.environ["DATABASE_URL"] = server.database_url
    os.environ.pop("DATABASE_READ_URL", None)
    try:
        yield
    finally:
        dispose_engines()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def read(server: Server, query: Callable[[], T]) -> T:
    with server_database(server):
        return query()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def settle(page: Any) -> None:
    """Wait for Streamlit to finish the current run (its status widget shows while a script runs)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def subscription_status(server: Server, subscription_id: str) -> str:
    def query() -> str:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import Subscription

        with read_session() as session:
            return str(
                session.scalar(select(Subscription.status).where(Subscription.external_id == subscription_id))
            )

    return read(server, query)


def pick_option(page: Any, combobox_name: str, text: str) -> None:
    """Open a Streamlit select by its label, type to filter, and click the one option containing `text`."""
    box = page.get_by_role("combobox", name=combobox_name)
    box.click()
    box.fill(text)
    option = page.get_by_role("option").filter(has_text=text)
    option.first.wait_for()
    assert option.count() == 1
    option.first.click()
    box.press("Escape")
    page.get_by_role("listbox").wait_for(state="hidden")


def select_grid_row(grid: Any, index: int) -> None:
    """Tick row `index` of a Streamlit dataframe: the grid draws on a canvas, so its row-selection box has no
    role or label; click it by position (header and rows are 35 px high, the box is in the first 35 px)."""
    row = 35
    grid.click(position={"x": row / 2, "y": row + index * row + row / 2})


def test_suspend_see_suspended_pay_and_reinstate(server: Server, browser: Any, page: Any) -> None:
    today = clock.today()
    eligible = read(server, lambda: suspensions.eligible_accounts(BILLING, as_of=today))
    assert not eligible.empty, "the demo data has no account eligible for suspension"
    first = eligible.iloc[0]
    customer_id, name = str(first["customer_id"]), str(first["customer_name"])
    subscription_id, product = str(first["subscription_id"]), str(first["product"])
    assert subscription_status(server, subscription_id) == "Active"

    # Billing suspends the subscription, with a reason and a confirmation naming the customer.
    page.goto(f"{server.url}/suspensions")
    sign_in(page, "billing", "billing-demo")
    wait_for_heading(page, "Suspensions")
    wait_for_session_cookie(page)
    page.get_by_role("heading", name="Eligible for suspension").first.wait_for()
    settle(page)
    pick_option(page, "Subscriptions to suspend", subscription_id)
    reason = f"Journey test: {customer_id} unpaid past the suspension stage"
    page.get_by_role("textbox", name="Reason (required, goes on the record)").fill(reason)
    page.get_by_role("textbox", name="Reason (required, goes on the record)").press("Enter")
    settle(page)
    shot(page, "1-suspension-chosen")
    page.get_by_role("button", name="Suspend…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"Suspend {name}").wait_for()
    assert "Service stops at once" in dialog.inner_text()
    assert subscription_id in dialog.inner_text()
    shot(page, "2-confirm-dialog")
    dialog.get_by_role("button", name="Suspend now").click()
    page.get_by_text(f"Suspended {product} for {name}.").wait_for()
    dialog.wait_for(state="hidden")
    page.get_by_role("heading", name="Suspended", exact=True).first.wait_for()
    settle(page)
    shot(page, "3-suspended")
    assert subscription_status(server, subscription_id) == "Suspended"
    suspended = read(server, lambda: suspensions.suspended_subscriptions(BILLING, as_of=today))
    ours = suspended[suspended.subscription_id == subscription_id]
    assert len(ours) == 1 and not bool(ours.iloc[0].ready_to_reinstate)
    assert ours.iloc[0].reason == reason and ours.iloc[0].suspended_by == "billing"

    # A sales agent, signed in elsewhere, sees the customer as suspended.
    sales_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        sales = sales_context.new_page()
        sales.set_default_timeout(20_000)
        sales.goto(f"{server.url}/customers")
        sign_in(sales, "sales", "sales-demo")
        wait_for_heading(sales, "Customers")
        wait_for_session_cookie(sales)
        search = sales.get_by_role("textbox", name="Search customers")
        search.fill(customer_id)
        search.press("Enter")
        sales.get_by_role("heading", name=name).first.wait_for()
        badge = sales.locator('[data-testid="stMarkdownContainer"]').filter(
            has_text=re.compile(r"\bSuspended\b")
        )
        badge.first.wait_for()
        settle(sales)
        shot(sales, "4-sales-sees-suspended")
        standing = badge.first.inner_text()
        assert re.match(r"^\w+ Suspended\b", standing) and "Good standing" not in standing, standing
    finally:
        sales_context.close()

    # Billing records the overdue payment on the Collections page's Payment tab.
    stage = str(first["stage"])
    rows = read(server, lambda: worklist(BILLING, as_of=today, stage=stage))
    index = int(rows.index[rows.customer_id == customer_id][0])
    overdue = rows.iloc[index].overdue
    page.goto(f"{server.url}/collections")
    wait_for_heading(page, "Collections")
    settle(page)
    pick_option(page, "Stage", stage)
    page.get_by_text(f"{len(rows)} overdue account(s) on").wait_for()
    settle(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    select_grid_row(grid, index)
    page.get_by_role("heading", name=f"{name} ({customer_id})").first.wait_for()
    settle(page)
    page.get_by_role("tab", name="Payment", exact=True).click()
    payment = page.get_by_role("tabpanel", name="Payment", exact=True)
    payment.get_by_role("textbox", name=f"Amount ({first['currency']})").fill(f"{overdue:.2f}")
    payment.get_by_role("textbox", name="Reference").fill("journey-test wire")
    settle(page)
    shot(page, "5-payment-form")
    payment.get_by_role("button", name="Record payment").click()
    page.get_by_text("Payment recorded.").wait_for()
    settle(page)
    shot(page, "6-payment-recorded")

    # Back on Suspensions: flagged ready to reinstate; billing reinstates with a reason.
    page.goto(f"{server.url}/suspensions")
    wait_for_heading(page, "Suspensions")
    page.get_by_text("Ready to reinstate, the overdue balance is now paid").wait_for()
    suspended = read(server, lambda: suspensions.suspended_subscriptions(BILLING, as_of=today))
    ours = suspended[suspended.subscription_id == subscription_id]
    assert bool(ours.iloc[0].ready_to_reinstate)
    pick_option(page, "Subscription to reinstate", subscription_id)
    page.get_by_role("textbox", name="Reason (required)", exact=True).fill("Journey test: overdue paid")
    settle(page)
    shot(page, "7-ready-to-reinstate")
    page.get_by_role("button", name="Reinstate").click()
    page.locator('[data-testid="stAlert"]').filter(has_text="Reinstated").filter(
        has_text=f"subscription {subscription_id}, and set its status to Active."
    ).first.wait_for()
    settle(page)
    shot(page, "8-reinstated")
    assert subscription_status(server, subscription_id) == "Active"
    eligible_after = read(server, lambda: suspensions.eligible_accounts(BILLING, as_of=today))
    assert subscription_id not in set(eligible_after.subscription_id)
    suspended = read(server, lambda: suspensions.suspended_subscriptions(BILLING, as_of=today))
    assert subscription_id not in set(suspended.subscription_id)
