"""The collections page under AppTest: the worklist is `collections.worklist` for today, a billing admin acts on a
selected account, and a sales agent has no such page."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.db import read_session
from data_access.demo import seed_demo
from data_access.documents.exports import plain
from data_access.enums import ActivityKind
from data_access.models import AuditEvent, CollectionsActivity, CreditNote
from data_access.queries import collections
from tests.support.actors import BILLING
from tests.support.collections_page import PAGE, ROOT, fill, open_page, run, select_row

TODAY = clock.today()


@pytest.fixture
def demo(database: str) -> str:
    seed_demo(customers=40, seed=3, today=TODAY)
    return database


def latest_activity() -> CollectionsActivity:
    with read_session() as session:
        return session.scalars(
            select(CollectionsActivity).order_by(CollectionsActivity.id.desc()).limit(1)
        ).one()


def test_the_worklist_is_the_data_access_worklist(demo: str) -> None:
    app = open_page()
    shown = app.dataframe[0].value
    expected = collections.worklist(BILLING, as_of=TODAY)
    assert len(shown) == len(expected) > 0
    assert list(shown.customer_id) == list(expected.customer_id)
    assert not app.error


def test_a_search_keeps_the_customers_whose_id_or_name_contains_it(demo: str) -> None:
    app = open_page()
    whole = collections.worklist(BILLING, as_of=TODAY)
    assert app.selectbox(key="collections_rows").options == ["200", "1,000", "5,000", "All"]
    assert f"{len(whole)} overdue accounts on" in app.caption[-1].value
    wanted = str(whole.customer_id.iloc[len(whole) // 2])
    app.text_input(key="collections_search").set_value(f"  {wanted.lower()} ")
    run(app)
    shown = list(app.dataframe[0].value.customer_id)
    assert wanted in shown
    assert shown == [c for c, name in zip(whole.customer_id, whole.name, strict=True)
                     if wanted.lower() in c.lower() or wanted.lower() in name.lower()]  # fmt: skip
    app.text_input(key="collections_search").set_value("no customer is called this")
    run(app)
    assert "No overdue accounts match these filters." in [i.value for i in app.info]


def test_the_due_now_filter_keeps_only_accounts_with_an_action_due(demo: str) -> None:
    app = open_page()
    app.toggle(key="collections_due_only").set_value(True)
    run(app)
    expected = collections.worklist(BILLING, as_of=TODAY, due_only=True)
    if expected.empty:
        assert "No overdue accounts match these filters." in [i.value for i in app.info]
    else:
        assert list(app.dataframe[0].value.customer_id) == list(expected.customer_id)


def test_a_billing_admin_sends_a_reminder_and_sees_its_text(demo: str) -> None:
    app = open_page()
    shown: pd.DataFrame = app.dataframe[0].value
    staged = [index for index, stage in enumerate(shown.stage) if isinstance(stage, str) and stage]
    assert staged, "the demo data has accounts in a stage"
    chosen = shown.iloc[staged[0]]
    select_row(app, staged[0])
    assert f"{chosen['name']} ({chosen.customer_id})" in [s.value for s in app.subheader]

    app.button(key="collections_send_reminder").click()
    run(app)
    assert not app.error, [e.value for e in app.error]
    activity = latest_activity()
    assert activity.kind == ActivityKind.REMINDER_SENT and activity.details is not None
    text = activity.details["text"]
    assert chosen["name"] in text

    def lines(markdown: str) -> list[str]:
        return [line.strip() for line in markdown.splitlines()]

    assert lines(plain(text)) in [lines(i.value) for i in app.info]  # shown as plain text, line by line
    assert activity.details["stage"] == chosen.stage
    assert any("reminder sent" in s.value for s in app.success)
    with read_session() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.actor, event.permission) == ("billing", "collections.act")


def test_a_note_is_recorded_and_an_empty_one_refused(demo: str) -> None:
    app = open_page()
    chosen = app.dataframe[0].value.iloc[0]
    select_row(app, 0)
    before = latest_activity().id

    app.button(key="collections_note_submit").click()
    run(app)
    assert [e.value for e in app.error] == ["A note cannot be empty."]
    assert latest_activity().id == before

    app.text_area(key="collections_note_text").input("Customer's CFO is back on Monday; call then.")
    app.button(key="collections_note_submit").click()
    run(app)
    assert not app.error
    activity = latest_activity()
    assert activity.kind == ActivityKind.NOTE and activity.actor == "billing"
    assert activity.notes == "Customer's CFO is back on Monday; call then."
    assert "Note added." in [s.value for s in app.success]
    assert f"{chosen['name']} ({chosen.customer_id})" in [s.value for s in app.subheader], (
        "still on the account"
    )


def test_no_overdue_accounts(database: str) -> None:
    app = open_page()
    assert [i.value for i in app.info] == [f"No overdue accounts on {TODAY.isoformat()}: nothing to chase."]


def test_a_sales_agent_has_no_collections_page(demo: str) -> None:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = "sales"
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)


def test_each_form_records_its_action(demo: str) -> None:
    app = open_page()
    customer_id = str(app.dataframe[0].value.iloc[0].customer_id)
    select_row(app, 0)
    invoice = str(collections.open_invoices(BILLING, customer_id=customer_id).invoice_number.iloc[0])
    steps: list[tuple[dict[str, object], str, str]] = [
        ({"collections_contact_notes": "Spoke to accounts payable"}, "collections_contact_submit", "call"),
        ({"collections_promise_amount": "1.00"}, "collections_promise_submit", "promise_to_pay"),
        (
            {"collections_plan_installments": f"{TODAY + timedelta(days=3)}, 1.00\n{TODAY + timedelta(days=33)}, 2"},
            "collections_plan_submit",
            "payment_plan",
        ),
        ({"collections_dispute_invoice": invoice, "collections_dispute_text": "Seats"}, "collections_dispute_open",
         "dispute_opened"),
        ({"collections_dispute_text": "Seats confirmed"}, "collections_dispute_resolve", "dispute_resolved"),
    ]  # fmt: skip
    for values, button, kind in steps:
        for key, value in values.items():
            fill(app, key, value)
        app.button(key=button).click()
        run(app)
        assert not app.error, [e.value for e in app.error]
        assert latest_activity().kind == kind

    fill(app, "collections_payment_amount", "1.00")
    app.button(key="collections_payment_submit").click()
    run(app)
    write_off = {
        "collections_credit_kind": "Write-off",
        "collections_credit_invoice": invoice,
        "collections_credit_amount": "0.50",
        "collections_credit_number": "WO-TEST-1",
    }
    for key, value in write_off.items():
        fill(app, key, value)
    app.button(key="collections_credit_submit").click()
    run(app)
    assert not app.error, [e.value for e in app.error]
    with read_session() as session:
        permissions = list(
            session.scalars(select(AuditEvent.permission).order_by(AuditEvent.id.desc()).limit(2))
        )
        note = session.scalars(select(CreditNote).where(CreditNote.number == "WO-TEST-1")).one()
    assert permissions == ["credit_note.issue", "payment.record"]
    assert (note.reason, note.amount_cents) == ("write-off", 50)
