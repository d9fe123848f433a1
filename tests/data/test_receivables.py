"""Payments and credit notes keep open balances exact, refuse bad input whole, and audit what they change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.db import read_session
from data_access.errors import InvalidAction, NotFound
from data_access.models import AuditEvent, Invoice, Payment, PaymentAllocation
from data_access.permissions import Actor, PermissionDenied
from data_access.queries.payments import unapplied_credit
from tests.support import factories
from tests.support.actors import ADMIN, BILLING

TODAY = date(2026, 11, 24)


def open_balances() -> dict[str, int]:
    with read_session() as session:
        return dict(session.execute(select(Invoice.number, Invoice.open_cents)).all())


def count(model: type) -> int:
    with read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_payment_without_invoice_is_applied_oldest_first_and_the_excess_stays_as_credit(
    database: str,
) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-NEW", issued=date(2026, 9, 1), cents=30_000)
    factories.invoice("C-1", "I-OLD", issued=date(2026, 7, 1), cents=10_000)
    factories.invoice("C-1", "I-MID", issued=date(2026, 8, 1), cents=20_000)
    record_payment(
        BILLING, customer_id="C-1", amount=Decimal("250.00"), received_on=date(2026, 10, 1), today=TODAY
    )
    assert open_balances() == {"I-OLD": 0, "I-MID": 5_000, "I-NEW": 30_000}
    record_payment(
        BILLING, customer_id="C-1", amount=Decimal("380.25"), received_on=date(2026, 10, 2), today=TODAY
    )
    assert open_balances() == {"I-OLD": 0, "I-MID": 0, "I-NEW": 0}
    with read_session() as session:
        unapplied = session.scalar(select(func.sum(Payment.unapplied_cents)))
        allocated = session.scalar(select(func.sum(PaymentAllocation.amount_cents)))
    assert unapplied == 3_025
    assert allocated == 60_000
    credit = unapplied_credit(BILLING)
    assert credit.to_dict("records") == [
        {
            "customer_id": "C-1",
            "customer_name": "Customer C-1",
            "currency": "USD",
            "unapplied": Decimal("30.25"),
        }
    ]


def test_a_payment_is_audited_in_the_same_transaction(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2026, 9, 1), cents=10_000)
    record_payment(BILLING, customer_id="C-1", amount=Decimal("40"), received_on=TODAY, invoice_number="I-1",
                   reference="wire 77", today=TODAY)  # fmt: skip
    with read_session() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.actor, event.permission, event.target) == ("billing", "payment.record", "customer:C-1")
    assert event.details is not None and event.details["amount"] == "40.00"
    assert event.roles == ["Billing admin"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": Decimal("-5")}, "positive"),
        ({"amount": Decimal("0")}, "positive"),
        ({"amount": Decimal("1.001")}, "two decimal places"),
        ({"received_on": date(2026, 11, 25)}, "after today"),
        ({"customer_id": "NOPE"}, "no customer"),
        ({"invoice_number": "I-404"}, "no invoice"),
        ({"invoice_number": "I-OTHER"}, "another customer"),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_written(
    database: str, kwargs: dict[str, object], message: str
) -> None:
    factories.customer("C-1")
    factories.customer("C-2")
    factories.invoice("C-1", "I-1", issued=date(2026, 9, 1), cents=10_000)
    factories.invoice("C-2", "I-OTHER", issued=date(2026, 9, 1), cents=10_000)
    call: dict[str, object] = {"customer_id": "C-1", "amount": Decimal("10"), "received_on": TODAY, **kwargs}
    with pytest.raises(InvalidAction, match=message):
        record_payment(BILLING, today=TODAY, **call)  # type: ignore[arg-type]
    assert count(Payment) == 0 and count(AuditEvent) == 0
    assert open_balances() == {"I-1": 10_000, "I-OTHER": 10_000}


def test_a_credit_note_larger_than_the_open_balance_is_refused(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2026, 9, 1), cents=10_000)
    issue_credit_note(BILLING, invoice_number="I-1", number="CN-1", amount=Decimal("60"), issued_on=TODAY,
                      reason="write-off")  # fmt: skip
    with pytest.raises(InvalidAction, match="larger than what is open"):
        issue_credit_note(
            BILLING, invoice_number="I-1", number="CN-2", amount=Decimal("40.01"), issued_on=TODAY
        )
    with pytest.raises(InvalidAction, match="before invoice"):
        issue_credit_note(BILLING, invoice_number="I-1", number="CN-3", amount=Decimal("1"),
                          issued_on=date(2026, 8, 1))  # fmt: skip
    with pytest.raises(NotFound):
        issue_credit_note(BILLING, invoice_number="I-9", number="CN-4", amount=Decimal("1"), issued_on=TODAY)
    assert open_balances() == {"I-1": 4_000}
    assert count(AuditEvent) == 1


@pytest.mark.parametrize("roles", [[], ["Sales agent"], ["Helpdesk agent"], ["User management admin"]])
def test_only_billing_and_global_admins_record_payments(database: str, roles: list[str]) -> None:
    factories.customer("C-1")
    with pytest.raises(PermissionDenied, match="Billing admin"):
        record_payment(Actor.of("someone", roles), customer_id="C-1", amount=Decimal("1"), received_on=TODAY)
    assert count(Payment) == 0


def test_a_global_admin_may_record_payments(database: str) -> None:
    factories.customer("C-1")
    record_payment(ADMIN, customer_id="C-1", amount=Decimal("1"), received_on=TODAY,
                   today=TODAY)  # fmt: skip
    assert count(Payment) == 1
