"""Every page for every demo role, in a real browser at 1440x900 on the demo data: each page the role's navigation
offers opens with its title, no exception box and no grey "None" in a visible table cell; a screenshot of each
(role, page) is kept in test-artifacts/every-page-<role>-<page>.png for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import (
    TITLES,
    VISIBLE_PAGES,
    navigation,
    screenshots,
    settle,
    sign_in,
    wait_for_heading,
)
from tests.support.servers import Server

pytestmark = pytest.mark.browser

SLUGS = {title: slug for slug, title in TITLES.items()}


@pytest.fixture
def window(browser: Any) -> Iterator[Any]:
    """A fresh context the size of the laptop screen the issue was checked on."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(45_000)
    yield tab
    context.close()


def problems_on(page: Any, title: str) -> list[str]:
    found = []
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        found.append(f"{title}: exception box: {exceptions.first.inner_text()[:300]}")
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
    if nones := [cell for cell in cells if cell.strip() == "None"]:
        found.append(f"{title}: {len(nones)} table cell(s) read None")
    return found


@pytest.mark.parametrize("username", sorted(VISIBLE_PAGES))
def test_every_page_a_role_can_open_shows_its_title_and_no_error(
    server: Server, window: Any, username: str
) -> None:
    shot = screenshots(f"every-page-{username}")
    window.goto(server.url)
    sign_in(window, username)
    settle(window)
    assert navigation(window) == sorted(VISIBLE_PAGES[username])
    problems: list[str] = []
    for title in VISIBLE_PAGES[username]:
        window.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
        wait_for_heading(window, title)
        settle(window)
        window.wait_for_timeout(500)  # the grids draw their cells after the run ends
        problems += problems_on(window, title)
        shot(window, SLUGS[title])
    assert not problems, problems
