"""The value checks that forms and imports share: amounts, currencies, countries, tenant ids, e-mails."""

from __future__ import annotations

from decimal import Decimal

import pytest

from data_access import checks
from data_access.money import MAX_AMOUNT, InvalidAmount, to_cents


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("12.50", 1250), (" 7 ", 700), ("-3", -300), (".5", 50), ("1000000000.00", 100_000_000_000),
     (Decimal("1E+3"), 100_000), (42, 4200)],
)  # fmt: skip
def test_amounts_within_the_maximum_convert_exactly(typed: str | Decimal | int, cents: int) -> None:
    assert to_cents(typed) == cents


@pytest.mark.parametrize(
    "typed",
    ["1000000000.01", "-1000000000.01", "92233720368547758.08", Decimal("1e12"), "1e3", "²", "١٢", "１２", "1_000",
     "NaN", "Infinity", "12\x00", "", "1.005"],
)  # fmt: skip
def test_amounts_beyond_the_maximum_or_not_in_ascii_digits_are_refused(typed: str | Decimal) -> None:
    with pytest.raises(InvalidAmount):
        to_cents(typed)


def test_the_maximum_keeps_ten_million_lines_inside_64_bit_integers() -> None:
    assert to_cents(MAX_AMOUNT) * 10_000_000 < 2**63


def test_currencies_countries_tenants_and_emails() -> None:
    assert [checks.currency_code(v) for v in ("usd", "EUR", "XYZ", "ÄÖÜ", "ßp", "XAU", "US")] == [
        "USD", "EUR", None, None, None, None, None,
    ]  # fmt: skip
    assert len(checks.CURRENCIES) > 150 and len(checks.COUNTRIES) == 250
    assert [checks.country_code(v) for v in ("de", "ZZ", "USA", "ÄÖ", "xk")] == ["DE", None, None, None, "XK"]
    assert checks.tenant_id("8F2D2C4E-0000-4000-8000-000000000001") == "8f2d2c4e-0000-4000-8000-000000000001"
    assert checks.tenant_id("8f2d2c4e-0000-4000-8000-00000000000") is None
    assert checks.tenant_id("８f2d2c4e-0000-4000-8000-000000000001") is None
    assert checks.tenant_id("8f2d2c4e-0000-4000-8000-000000000001\n") is None
    assert [checks.valid_email(v) for v in ("ap@contoso.com", "ap@contoso", "a b@c.de", "@x.com", "a@@b.co")] == [
        True, False, False, False, False,
    ]  # fmt: skip
    domains = ("ap@mail.contoso-eu.com", "ap@müller.de", "ap@xn--mller-kva.de", "ap@contoso.com?=", "ap@contoso.com.",
               "ap@-contoso.com", "ap@contoso_eu.com", "ap@contoso..com", "a<b@contoso.com", "a,b@contoso.com")  # fmt: skip
    assert [checks.valid_email(v) for v in domains] == [True, True, True] + [False] * 7
