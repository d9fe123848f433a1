"""Driving the Collections page under AppTest: open it, pick a row, fill a form, run."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.environment import ROOT

PAGE = "app_pages/collections.py"


def open_page(username: str = "billing") -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    app.switch_page(PAGE)
    return run(app)


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    assert [title.value for title in app.title] == ["Collections"]
    return app


def select_row(app: AppTest, row: int) -> AppTest:
    key = app.dataframe[0].key
    assert key is not None
    app.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return run(app)


def fill(app: AppTest, key: str, value: object) -> None:
    """Type or pick a value in a widget the way a user would, by its key."""
    for kind in ("text_input", "text_area", "selectbox", "button_group"):
        found = [w for w in getattr(app, kind) if w.key == key]
        if found:
            widget = found[0]
            if kind in ("text_input", "text_area"):
                widget.input(value)
            else:
                widget.set_value(value)
            return
    raise KeyError(key)
