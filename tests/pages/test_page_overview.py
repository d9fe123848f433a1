"""The overview page under AppTest: its figures reconcile with the rows written, and it is role-aware."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from data_access import clock
from tests.support import factories
from tests.support.environment import ROOT


def run_dashboard(username: str = "billing") -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    assert not app.exception, app.exception
    return app


def test_an_empty_database_says_what_to_do_next(sqlite_database: str) -> None:
    app = run_dashboard()
    assert any("No receivables yet" in info.value for info in app.info)


def test_headline_figures_equal_the_open_invoices(sqlite_database: str) -> None:
    today = clock.today()
    factories.customer("C-1")
    factories.customer("C-2", currency="EUR")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=120), cents=150_000)
    factories.invoice("C-1", "I-2", issued=today - timedelta(days=5), cents=50_025)
    factories.invoice("C-2", "I-3", issued=today - timedelta(days=90), cents=999_999)
    app = run_dashboard()
    metrics = {metric.label: metric.value for metric in app.metric}
    # Receivables 2,000.25 USD; invoiced in the 90 days before today: only I-2 (500.25) -> DSO 2000.25/500.25*90.
    assert metrics["Total receivables (USD)"] == "2,000.25"
    assert metrics["Overdue (USD)"] == "1,500.00"
    assert metrics["Overdue share"] == "75.0%"
    assert metrics["Days sales outstanding"] == "359.9 days"
    assert metrics["Collected this month (USD)"] == "0.00"
    assert len(app.get("plotly_chart")) >= 2


def test_a_helpdesk_agent_sees_ticket_figures_but_no_receivables(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=90), cents=150_000)
    app = run_dashboard("helpdesk")
    labels = [metric.label for metric in app.metric]
    assert labels == ["Open tickets", "Tickets breaching SLA", "Open escalations"]
    assert not any("receivables" in str(chart.proto.spec).lower() for chart in app.get("plotly_chart"))


def test_the_overview_shows_the_sla_attainment_trend_from_the_ticket_report(sqlite_database: str) -> None:
    from data_access.demo import seed_demo
    from data_access.permissions import Actor
    from data_access.queries.tickets import tickets_report

    seed_demo(customers=20, seed=5)
    app = run_dashboard("helpdesk")
    charts = [chart for chart in app.get("plotly_chart") if "SLA attainment" in str(chart.proto.spec)]
    assert len(charts) == 1
    today = clock.today()
    report = tickets_report(Actor.of("h", ["Helpdesk agent"]), start=today - timedelta(weeks=12), end=today)
    met = report.first_response_sla_met.dropna()
    assert not met.empty and str(round(float(met.iloc[-1]), 4))[:5] in str(charts[0].proto.spec)
