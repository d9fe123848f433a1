"""The Collections page's money forms under AppTest: a look-alike payment waits for a confirmation, a payment
or credit note is reversed, and unapplied credit is applied, each changing the ledger exactly once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from data_access import clock
from data_access.db import read_session
from data_access.models import Payment
from data_access.queries.payments import customer_payments, unapplied_credit
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.collections_page import fill, open_page, run, select_row
from tests.support.ledger_check import ledger_problems

TODAY = clock.today()


def payments() -> int:
    with read_session() as session:
        return int(session.scalar(select(func.count()).select_from(Payment)) or 0)


def overdue_customer() -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=90), cents=50_000)


def record(app: AppTest, amount: str, reference: str) -> AppTest:
    fill(app, "collections_payment_amount", amount)
    fill(app, "collections_payment_reference", reference)
    app.button(key="collections_payment_submit").click()
    return run(app)


def test_a_look_alike_payment_is_recorded_again_only_when_confirmed(database: str) -> None:
    overdue_customer()
    app = select_row(open_page(), 0)
    record(app, "100.00", "BANK-1")
    assert "Payment recorded." in [s.value for s in app.success]
    assert payments() == 1

    select_row(app, 0)
    record(app, "100.00", "BANK-1")
    assert any("already recorded" in w.value for w in app.warning)
    assert payments() == 1
    app.button(key="collections_payment_cancel").click()
    run(app)
    assert payments() == 1

    record(app, "100.00", "BANK-1")
    app.button(key="collections_payment_confirm").click()
    run(app)
    assert "Payment recorded." in [s.value for s in app.success]
    assert payments() == 2
    assert ledger_problems(database) == []


def test_a_payment_is_reversed_from_the_page(database: str) -> None:
    overdue_customer()
    payment_id = factories.payment("C-1", cents=10_000, received_on=TODAY, invoice="INV-1")
    app = select_row(open_page(), 0)
    picked = next(
        o for o in app.selectbox(key="collections_reverse_item").options if f"Payment {payment_id}" in o
    )
    fill(app, "collections_reverse_item", picked)
    fill(app, "collections_reverse_reason", "returned by the bank")
    app.button(key="collections_reverse_submit").click()
    run(app)
    assert not app.error, [e.value for e in app.error]
    assert f"Payment {payment_id} reversed; 100.00 put back on its invoices." in [
        s.value for s in app.success
    ]
    shown = customer_payments(BILLING, customer_id="C-1")
    assert shown.reversed_on.tolist() == [TODAY]
    assert ledger_problems(database) == []


def test_unapplied_credit_is_shown_and_applied_from_the_page(database: str) -> None:
    factories.customer("C-1")
    factories.payment("C-1", cents=8_000, received_on=TODAY - timedelta(days=100))
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=90), cents=50_000)
    app = open_page()
    assert app.dataframe[0].value.unapplied.tolist() == [Decimal("80.00")]
    select_row(app, 0)
    app.button(key="collections_apply_submit").click()
    run(app)
    assert not app.error, [e.value for e in app.error]
    assert "USD 80.00 of unapplied credit applied." in [s.value for s in app.success]
    assert unapplied_credit(BILLING).empty
    assert ledger_problems(database) == []
