"""The Collections page's e-mail: where it goes (an SMTP server, or .eml files in a folder the caption names), "send
all due" after a preview and a confirmation, one customer's reminder sent at once, e-mail not delivered shown with
the server's reply and retried, and each e-mail with its delivery state in the customer's activity; with an
unreachable server or a bad setting the page still renders and says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Dataframe

from data_access import clock
from data_access.db import read_session
from data_access.documents.exports import plain
from data_access.enums import StageAction
from data_access.models import OutboxMessage
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.collections_page import open_page, run
from tests.support.mail import MailServer, closed_port, smtp_server

TODAY = clock.today()
STAGES = [
    Stage("Friendly reminder", 1, StageAction.REMINDER, "Dear {customer_name}, please pay {overdue_amount}."),
    Stage("Final notice", 30, StageAction.FINAL_NOTICE, "Final notice: {currency} {overdue_amount}."),
]


@pytest.fixture
def folder(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three customers with a reminder due (10, 40 and 15 days past due), the third without an address; no SMTP
    server."""
    monkeypatch.setenv("BILLING_DESK_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("BILLING_DESK_SMTP_URL", raising=False)
    monkeypatch.delenv("BILLING_DESK_MAIL_FROM", raising=False)
    factories.saved_policy(STAGES)
    factories.customer("C-1", name="Contoso Ltd", billing_contact_email="ap@contoso.example")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=40), cents=123_456)
    factories.customer("C-2", name="Fabrikam Inc", billing_contact_email="ap@fabrikam.example")
    factories.invoice("C-2", "INV-2", issued=TODAY - timedelta(days=70), cents=2_500_000)
    factories.customer("C-3", name="Nomail Ltd")
    factories.invoice("C-3", "INV-3", issued=TODAY - timedelta(days=45), cents=9_900)
    return tmp_path / "outbox"


