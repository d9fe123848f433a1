"""Text that users or files set reads literally on every page: a customer name, a ticket title, a note or a policy
stage written as Markdown reaches Streamlit escaped, so it makes no image, link, HTML, emphasis, colour or maths
(the real rendering is checked in a browser by tests/e2e/test_plain_text_browser.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.actions import collections as collections_actions
from data_access.actions import escalations as escalations_actions
from data_access.actions import tickets as tickets_actions
from data_access.documents.customer_statements import (
    collections_statement_html,
    collections_statement_markdown,
)
from data_access.documents.exports import plain
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.pages import open_page

TODAY = clock.today()
HOSTILE = "![x](http://127.0.0.1:9/t.png) **bold** <img src=x> [a](javascript:alert(1)) :red[x] $x$"
# The hostile text's own markup, unescaped: an image, emphasis, HTML, a link, a colour, maths, a bare URL.
MARKUP = re.compile(r"!\[x\]\(|\*\*bold\*\*|(?<!\\)<img|\[a\]\(|:red\[|\$x\$|http://")
WIDGETS = ("button", "text_input", "text_area", "selectbox", "multiselect", "radio", "toggle", "date_input")


def markdown_bodies(app: AppTest) -> list[str]:
    """Everything on the page that Streamlit renders as Markdown: texts, headings, messages and labels."""
    kinds = (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "success",
        "info",
        "warning",
        "error",
        "toast",
    )
    bodies = [str(element.value) for kind in kinds for element in getattr(app, kind)]
    bodies += [element.label for kind in ("metric", "tabs", "expander") for element in getattr(app, kind)]
    bodies += [widget.label for kind in WIDGETS for widget in getattr(app, kind)]
    return bodies + [link.proto.label for link in app.get("page_link")]


def assert_shown_literally(app: AppTest, text: str = HOSTILE) -> None:
    assert not app.exception, app.exception
    bodies = markdown_bodies(app)
    assert any(plain(text) in body for body in bodies), bodies
    unescaped = [body for body in bodies if MARKUP.search(body)]
    assert not unescaped, unescaped


def hostile_customer(customer_id: str = "C-X") -> str:
    factories.customer(customer_id, name=HOSTILE, account_manager="sales")
    factories.invoice(customer_id, f"{customer_id}-1", issued=TODAY - timedelta(days=75), cents=120_000)
    return customer_id


def test_plain_shows_markdown_literally() -> None:
    escaped = plain(HOSTILE)
    assert escaped.replace("\\", "").replace("\u2060", "") == HOSTILE
    assert not MARKUP.search(escaped)
    assert plain("Fabrikam Inc. (C-1)") == "Fabrikam Inc. (C-1)"
    assert plain("# Big\n- item\n1. one") == "\\# Big  \n\\- item  \n1\\. one"
    assert (
        plain("a@b.example www.b.example :smile:")
        == "a@\u2060b.example www\u2060.b.example :\u2060smile:\u2060"
    )


def test_the_customers_page_shows_a_hostile_name_and_note_as_text(database: str) -> None:
    customer_id = hostile_customer()
    collections_actions.add_note(BILLING, customer_id=customer_id, notes=f"{HOSTILE}\nsecond line")
    app = open_page("app_pages/customers.py", "billing")
    app.selectbox(key="customers_pick").set_value(customer_id).run()
    assert [header.value for header in app.header] == [plain(HOSTILE)]
    assert_shown_literally(app)
    # The note is in the recent activity table, whose cells are text, never Markdown.
    activity = next(frame.value for frame in app.dataframe if "Details" in frame.value.columns)
    assert f"{HOSTILE}\nsecond line" in list(activity["Details"])


def test_the_tickets_page_shows_a_hostile_title_and_customer_as_text(database: str) -> None:
    customer_id = hostile_customer()
    ticket_id = tickets_actions.create_ticket(
        BILLING, customer_id=customer_id, title=HOSTILE, description=HOSTILE, category="billing question",
        severity="moderate", channel="email",
    )  # fmt: skip
    app = open_page("app_pages/tickets.py", "billing")
    app.selectbox(key="tickets_picked").set_value(ticket_id).run()
    assert_shown_literally(app)
    assert [text.value for text in app.text] == [HOSTILE]


def test_the_escalations_board_shows_a_hostile_customer_as_text(database: str) -> None:
    customer_id = hostile_customer()
    ticket_id = tickets_actions.create_ticket(
        BILLING, customer_id=customer_id, title="Charged twice", description="", category="billing question",
        severity="moderate", channel="email",
    )  # fmt: skip
    escalations_actions.escalate(
        BILLING, ticket_id=ticket_id, kind="commercial", vehicle=None, case_number="MS-1", severity="moderate",
        now=datetime.now(UTC),
    )  # fmt: skip
    assert_shown_literally(open_page("app_pages/escalations.py", "billing"))


def test_the_collections_page_shows_a_hostile_customer_as_text(database: str) -> None:
    customer_id = hostile_customer()
    app = open_page("app_pages/collections.py", "billing")
    table = app.dataframe[0]
    assert table.key is not None and list(table.value.customer_id) == [customer_id]
    app.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert [s.value for s in app.subheader] == [plain(f"{HOSTILE} ({customer_id})")]
    assert_shown_literally(app)


def test_the_policies_page_shows_a_hostile_stage_and_introduction_as_text(database: str) -> None:
    factories.saved_policy(
        [Stage(HOSTILE, 10, "reminder", f"Please pay. {HOSTILE}")], statement_intro=HOSTILE
    )
    app = open_page("app_pages/policies.py", "sales")
    assert_shown_literally(app)
    statement = collections_statement_html(collections_statement_markdown(BILLING))
    assert "<img" not in statement and "&lt;img src=x&gt;" in statement
    assert "**bold**" in statement and "<strong>bold</strong>" not in statement
    assert "\\" not in statement


def test_the_receivables_page_shows_a_hostile_customer_as_text(database: str) -> None:
    customer_id = hostile_customer()
    app = open_page("app_pages/receivables.py", "billing")
    table = app.dataframe[0]
    assert table.key is not None and customer_id in list(table.value["Customer ID"])
    app.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert [s.value for s in app.subheader][-1] == plain(f"{HOSTILE} ({customer_id})")
    assert_shown_literally(app)
