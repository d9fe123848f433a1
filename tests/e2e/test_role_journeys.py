"""One journey per role, each signing in through the real form on a real `streamlit run` server with demo data:
what the browser shows is checked against the database, computed here without the app's own queries where the
figure is money."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from data_access import clock
from data_access.auth import userstore
from data_access.permissions import HELPDESK_AGENT
from data_access.queries import collections, escalations, suspensions
from data_access.queries.aging import AgingFilter, aging_by_customer
from data_access.queries.exchange_rates import rates_at
from data_access.queries.receivables import largest_overdue_first
from data_access.text import plural
from tests.e2e.helpers import (
    LANDING,
    VISIBLE_PAGES,
    first_grid,
    navigation,
    open_expander,
    pick_in,
    pick_option,
    pick_typed,
    read,
    screenshots,
    select_grid_row,
    settle,
    sign_in,
    subscription_status,
    ticket_by_title,
    ticket_status,
    wait_for_heading,
    wait_for_session_cookie,
)
from tests.support.actors import BILLING, HELPDESK
from tests.support.servers import Server

pytestmark = pytest.mark.browser

Shot = Callable[[Any, str], None]


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Shot:
    """test-artifacts/<test>-<step>.png; the page also waits longer than the default, for a loaded CI machine."""
    page.set_default_timeout(45_000)
    return screenshots(request.node.name)


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def open_balances(server: Server, as_of: date) -> dict[tuple[str, str], int]:
    """Cents open at as_of per (customer id, currency), from the ledger's raw rows: each invoice issued by then,
    less the payments applied and credit notes issued by then (not the maintained open balance the app reads)."""

    def query() -> dict[tuple[str, str], int]:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import CreditNote, Customer, Invoice, PaymentAllocation

        with read_session() as session:
            invoices = session.execute(
                select(Invoice.id, Customer.external_id, Invoice.currency, Invoice.amount_cents)
                .join(Customer, Customer.id == Invoice.customer_id)
                .where(Invoice.issue_date <= as_of)
            ).all()
            settled: dict[int, int] = {}
            for invoice_id, amount in session.execute(
                select(PaymentAllocation.invoice_id, PaymentAllocation.amount_cents).where(
                    PaymentAllocation.applied_on <= as_of
                )
            ):
                settled[invoice_id] = settled.get(invoice_id, 0) + amount
            for invoice_id, amount in session.execute(
                select(CreditNote.invoice_id, CreditNote.amount_cents).where(CreditNote.issued_on <= as_of)
            ):
                settled[invoice_id] = settled.get(invoice_id, 0) + amount
        balances: dict[tuple[str, str], int] = {}
        for invoice_id, customer_id, currency, amount in invoices:
            key = (str(customer_id), str(currency))
            balances[key] = balances.get(key, 0) + amount - settled.get(invoice_id, 0)
        return balances

    return read(server, query)


def shown_cents(text: str) -> int:
    """'1,234.56' (optionally after a currency code) as cents."""
    number = re.search(r"-?[\d,]+\.\d{2}", text)
    assert number, text
    return cents(Decimal(number.group(0).replace(",", "")))


def metric_value(page: Any, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').filter(has_text=label)
    )
    value = metric.first.locator('[data-testid="stMetricValue"]')
    value.wait_for()
    return str(value.inner_text()).strip()


def test_manager_reads_the_overview_and_drills_into_receivables(
    server: Server, page: Any, shot: Shot
) -> None:
    today = clock.today()
    page.goto(f"{server.url}/overview")  # a sales agent lands on Customers; the bookmark keeps the Overview
    sign_in(page, "sales")
    wait_for_heading(page, "Overview")
    wait_for_session_cookie(page)
    label = page.locator('[data-testid="stMetricLabel"]').filter(
        has_text=re.compile(r"^Total receivables \(")
    )
    label.first.wait_for()
    settle(page)
    shot(page, "1-overview")
    currency = re.search(r"\((\w{3})\)", label.first.inner_text()).group(1)  # type: ignore[union-attr]
    for headline in (f"Overdue ({currency})", "Overdue share", "Days sales outstanding", "Open tickets"):
        assert metric_value(page, headline), headline
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert not any("Microsoft payment" in text for text in labels), (
        labels
    )  # a sales agent holds no payables view

    balances = open_balances(server, today)
    total = sum(amount for (_, code), amount in balances.items() if code == currency)
    assert total > 0, "the demo data has nothing open in its main currency"
    assert shown_cents(metric_value(page, f"Total receivables ({currency})")) == total

    page.get_by_role("link", name="Receivables aging by customer").click()
    wait_for_heading(page, "Receivables")
    page.get_by_role("heading", name="By customer").wait_for()
    settle(page)
    shot(page, "2-receivables")
    assert page.url.endswith("/receivables")
    assert shown_cents(metric_value(page, f"Open receivables ({currency})")) == total

    table = read(
        server, lambda: largest_overdue_first(aging_by_customer(AgingFilter(as_of=today)), rates_at(today))
    )
    first = table.iloc[0]
    customer_id, name, code = str(first.customer_id), str(first.customer_name), str(first.currency)
    grid = first_grid(page)
    grid.scroll_into_view_if_needed()
    select_grid_row(grid, 0, shows=page.get_by_role("heading", name=f"{name} ({customer_id})"))
    caption = page.get_by_text(re.compile(r"the customer's total above"))
    caption.wait_for()
    settle(page)
    page.get_by_role("heading", name=f"{name} ({customer_id})").scroll_into_view_if_needed()
    shot(page, "3-customer-drill-down")
    expected = balances[(customer_id, code)]
    assert expected > 0
    assert f"{code} invoices open at" in caption.inner_text()
    assert shown_cents(caption.inner_text().split(":")[1]) == expected


def invoice_open_cents(server: Server, number: str) -> int:
    def query() -> int:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import Invoice

        with read_session() as session:
            return int(session.scalar(select(Invoice.open_cents).where(Invoice.number == number)) or 0)

    return read(server, query)


def promises(server: Server, customer_id: str) -> list[tuple[int, date, str]]:
    """(promised cents, promised for, by whom) of every promise to pay on the customer's account, oldest first."""

    def query() -> list[tuple[int, date, str]]:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.enums import ActivityKind
        from data_access.models import CollectionsActivity, Customer

        with read_session() as session:
            rows = session.execute(
                select(
                    CollectionsActivity.promised_amount_cents,
                    CollectionsActivity.promised_for,
                    CollectionsActivity.actor,
                )
                .join(Customer, Customer.id == CollectionsActivity.customer_id)
                .where(
                    Customer.external_id == customer_id,
                    CollectionsActivity.kind == ActivityKind.PROMISE_TO_PAY.value,
                )
                .order_by(CollectionsActivity.id)
            ).all()
            return [(int(amount), day, str(actor)) for amount, day, actor in rows]

    return read(server, query)