@pytest.fixture
def mail(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        yield server


def table(app: AppTest, column: str) -> pd.DataFrame:
    """The table with this column (tables that are not selectable have no key to find them by)."""
    found: list[Dataframe] = [frame for frame in app.dataframe if column in frame.value.columns]
    assert len(found) == 1, f"{len(found)} tables with a {column} column"
    return found[0].value


def texts(app: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(app, kind)]


def preview(app: AppTest) -> pd.DataFrame:
    app.toggle(key="collections_mail_preview").set_value(True)
    run(app)
    return table(app, "why_not")


def send_all(app: AppTest) -> AppTest:
    assert app.button(key="collections_mail_send_all").disabled, "nothing goes before the confirmation"
    app.checkbox(key="collections_mail_confirm").check()
    run(app)
    app.button(key="collections_mail_send_all").click()
    return run(app)


def select_customer(app: AppTest, customer_id: str) -> AppTest:
    (worklist,) = [frame for frame in app.dataframe if (frame.key or "").startswith("collections_table_")]
    row = list(worklist.value.customer_id).index(customer_id)
    app.session_state[worklist.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return run(app)


def outbox_rows() -> list[OutboxMessage]:
    with read_session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_without_smtp_the_page_names_the_folder_and_send_all_writes_eml_files(folder: Path) -> None:
    app = open_page()
    route = (
        "No SMTP server is configured (BILLING_DESK_SMTP_URL), so e-mail is not sent: each message is written as "
        f"an .eml file to {folder}."
    )
    assert plain(route) in texts(app, "caption")

    due = preview(app)

    assert list(due.customer_id) == ["C-1", "C-2", "C-3"]
    assert list(due.to) == ["ap@contoso.example", "ap@fabrikam.example", ""]
    assert list(due.stage) == ["Friendly reminder", "Final notice", "Friendly reminder"]
    assert list(due.total) == ["1,234.56", "25,000.00", "99.00"]
    assert list(due.invoices) == [1, 1, 1]
    assert list(due.why_not) == ["", "", "no billing contact e-mail"]

    app = send_all(app)

    summary = (
        "2 reminders queued. Outbox: 2 written to the outbox folder. Not e-mailed: Nomail Ltd: no billing contact "
        "e-mail."
    )
    assert texts(app, "success") == [plain(summary)]
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    recipients = sorted(str(message_from_bytes(f.read_bytes(), policy=policy.default)["To"]) for f in files)
    assert recipients == ["ap@contoso.example", "ap@fabrikam.example"]
    assert list(preview(app).customer_id) == ["C-3"], "those e-mailed are no longer due"


def test_send_all_with_a_server_and_the_e_mail_in_the_customers_activity(mail: MailServer) -> None:
    app = open_page()
    route = f"E-mail goes out through the SMTP server 127.0.0.1:{mail.port} (no encryption)."
    assert plain(route) in texts(app, "caption")
    preview(app)
    app = send_all(app)
    assert texts(app, "success")[0].startswith(plain("2 reminders queued. Outbox: 2 sent."))
    assert sorted(r.recipients for r in mail.received) == [("ap@contoso.example",), ("ap@fabrikam.example",)]

    app = select_customer(app, "C-2")
    history = table(app, "promised_for")
    assert sorted(history.kind) == ["e-mail", "reminder sent"]
    (note,) = [n for kind, n in zip(history.kind, history.notes, strict=True) if kind == "e-mail"]
    assert note.startswith(
        "Final notice: USD 25,000.00 overdue on account C-2 · to ap@fabrikam.example · sent "
    )


def test_an_unreachable_server_keeps_the_page_working_shows_the_reply_and_retries(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://127.0.0.1:{port}?timeout=5")
    app = open_page()
    preview(app)
    app = send_all(app)

    warnings = texts(app, "warning")
    assert warnings[0].startswith(plain("2 reminders queued. Outbox: 0 sent, 2 to be retried."))
    assert warnings[1] == plain("2 e-mails not delivered: see E-mail reminders.")
    failed = table(app, "last_error")
    assert list(failed.status) == ["queued", "queued"] and list(failed.attempts) == [1, 1]
    assert all(reply.startswith(f"could not connect to 127.0.0.1:{port}") for reply in failed.last_error)
    assert [row.status for row in outbox_rows()] == ["queued", "queued"]

    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        app.button(key="collections_mail_retry").click()
        app = run(app)
        (received,) = server.received
        assert texts(app, "success") == [plain(f"E-mail sent to {received.recipients[0]}.")]
    assert texts(app, "warning") == [plain("1 e-mail not delivered: see E-mail reminders.")]


def test_one_customers_reminder_refused_by_the_server_shows_the_reply(mail: MailServer) -> None:
    mail.handler.rcpt_reply = "550 5.1.1 Mailbox does not exist"
    app = select_customer(open_page(), "C-1")
    app.button(key="collections_send_reminder").click()
    app = run(app)

    assert texts(app, "success") == [plain("Friendly reminder reminder sent to Contoso Ltd.")]
    refused = "E-mail to ap@contoso.example failed after 1 attempt; the server said: 550 5.1.1 Mailbox does not exist"
    assert texts(app, "warning") == [plain(refused), plain("1 e-mail not delivered: see E-mail reminders.")]
    failed = table(app, "last_error")
    assert (list(failed.status), list(failed.last_error)) == (
        ["failed"],
        ["550 5.1.1 Mailbox does not exist"],
    )

    app = select_customer(app, "C-1")
    app.button(key="collections_send_reminder").click()
    app = run(app)
    assert any(plain("e-mailed to Contoso Ltd on") in error for error in texts(app, "error")), (
        "once per stage"
    )
    assert len(outbox_rows()) == 1


def test_a_bad_smtp_setting_is_a_sentence_and_the_page_still_works(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_DESK_SMTP_URL", "smtp//mail.example")
    app = open_page()
    (error,) = texts(app, "error")
    assert error.startswith(plain("BILLING_DESK_SMTP_URL starts with no scheme, not smtp:// or smtps://"))
    assert any((frame.key or "").startswith("collections_table_") for frame in app.dataframe)
    assert list(preview(app).customer_id) == ["C-1", "C-2", "C-3"], "the preview works; delivery waits"
