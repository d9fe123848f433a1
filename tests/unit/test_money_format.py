"""One formatter for amounts, days and moments shown to people; typed amounts and payment plans read exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from data_access.errors import InvalidAction
from data_access.money import MAX_AMOUNT, day, moment, money, typed_amount
from data_access.rules.entries import credit_note_entry, installments


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("7905.05"), "EUR", "EUR 7,905.05"),
        (Decimal("0"), "USD", "USD 0.00"),
        (Decimal("-0.00"), "USD", "USD 0.00"),
        (Decimal("-1234.5"), "EUR", "EUR -1,234.50"),
        (Decimal("0.01"), None, "0.01"),
        (Decimal("999.99"), None, "999.99"),
        (Decimal("1000"), None, "1,000.00"),
        (MAX_AMOUNT, "JPY", "JPY 1,000,000,000.00"),
        (Decimal("12345678901234.56"), "USD", "USD 12,345,678,901,234.56"),
        (42, "GBP", "GBP 42.00"),
    ],
)
def test_money_has_thousands_separators_and_the_currency_code(
    value: Decimal, currency: str | None, shown: str
) -> None:
    assert money(value, currency) == shown


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        money(1.5)  # type: ignore[arg-type]


def test_day_and_moment() -> None:
    assert day(date(2026, 12, 2)) == "2026-12-02"
    assert day(datetime(2026, 12, 2, 23, 59, tzinfo=UTC)) == "2026-12-02"
    assert moment(datetime(2026, 12, 2, 10, 8, 59, tzinfo=UTC)) == "2026-12-02 10:08 UTC"
    assert moment(datetime(2026, 12, 2, 10, 8)) == "2026-12-02 10:08 UTC"  # the database's naive UTC
    assert (
        moment(datetime(2026, 12, 2, 23, 30, tzinfo=UTC), "Europe/Berlin") == "2026-12-03 00:30 Europe/Berlin"
    )
    plus_two = timezone(timedelta(hours=2))
    assert moment(datetime(2026, 7, 1, 12, 0, tzinfo=plus_two)) == "2026-07-01 10:00 UTC"


@pytest.mark.parametrize(("typed", "amount"), [("250", "250.00"), (" 7,905.05 ", "7905.05"), ("0.5", "0.50")])
def test_typed_amounts(typed: str, amount: str) -> None:
    assert typed_amount(typed) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "says"), [("", "Enter an amount"), ("1.005", "two decimal"), ("ten", "not an")]
)
def test_typed_amounts_refused_with_a_sentence(typed: str, says: str) -> None:
    with pytest.raises(InvalidAction, match=says):
        typed_amount(typed)


def test_a_payment_plan_as_typed() -> None:
    assert installments("2026-12-15, 250.00\n\n 2027-01-15 , 1,250\n") == [
        (date(2026, 12, 15), Decimal("250.00")),
        (date(2027, 1, 15), Decimal("1250.00")),
    ]
    with pytest.raises(InvalidAction, match="does not start with a date"):
        installments("15/12/2026, 250.00")
    with pytest.raises(InvalidAction, match="no amount"):
        installments("2026-12-15")


def test_a_credit_note_as_typed() -> None:
    whole = credit_note_entry(
        write_off=True, number=" WO-1 ", amount="", reason="", open_balance=Decimal("12.30")
    )
    assert (whole.number, whole.amount, whole.reason) == ("WO-1", Decimal("12.30"), "write-off")
    part = credit_note_entry(
        write_off=False, number="CN-1", amount="1,000", reason=" goodwill ", open_balance=Decimal(0)
    )
    assert (part.amount, part.reason) == (Decimal("1000.00"), "goodwill")
    with pytest.raises(InvalidAction, match="reason"):
        credit_note_entry(write_off=False, number="CN-2", amount="", reason=" ", open_balance=Decimal(1))
    with pytest.raises(InvalidAction, match="number"):
        credit_note_entry(write_off=True, number=" ", amount="", reason="", open_balance=Decimal(1))
