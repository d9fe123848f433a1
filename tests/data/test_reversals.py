"""Reversing payments and credit notes, applying unapplied credit, and the confirmation a look-alike payment
needs; every figure is checked against dates and amounts worked out by hand, and the ledger after each step."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from data_access.actions.credit_notes import issue_credit_note, reverse_credit_note
from data_access.actions.payments import apply_credit, record_payment, reverse_payment
from data_access.cli import main
from data_access.db import DatabaseRefused, read_session, transaction
from data_access.errors import InvalidAction
from data_access.ledger import PossibleDuplicate
from data_access.models import AuditEvent, Customer, Payment
from data_access.queries.aging import AgingFilter, aging_summary
from data_access.queries.credit_notes import customer_credit_notes
from data_access.queries.overview import overview
from data_access.queries.payments import customer_payments, unapplied_credit
from tests.support import factories
from tests.support.actors import ADMIN, BILLING
from tests.support.ledger_check import ledger_problems

TODAY = date(2026, 11, 30)


def open_at(as_of: date) -> Decimal:
    summary = aging_summary(AgingFilter(as_of=as_of))
    return sum(summary.amount, Decimal("0.00"))


def last_event() -> AuditEvent:
    with read_session() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


@pytest.fixture
def paid_invoice(database: str) -> int:
    """INV-1: 100.00 issued 1 Sep, due 1 Oct, paid in full on 10 Oct."""
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    return record_payment(
        BILLING, customer_id="C-1", amount=Decimal("100.00"), received_on=date(2026, 10, 10),
        invoice_number="INV-1", reference="BANK-7", today=TODAY,
    )  # fmt: skip


def test_a_reversed_payment_reopens_its_invoice_from_the_reversal_date(
    database: str, paid_invoice: int
) -> None:
    reopened = reverse_payment(
        BILLING,
        payment_id=paid_invoice,
        reason="returned by the bank",
        reversed_on=date(2026, 11, 10),
        today=TODAY,
    )
    assert reopened == Decimal("100.00")
    assert ledger_problems(database) == []
    assert open_at(date(2026, 10, 5)) == Decimal("100.00"), "before the payment"
    assert open_at(date(2026, 10, 20)) == Decimal("0.00"), "paid, not yet returned"
    assert open_at(date(2026, 11, 10)) == Decimal("100.00"), "returned that day"
    assert open_at(TODAY) == Decimal("100.00")
    assert overview(ADMIN, as_of=date(2026, 10, 31), currency="USD").now.collected_this_month == Decimal(
        "100.00"
    )
    assert overview(ADMIN, as_of=date(2026, 11, 20), currency="USD").now.collected_this_month == Decimal(
        "-100.00"
    )
    with read_session() as session:
        payment = session.get(Payment, paid_invoice)
        assert payment is not None
        assert (payment.reversed_on, payment.reversed_by, payment.amount_cents) == (
            date(2026, 11, 10),
            "billing",
            10_000,
        )
    event = last_event()
    assert (event.permission, event.target) == ("payment.reverse", "customer:C-1")
    assert event.details is not None and event.details["reopened"] == "100.00"


def test_a_payment_is_reversed_once_and_only_from_a_date_that_makes_sense(
    database: str, paid_invoice: int
) -> None:
    for when, sentence in [
        (date(2026, 12, 1), "after today"),
        (date(2026, 10, 9), "as late as 2026-10-10"),
    ]:
        with pytest.raises(InvalidAction, match=sentence):
            reverse_payment(BILLING, payment_id=paid_invoice, reason="x", reversed_on=when, today=TODAY)
    with pytest.raises(InvalidAction, match="Say why"):
        reverse_payment(BILLING, payment_id=paid_invoice, reason="  ", today=TODAY)
    with pytest.raises(InvalidAction, match="control characters"):
        reverse_payment(BILLING, payment_id=paid_invoice, reason="bad\x00", today=TODAY)
    reverse_payment(BILLING, payment_id=paid_invoice, reason="returned", today=TODAY)
    with pytest.raises(InvalidAction, match="reversed on 2026-11-30 already"):
        reverse_payment(BILLING, payment_id=paid_invoice, reason="again", today=TODAY)
    with pytest.raises(InvalidAction, match="no payment 999"):
        reverse_payment(BILLING, payment_id=999, reason="x", today=TODAY)
    assert ledger_problems(database) == []


def test_reversing_a_payment_with_unapplied_credit_takes_the_credit_away(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    payment_id = record_payment(
        BILLING, customer_id="C-1", amount=Decimal("150.00"), received_on=date(2026, 10, 10), today=TODAY
    )
    assert unapplied_credit(BILLING).unapplied.tolist() == [Decimal("50.00")]
    reverse_payment(BILLING, payment_id=payment_id, reason="bounced", today=TODAY)
    assert unapplied_credit(BILLING).empty
    assert open_at(TODAY) == Decimal("100.00")
    assert ledger_problems(database) == []


def test_a_reversed_credit_note_reopens_from_its_date_and_the_reversal_cannot_be_reversed(
    database: str,
) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    issue_credit_note(
        BILLING, invoice_number="INV-1", number="CN-1", amount=Decimal("40.00"), issued_on=date(2026, 9, 15)
    )
    reversal = reverse_credit_note(
        BILLING, number="CN-1", reason="issued in error", reversed_on=date(2026, 10, 15), today=TODAY
    )
    assert reversal == "CN-1-REV"
    assert open_at(date(2026, 9, 10)) == Decimal("100.00")
    assert open_at(date(2026, 10, 1)) == Decimal("60.00")
    assert open_at(date(2026, 10, 15)) == Decimal("100.00")
    assert ledger_problems(database) == []
    with pytest.raises(InvalidAction, match="reversed on 2026-10-15 already"):
        reverse_credit_note(BILLING, number="CN-1", reason="again", today=TODAY)
    with pytest.raises(InvalidAction, match="itself a reversal"):
        reverse_credit_note(BILLING, number="CN-1-REV", reason="again", today=TODAY)
    notes = customer_credit_notes(BILLING, customer_id="C-1")
    assert notes.amount.tolist() == [Decimal("-40.00"), Decimal("40.00")]
    assert last_event().permission == "credit_note.reverse"


def test_unapplied_credit_is_applied_oldest_first_or_to_the_invoices_chosen(database: str) -> None:
    factories.customer("C-1")
    record_payment(
        BILLING, customer_id="C-1", amount=Decimal("120.00"), received_on=date(2026, 8, 20), today=TODAY
    )
    factories.invoice("C-1", "INV-OLD", issued=date(2026, 9, 1), cents=10_000)
    factories.invoice("C-1", "INV-NEW", issued=date(2026, 10, 1), cents=5_000)
    with pytest.raises(InvalidAction, match=r"belongs to another customer|no invoice"):
        apply_credit(BILLING, customer_id="C-1", invoice_numbers=("INV-NONE",), today=TODAY)

    applied = apply_credit(BILLING, customer_id="C-1", invoice_numbers=("INV-NEW",), today=TODAY)
    assert applied == Decimal("50.00")
    applied = apply_credit(BILLING, customer_id="C-1", today=TODAY)
    assert applied == Decimal("70.00")
    assert open_at(TODAY) == Decimal("30.00")
    assert open_at(date(2026, 11, 29)) == Decimal("150.00"), "applied from today, not before"
    assert unapplied_credit(BILLING).empty
    assert ledger_problems(database) == []
    with pytest.raises(InvalidAction, match="no unapplied credit"):
        apply_credit(BILLING, customer_id="C-1", today=TODAY)
    assert last_event().permission == "credit.apply"


def test_a_look_alike_payment_needs_a_confirmation(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    same = {"customer_id": "C-1", "amount": Decimal("10.00"), "received_on": date(2026, 11, 2), "reference": "R-1",
            "today": TODAY}  # fmt: skip
    record_payment(BILLING, **same, confirm_duplicate=False)  # type: ignore[arg-type]
    with pytest.raises(PossibleDuplicate, match="already recorded for Customer C-1"):
        record_payment(BILLING, **same, confirm_duplicate=False)  # type: ignore[arg-type]
    record_payment(BILLING, **same, confirm_duplicate=True)  # type: ignore[arg-type]
    with read_session() as session:
        assert len(session.scalars(select(Payment)).all()) == 2
    assert open_at(TODAY) == Decimal("80.00")


def test_the_same_form_submission_records_once(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    args = {"customer_id": "C-1", "amount": Decimal("10.00"), "received_on": date(2026, 11, 2), "today": TODAY,
            "entry_key": "token-1"}  # fmt: skip
    record_payment(BILLING, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidAction, match="recorded already"):
        record_payment(BILLING, **args)  # type: ignore[arg-type]
    assert open_at(TODAY) == Decimal("90.00")


def test_the_cli_lists_reverses_and_applies(
    database: str, paid_invoice: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["payments", "list", "--customer", "C-1", "--format", "csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("payment_id,received_on,currency,amount,applied,unapplied")
    assert listed[1].startswith(f"{paid_invoice},2026-10-10,USD,100.00,100.00,0.00,BANK-7")
    assert main(["payments", "reverse", str(paid_invoice), "--reason", "returned", "--on", "2026-11-10"]) == 0
    assert "put back on its invoices" in capsys.readouterr().out
    assert main(["payments", "reverse", str(paid_invoice), "--reason", "returned"]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["credit", "apply", "C-1"]) == 1
    assert "no unapplied credit" in capsys.readouterr().err
    record_payment(BILLING, customer_id="C-1", amount=Decimal("30.00"), received_on=date(2026, 11, 20),
                               invoice_number="INV-1", today=TODAY)  # fmt: skip
    issue_credit_note(BILLING, invoice_number="INV-1", number="CN-9", amount=Decimal("5.00"),
                                  issued_on=date(2026, 11, 21))  # fmt: skip
    assert main(["credit-notes", "reverse", "CN-9", "--reason", "wrong invoice"]) == 0
    assert "CN-9-REV" in capsys.readouterr().out
    assert ledger_problems(database) == []


def test_a_value_the_database_refuses_is_a_sentence_not_an_outage(database: str) -> None:
    factories.customer("C-1")
    with pytest.raises(DatabaseRefused, match="nothing was saved"), transaction() as session:
        session.add(Customer(external_id="C-1", name="the same id again"))
    if database.startswith("postgresql"):
        with pytest.raises(DatabaseRefused, match="refused a value"), transaction() as session:
            session.add(Customer(external_id="C-2", name="Too long a currency", currency="EURO"))


def test_text_with_control_characters_is_refused_by_any_write_and_ignored_in_a_search(database: str) -> None:
    from data_access.actions import collections
    from data_access.queries.customers import search_customers

    factories.customer("C-1", name="Contoso Ltd")
    for hostile in ("NUL\x00", "escape \x1b[31m", "bidi \u202e"):
        with pytest.raises(InvalidAction, match="control characters"):
            collections.add_note(BILLING, customer_id="C-1", notes=hostile)
    collections.add_note(BILLING, customer_id="C-1", notes="two\nlines\tand a tab")
    assert search_customers(BILLING, "Cont\x00oso").customer_id.tolist() == ["C-1"]


def test_a_customers_payments_newest_first_with_what_each_applied(database: str) -> None:
    for customer in ("C-1", "C-2"):
        factories.customer(customer)
        factories.invoice(customer, f"{customer}-A", issued=date(2026, 8, 1), cents=10_000)
        factories.invoice(customer, f"{customer}-B", issued=date(2026, 9, 1), cents=5_000)
    split = factories.payment(
        "C-1", cents=12_000, received_on=date(2026, 10, 1), today=TODAY
    )  # A whole, B part
    excess = factories.payment(
        "C-1", cents=7_000, received_on=date(2026, 10, 5), today=TODAY
    )  # the rest of B, 40.00 over
    late = factories.payment("C-1", cents=2_500, received_on=date(2026, 10, 9), today=TODAY)  # all unapplied
    factories.payment("C-2", cents=1_000, received_on=date(2026, 10, 20), today=TODAY)
    reverse_payment(BILLING, payment_id=excess, reason="returned", reversed_on=date(2026, 11, 2), today=TODAY)
    listed = customer_payments(BILLING, customer_id="C-1")
    assert listed.payment_id.tolist() == [late, excess, split]
    assert listed.applied.tolist() == [Decimal("0.00"), Decimal("0.00"), Decimal("120.00")]
    assert listed.unapplied.tolist() == [Decimal("25.00"), Decimal("0.00"), Decimal("0.00")]
    assert listed.reversed_on.tolist()[1] == date(2026, 11, 2)
    assert customer_payments(BILLING, customer_id="C-1", limit=2).payment_id.tolist() == [late, excess]
    assert customer_payments(BILLING, customer_id="C-3").empty
