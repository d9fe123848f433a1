"""Every page URL keeps its page (issue 14, item 1), with the settings a user gets from `make run`: this server does
not set BILLING_DESK_LOGIN_DELAY at all (server_env sets it to 0 for the other browser tests), so the default
sign-in delay (0.7 s) applies. Before the fix, with that delay, every reload, new tab, typed URL and anonymous
deep link landed on the Overview. Also: each role starts on its own page, and no request leaves the machine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.helpers import TITLES, screenshots, settle, sign_in, wait_for_session_cookie
from tests.support.environment import ROOT
from tests.support.servers import CHROMIUM_ARGS, Server, running_server, seed_demo

shot = screenshots("deep-links")

# (user, a page of theirs that is not where they start, another one)
JOURNEYS = [
    ("billing", "receivables", "collections"),
    ("billing", "audit-log", "import"),
    ("helpdesk", "escalations", "customers"),
    ("sales", "receivables", "tickets"),
    ("usermgr", "policies", "users"),
]
# Where each demo user starts (the root, "/").
LANDING = {"admin": "Overview", "billing": "Overview", "helpdesk": "Tickets", "sales": "Customers",
           "usermgr": "Users"}  # fmt: skip


@pytest.fixture(scope="module")
def user_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[Server]:
    """A demo server with the user's default settings: no BILLING_DESK_LOGIN_DELAY in its environment."""
    folder = tmp_path_factory.mktemp("deep_links")
    database_url, auth_file = f"sqlite:///{folder / 'billing.sqlite3'}", folder / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    seed_demo(database_url, auth_file)
    with running_server(folder, database_url, auth_file, unset=("BILLING_DESK_LOGIN_DELAY",)) as started:
        yield started


@pytest.fixture(scope="module")
def chromium(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def lands_on(page: Any, path: str) -> None:
    """The page settles on `path` with its own heading, and stays there past the sign-in delay and the cookie
    component's first report (which used to rerun the app onto the default page)."""
    from playwright.sync_api import expect

    expect(page.locator("h1").first).to_have_text(TITLES[path], timeout=30_000)
    settle(page)
    page.wait_for_timeout(1500)
    settle(page)
    assert urlparse(page.url).path.rstrip("/") == f"/{path}", page.url
    expect(page.locator("h1").first).to_have_text(TITLES[path])


@pytest.mark.parametrize(("user", "first", "second"), JOURNEYS)
def test_deep_link_sign_in_reload_typed_url_and_new_tab_keep_their_page(
    user_server: Server, chromium: Any, user: str, first: str, second: str
) -> None:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{user_server.url}/{first}")  # an anonymous deep link: the sign-in form, on that URL
        page.get_by_role("button", name="Sign in").wait_for()
        settle(page)
        page.wait_for_timeout(1500)
        assert urlparse(page.url).path.rstrip("/") == f"/{first}", page.url
        sign_in(page, user)
        lands_on(page, first)
        wait_for_session_cookie(page)
        page.reload()  # a reload while signed in
        lands_on(page, first)
        page.goto(f"{user_server.url}/{second}")  # a typed URL or a bookmark
        lands_on(page, second)
        tab = context.new_page()  # a new tab: the cookie signs it in
        tab.goto(f"{user_server.url}/{first}")
        lands_on(tab, first)
        shot(tab, f"{user}-{first}-new-tab")
    finally:
        context.close()


@pytest.mark.parametrize("user", sorted(LANDING))
def test_each_role_starts_on_its_page_and_nothing_leaves_the_machine(
    user_server: Server, chromium: Any, user: str
) -> None:
    """Signing in at the root lands on the role's page; every request of the sign-in and of a visit to each of the
    user's pages goes to 127.0.0.1 (no icon font, no analytics, nothing fetched from the internet)."""
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    outside: list[str] = []
    context.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlparse(request.url).hostname not in {"127.0.0.1", None}
            and not request.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(user_server.url)
        sign_in(page, user)
        expect(page.locator("h1").first).to_have_text(LANDING[user], timeout=30_000)
        settle(page)
        links = page.locator('[data-testid="stSidebarNav"] a')
        hrefs = [links.nth(index).get_attribute("href") for index in range(links.count())]
        for href in hrefs:
            assert href
            page.goto(href if href.startswith("http") else f"{user_server.url}/{href.lstrip('/')}")
            page.locator("h1").first.wait_for()
            settle(page)
        page.wait_for_timeout(500)
        shot(page, f"{user}-last-page")
    finally:
        context.close()
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
