"""Why an account may not be suspended yet, in sentences a billing admin can act on. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from data_access.money import day, from_cents, money
from data_access.rules.policy import Assessment, Policy
from data_access.text import days_past_due


@dataclass(frozen=True)
class PartnerCenterStep:
    """What the partner must set in Partner Center, whose API is the system of record for access."""

    tenant_id: str | None
    subscription_id: str
    status: str

    def instruction(self) -> str:
        tenant = self.tenant_id or "(no tenant id on file: find the customer by name)"
        return (
            f"In Partner Center, open customer tenant {tenant}, subscription {self.subscription_id}, "
            f"and set its status to {self.status}."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "subscription_id": self.subscription_id,
            "status": self.status,
            "instruction": self.instruction(),
        }


def why_not_eligible(name: str, currency: str, assessment: Assessment, rules: Policy) -> str | None:
    """None when the policy allows suspending the account now; otherwise a sentence saying why not."""
    minimum_cents = rules.minimum_overdue_cents
    if assessment.suspension_eligible:
        return None
    if assessment.exempt:
        return f"{name} is exempt from collections, so it is never suspended."
    if assessment.promise is not None:
        promise = assessment.promise
        return (
            f"{name} has a promise to pay {money(from_cents(promise.amount_cents), currency)} by "
            f"{day(promise.promised_for)} standing, so it cannot be suspended before then."
        )
    disputed = (
        f" {money(from_cents(assessment.disputed_cents), currency)} of it is disputed and set aside while the dispute "
        "is looked into."
        if assessment.disputed_cents
        else ""
    )
    if assessment.overdue_cents == 0:
        if assessment.disputed_cents:
            return f"{name} has nothing overdue outside its disputed invoices.{disputed}"
        return f"{name} has nothing overdue any more: the balance was paid or credited meanwhile."
    if assessment.overdue_cents < minimum_cents:
        return (
            f"{name}'s overdue balance, {money(from_cents(assessment.overdue_cents), currency)}, is below the policy's "
            f"minimum of {money(from_cents(minimum_cents), currency)} (paid down meanwhile?).{disputed}"
        )
    eligible_on = assessment.suspension_eligible_on
    grace = timedelta(days=rules.grace_days_before_suspension)
    if eligible_on is not None and eligible_on - grace <= assessment.as_of < eligible_on:
        return (
            f"{name} is in its grace period until {day(eligible_on)}; it can be suspended from that day "
            "if still unpaid."
        )
    return (
        f"{name} has not reached the policy's suspension stage ({days_past_due(assessment.days_past_due)})."
    )


def still_overdue(name: str, currency: str, assessment: Assessment, rules: Policy) -> str | None:
    """None when reinstating leaves nothing to chase (the overdue balance is paid, or below the policy's minimum);
    otherwise the warning to confirm first: how much is still overdue, and that the account stays on the worklist,
    listed as eligible for suspension again at once when the policy says so."""
    if assessment.overdue_cents == 0 or assessment.overdue_cents < rules.minimum_overdue_cents:
        return None
    owed = money(from_cents(assessment.overdue_cents), currency)
    again = (
        "it will be listed as eligible for suspension again at once"
        if assessment.suspension_eligible
        else "it stays on the collections worklist"
    )
    return f"{name} still has {owed} overdue ({days_past_due(assessment.days_past_due)}). Once reinstated, {again}."
