"""Page tests: the real dashboard.py under AppTest, with a signed-in user injected (the short path DESIGN.md
describes; tests/test_page_signin.py goes through the real form)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.environment import ROOT


def signed_in(username: str, **state: object) -> AppTest:
    """The dashboard after one run as `username` (with any other session `state` given), on the first page their
    roles allow."""
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


def open_page(page: str, username: str) -> AppTest:
    """The dashboard switched to `page` (e.g. "app_pages/receivables.py") as `username`."""
    app = signed_in(username)
    app.switch_page(page)
    app.run()
    assert not app.exception, app.exception
    return app
