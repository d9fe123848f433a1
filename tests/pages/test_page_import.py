"""The Import page under AppTest: check first, then import; a bad file shows its lines and writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from data_access.audit import DataImported, parse_event
from data_access.db import read_session
from data_access.models import AuditEvent, Customer
from tests.support.environment import ROOT


def customers() -> int:
    with read_session() as session:
        return int(session.scalar(select(func.count()).select_from(Customer)) or 0)


def import_page(username: str = "billing") -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    app.switch_page("app_pages/import_data.py")
    app.run()
    assert not app.exception, app.exception
    return app


def test_without_a_file_the_page_says_what_to_do(sqlite_database: str) -> None:
    app = import_page()
    assert [t.value for t in app.title] == ["Import"]
    assert "Choose a CSV file" in app.info[0].value


def test_an_uploaded_file_is_imported_and_audited_under_its_own_name(sqlite_database: str) -> None:
    app = import_page()
    app.selectbox(key="import_kind").set_value("customers")
    app.file_uploader(key="import_file").upload(
        "acme-customers-2026-11.csv",
        b"customer_id,name,currency\nCUST-90001,Acme Traders Ltd,USD\nCUST-90002,Birch & Co,GBP\n",
        "text/csv",
    )
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    app.button(key="import_go").click().run()
    assert not app.exception, app.exception
    assert any("2 were added" in s.value for s in app.success), [s.value for s in app.success]
    assert customers() == 2

    with read_session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.permission == "data.import")).all()
    assert len(events) == 1
    event = parse_event(events[0].permission, events[0].details)
    assert isinstance(event, DataImported)
    assert event.file == "acme-customers-2026-11.csv"
    assert (event.rows, event.added) == (2, 2)
    assert events[0].actor == "billing"
    assert events[0].target == "import:customers"
