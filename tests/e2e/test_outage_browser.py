"""The database pulled away under a running app, in a real browser, on a private PostgreSQL server the test stops
and starts: the page says so and comes back by itself when the server does; and one user's query stuck behind a
lock does not freeze another user's session on the same app server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import screenshots, settle, sign_in, wait_for_heading, wait_for_session_cookie
from tests.support.environment import ROOT
from tests.support.pg_cluster import (
    PrivateCluster,
    private_cluster_fixture,  # noqa: F401  (fixture)
)
from tests.support.servers import Server, running_server, seed_demo

pytestmark = pytest.mark.browser

shot = screenshots("outage")
BANNER = "The billing database cannot be reached right now."


@pytest.fixture(scope="module")
def app_on_private_server(
    private_cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[tuple[Server, PrivateCluster]]:
    name = f"billing_{uuid.uuid4().hex[:8]}"
    database_url = private_cluster.create_database(name)
    folder = tmp_path_factory.mktemp("outage")
    auth_file = folder / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    seed_demo(database_url, auth_file)
    with running_server(folder, database_url, auth_file, BILLING_DESK_STATEMENT_TIMEOUT="120") as server:
        yield server, private_cluster


def running_indicator(page: Any) -> Any:
    return page.locator('[data-testid="stStatusWidget"]')


def test_the_database_pulled_away_shows_a_banner_and_the_page_comes_back_by_itself(
    app_on_private_server: tuple[Server, PrivateCluster], page: Any
) -> None:
    server, cluster = app_on_private_server
    page.goto(f"{server.url}/overview")
    sign_in(page, "billing")
    wait_for_heading(page, "Overview")
    wait_for_session_cookie(page)
    settle(page)

    cluster.stop("immediate")
    try:
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Receivables").click()
        page.get_by_text(BANNER).first.wait_for(timeout=30_000)
        assert "Traceback" not in page.inner_text("body")
        shot(page, "1-database-down")
    finally:
        cluster.start()

    # No click, no reload: the banner's retry notices the server is back and the page draws again.
    page.get_by_text(BANNER).first.wait_for(state="hidden", timeout=45_000)
    wait_for_heading(page, "Receivables")
    settle(page)
    assert BANNER not in page.inner_text("body")
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    shot(page, "2-database-back")


def test_a_query_stuck_behind_a_lock_does_not_freeze_another_users_session(
    app_on_private_server: tuple[Server, PrivateCluster], browser: Any, page: Any
) -> None:
    server, cluster = app_on_private_server
    cluster.ensure_running()
    page.goto(f"{server.url}/tickets")
    sign_in(page, "billing")
    wait_for_heading(page, "Tickets")
    wait_for_session_cookie(page)
    settle(page)

    database = server.database_url.rsplit("/", 1)[1]
    with cluster.connect(dbname=database) as blocker:
        # The first test's reads of Receivables are cached for these versions (signing in changes nothing): a
        # committed change of every subject sends the page to the database again, where the lock waits for it.
        blocker.execute("UPDATE data_version SET version = version + 1")
        blocker.execute("UPDATE subject_versions SET version = (SELECT version FROM data_version)")
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE")
        try:
            # The billing admin opens Receivables: its aging query waits for the lock.
            page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Receivables").click()
            running_indicator(page).wait_for(state="visible")
            page.wait_for_timeout(1_000)
            assert running_indicator(page).is_visible()

            # Meanwhile a helpdesk agent signs in on the same server and works normally.
            other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                other = other_context.new_page()
                other.set_default_timeout(45_000)
                other.goto(f"{server.url}/tickets")
                sign_in(other, "helpdesk")
                wait_for_heading(other, "Tickets")
                settle(other)
                other.get_by_text("Open backlog").first.wait_for()
                shot(other, "3-other-session-works")
            finally:
                other_context.close()

            # The billing admin's page is still waiting: it was never given a wrong or partial answer.
            assert running_indicator(page).is_visible()
            assert page.locator('[data-testid="stDataFrame"]').count() == 0
            shot(page, "4-stuck-session-waits")
        finally:
            blocker.execute("ROLLBACK")

    # The lock is gone: the waiting page finishes by itself.
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    settle(page)
    assert "took longer than" not in page.inner_text("body")
    shot(page, "5-stuck-session-done")