def test_billing_admin_works_collections_then_suspends_and_reinstates(
    server: Server, page: Any, shot: Shot
) -> None:
    today = clock.today()
    rows = read(server, lambda: collections.worklist(BILLING, as_of=today))
    assert not rows.empty, "the demo data has no overdue account"
    first = rows.iloc[0]
    customer_id, name, currency = str(first.customer_id), str(first["name"]), str(first.currency)
    promised = Decimal(first.overdue)
    promises_before = promises(server, customer_id)

    page.goto(f"{server.url}/collections")
    sign_in(page, "billing")
    wait_for_heading(page, "Collections")
    wait_for_session_cookie(page)
    page.get_by_text(f"{plural(len(rows), 'overdue account')} on").first.wait_for()
    settle(page)
    shot(page, "1-worklist")
    grid = page.locator('[data-testid="stDataFrame"]').first
    select_grid_row(grid, 0, shows=page.get_by_role("heading", name=f"{name} ({customer_id})"))
    settle(page)

    # A promise to pay the overdue amount, for the default date a week ahead.
    page.get_by_role("tab", name="Promise to pay", exact=True).click()
    promise = page.get_by_role("tabpanel", name="Promise to pay", exact=True)
    promise.get_by_role("textbox", name=f"Amount ({currency})").fill(f"{promised:.2f}")
    shot(page, "2-promise-form")
    promise.get_by_role("button", name="Record promise to pay").click()
    page.locator('[data-testid="stAlert"]').filter(has_text="Promise to pay recorded.").wait_for()
    page.get_by_role("heading", name=f"{name} ({customer_id})").wait_for()
    settle(page)
    shot(page, "3-promise-recorded")
    after = promises(server, customer_id)
    assert after[: len(promises_before)] == promises_before
    assert after[len(promises_before) :] == [(cents(promised), today + timedelta(days=7), "billing")]

    # A part payment against the oldest open invoice: its open balance drops by exactly that.
    invoices = read(server, lambda: collections.open_invoices(BILLING, customer_id=customer_id))
    number = str(invoices.iloc[0].invoice_number)
    open_before = invoice_open_cents(server, number)
    paid = (Decimal(open_before) / 200).quantize(Decimal("0.01"), rounding=ROUND_DOWN) or Decimal("0.01")
    reference = f"role-journey-{uuid.uuid4().hex[:8]}"
    page.get_by_role("tab", name="Payment", exact=True).click()
    payment = page.get_by_role("tabpanel", name="Payment", exact=True)
    payment.get_by_role("textbox", name=f"Amount ({currency})").fill(f"{paid:.2f}")
    pick_in(payment, page, "Invoice", number)
    payment.get_by_role("textbox", name="Reference").fill(reference)
    shot(page, "4-payment-form")
    payment.get_by_role("button", name="Record payment").click()
    page.locator('[data-testid="stAlert"]').filter(has_text="Payment recorded.").wait_for()
    settle(page)
    shot(page, "5-payment-recorded")
    assert open_before - invoice_open_cents(server, number) == cents(paid)


