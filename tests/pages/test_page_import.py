"""The Import page under AppTest: check first, then import; a bad file shows its lines and writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from data_access.db import read_session
from data_access.models import Customer
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
