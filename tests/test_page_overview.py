"""The overview page under Streamlit's AppTest: its figures reconcile with the rows written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data_access import clock
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def run_dashboard(username: str = "billing") -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    assert not app.exception, app.exception
    return app


def test_an_empty_database_says_what_to_do_next(sqlite_database: str) -> None:
    app = run_dashboard()
    assert "No open receivables yet" in app.info[0].value


def test_headline_figures_equal_the_open_invoices(sqlite_database: str) -> None:
    today = clock.today()
    factories.customer("C-1")
    factories.customer("C-2", currency="EUR")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=90), cents=150_000)
    factories.invoice("C-1", "I-2", issued=today - timedelta(days=5), cents=50_025)
    factories.invoice("C-2", "I-3", issued=today - timedelta(days=90), cents=999_999)
    app = run_dashboard()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics == {
        "Total receivables": "USD 2,000.25",
        "Overdue": "USD 1,500.00",
        "Overdue share": "75.0%",
    }
    assert app.get("plotly_chart")


def test_a_helpdesk_agent_sees_no_receivables_figures(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=90), cents=150_000)
    app = run_dashboard("helpdesk")
    assert [title.value for title in app.title] == ["Overview"]
    assert not app.metric and not app.get("plotly_chart")
