"""Whole journeys across pages and users, in a real browser against a real server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from data_access import clock
from data_access.permissions import BILLING_ADMIN, Actor
from data_access.queries import suspensions
from data_access.queries.collections import worklist
from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    pick_option,
    read,
    screenshots,
    select_grid_row,
    settle,
    sign_in,
    subscription_status,
)
from tests.e2e.test_signin_browser import wait_for_heading, wait_for_session_cookie

pytestmark = pytest.mark.browser

BILLING = Actor.of("billing", [BILLING_ADMIN])
shot = screenshots("journey")


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
    dialog.get_by_text(f"Suspend {name}").first.wait_for()
    assert "Service stops at once" in dialog.inner_text()
    assert subscription_id in dialog.inner_text()
    shot(page, "2-confirm-dialog")
    dialog.get_by_role("button", name="Suspend now").click()
    page.get_by_text(f"Suspended {product} for {name}.").first.wait_for()
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
        sales.set_default_timeout(45_000)
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
    page.get_by_text(f"{len(rows)} overdue account(s) on").first.wait_for()
    settle(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    select_grid_row(grid, index, shows=page.get_by_role("heading", name=f"{name} ({customer_id})").first)
    settle(page)
    page.get_by_role("tab", name="Payment", exact=True).click()
    payment = page.get_by_role("tabpanel", name="Payment", exact=True)
    payment.get_by_role("textbox", name=f"Amount ({first['currency']})").fill(f"{overdue:.2f}")
    payment.get_by_role("textbox", name="Reference").fill("journey-test wire")
    settle(page)
    shot(page, "5-payment-form")
    payment.get_by_role("button", name="Record payment").click()
    page.get_by_text("Payment recorded.").first.wait_for()
    settle(page)
    shot(page, "6-payment-recorded")

    # Back on Suspensions: flagged ready to reinstate; billing reinstates with a reason.
    page.goto(f"{server.url}/suspensions")
    wait_for_heading(page, "Suspensions")
    page.get_by_text("Ready to reinstate, the overdue balance is now paid").first.wait_for()
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
