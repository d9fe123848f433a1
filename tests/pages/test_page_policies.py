"""The policies page under AppTest: every role sees it, only billing and global admins get the edit form, an
invalid edit shows sentences and saves nothing, and an empty database shows the empty state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from data_access.demo import seed_demo
from data_access.queries.policies import current_policy, support_offering
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.environment import ROOT

PAGE = "app_pages/policies.py"


@pytest.fixture
def demo(database: str) -> str:
    seed_demo(customers=5, seed=3)
    return database


def open_page(username: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = username
    app.run()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception, app.exception
    assert [title.value for title in app.title] == ["Policies"]
    return app


def markdown(app: AppTest) -> str:
    return "\n".join(str(m.value) for m in app.markdown)


@pytest.mark.parametrize("username", ["admin", "usermgr", "helpdesk", "billing", "sales"])
def test_every_role_sees_the_policy_the_statement_and_the_support_offering(demo: str, username: str) -> None:
    app = open_page(username)
    assert [tab.label for tab in app.tabs] == ["Collections policy", "Support offering", "Partner profile"]
    shown = markdown(app)
    assert "collections statement" in shown
    assert "Partner support for Microsoft cloud customers" in str([s.value for s in app.subheader])
    assert "Final notice" in app.dataframe[0].value.name.tolist()


@pytest.mark.parametrize(("username", "edits"), [("billing", True), ("admin", True), ("sales", False),
                                                 ("helpdesk", False)])  # fmt: skip
def test_only_editors_get_the_edit_form(demo: str, username: str, edits: bool) -> None:
    app = open_page(username)
    assert ("policies_save" in [b.key for b in app.button]) is edits
    assert ("policies_minimum_" in " ".join(str(n.key) for n in app.number_input)) is edits
    assert ("Save support offering" in [b.label for b in app.button]) is edits


def test_an_invalid_edit_shows_sentences_and_saves_nothing(demo: str) -> None:
    before = current_policy(BILLING)
    app = open_page("billing")
    [grace] = [n for n in app.number_input if str(n.key).startswith("policies_grace_")]
    grace.set_value(-3)
    app.button(key="policies_save").click().run()
    assert not app.exception, app.exception
    assert any("grace days before suspension cannot be negative" in e.value for e in app.error)
    assert current_policy(BILLING) == before


def test_a_valid_edit_is_saved(demo: str) -> None:
    app = open_page("billing")
    [grace] = [n for n in app.number_input if str(n.key).startswith("policies_grace_")]
    grace.set_value(9)
    app.button(key="policies_save").click().run()
    assert not app.exception, app.exception
    saved = current_policy(BILLING)
    assert saved is not None and saved.policy.grace_days_before_suspension == 9
    assert [s.value for s in app.success] == ["Policy saved."]
    assert not app.error


def test_empty_state_for_viewers_and_editors(database: str) -> None:
    sales = open_page("sales")
    assert any("No collections policy yet" in i.value and "billing admin" in i.value for i in sales.info)
    assert "policies_save" not in [b.key for b in sales.button]
    billing = open_page("billing")
    assert any("Set one up below" in i.value for i in billing.info)
    assert "policies_save" in [b.key for b in billing.button]
    assert any("No support offering yet" in i.value for i in billing.info)


def test_a_saved_minimum_shows_in_the_statement(database: str) -> None:
    from data_access.rules.policy import Stage

    factories.saved_policy([Stage("Nudge", 3, "reminder", "Please pay.")], minimum_overdue=Decimal("25.50"))
    app = open_page("helpdesk")
    shown = markdown(app)
    assert "3 days past due" in shown and "25.50" in shown


def support_input(app: AppTest, prefix: str) -> Any:
    [found] = [t for t in [*app.text_input, *app.text_area] if str(t.key).startswith(prefix)]
    return found


def test_a_valid_support_offering_is_saved_whole(demo: str) -> None:
    before = support_offering(BILLING)
    assert before is not None and before.holidays and before.pricing_rates
    app = open_page("billing")
    support_input(app, "policies_support_name_").set_value("Contoso support desk")
    support_input(app, "policies_support_zone_").set_value("Europe/London")
    app.button(key="policies_support_save").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert [s.value for s in app.success] == ["Support offering saved."]
    saved = support_offering(BILLING)
    assert saved is not None
    assert (saved.name, saved.time_zone) == ("Contoso support desk", "Europe/London")
    # What the form did not touch comes back as it was: holidays, contacts, targets, entitlements and exact prices.
    assert (saved.holidays, saved.contact_methods, saved.targets) == (
        before.holidays,
        before.contact_methods,
        before.targets,
    )
    assert (saved.entitlements, saved.pricing_rates, saved.business_hours) == (
        before.entitlements,
        before.pricing_rates,
        before.business_hours,
    )
    assert "Contoso support desk" in str([s.value for s in app.subheader])


@pytest.mark.parametrize(
    ("prefix", "value", "sentence"),
    [
        ("policies_support_zone_", "Mars/Olympus", "The time zone 'Mars/Olympus' is not known"),
        ("policies_support_zone_", "America", "The time zone 'America' is not known"),
        ("policies_support_zone_", "localtime", "The time zone 'localtime' is not known"),
        ("policies_support_name_", "Contoso\u202esupport", "control characters (U+202E)"),
        ("policies_support_name_", "   ", "The offering's name is empty"),
    ],
)
def test_a_bad_support_offering_is_refused_with_a_sentence(
    demo: str, prefix: str, value: str, sentence: str
) -> None:
    before = support_offering(BILLING)
    app = open_page("admin")
    support_input(app, prefix).set_value(value)
    app.button(key="policies_support_save").click().run()
    assert not app.exception, app.exception
    assert any(sentence in e.value for e in app.error), [e.value for e in app.error]
    assert not app.success
    assert support_offering(BILLING) == before


@pytest.mark.parametrize("username", ["sales", "helpdesk"])
def test_sales_and_helpdesk_read_the_offering_without_a_form(demo: str, username: str) -> None:
    app = open_page(username)
    keys = " ".join(str(w.key) for w in [*app.text_input, *app.text_area, *app.button])
    assert "policies_support_" not in keys
    assert any("USD 150.00" in str(frame.value.to_dict()) for frame in app.dataframe)
