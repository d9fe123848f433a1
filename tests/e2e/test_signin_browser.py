"""Sign-in and role-filtered navigation in a real browser against a real server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import (
    LANDING,
    TITLES,
    VISIBLE_PAGES,
    navigation,
    wait_for_heading,
    wait_for_session_cookie,
)
from tests.support.servers import Server

pytestmark = pytest.mark.browser

PAGE_PATHS = list(TITLES)


def sign_in(page: Any, username: str, password: str | None = None) -> None:
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password or f"{username}-demo")
    page.get_by_role("button", name="Sign in").click()


def test_anonymous_deep_links_on_a_fresh_server_show_only_the_sign_in_form(server: Server, page: Any) -> None:
    for path in ["", *PAGE_PATHS]:
        page.goto(f"{server.url}/{path}")
        page.get_by_role("button", name="Sign in").wait_for()
        page.wait_for_timeout(500)
        body = page.inner_text("body")
        assert (
            "Total receivables" not in body and "Add a user" not in body and "admin@example.com" not in body
        )
        # Visible ones: the sign-in page preloads the table code in a hidden, empty one.
        assert page.locator('[data-testid="stDataFrame"]:visible').count() == 0


@pytest.mark.parametrize("username", list(VISIBLE_PAGES))
def test_each_demo_user_sees_exactly_the_pages_the_table_allows(
    server: Server, page: Any, username: str
) -> None:
    page.goto(server.url)
    sign_in(page, username)
    expected = VISIBLE_PAGES[username]
    wait_for_heading(page, LANDING[username])
    wait_for_session_cookie(page)
    if len(expected) > 1:
        assert navigation(page) == sorted(expected)
    else:
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    for path in PAGE_PATHS:
        page.goto(f"{server.url}/{path}")
        heading = TITLES[path]
        page.locator('[data-testid="stSidebarUserContent"]').get_by_role("button", name="Sign out").wait_for()
        page.wait_for_timeout(800)
        titles = page.locator("h1").all_inner_texts()
        assert (heading in titles) == (heading in expected), (path, titles)


def test_a_sales_agent_typing_the_users_url_does_not_get_it(server: Server, page: Any) -> None:
    page.goto(server.url)
    sign_in(page, "sales")
    wait_for_heading(page, "Customers")
    wait_for_session_cookie(page)
    page.goto(f"{server.url}/users")
    wait_for_heading(page, "Customers")
    assert "Add a user" not in page.inner_text("body")


def test_sign_out_then_reload_stays_signed_out(server: Server, page: Any) -> None:
    page.goto(server.url)
    sign_in(page, "billing")
    wait_for_heading(page, "Overview")
    wait_for_session_cookie(page)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    page.reload()
    page.get_by_role("button", name="Sign in").wait_for()
    page.wait_for_timeout(1000)
    assert "Total receivables" not in page.inner_text("body")


def test_a_deep_link_opened_signed_out_lands_on_its_page_after_sign_in_and_reload(
    server: Server, page: Any
) -> None:
    page.goto(f"{server.url}/users")
    sign_in(page, "admin")
    wait_for_heading(page, "Users")
    assert page.url.endswith("/users")
    wait_for_session_cookie(page)
    page.reload()
    wait_for_heading(page, "Users")
    assert page.url.endswith("/users")


def test_five_wrong_passwords_lock_the_user(server: Server, page: Any) -> None:
    page.goto(server.url)
    for attempt in range(5):
        sign_in(page, "helpdesk", f"wrong-{attempt}")
        page.wait_for_timeout(1500)
        expected = "not right" if attempt < 4 else "locked"
        assert expected in page.locator('[data-testid="stAlert"]').last.inner_text()
    sign_in(page, "helpdesk")
    page.wait_for_timeout(1500)
    assert "locked" in page.locator('[data-testid="stAlert"]').last.inner_text()
    assert "Overview" not in page.locator("h1").all_inner_texts()
