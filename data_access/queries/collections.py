"""The collections worklist and what billing does on an overdue account: contacts, reminders, promises, plans,
disputes and notes.

Each action checks `collections.act`, runs in one transaction and writes its audit event in it; bad input is
refused with `InvalidAction` before anything is written. Activities are stamped with the current UTC time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import func, literal_column, select

from data_access import ledger
from data_access.db import read_session
from data_access.models import Customer, Invoice, Payment
from data_access.money import day, from_cents, money
from data_access.permissions import Actor, requires
from data_access.queries import assessments
from data_access.queries.customers import latest_activities_and_payments
from data_access.rules import policy
from data_access.text import sentence

WORKLIST_COLUMNS = [
    "customer_id",
    "name",
    "currency",
    "account_manager",
    "overdue",
    "disputed",
    "days_past_due",
    "stage",
    "due_now",
    "next_step",
    "next_step_on",
    "broken_promises",
    "held_by_promise",
    "last_contact",
    "last_contact_on",
    "priority",
    "unapplied",
]


ACTIVITY_COLUMNS = [
    "occurred_at",
    "kind",
    "actor",
    "invoice_number",
    "notes",
    "promised_amount",
    "promised_for",
    "details",
]


@requires("collections.view")
def worklist(
    actor: Actor,
    *,
    as_of: date,
    account_manager: str | None = None,
    stage: str | None = None,
    due_only: bool = False,
) -> pd.DataFrame:
    """Overdue accounts at the as-of date, broken promises first, then by overdue amount x days past due."""
    with read_session() as session:
        assessed = assessments.assess_overdue(session, as_of)
    rows = [
        _worklist_row(found)
        for found in assessed
        if found.assessment.overdue_cents or found.assessment.disputed_cents
    ]
    if account_manager is not None:
        rows = [row for row in rows if row["account_manager"] == account_manager]
    if stage is not None:
        rows = [row for row in rows if row["stage"] == stage]
    if due_only:
        rows = [row for row in rows if row["due_now"] is not None]
    rows.sort(key=lambda row: (row["broken_promises"] == 0, -row["priority"], row["customer_id"]))
    credit = _unapplied_credit()
    for row in rows:
        row["unapplied"] = from_cents(credit.get((row["customer_id"], row["currency"]), 0))
    return pd.DataFrame(rows, columns=WORKLIST_COLUMNS)


def _unapplied_credit() -> dict[tuple[str, str], int]:
    """Money received and not yet applied, per customer and currency (from the partial index on it)."""
    query = (
        select(Customer.external_id, Payment.currency, func.sum(Payment.unapplied_cents))
        .join(Customer, Customer.id == Payment.customer_id)
        .where(Payment.unapplied_cents > literal_column("0"))
        .group_by(Customer.external_id, Payment.currency)
    )
    with read_session() as session:
        return {(customer, currency): int(cents) for customer, currency, cents in session.execute(query)}


def _worklist_row(found: assessments.CustomerAccount) -> dict[str, Any]:
    assessment = found.assessment
    overdue = from_cents(assessment.overdue_cents)
    last = max(found.account.activities, key=lambda a: a.on, default=None)
    next_step = assessment.next_step
    return {
        "customer_id": found.customer_id,
        "name": found.name,
        "currency": found.currency,
        "account_manager": found.account_manager,
        "overdue": overdue,
        "disputed": from_cents(assessment.disputed_cents),
        "days_past_due": assessment.days_past_due,
        "stage": assessment.stage.name if assessment.stage else None,
        "due_now": policy.ACTION_LABELS.get(assessment.due_now) if assessment.due_now else None,
        "next_step": next_step.stage.name if next_step else None,
        "next_step_on": next_step.on if next_step else None,
        "broken_promises": len(assessment.broken_promises),
        "held_by_promise": assessment.held_by_promise,
        "last_contact": last.kind.replace("_", " ") if last else None,
        "last_contact_on": last.on if last else None,
        "priority": overdue * assessment.days_past_due,
    }


@requires("collections.view")
def open_invoices(actor: Actor, *, customer_id: str) -> pd.DataFrame:
    """The customer's invoices with a balance open now, oldest due first (what a dispute or credit can name)."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        found = session.execute(
            select(Invoice.number, Invoice.due_date, Invoice.currency, Invoice.open_cents, Invoice.disputed)
            .where(Invoice.customer_id == customer.id, Invoice.open_cents > literal_column("0"))
            .order_by(Invoice.due_date, Invoice.number)
        ).all()
    rows = [
        {
            "invoice_number": r.number,
            "due_date": r.due_date,
            "currency": r.currency,
            "open": from_cents(r.open_cents),
            "disputed": bool(r.disputed),
        }
        for r in found
    ]
    return pd.DataFrame(rows, columns=["invoice_number", "due_date", "currency", "open", "disputed"])


@requires("collections.view")
def activities(actor: Actor, *, customer_id: str, limit: int = 20) -> pd.DataFrame:
    """The customer's latest collections activities and payments received, newest first (a payment is listed
    when it was recorded, with the day the money arrived in its notes)."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        found, payments = latest_activities_and_payments(session, customer.id, as_of=None, limit=limit)
    rows = [
        {
            "occurred_at": activity.occurred_at,
            "kind": activity.kind.replace("_", " "),
            "actor": activity.actor,
            "invoice_number": number,
            "notes": activity.notes,
            "promised_amount": from_cents(activity.promised_amount_cents)
            if activity.promised_amount_cents
            else None,
            "promised_for": activity.promised_for,
            "details": activity.details,
        }
        for activity, number in found
    ]
    rows += [
        {
            "occurred_at": payment.recorded_at,
            "kind": "payment reversed" if payment.reversed_on else "payment received",
            "actor": payment.reversed_by,
            "invoice_number": number,
            "notes": sentence(
                f"{money(from_cents(payment.amount_cents), payment.currency)} received {day(payment.received_on)}"
                + (f", reference {payment.reference}" if payment.reference else "")
                + (
                    f"; reversed {day(payment.reversed_on)}: {payment.reversal_reason}"
                    if payment.reversed_on
                    else ""
                )
            ),
            "promised_amount": None,
            "promised_for": None,
            "details": None,
        }
        for payment, number in payments
    ]
    rows.sort(key=lambda row: cast(datetime, row["occurred_at"]), reverse=True)
    return pd.DataFrame(rows[:limit], columns=ACTIVITY_COLUMNS)


@requires("collections.view")
def accounts_per_stage(actor: Actor, *, as_of: date) -> pd.DataFrame:
    """How many overdue accounts stand at each stage of the policy (in the policy's order), and how many at none."""
    names, stages = assessments.stages_at(as_of)
    counts = {name: 0 for name in [*names, assessments.NO_STAGE]}
    for stage in stages.values():
        counts[stage] = counts.get(stage, 0) + 1
    return pd.DataFrame({"stage": list(counts), "accounts": list(counts.values())})
