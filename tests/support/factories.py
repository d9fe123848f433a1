"""Small factories for test data, written through the same ledger functions the app uses."""

from __future__ import annotations

from datetime import date, timedelta

from data_access import ledger
from data_access.db import transaction
from data_access.models import Customer


def customer(
    external_id: str = "C-001",
    *,
    name: str | None = None,
    currency: str = "USD",
    country: str = "US",
    account_manager: str = "sales",
) -> str:
    with transaction() as session:
        session.add(
            Customer(
                external_id=external_id,
                name=name or f"Customer {external_id}",
                currency=currency,
                country=country,
                account_manager=account_manager,
            )
        )
    return external_id


def invoice(
    customer_id: str,
    number: str,
    *,
    issued: date,
    cents: int,
    terms: int = 30,
    currency: str | None = None,
    disputed: bool = False,
) -> str:
    with transaction() as session:
        ledger.add_invoice(
            session,
            customer=ledger.customer_by_external_id(session, customer_id),
            number=number,
            issue_date=issued,
            due_date=issued + timedelta(days=terms),
            amount_cents=cents,
            currency=currency,
            disputed=disputed,
        )
    return number
