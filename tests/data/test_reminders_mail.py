"""Reminders by e-mail, end to end through a real SMTP server on loopback: one consolidated message per customer
with every overdue invoice and the total equal to the ledger (computed here from the invoice, payment and credit
note rows), the policy's text, the payment details and the statement of account attached; queued in the same
transaction as the activity and its audit event, at most once per customer, stage and day entered, run twice or
at once; customers without an address skipped with a reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access import clock
from data_access.actions import collections as collections_actions
from data_access.actions.collections_run import RunSummary, run
from data_access.actions.partner import save_partner_profile
from data_access.audit import ReminderSent, parse_event
from data_access.config import InvalidSetting
from data_access.db import read_session, transaction
from data_access.enums import ActivityKind, StageAction
from data_access.errors import InvalidAction
from data_access.mail import outbox, reminders
from data_access.models import (
    AuditEvent,
    CollectionsActivity,
    CreditNote,
    Customer,
    Invoice,
    OutboxMessage,
    PaymentAllocation,
)
from data_access.permissions import PermissionDenied
from data_access.queries.partner import PartnerDetails
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING, SALES
from tests.support.contexts import in_fresh_context
from tests.support.mail import MailServer, smtp_server

TODAY = clock.today()
FRIENDLY = (
    "Dear {customer_name}, {currency} {overdue_amount} is {days_past_due} days past due ({oldest_invoice})."
)
FINAL = "Final notice for {customer_name}: pay {currency} {overdue_amount} now."
STAGES = [
    Stage("Friendly reminder", 1, StageAction.REMINDER, FRIENDLY),
    Stage("Final notice", 30, StageAction.FINAL_NOTICE, FINAL),
    Stage("Suspension", 60, StageAction.SUSPENSION_ELIGIBLE, "Access for {customer_name} is suspended."),
]
PARTNER = PartnerDetails(
    name="Northwind Cloud GmbH",
    contact_email="billing@northwind.example",
    bank_name="Commerzbank",
    bank_account="DE89370400440532013000",
    payment_reference="Quote your customer id",
)


@pytest.fixture
def mail(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    monkeypatch.setenv("BILLING_DESK_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("BILLING_DESK_MAIL_FROM", raising=False)
    with smtp_server() as server:
        monkeypatch.setenv("BILLING_DESK_SMTP_URL", f"smtp://{server.host}:{server.port}")
        yield server


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def fabrikam() -> None:
    """Four EUR invoices overdue (one partly paid, one partly credited, one disputed), one not yet due, one in USD."""
    factories.customer(
        "C-FAB", name="Fabrikam GmbH", currency="EUR", country="DE",
        billing_contact_name="Erika Muster", billing_contact_email="ap@fabrikam.example",
    )  # fmt: skip
    factories.invoice("C-FAB", "F-100", issued=ago(75), cents=500_000, currency="EUR")  # 45 days past due
    factories.invoice("C-FAB", "F-101", issued=ago(50), cents=312_345, currency="EUR")  # 20 days
    factories.invoice("C-FAB", "F-102", issued=ago(40), cents=99_999, currency="EUR")  # 10 days
    factories.invoice("C-FAB", "F-103", issued=ago(45), cents=77_700, currency="EUR", disputed=True)
    factories.invoice("C-FAB", "F-104", issued=ago(5), cents=10_000, currency="EUR")  # not yet due
    factories.invoice("C-FAB", "F-USD", issued=ago(60), cents=25_000, currency="USD")
    factories.payment("C-FAB", cents=120_000, invoice="F-100", received_on=ago(3), reference="wire 1")
    factories.credit_note("F-101", "CN-1", cents=1_234, issued_on=ago(2))


def set_up(*, partner: bool = True) -> None:
    factories.saved_policy(STAGES)
    if partner:
        save_partner_profile(BILLING, details=PARTNER)
    fabrikam()


def open_in_eur_from_rows(customer: str, today: date) -> dict[str, tuple[date, int, bool]]:
    """Per invoice in EUR: due date, amount less payments applied and credit notes, disputed; read from the raw
    rows, not through the ledger's open balances."""
    with read_session() as session:
        pk = session.scalar(select(Customer.id).where(Customer.external_id == customer))
        paid = dict(
            session.execute(
                select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_cents)).group_by(
                    PaymentAllocation.invoice_id
                )
            ).all()
        )
        credited = dict(
            session.execute(
                select(CreditNote.invoice_id, func.sum(CreditNote.amount_cents)).group_by(
                    CreditNote.invoice_id
                )
            ).all()
        )
        rows = session.execute(select(Invoice).where(Invoice.customer_id == pk, Invoice.currency == "EUR"))
        return {
            invoice.number: (
                invoice.due_date,
                invoice.amount_cents - int(paid.get(invoice.id, 0)) - int(credited.get(invoice.id, 0)),
                invoice.disputed,
            )
            for (invoice,) in rows
        }