def escalation_of(server: Server, case_number: str) -> tuple[str, str, str]:
    board = read(server, lambda: escalations.board(HELPDESK, now=datetime.now(UTC)))
    ours = board[board.case_number == case_number]
    assert len(ours) == 1, ours
    row = ours.iloc[0]
    return str(row.ticket), str(row.kind), str(row.status)


def test_helpdesk_agent_opens_escalates_and_resolves_a_ticket(server: Server, page: Any, shot: Shot) -> None:
    customer_id, _, _ = overdue_customer(server, clock.today())
    unique = uuid.uuid4().hex[:10]
    title = f"Role journey {unique}: invoice shows the wrong seat count"
    case_number = f"RJ-{unique}"

    page.goto(f"{server.url}/tickets")
    sign_in(page, "helpdesk")
    wait_for_heading(page, "Tickets")
    wait_for_session_cookie(page)
    settle(page)
    open_expander(page, "New ticket", "Create ticket")
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Create ticket"))
    form.get_by_role("textbox", name="Customer ID").fill(customer_id)
    form.get_by_role("textbox", name="Title").fill(title)
    form.get_by_role("textbox", name="Description").fill("Opened by the helpdesk role journey.")
    pick_in(form, page, "Category", "billing question")
    shot(page, "1-new-ticket")
    form.get_by_role("button", name="Create ticket").click()
    page.locator('[data-testid="stAlert"]').filter(has_text="created.").first.wait_for()
    settle(page)
    tickets = ticket_by_title(server, title)
    assert len(tickets) == 1, tickets
    ticket_id, owner, status = tickets[0]
    assert (owner, status) == (customer_id, "new")
    page.locator('[data-testid="stAlert"]').filter(has_text=f"Ticket {ticket_id} created.").wait_for()
    shot(page, "2-ticket-created")

    # A commercial escalation: open to every CSP partner, no support vehicle.
    page.goto(f"{server.url}/escalations")
    wait_for_heading(page, "Escalations")
    settle(page)
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Escalate"))
    form.get_by_role("textbox", name="Ticket ID").fill(ticket_id)
    form.get_by_role("textbox", name="Microsoft case number").fill(case_number)
    pick_in(form, page, "Kind", "Commercial")
    pick_in(form, page, "Support vehicle", "None (commercial)")
    form.get_by_role("textbox", name="Notes").fill("Billing question Microsoft must answer.")
    shot(page, "3-escalate-form")
    form.get_by_role("button", name="Escalate", exact=True).click()
    page.locator('[data-testid="stAlert"]').filter(
        has_text=f"Ticket {ticket_id} escalated to Microsoft as case {case_number}."
    ).first.wait_for()
    settle(page)
    shot(page, "4-escalated")
    assert escalation_of(server, case_number) == (ticket_id, "commercial", "submitted")
    assert ticket_status(server, ticket_id) == "escalated"

    # Microsoft answered: the agent resolves the ticket.
    page.goto(f"{server.url}/tickets")
    wait_for_heading(page, "Tickets")
    page.get_by_role("combobox", name="Ticket", exact=True).wait_for()
    settle(page)
    pick_typed(page, "Ticket", ticket_id)
    detail = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=title)
    detail.first.wait_for()
    settle(page)
    shot(page, "5-ticket-picked")
    assert (
        "escalated"
        in page.locator('[data-testid="stMarkdownContainer"]').filter(has_text=title).first.inner_text()
    )
    # With Microsoft's case open, resolving asks about it first (the answer goes with Resolve).
    page.locator('[data-testid="stRadio"]').get_by_text("Yes: resolve it with the ticket", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.locator('[data-testid="stAlert"]').filter(
        has_text=f"Ticket {ticket_id} resolved. Microsoft's case {case_number} resolved with it."
    ).wait_for()
    settle(page)
    shot(page, "6-resolved")
    assert ticket_status(server, ticket_id) == "resolved"
    assert escalation_of(server, case_number) == (ticket_id, "commercial", "resolved")


def overdue_customer(server: Server, today: date) -> tuple[str, str, int]:
    """(customer id, name, days since the oldest invoice open and past due fell due) of the first customer by id
    with something past due and no suspended subscription."""

    def query() -> tuple[str, str, int]:
        from sqlalchemy import func, select

        from data_access.db import read_session
        from data_access.models import Customer, Invoice, Subscription

        with read_session() as session:
            suspended = select(Subscription.customer_id).where(Subscription.status == "Suspended")
            row = session.execute(
                select(Customer.external_id, Customer.name, func.min(Invoice.due_date))
                .join(Invoice, Invoice.customer_id == Customer.id)
                .where(
                    Invoice.open_cents > 0,
                    Invoice.issue_date <= today,
                    Invoice.due_date < today,
                    Customer.id.not_in(suspended),
                )
                .group_by(Customer.external_id, Customer.name)
                .order_by(Customer.external_id)
                .limit(1)
            ).one()
        oldest = row[2] if isinstance(row[2], date) else date.fromisoformat(str(row[2]))
        return str(row[0]), str(row[1]), (today - oldest).days

    return read(server, query)


def test_sales_agent_looks_a_customer_up(server: Server, page: Any, shot: Shot) -> None:
    today = clock.today()
    customer_id, name, days = overdue_customer(server, today)
    balances = {
        code: amount for (owner, code), amount in open_balances(server, today).items() if owner == customer_id
    }
    assert balances and days > 0

    page.goto(f"{server.url}/customers")
    sign_in(page, "sales")
    wait_for_heading(page, "Customers")
    wait_for_session_cookie(page)
    search = page.get_by_role("textbox", name="Search customers")
    search.fill(name)
    search.press("Enter")
    page.get_by_role("heading", name=name, exact=True).first.wait_for()
    badge = page.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(r"\bOverdue \d+ days?\b")
    )
    badge.first.wait_for()
    settle(page)
    shot(page, "1-customer")
    standing = badge.first.inner_text()
    assert f"Overdue {days} day" in standing and "Good standing" not in standing, standing
    assert customer_id in page.get_by_role("combobox", name="Customer", exact=True).input_value()
    for code, amount in balances.items():
        assert shown_cents(metric_value(page, f"Open balance ({code})")) == amount, code


