"""What a billing admin types on the collections forms, checked and turned into exact values, with a sentence for
each mistake. Pure: the actions check the values again against the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from data_access.errors import InvalidAction
from data_access.money import typed_amount


def installments(text: str) -> list[tuple[date, Decimal]]:
    """A payment plan typed one installment a line, a date and an amount: `2026-12-15, 250.00`. Blank lines are
    skipped; the amount may have thousands separators."""
    plan = []
    for line in text.splitlines():
        if not line.strip():
            continue
        day, _, amount = line.partition(",")
        try:
            due = date.fromisoformat(day.strip())
        except ValueError:
            raise InvalidAction(f"“{line.strip()}” does not start with a date like 2026-12-15.") from None
        if not amount.strip():
            raise InvalidAction(f"“{line.strip()}” has no amount after its date, e.g. 2026-12-15, 250.00.")
        plan.append((due, typed_amount(amount)))
    return plan


@dataclass(frozen=True)
class CreditNoteEntry:
    number: str
    amount: Decimal
    reason: str


def credit_note_entry(
    *, write_off: bool, number: str, amount: str, reason: str, open_balance: Decimal
) -> CreditNoteEntry:
    """A credit note or write-off as typed: it needs a number, a credit note needs its reason (a write-off's is
    "write-off"), and an empty amount means the invoice's whole open balance."""
    if not write_off and not reason.strip():
        raise InvalidAction("Give the reason for the credit note.")
    if not number.strip():
        raise InvalidAction("Give the credit note a number.")
    return CreditNoteEntry(
        number=number.strip(),
        amount=typed_amount(amount) if amount.strip() else open_balance,
        reason="write-off" if write_off else reason.strip(),
    )
