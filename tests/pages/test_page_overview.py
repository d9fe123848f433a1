"""The overview page under AppTest: its figures reconcile with the rows written, and it is role-aware."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from data_access import clock
from tests.support import factories
from tests.support.environment import ROOT


def run_dashboard(username: str = "billing") -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    app.switch_page("app_pages/overview.py")  # not every role starts on it
    app.run()
    assert not app.exception, app.exception
    return app


def charts(app: AppTest) -> list:  # type: ignore[type-arg]
    """The page's Vega-Lite charts (st.altair_chart)."""
    return [element for element in app.main if element.type == "vega_lite_chart"]


def chart_data(chart: object) -> pd.DataFrame:
    """The rows a chart draws: its datasets travel as Arrow IPC streams beside the spec."""
    frames = [pa.ipc.open_stream(named.data.data).read_pandas() for named in chart.proto.datasets]  # type: ignore[attr-defined]
    return pd.concat(frames, ignore_index=True)


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
    assert len(charts(app)) >= 2


def test_a_helpdesk_agent_sees_ticket_figures_but_no_receivables(sqlite_database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=90), cents=150_000)
    app = run_dashboard("helpdesk")
    labels = [metric.label for metric in app.metric]
    assert labels == ["Open tickets", "Tickets breaching SLA", "Open escalations"]
    assert not any("receivables" in str(chart.proto.spec).lower() for chart in charts(app))


def test_the_overview_shows_the_sla_attainment_trend_from_the_ticket_report(sqlite_database: str) -> None:
    from data_access.demo import seed_demo
    from data_access.permissions import Actor
    from data_access.queries.tickets import tickets_report

    seed_demo(customers=20, seed=5)
    app = run_dashboard("helpdesk")
    sla = [chart for chart in charts(app) if "SLA attainment" in str(chart.proto.spec)]
    assert len(sla) == 1
    today = clock.today()
    report = tickets_report(Actor.of("h", ["Helpdesk agent"]), start=today - timedelta(weeks=12), end=today)
    met = report.first_response_sla_met.dropna()
    drawn = chart_data(sla[0])
    drawn = drawn[drawn["clock"] == "first response"]
    assert not met.empty and round(float(drawn.share.iloc[-1]), 4) == round(float(met.iloc[-1]), 4)
    # The two SLA figures say what each counts.
    assert any("already past a due time" in caption.value for caption in app.caption)
    assert any(
        metric.label == "Tickets breaching SLA" and "open now" in (metric.help or "") for metric in app.metric
    )


def test_the_receivables_trend_ends_at_the_last_complete_month_and_marks_today(sqlite_database: str) -> None:
    today = clock.today()
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=400), cents=150_000)
    app = run_dashboard()
    [trend] = [chart for chart in charts(app) if "last 12 month ends" in str(chart.proto.spec)]
    drawn = chart_data(trend)
    month_ends = sorted(set(pd.to_datetime(drawn.month_end).dt.date))
    first_of_month = today.replace(day=1)
    complete = [end for end in month_ends if end < first_of_month]
    assert len(complete) == 12 and complete[-1] == first_of_month - timedelta(days=1)
    if (today + timedelta(days=1)).day != 1:  # today is shown apart, as the month to date
        assert set(drawn[pd.to_datetime(drawn.month_end).dt.date == today].point) == {"today (month to date)"}


def test_the_converted_totals_say_which_rates(sqlite_database: str, tmp_path: Path) -> None:
    from data_access.csv_import import import_csv
    from tests.support.actors import ADMIN

    today = clock.today()
    factories.customer("C-1")
    factories.customer("C-2", currency="EUR")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=120), cents=150_000)
    factories.invoice("C-1", "I-2", issued=today - timedelta(days=5), cents=50_000)
    factories.invoice("C-2", "I-3", issued=today - timedelta(days=90), cents=100_000)
    rates = tmp_path / "rates.csv"
    rates.write_text(f"rate_date,currency,rate\n{today - timedelta(days=3)},EUR,1.0825\n", encoding="utf-8")
    assert import_csv(ADMIN, "exchange-rates", rates).ok
    app = run_dashboard()
    metrics = {metric.label: metric.value for metric in app.metric}
    # USD 1,500.00 + 500.00 + EUR 1,000.00 x 1.0825 (1,082.50) = 3,082.50 USD; overdue: 1,500.00 + 1,082.50
    assert metrics["All receivables in USD"] == "3,082.50"
    assert metrics["All overdue in USD"] == "2,582.50"
    assert metrics["Total receivables (USD)"] == "2,000.00"
    said = f"In USD at the rates on or before {today.isoformat()} (EUR {today - timedelta(days=3)})."
    assert any(said in caption.value for caption in app.caption)


def test_a_missing_rate_is_said_on_the_overview(sqlite_database: str) -> None:
    today = clock.today()
    factories.customer("C-1")
    factories.customer("C-2", currency="EUR")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=120), cents=150_000)
    factories.invoice("C-2", "I-3", issued=today - timedelta(days=90), cents=100_000)
    app = run_dashboard()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["All receivables in USD"] == "no rate"
    assert any("no exchange rate on or before" in c.value and "EUR" in c.value for c in app.caption)
