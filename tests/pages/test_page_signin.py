"""Sign-in and navigation under AppTest: the real form, the user store on every run, role-filtered pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from data_access.auth import signin, users
from tests.support.actors import ADMIN, USERMGR
from tests.support.environment import ROOT


def dashboard() -> AppTest:
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.run()
    app.text_input[0].input(username)
    app.text_input[1].input(password)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def signed_in_as(username: str, roles: list[str]) -> AppTest:
    app = dashboard()
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.session_state["name"] = username
    app.session_state["roles"] = roles
    app.run()
    assert not app.exception, app.exception
    return app


def page_titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


def test_signed_out_shows_only_the_sign_in_form(sqlite_database: str) -> None:
    app = dashboard()
    app.run()
    assert page_titles(app) == ["Billing Desk"]
    assert [field.label for field in app.text_input] == ["Username", "Password"]
    # Nothing of a page: only the hidden preload of the first page's code (ui/signin.py load_page_code).
    assert [metric.label for metric in app.metric] == ["preload"] and len(app.dataframe) == 1


def test_the_real_form_signs_in_and_a_wrong_password_does_not(sqlite_database: str) -> None:
    app = sign_in(dashboard(), "usermgr", "wrong-password")
    assert "not right" in app.error[0].value
    assert page_titles(app) == ["Billing Desk"]
    app = sign_in(dashboard(), "usermgr", "usermgr-demo")
    assert page_titles(app) == ["Users"]  # a user-management admin starts on Users
    assert "Uma Usermgr" in app.sidebar.markdown[0].value


def test_five_failures_lock_the_username_even_for_the_right_password(sqlite_database: str) -> None:
    for _ in range(5):
        sign_in(dashboard(), "billing", "guess")
    app = sign_in(dashboard(), "billing", "billing-demo")
    assert "locked" in app.error[0].value
    assert page_titles(app) == ["Billing Desk"]


def test_a_user_disabled_meanwhile_is_signed_out_at_the_next_interaction(sqlite_database: str) -> None:
    app = signed_in_as("sales", ["Sales agent"])
    assert page_titles(app) == ["Customers"]  # a sales agent starts on Customers
    users.disable_user(USERMGR, "sales")
    app.run()
    assert page_titles(app) == ["Billing Desk"]
    assert "disabled" in app.info[0].value


def test_a_role_change_applies_at_the_next_interaction_whatever_the_session_says(
    sqlite_database: str,
) -> None:
    app = signed_in_as("sales", ["Global admin"])
    assert page_titles(app) == ["Customers"]  # the store's roles (Sales agent), not the session's
    assert app.sidebar.markdown[0].value.endswith("Sales agent")
    users.set_roles(USERMGR, "sales", ["User management admin"])
    app.run()
    assert page_titles(app) == ["Users"]


def test_sign_out(sqlite_database: str) -> None:
    app = signed_in_as("helpdesk", ["Helpdesk agent"])
    app.sidebar.button(key="signout").click().run()
    assert page_titles(app) == ["Billing Desk"]


def test_a_temporary_password_leads_to_the_change_password_page_only(sqlite_database: str) -> None:
    temporary = users.reset_password(USERMGR, "billing")
    app = sign_in(dashboard(), "billing", temporary)
    assert page_titles(app) == ["Change password"]
    app.text_input[0].input(temporary)
    app.text_input[1].input("correct horse battery")
    app.text_input[2].input("correct horse battery")
    app.button[0].click().run()
    assert page_titles(app) == ["Overview"]


def end_sessions_by_disabling_and_enabling(username: str) -> None:
    users.disable_user(ADMIN, username)
    users.enable_user(ADMIN, username)


@pytest.mark.parametrize(
    "end_sessions",
    [
        pytest.param(signin.record_sign_out, id="sign-out-elsewhere"),
        pytest.param(lambda username: users.reset_password(ADMIN, username), id="password-reset"),
        pytest.param(end_sessions_by_disabling_and_enabling, id="disabled-then-enabled"),
    ],
)
def test_a_session_that_keeps_clicking_is_signed_out_at_its_next_interaction(
    sqlite_database: str, end_sessions: Callable[[str], object]
) -> None:
    app = sign_in(dashboard(), "sales", "sales-demo")
    for _ in range(3):
        app.run()
        assert page_titles(app) == ["Customers"]
    end_sessions("sales")
    app.run()
    assert page_titles(app) == ["Billing Desk"]
    assert "You were signed out" in app.info[0].value
    app.run()
    assert page_titles(app) == ["Billing Desk"]


def test_changing_ones_password_keeps_this_session_and_ends_the_others(sqlite_database: str) -> None:
    temporary = users.reset_password(USERMGR, "billing")
    here, elsewhere = sign_in(dashboard(), "billing", temporary), sign_in(dashboard(), "billing", temporary)
    assert page_titles(here) == page_titles(elsewhere) == ["Change password"]
    here.text_input[0].input(temporary)
    here.text_input[1].input("correct horse battery")
    here.text_input[2].input("correct horse battery")
    here.button[0].click().run()
    assert page_titles(here) == ["Overview"]
    elsewhere.run()
    assert page_titles(elsewhere) == ["Billing Desk"]
    here.run()
    assert page_titles(here) == ["Overview"]


def test_production_refuses_to_start_while_demo_passwords_work(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_ENV", "production")
    app = dashboard()
    app.run()
    assert "Demo passwords still work" in app.error[0].value
    assert "BILLING_DESK_COOKIE_KEY" not in app.error[0].value
    assert not app.text_input


def test_production_refuses_to_start_without_a_shared_cookie_key(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_ENV", "production")
    monkeypatch.delenv("BILLING_DESK_COOKIE_KEY")
    app = dashboard()
    app.run()
    assert "BILLING_DESK_COOKIE_KEY is not set" in app.error[0].value
    assert not app.text_input
