"""Ending sessions in real browsers: a sign-out, a password reset or change and a disable end every session of
the user signed in before them, in every browser, including one that keeps clicking (its cookie is re-emitted on
every run), and no cookie saved before them signs anyone in again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from tests.e2e.helpers import LANDING, screenshots, settle, sign_in
from tests.support.environment import ROOT
from tests.support.servers import Server, server_env

pytestmark = pytest.mark.browser

COOKIE = "billing_desk_session"
COOKIE_KEY = server_env("", ROOT, 0)["BILLING_DESK_COOKIE_KEY"]
shot = screenshots("revocation")


@contextmanager
def browser_tab(browser: Any, name: str, cookie: dict[str, Any] | None = None) -> Iterator[Any]:
    """A tab in a browser of its own (a fresh context), holding `cookie` if given."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if cookie is not None:
        context.add_cookies([cookie])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        shot(page, name)
        context.close()


def cli(server: Server, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "data_access", *args], cwd=ROOT, env=server_env(server.database_url, server.auth_file, 0),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def session_cookie(page: Any, signed_in_since: datetime | None = None) -> dict[str, Any]:
    """The browser's sign-in cookie once the app has written it (after the run that asked for it), and, given
    `signed_in_since`, once it carries a sign-in made at or after that time."""
    for _ in range(200):
        for cookie in page.context.cookies():
            if cookie["name"] != COOKIE:
                continue
            try:
                claims = jwt.decode(cookie["value"], COOKIE_KEY, algorithms=["HS256"])
            except jwt.InvalidTokenError:
                continue
            signed_in = claims.get("signed_in_at")
            if signed_in_since is None or (
                signed_in and datetime.fromisoformat(signed_in) >= signed_in_since
            ):
                return cookie  # type: ignore[no-any-return]
        page.wait_for_timeout(100)
    pytest.fail("the browser never got the sign-in cookie it was waiting for")


def shows(page: Any, heading: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(1)


def shows_sign_in_form(page: Any) -> None:
    """Signed out: the sign-in form and nothing of the user's (waits out the run a click or a load started)."""
    from playwright.sync_api import expect

    settle(page)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(1, timeout=30_000)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0, timeout=15_000)
    settle(page)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def go_to(page: Any, title: str) -> None:
    """Click a page in the navigation: one more run of this session, which re-emits its cookie."""
    settle(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()


def replay(browser: Any, server: Server, cookie: dict[str, Any], name: str, *, signs_in: bool) -> None:
    """Open the app in a fresh browser holding only `cookie` (a sales agent's, where it still signs in)."""
    with browser_tab(browser, name, cookie) as page:
        page.goto(server.url)
        if signs_in:
            shows(page, LANDING["sales"])
        else:
            shows_sign_in_form(page)


def test_signing_out_ends_the_users_sessions_in_every_browser(server: Server, browser: Any) -> None:
    with browser_tab(browser, "signout-a") as a, browser_tab(browser, "signout-b") as b:
        a.goto(server.url)
        sign_in(a, "sales")
        shows(a, LANDING["sales"])
        cookie_of_a = session_cookie(a)
        b.goto(server.url)
        sign_in(b, "sales")
        shows(b, LANDING["sales"])
        replay(browser, server, cookie_of_a, "signout-replay-before", signs_in=True)
        for title in ("Customers", "Tickets"):
            go_to(b, title)
            shows(b, title)
        cookie_of_b = session_cookie(b)

        a.locator('[data-testid="stSidebarUserContent"]').get_by_role("button", name="Sign out").click()
        shows_sign_in_form(a)
        go_to(b, "Overview")
        shows_sign_in_form(b)
        assert "You were signed out" in b.locator('[data-testid="stAlert"]').first.inner_text()
        replay(browser, server, cookie_of_a, "signout-replay-a", signs_in=False)
        replay(browser, server, cookie_of_b, "signout-replay-b", signs_in=False)
        for page in (a, b):
            if cookies := [c for c in page.context.cookies() if c["name"] == COOKIE]:
                replay(browser, server, cookies[0], "signout-replay-latest", signs_in=False)

        again = datetime.now(UTC)
        sign_in(a, "sales")
        shows(a, LANDING["sales"])
        replay(browser, server, session_cookie(a, again), "signout-signed-in-again", signs_in=True)


def test_a_password_reset_or_change_and_a_disable_end_earlier_sessions_in_every_browser(
    server: Server, browser: Any
) -> None:
    with browser_tab(browser, "password-a") as a, browser_tab(browser, "password-b") as b:
        for page in (a, b):
            page.goto(server.url)
            sign_in(page, "helpdesk")
            shows(page, LANDING["helpdesk"])
        cookie_of_a = session_cookie(a)
        go_to(b, "Tickets")
        shows(b, "Tickets")

        temporary = cli(server, "users", "reset-password", "helpdesk").rsplit(":", 1)[1].strip()
        go_to(b, "Customers")
        shows_sign_in_form(b)
        replay(browser, server, cookie_of_a, "password-replay-before-reset", signs_in=False)
        go_to(a, "Escalations")
        shows_sign_in_form(a)

        for page in (a, b):
            sign_in(page, "helpdesk", temporary)
            shows(page, "Change password")
        cookie_of_b = session_cookie(b)
        changed = datetime.now(UTC)
        a.get_by_role("textbox", name="Current password", exact=True).fill(temporary)
        a.get_by_role("textbox", name="New password (at least 12 characters)", exact=True).fill(
            "helpdesk-new-pass"
        )
        a.get_by_role("textbox", name="New password again", exact=True).fill("helpdesk-new-pass")
        a.get_by_role("button", name="Change password").click()
        shows(a, LANDING["helpdesk"])
        b.get_by_role("button", name="Change password").click()
        shows_sign_in_form(b)
        replay(browser, server, cookie_of_b, "password-replay-before-change", signs_in=False)
        cookie_of_a = session_cookie(a, signed_in_since=changed)
        a.reload()
        shows(a, LANDING["helpdesk"])

        cli(server, "users", "disable", "helpdesk")
        go_to(a, "Tickets")
        shows_sign_in_form(a)
        assert "disabled" in a.locator('[data-testid="stAlert"]').first.inner_text()
        replay(browser, server, cookie_of_a, "password-replay-disabled", signs_in=False)
        cli(server, "users", "enable", "helpdesk")
        replay(browser, server, cookie_of_a, "password-replay-enabled-again", signs_in=False)