def test_user_management_admin_adds_a_user_who_then_signs_in(server: Server, page: Any, shot: Shot) -> None:
    from playwright.sync_api import expect

    username = f"agent{uuid.uuid4().hex[:8]}"
    new_password = f"Journey-{uuid.uuid4().hex}"

    page.goto(f"{server.url}/users")
    sign_in(page, "usermgr")
    wait_for_heading(page, "Users")
    wait_for_session_cookie(page)
    settle(page)
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Add user"))
    expect(form).to_have_count(1)  # the run before sign-in's cookie rerun can leave a stale copy for a moment
    form.get_by_role("textbox", name="Username").fill(username)
    form.get_by_role("textbox", name="Full name").fill("Jo Journey")
    form.get_by_role("textbox", name="E-mail").fill(f"{username}@example.com")
    form.get_by_role("combobox", name="Roles").click()
    page.get_by_role("option", name=HELPDESK_AGENT, exact=True).click()
    page.keyboard.press("Escape")
    form.get_by_text(HELPDESK_AGENT, exact=True).first.wait_for()
    shot(page, "1-add-user")
    form.get_by_role("button", name="Add user").click()
    notice = page.locator('[data-testid="stAlert"]').filter(has_text=f"Temporary password for {username}")
    notice.wait_for()
    settle(page)
    shot(page, "2-one-time-password")
    temporary = notice.locator("code").inner_text().strip()
    assert len(temporary) >= 12
    stored = read(server, lambda: userstore.users()[username])
    assert stored.roles == (HELPDESK_AGENT,) and stored.must_change_password and not stored.disabled
    assert temporary not in server.auth_file.read_text()

    page.locator('[data-testid="stSidebarUserContent"]').get_by_role("button", name="Sign out").click()
    sign_in(page, username, temporary)
    wait_for_heading(page, "Change password")
    wait_for_session_cookie(page)
    settle(page)
    shot(page, "3-must-change-password")
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.get_by_role("textbox", name="Current password", exact=True).fill(temporary)
    page.get_by_role("textbox", name="New password (at least 12 characters)", exact=True).fill(new_password)
    page.get_by_role("textbox", name="New password again", exact=True).fill(new_password)
    page.get_by_role("button", name="Change password").click()
    wait_for_heading(page, LANDING["helpdesk"])
    page.locator('[data-testid="stSidebarNav"]').wait_for()
    settle(page)
    shot(page, "4-signed-in-as-new-user")
    assert navigation(page) == sorted(VISIBLE_PAGES["helpdesk"])
    assert "Jo Journey" in page.locator('[data-testid="stSidebarUserContent"]').inner_text()
    assert not read(server, lambda: userstore.users()[username]).must_change_password


def test_billing_admin_suspends_a_sales_agent_sees_it_and_a_payment_makes_it_ready_to_reinstate(
    server: Server, browser: Any, page: Any, shot: Shot
) -> None:
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
    rows = read(server, lambda: collections.worklist(BILLING, as_of=today, stage=stage))
    index = int(rows.index[rows.customer_id == customer_id][0])
    overdue = rows.iloc[index].overdue
    page.goto(f"{server.url}/collections")
    wait_for_heading(page, "Collections")
    settle(page)
    pick_option(page, "Stage", stage)
    page.get_by_text(f"{plural(len(rows), 'overdue account')} on").first.wait_for()
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
    history = read(server, lambda: suspensions.suspension_history(BILLING))
    ours = history[history.subscription_id == subscription_id]
    assert sorted(ours.action) == ["Reinstated", "Suspended"], ours
    assert set(ours.actor) == {"billing"}
