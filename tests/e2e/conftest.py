"""A real `streamlit run` server on a free loopback port, over a seeded SQLite copy, and Debian's chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.environment import IN_CI, ROOT
from tests.support.servers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, running_server, seed_demo


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (.ci/run installs it).")
        pytest.skip("Browser tests need Debian's chromium: apt-get install chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("Browser tests need playwright: make test installs it")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[Server]:
    """A freshly started server with demo data and its own copy of the demo users."""
    folder = tmp_path_factory.mktemp("server")
    database_url = f"sqlite:///{folder / 'billing.sqlite3'}"
    auth_file = folder / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    seed_demo(database_url, auth_file)
    with running_server(folder, database_url, auth_file) as started:
        yield started


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) per test; a screenshot is kept as a test artifact."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
