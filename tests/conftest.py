"""One `database` fixture, run on SQLite and (given TEST_DATABASE_URL) PostgreSQL: fresh, migrated, empty.

The schema is migrated once per session: SQLite tests copy a migrated template file, PostgreSQL tests share the
throwaway database that TEST_DATABASE_URL names (CI creates and drops it) and empty it between tests.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data_access.db import dispose_engines, set_read_floor, transaction
from data_access.migrate import upgrade
from data_access.models import Base

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
POSTGRES_HINT = (
    "PostgreSQL tests need TEST_DATABASE_URL, e.g. "
    "createdb bd_test && TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bd_test make test"
)


# Every property test runs under this profile (DESIGN.md, tests on 2 cores): no deadline, at most 100 examples,
# derandomized in CI so a run there is repeatable; a test may ask for fewer, never more.
MAX_EXAMPLES = 100
settings.register_profile("billing-desk", deadline=None, max_examples=MAX_EXAMPLES, derandomize=IN_CI)
settings.load_profile("billing-desk")


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not TEST_DATABASE_URL:
        raise pytest.UsageError(f"CI=true but TEST_DATABASE_URL is unset: {POSTGRES_HINT}")


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own copy of the demo user store, never the repository's auth.yaml."""
    path = tmp_path / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", path)
    monkeypatch.setenv("BILLING_DESK_AUTH_FILE", str(path))
    monkeypatch.setenv("BILLING_DESK_COOKIE_KEY", "test-cookie-key-" + "0" * 32)
    monkeypatch.setenv("BILLING_DESK_LOGIN_DELAY", "0")
    monkeypatch.delenv("BILLING_DESK_ENV", raising=False)
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


def empty_all_tables() -> None:
    """Delete every row, children first, so a test (or a hypothesis example) starts from nothing."""
    with transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "data_version":  # the version only ever goes up (caches are keyed on it)
                session.execute(table.delete())


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


def postgres_server_url(database_url: str, name: str) -> str:
    """The same server as `database_url`, another database name."""
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)