def thousands(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def queue_all(as_of: date = TODAY) -> int:
    with transaction() as session:
        return reminders.queue_due_reminders(session, BILLING, as_of=as_of)


def outbox_rows() -> list[OutboxMessage]:
    with read_session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reminder_activities() -> list[CollectionsActivity]:
    with read_session() as session:
        return list(
            session.scalars(
                select(CollectionsActivity).where(CollectionsActivity.kind == ActivityKind.REMINDER_SENT)
            )
        )


def test_one_message_per_customer_with_the_overdue_invoices_and_the_total_of_the_ledger(
    mail: MailServer,
) -> None:
    set_up()

    assert queue_all() == 1
    delivery = outbox.deliver_due()

    assert (delivery.sent, delivery.failed, delivery.retrying, delivery.left) == (1, 0, 0, 0)
    (received,) = mail.received
    assert received.recipients == ("ap@fabrikam.example",)
    assert received.sender == "billing@northwind.example"
    assert received.email["To"] == "Erika Muster <ap@fabrikam.example>"
    assert received.email["From"] == "Northwind Cloud GmbH <billing@northwind.example>"
    rows = open_in_eur_from_rows("C-FAB", TODAY)
    overdue = {n: r for n, r in rows.items() if r[0] < TODAY and r[1] > 0 and not r[2]}
    assert sorted(overdue) == ["F-100", "F-101", "F-102"]
    total = sum(cents for _, cents, _ in overdue.values())
    assert total == 500_000 - 120_000 + 312_345 - 1_234 + 99_999  # the rows say what the test set up
    assert received.email["Subject"].strip() == (
        f"Final notice: EUR {thousands(total)} overdue on your account with Northwind Cloud GmbH"
    )
    text = received.text
    assert text.startswith(f"Final notice for Fabrikam GmbH: pay EUR {thousands(total)} now.")
    lines = text.splitlines()
    for number, (due, cents, _) in overdue.items():
        (line,) = [line for line in lines if line.startswith(number + " ")]
        assert line.split() == [number, due.isoformat(), str((TODAY - due).days), thousands(cents)]
    assert f"Total overdue: EUR {thousands(total)}" in lines
    disputed = rows["F-103"][1]
    assert f"until the dispute is settled: F-103 (EUR {thousands(disputed)})." in text
    assert "F-104" not in text and "F-USD" not in text
    assert "How to pay: by bank transfer to Northwind Cloud GmbH." in lines
    assert "IBAN: DE89 3704 0044 0532 0130 00" in lines and lines[-1] == "Northwind Cloud GmbH"
    (name, _), *more = received.attachments()
    assert more == [] and name == f"statement-C-FAB-{TODAY.isoformat()}.pdf"
    pdf = received.attachment_text()
    if pdf is not None:
        assert "Statement of account" in pdf and "Fabrikam GmbH" in pdf
        for number in ("F-100", "F-101", "F-102", "F-103", "F-104"):
            assert number in pdf
        all_eur_open = sum(cents for _, cents, _ in rows.values())
        assert thousands(all_eur_open) in pdf  # the closing balance in EUR
    (row,) = outbox_rows()
    assert (row.status, row.delivered_via, row.attempts, row.last_error) == ("sent", "smtp", 1, None)
    assert received.email["Message-ID"] == row.message_id
    assert row.key.startswith("reminder:") and row.key.endswith(f":Final notice:{ago(15).isoformat()}")


def test_the_activity_and_its_audit_event_are_written_with_the_message(mail: MailServer) -> None:
    set_up()
    queue_all()
    (activity,) = reminder_activities()
    (row,) = outbox_rows()
    assert row.activity_id == activity.id and activity.details is not None
    assert activity.details["stage"] == "Final notice"
    assert activity.details["text"].startswith("Final notice for Fabrikam GmbH")
    with read_session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.permission == "collections.act")).all()
    parsed = parse_event(event.permission, event.details)
    assert isinstance(parsed, ReminderSent) and parsed.activity_id == activity.id
    assert parsed.notes == f"E-mailed to ap@fabrikam.example ({row.key})"
    assert event.target == "customer:C-FAB"
    assert collections_queries_due_now("C-FAB") is None


