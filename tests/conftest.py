"""One `database` fixture, run on SQLite and (given TEST_DATABASE_URL) PostgreSQL: fresh, migrated, empty.

The schema is migrated once per session: SQLite tests copy a migrated template file, PostgreSQL tests share the
throwaway database that TEST_DATABASE_URL names (CI creates and drops it) and empty it between tests.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from hypothesis import settings
from sqlalchemy import create_engine, text

from data_access.db import dispose_engines, set_read_floor
from data_access.migrate import upgrade
from tests.support.databases import empty_all_tables
from tests.support.environment import IN_CI, MAX_EXAMPLES, POSTGRES_HINT, ROOT, TEST_DATABASE_URL

settings.register_profile("billing-desk", deadline=None, max_examples=MAX_EXAMPLES, derandomize=IN_CI)
settings.load_profile("billing-desk")


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not TEST_DATABASE_URL:
        raise pytest.UsageError(f"CI=true but TEST_DATABASE_URL is unset: {POSTGRES_HINT}")


@pytest.fixture(autouse=True)
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own copy of the demo user store, never the repository's auth.yaml."""
    path = tmp_path / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", path)
    monkeypatch.setenv("BILLING_DESK_AUTH_FILE", str(path))
    monkeypatch.setenv("BILLING_DESK_COOKIE_KEY", "test-cookie-key-" + "0" * 32)
    monkeypatch.setenv("BILLING_DESK_LOGIN_DELAY", "0")
    monkeypatch.delenv("BILLING_DESK_ENV", raising=False)
    # E-mail: no SMTP server unless a test starts one, and .eml files in the test's own folder, never var/outbox.
    monkeypatch.setenv("BILLING_DESK_OUTBOX_DIR", str(tmp_path / "outbox"))
    for name in ("BILLING_DESK_SMTP_URL", "BILLING_DESK_MAIL_FROM", "BILLING_DESK_IMAP_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(autouse=True)
def keep_main_module() -> Iterator[None]:
    """AppTest leaves its script as sys.modules["__main__"]; a process started with "spawn" afterwards would run
    that script (gone by then) as its main module and die, so every test gets pytest's own back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> None:
    """st.cache_data and st.cache_resource outlive an AppTest: every test starts with them empty."""
    st.cache_data.clear()
    st.cache_resource.clear()
    set_read_floor(0)  # what an earlier test wrote says nothing about this test's database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        pytest.skip(POSTGRES_HINT)
    engine = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(TEST_DATABASE_URL)
    dispose_engines()
    yield TEST_DATABASE_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "billing.sqlite3"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    dispose_engines()
    if request.param == "postgresql":
        empty_all_tables()
    yield url
    dispose_engines()


@pytest.fixture
def sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path) -> Iterator[str]:
    """SQLite only: for tests that run many small examples (hypothesis) where one backend is enough."""
    path = tmp_path / "billing.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    dispose_engines()
    yield url
    dispose_engines()
