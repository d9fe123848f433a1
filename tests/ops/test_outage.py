"""The database going away, on a private PostgreSQL server the tests stop and start (never the shared one): a
clear banner instead of a traceback, at start and mid-session, and the page back on the next run once the server
answers; a query that runs too long is stopped with its own message."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from data_access import clock, db
from data_access.migrate import upgrade
from tests.support import factories
from tests.support.environment import ROOT
from tests.support.pages import signed_in
from tests.support.pg_cluster import (
    PrivateCluster,
    private_cluster_fixture,  # noqa: F401  (fixture)
)

UNREACHABLE = "The billing database cannot be reached right now."


@pytest.fixture
def private_database(private_cluster: PrivateCluster, monkeypatch: Any) -> Iterator[PrivateCluster]:
    private_cluster.ensure_running()
    url = private_cluster.create_database(f"billing_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    db.dispose_engines()
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=50), cents=123_456)
    yield private_cluster
    private_cluster.ensure_running()
    db.dispose_engines()


def banner(app: AppTest) -> list[str]:
    return [error.value for error in app.error if UNREACHABLE in error.value]


def test_unreachable_at_start_shows_a_banner_and_the_app_comes_back_when_it_answers(
    private_database: PrivateCluster,
) -> None:
    private_database.stop()
    db.dispose_engines()  # a server that starts while the database is down has no connections yet
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    assert banner(app), [e.value for e in app.error]
    assert "nothing you entered was half-saved" in banner(app)[0].lower()
    assert not app.button or all(button.label != "Sign in" for button in app.button)

    private_database.start()
    app.run()
    assert not app.exception, app.exception
    assert not banner(app)
    assert any(button.label == "Sign in" for button in app.button)


def test_pulled_away_mid_session_then_back_the_page_recovers_with_pooled_connections(
    private_database: PrivateCluster,
) -> None:
    app = signed_in("billing")
    assert any(metric.label == "Total receivables (USD)" for metric in app.metric)

    private_database.stop("immediate")  # every pooled connection dies with it
    app.run()
    assert not app.exception, app.exception
    assert banner(app)

    private_database.start()
    app.run()  # the pool's pre-ping replaces the dead connections: no error page, no restart
    assert not app.exception, app.exception
    assert not banner(app)
    total = next(metric.value for metric in app.metric if metric.label == "Total receivables (USD)")
    assert total == "1,234.56"


def test_a_query_over_the_statement_timeout_is_stopped_with_a_message(
    private_database: PrivateCluster, monkeypatch: Any
) -> None:
    monkeypatch.setenv("BILLING_DESK_STATEMENT_TIMEOUT", "1")
    db.dispose_engines()
    with private_database.connect(dbname=make_url(os.environ["DATABASE_URL"]).database or "") as blocker:
        # Another transaction holds the invoices table: the aging query waits for it past the timeout.
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE")
        app = signed_in("billing")
        blocker.execute("ROLLBACK")
    assert not app.exception, app.exception
    warnings = [warning.value for warning in app.warning]
    assert any("took longer than 1 s, so it was stopped" in text for text in warnings), warnings
    app.run()  # the lock is gone: the same page draws
    assert any(metric.label == "Total receivables (USD)" for metric in app.metric)
