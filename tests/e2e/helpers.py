"""What the browser journeys share: reading the server's database from the test, and driving Streamlit's widgets
in a way that survives reruns on a loaded machine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from data_access.db import dispose_engines
from tests.support.servers import ARTIFACTS, Server

T = TypeVar("T")
SERVER_ENVIRONMENT = ("DATABASE_URL", "DATABASE_READ_URL", "BILLING_DESK_AUTH_FILE")


@contextmanager
def server_database(server: Server) -> Iterator[None]:
    """Point data_access at the server's database and user store for the block only, then forget its engines."""
    saved = {name: os.environ.get(name) for name in SERVER_ENVIRONMENT}
    os.environ["DATABASE_URL"] = server.database_url
    os.environ["BILLING_DESK_AUTH_FILE"] = str(server.auth_file)
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


def screenshots(prefix: str) -> Callable[[Any, str], None]:
    """A function saving a full-page screenshot as test-artifacts/<prefix>-<step>.png."""

    def shot(page: Any, step: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{prefix}-{step}.png"), full_page=True)

    return shot


def settle(page: Any) -> None:
    """Wait for Streamlit to finish the current run (its status widget shows while a script runs)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def sign_in(page: Any, username: str, password: str | None = None) -> None:
    """Sign in through the form once the app is idle and shows one form (a rerun can briefly leave a stale copy
    beside the new one). A submit that lands while the sign-in cookie component's own rerun starts can be
    swallowed (seen on a freshly started server): the form then stays, filled in and without a message, and it
    is submitted again."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    button = page.get_by_role("button", name="Sign in")
    for attempt in range(3):
        try:
            expect(button).to_have_count(1, timeout=30_000)
            settle(page)
            # Inside the sign-in form: a page being left (the Users page has a Username field too) may still
            # be on screen for a moment.
            form = page.locator('[data-testid="stForm"]').filter(has=button)
            expect(form.get_by_role("textbox", name="Username")).to_have_count(1, timeout=30_000)
            form.get_by_role("textbox", name="Username").fill(username, timeout=10_000)
            form.get_by_role("textbox", name="Password", exact=True).fill(
                password or f"{username}-demo", timeout=10_000
            )
            button.click(timeout=10_000)
        except (AssertionError, PlaywrightTimeout):  # a slow earlier submit may have signed in meanwhile
            if attempt and button.count() == 0:
                return
            raise
        except PlaywrightError as error:  # a stale copy of the form appeared between the count and the fill
            if "strict mode violation" not in str(error) or attempt == 2:
                raise
            continue
        try:
            expect(button).to_have_count(0, timeout=15_000)
            return
        except AssertionError:
            alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
            if any("not right" in text or "locked" in text or "disabled" in text for text in alerts):
                pytest.fail(f"signing in as {username} was refused: {alerts}")
    pytest.fail(f"the sign-in form never went away for {username}")


def pick_option(page: Any, combobox_name: str, text: str, *, exact: bool = False) -> None:
    """Open a Streamlit select by its label, type to filter, and click the one option containing `text`."""
    box = page.get_by_role("combobox", name=combobox_name, exact=exact)
    box.click()
    box.fill(text)
    option = page.get_by_role("option").filter(has_text=text)
    option.first.wait_for()
    assert option.count() == 1
    option.first.click()
    box.press("Escape")
    page.get_by_role("listbox").wait_for(state="hidden")


def pick_typed(page: Any, combobox_name: str, text: str) -> None:
    """Choose the one option containing `text` in a select with many options (so it filters as one types), and
    check that the select shows it: a rerun that redraws the select while it is open can swallow the click."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_role("combobox", name=combobox_name, exact=True)
    for _ in range(6):
        settle(page)
        if text in box.input_value():
            return
        try:
            box.click(timeout=5_000)
            box.fill(text)
            option = page.get_by_role("option").filter(has_text=text)
            option.first.wait_for(timeout=5_000)
            assert option.count() == 1
            option.first.click(timeout=3_000)
            page.get_by_role("listbox").wait_for(state="hidden", timeout=3_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    assert text in box.input_value()


def pick_in(form: Any, page: Any, combobox_name: str, text: str) -> None:
    """Choose `text` in the select labelled `combobox_name` inside `form` (other selects on the page share labels).
    These selects have few options, so Streamlit does not let one type to filter: click the option itself."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = form.get_by_role("combobox", name=combobox_name, exact=True)
    option = page.get_by_role("option", name=text, exact=True)
    for _ in range(8):
        settle(page)
        if box.input_value() == text:
            return
        try:
            box.click(timeout=5_000)
            option.click(timeout=3_000)
            page.get_by_role("listbox").wait_for(state="hidden", timeout=3_000)
        except PlaywrightTimeout:  # a rerun redrew the select while it was open: open it again
            page.keyboard.press("Escape")
    assert box.input_value() == text


def first_grid(page: Any, *, timeout: float = 60_000) -> Any:
    """The page's first dataframe once it is drawn. When it never comes, fail with what the page shows instead
    (an exception, a banner, a spinner still turning), so a failure in CI says why, not only that it timed out."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    grid = page.locator('[data-testid="stDataFrame"]').first
    try:
        grid.wait_for(timeout=timeout)
    except PlaywrightTimeout:
        shown = page.locator('[data-testid="stMain"]').inner_text(timeout=5_000)
        waited = f"{timeout / 1000:.0f} s"
        raise AssertionError(
            f"no table on {page.url} after {waited}; the page shows:\n{shown[:3000]}"
        ) from None
    return grid


def select_grid_row(grid: Any, index: int, shows: Any) -> None:
    """Tick row `index` of a Streamlit dataframe and wait until `shows` (what the selection brings up) is visible.
    The grid draws on a canvas, so its row-selection box has no role or label: click it by position (header and
    rows are 35 px high, the box is in the first 35 px). A click while the grid is still being drawn is lost: once
    the app is idle with nothing shown, click again (never sooner, which could untick a slow selection)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    row = 35
    for _ in range(3):
        settle(grid.page)
        grid.click(position={"x": row / 2, "y": row + index * row + row / 2})
        try:
            shows.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            settle(grid.page)
            if shows.is_visible():
                return
    shows.wait_for()


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


def ticket_status(server: Server, ticket_id: str) -> str:
    def query() -> str:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import Ticket

        with read_session() as session:
            return str(session.scalar(select(Ticket.status).where(Ticket.external_id == ticket_id)))

    return read(server, query)


def ticket_by_title(server: Server, title: str) -> list[tuple[str, str, str]]:
    """(ticket id, customer id, status) of every ticket with this title."""

    def query() -> list[tuple[str, str, str]]:
        from sqlalchemy import select

        from data_access.db import read_session
        from data_access.models import Customer, Ticket

        with read_session() as session:
            rows = session.execute(
                select(Ticket.external_id, Customer.external_id, Ticket.status)
                .join(Customer, Customer.id == Ticket.customer_id)
                .where(Ticket.title == title)
            ).all()
            return [(str(ticket), str(customer), str(status)) for ticket, customer, status in rows]

    return read(server, query)


def open_expander(page: Any, label: str, shows: str) -> None:
    """Open the expander `label` until the button `shows` inside it is visible: a click that lands while a rerun
    redraws the page can be lost, or toggle it shut again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    summary = page.locator('[data-testid="stExpander"] summary').filter(has_text=label).first
    button = page.get_by_role("button", name=shows, exact=True)
    for _ in range(5):
        settle(page)
        if button.count() and button.first.is_visible():
            return
        summary.click()
        try:
            button.first.wait_for(state="visible", timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    button.first.wait_for(state="visible")


TITLES = {
    "overview": "Overview",
    "receivables": "Receivables",
    "collections": "Collections",
    "suspensions": "Suspensions",
    "tickets": "Tickets",
    "escalations": "Escalations",
    "customers": "Customers",
    "microsoft-payables": "Microsoft payables",
    "margin": "Margin",
    "policies": "Policies",
    "import": "Import",
    "users": "Users",
    "audit-log": "Audit log",
}


VISIBLE_PAGES = {
    "admin": list(TITLES.values()),
    "usermgr": ["Policies", "Users"],
    "helpdesk": ["Overview", "Tickets", "Escalations", "Customers", "Policies"],
    "billing": [
        "Overview",
        "Receivables",
        "Collections",
        "Suspensions",
        "Tickets",
        "Escalations",
        "Customers",
        "Microsoft payables",
        "Margin",
        "Policies",
        "Import",
        "Audit log",
    ],
    "sales": ["Overview", "Receivables", "Tickets", "Customers", "Policies"],
}


# Where each demo user lands when signing in at the root (dashboard.py LANDING).
LANDING = {
    "admin": "Overview",
    "usermgr": "Users",
    "helpdesk": "Tickets",
    "billing": "Overview",
    "sales": "Customers",
}


def wait_for_session_cookie(page: Any) -> None:
    """The cookie is written by a browser component shortly after sign-in; a reload before that signs out."""
    for _ in range(100):
        if any(cookie["name"] == "billing_desk_session" for cookie in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    pytest.fail("the sign-in cookie was never set")


def wait_for_heading(page: Any, text: str) -> None:
    page.get_by_role("heading", name=text, exact=True).first.wait_for()


def navigation(page: Any) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return sorted(link.splitlines()[-1].strip() for link in links)
