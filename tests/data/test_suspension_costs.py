"""What Microsoft charged during each suspension: the lines of the files dated from the suspension day to the
reinstatement day (or today), summed here by hand; and the Suspensions page shows it on the history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from data_access.permissions import PermissionDenied
from data_access.queries.margin import suspension_period_costs
from tests.support import factories
from tests.support.actors import BILLING, SALES
from tests.support.partner_center_files import CONTOSO, invoice, invoice_file, invoice_line, ok

SUB = "6d5c4b3a-2222-4222-8222-222222222222"
# (ChargeStartDate, Subtotal, Currency)
LINES = [
    ("2026-09-30", "11.11", "USD"),  # before the first suspension
    ("2026-10-01", "20.00", "USD"),  # the first suspension's first day
    ("2026-10-14", "5.55", "EUR"),
    ("2026-10-15", "7.00", "USD"),  # the reinstatement day: not in it
    ("2026-11-20", "30.30", "USD"),  # the second suspension, still running
    ("2026-11-21", "-0.30", "USD"),  # a refund
]
PERIODS = [(SUB, date(2026, 10, 1), date(2026, 10, 15)), (SUB, date(2026, 11, 20), None)]


def test_each_suspension_costs_its_own_lines(database: str, tmp_path: Path) -> None:
    factories.customer("C-1", tenant_id=CONTOSO)
    factories.subscription("C-1", SUB)
    lines = [invoice_line(ChargeStartDate=day, ChargeEndDate=day, Subtotal=amount, Currency=currency,
                          InvoiceNumber="", SubscriptionId=SUB) for day, amount, currency in LINES]  # fmt: skip
    ok(invoice(invoice_file(tmp_path, "lines.csv", lines)))

    found = suspension_period_costs(BILLING, PERIODS)

    expected: dict[tuple[date, date | None, str], Decimal] = {}
    for day, amount, currency in LINES:
        charged = date.fromisoformat(day)
        for _, since, until in PERIODS:
            if since <= charged and (until is None or charged < until):
                key = (since, until, currency)
                expected[key] = expected.get(key, Decimal(0)) + Decimal(amount)
    got = {(r.suspended_on, r.reinstated_on, r.currency): r.cost for r in found.itertuples()}
    assert got == expected
    # By hand: 20.00 USD and 5.55 EUR in the first; 30.30 - 0.30 = 30.00 USD in the second.
    assert got[(date(2026, 11, 20), None, "USD")] == Decimal("30.00")


def test_only_those_who_see_collections_may_read_it(database: str) -> None:
    with pytest.raises(PermissionDenied):
        suspension_period_costs(SALES, PERIODS)
    assert suspension_period_costs(BILLING, []).empty