def collections_queries_due_now(customer: str) -> str | None:
    from data_access.queries import collections as collections_queries

    table = collections_queries.worklist(BILLING, as_of=TODAY).set_index("customer_id")
    value = table.loc[customer, "due_now"]
    return None if value is None or value != value else str(value)


def test_queuing_twice_queues_once_and_a_manual_second_send_says_so(mail: MailServer) -> None:
    set_up()
    assert queue_all() == 1
    assert queue_all() == 0
    with pytest.raises(InvalidAction, match=r"e-mailed to Fabrikam GmbH on \S+ already"):
        collections_actions.send_reminder(BILLING, customer_id="C-FAB", as_of=TODAY)
    outbox.deliver_due()
    outbox.deliver_due()
    assert len(outbox_rows()) == len(reminder_activities()) == len(mail.received) == 1


def test_two_servers_queuing_at_once_queue_one_message(mail: MailServer) -> None:
    set_up()
    start = threading.Barrier(2)

    def queue() -> int:
        start.wait()
        return queue_all()

    results: list[int] = []
    workers = [threading.Thread(target=lambda: results.append(in_fresh_context(queue))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(results) == [0, 1]
    assert len(outbox_rows()) == len(reminder_activities()) == 1


def test_a_new_stage_is_a_new_message_and_a_stage_not_due_is_none(mail: MailServer) -> None:
    factories.saved_policy(STAGES)
    factories.customer("C-1", billing_contact_email="ap@one.example")
    factories.invoice("C-1", "I-1", issued=ago(35), cents=50_000)  # 5 days past due: friendly reminder
    assert queue_all(ago(0)) == 1
    assert queue_all(ago(0)) == 0
    # 25 days later the account is 30 days past due: the final notice is a new message.
    assert reminders.reminder_key(1, "x", TODAY) != reminders.reminder_key(1, "x", ago(1))
    assert queue_all(TODAY + timedelta(days=25)) == 1
    assert [row.stage for row in outbox_rows()] == ["Friendly reminder", "Final notice"]
    assert queue_all(TODAY + timedelta(days=60)) == 0  # suspension eligible: not a reminder to e-mail


def test_a_customer_without_an_address_is_skipped_with_the_reason_shown(mail: MailServer) -> None:
    set_up()
    factories.customer("C-NONE", name="Nomail Ltd")
    factories.invoice("C-NONE", "N-1", issued=ago(40), cents=70_000)
    factories.customer("C-BAD", name="Badmail Ltd", billing_contact_email="not an address")
    factories.invoice("C-BAD", "B-1", issued=ago(40), cents=70_000)

    preview = reminders.reminders_due(BILLING, as_of=TODAY).set_index("customer_id")
    assert list(preview.index) == ["C-FAB", "C-BAD", "C-NONE"]
    assert preview.loc["C-FAB", "to"] == "ap@fabrikam.example" and bool(preview.loc["C-FAB", "sends"])
    assert (preview.loc["C-FAB", "stage"], preview.loc["C-FAB", "invoices"]) == ("Final notice", 3)
    assert preview.loc["C-FAB", "total"] == Decimal("7911.10")
    assert preview.loc["C-NONE", "why_not"] == "no billing contact e-mail"
    assert preview.loc["C-BAD", "why_not"] == "the billing contact e-mail 'not an address' is not an address"

    assert queue_all() == 1
    assert [row.customer_id for row in outbox_rows()] == [_pk("C-FAB")]
    assert len(reminder_activities()) == 1, "nothing recorded for the customers skipped: they stay due"
    after = reminders.reminders_due(BILLING, as_of=TODAY)
    assert list(after.customer_id) == ["C-BAD", "C-NONE"], (
        "the final notice is recorded: nothing due for C-FAB"
    )


def _pk(customer: str) -> int:
    with read_session() as session:
        return int(session.scalar(select(Customer.id).where(Customer.external_id == customer)) or 0)


def test_a_reminder_sent_by_hand_without_an_address_is_recorded_and_not_e_mailed(mail: MailServer) -> None:
    factories.saved_policy(STAGES)
    factories.customer("C-NONE", name="Nomail Ltd")
    factories.invoice("C-NONE", "N-1", issued=ago(40), cents=70_000)
    sent = collections_actions.email_reminder(BILLING, customer_id="C-NONE", as_of=TODAY)
    assert sent.emailed is None and sent.not_emailed == "no billing contact e-mail"
    assert sent.delivery().startswith("Not e-mailed (no billing contact e-mail)")
    assert sent.text == "Dear Nomail Ltd, USD 700.00 is 10 days past due (N-1)."
    assert len(reminder_activities()) == 1 and outbox_rows() == [] and mail.received == []


def test_a_reminder_sent_by_hand_goes_at_once(mail: MailServer) -> None:
    set_up()
    sent = collections_actions.email_reminder(BILLING, customer_id="C-FAB", as_of=TODAY)
    assert sent.emailed is not None and sent.emailed.status == "sent"
    assert sent.delivery() == "E-mail sent to Erika Muster <ap@fabrikam.example>."
    (received,) = mail.received
    assert received.text.startswith(sent.text.split("\n\n")[0])


def test_the_sender_is_the_setting_then_the_partner_then_a_default(
    mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert reminders.sender(None) == "billing-desk@localhost"
    assert reminders.sender(PARTNER) == "Northwind Cloud GmbH <billing@northwind.example>"
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", "Collections <collect@northwind.example>")
    assert reminders.sender(PARTNER) == "Collections <collect@northwind.example>"
    monkeypatch.setenv("BILLING_DESK_MAIL_FROM", "northwind")
    with pytest.raises(InvalidSetting, match="BILLING_DESK_MAIL_FROM is 'northwind', which is not an e-mail"):
        reminders.sender(PARTNER)


def test_without_the_partner_profile_the_message_still_goes(mail: MailServer) -> None:
    set_up(partner=False)
    queue_all()
    outbox.deliver_due()
    (received,) = mail.received
    assert received.email["From"] == "billing-desk@localhost"
    assert received.email["Subject"].endswith("overdue on account C-FAB")
    assert "How to pay" not in received.text


def test_the_preview_and_sending_need_their_permissions(mail: MailServer) -> None:
    with pytest.raises(PermissionDenied):
        reminders.reminders_due(SALES, as_of=TODAY)
    with pytest.raises(PermissionDenied):
        collections_actions.send_all_due(SALES, as_of=TODAY)
    with transaction() as session, pytest.raises(PermissionDenied):
        reminders.queue_due_reminders(session, SALES, as_of=TODAY)


def test_send_all_due_queues_and_delivers_with_progress(mail: MailServer) -> None:
    set_up()
    factories.customer("C-NONE", name="Nomail Ltd")
    factories.invoice("C-NONE", "N-1", issued=ago(40), cents=70_000)
    heard: list[tuple[str, int, int]] = []
    summary = collections_actions.send_all_due(
        BILLING, as_of=TODAY, progress=lambda what, done, total: heard.append((what, done, total))
    )
    assert (summary.queued, summary.skipped) == (1, ("Nomail Ltd: no billing contact e-mail",))
    assert summary.delivery is not None and summary.delivery.sent == 1
    assert summary.sentence() == (
        "1 reminder queued. Outbox: 1 sent. Not e-mailed: Nomail Ltd: no billing contact e-mail."
    )
    assert heard == [
        ("Queuing reminders", 1, 2),
        ("Queuing reminders", 2, 2),
        ("Sending", 0, 1),
        ("Sending", 1, 1),
    ]
    assert len(mail.received) == 1
    again = collections_actions.send_all_due(BILLING, as_of=TODAY)
    assert again.queued == 0 and len(mail.received) == 1


def test_the_daily_run_with_send_e_mails_what_is_due_once_run_again_or_at_once(mail: MailServer) -> None:
    set_up()
    factories.customer("C-2", name="Contoso Ltd", billing_contact_email="ap@contoso.example")
    factories.invoice("C-2", "C2-1", issued=ago(33), cents=4_200)
    assert run(BILLING, send=False).messages_queued == 0 and mail.received == []

    start = threading.Barrier(2)
    summaries: list[RunSummary] = []

    def daily_run() -> RunSummary:
        start.wait()
        return run(BILLING, send=True)

    workers = [
        threading.Thread(target=lambda: summaries.append(in_fresh_context(daily_run))) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    again = run(BILLING, send=True)

    # Each reminder is queued by one of the two (a customer per transaction: which one takes which customer is a
    # matter of timing, on PostgreSQL often one each), never by both, and nothing by the run after them.
    queued = [summary.messages_queued for summary in summaries]
    assert len(queued) == 2 and sum(queued) == 2 and again.messages_queued == 0
    assert sorted(r.recipients for r in mail.received) == [("ap@contoso.example",), ("ap@fabrikam.example",)]
    assert len(outbox_rows()) == len(reminder_activities()) == 2


def test_payment_details_end_the_sentence_once_after_a_name_with_a_full_stop() -> None:
    lines = reminders.payment_details(replace(PARTNER, name="Northwind Cloud Ltd.")).splitlines()
    assert "How to pay: by bank transfer to Northwind Cloud Ltd." in lines
    assert lines[-1] == "Northwind Cloud Ltd."


def test_names_beyond_ascii_arrive_as_written(mail: MailServer) -> None:
    factories.saved_policy(STAGES)
    save_partner_profile(BILLING, details=replace(PARTNER, name="Nordwind Straße Cloud GmbH"))
    factories.customer(
        "C-Ü", name="Müller & Söhne GmbH", currency="EUR", billing_contact_name="Jörg Müller",
        billing_contact_email="jörg@example.com".replace("ö", "o"),
    )  # fmt: skip
    factories.invoice("C-Ü", "MÜ-1", issued=ago(40), cents=123_400, currency="EUR")
    queue_all()
    outbox.deliver_due()
    (received,) = mail.received
    assert received.email["To"] == "Jörg Müller <jorg@example.com>"
    assert received.email["From"] == "Nordwind Straße Cloud GmbH <billing@northwind.example>"
    assert received.email["Subject"].strip() == (
        "Friendly reminder: EUR 1,234.00 overdue on your account with Nordwind Straße Cloud GmbH"
    )
    assert received.text.startswith("Dear Müller & Söhne GmbH, EUR 1,234.00 is 10 days past due (MÜ-1).")
