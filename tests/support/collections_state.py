"""The stored collections state held against a fresh assessment, field by field, and its stage history checked.

The expectation is worked out here from a fresh `assess_customers` of every customer (the engine is the spec of
where an account stands), field by field as the issue lists them; nothing in data_access maps it. The history is
read back as rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from data_access.db import read_session
from data_access.models import CollectionStageChange, CollectionState, Customer
from data_access.queries import assessments

FIELDS = (
    "as_of", "stage", "stage_entered_on", "clock_stage", "days_past_due", "overdue_cents", "disputed_cents",
    "below_minimum", "oldest_invoice", "exempt", "due_now", "next_step", "next_step_on", "held_by_promise",
    "promise_until", "kept_promises", "broken_promises", "suspension_eligible", "suspension_eligible_on",
    "last_contact", "last_contact_on", "priority",
)  # fmt: skip


def fresh_states(as_of: date) -> dict[int, dict[str, Any]]:
    """Every customer with an overdue or disputed balance at the as-of date, as a fresh assessment has them."""
    with read_session() as session:
        customers = list(session.scalars(select(Customer).order_by(Customer.id)))
        assessed = assessments.assess_customers(session, customers, as_of)
    expected: dict[int, dict[str, Any]] = {}
    for found in assessed:
        a = found.assessment
        if a.overdue_cents == 0 and a.disputed_cents == 0:
            continue
        latest = None
        for activity in found.account.activities:  # in the order they happened; the first of the latest day
            if latest is None or activity.on > latest.on:
                latest = activity
        expected[found.account.customer_id] = {
            "as_of": as_of,
            "stage": None if a.stage is None else a.stage.name,
            "stage_entered_on": a.entered_stage_on,
            "clock_stage": None if a.clock_stage is None else a.clock_stage.name,
            "days_past_due": a.days_past_due,
            "overdue_cents": a.overdue_cents,
            "disputed_cents": a.disputed_cents,
            "below_minimum": a.below_minimum,
            "oldest_invoice": None if a.oldest_invoice is None else a.oldest_invoice.number,
            "exempt": a.exempt,
            "due_now": a.due_now,
            "next_step": None if a.next_step is None else a.next_step.stage.name,
            "next_step_on": None if a.next_step is None else a.next_step.on,
            "held_by_promise": a.promise is not None,
            "promise_until": None if a.promise is None else a.promise.promised_for,
            "kept_promises": len(a.kept_promises),
            "broken_promises": len(a.broken_promises),
            "suspension_eligible": a.suspension_eligible,
            "suspension_eligible_on": a.suspension_eligible_on,
            "last_contact": None if latest is None else latest.kind,
            "last_contact_on": None if latest is None else latest.on,
            "priority": a.overdue_cents * a.days_past_due,
        }
    return expected


def stored_states() -> dict[int, dict[str, Any]]:
    """The collection_states rows as stored, by customer pk (without their updated_at)."""
    with read_session() as session:
        rows = session.scalars(select(CollectionState)).all()
        return {row.customer_id: {name: getattr(row, name) for name in FIELDS} for row in rows}


def history() -> list[CollectionStageChange]:
    """Every stage history row, in the order recorded."""
    with read_session() as session:
        return list(session.scalars(select(CollectionStageChange).order_by(CollectionStageChange.id)))


def state_problems(as_of: date) -> list[str]:
    """Where the stored state differs from a fresh assessment at the as-of date, and where the history does not
    agree with it: one line per difference (empty when all is well)."""
    fresh, stored = fresh_states(as_of), stored_states()
    problems = [
        f"customer {pk}: stored but nothing overdue or disputed" for pk in sorted(set(stored) - set(fresh))
    ]
    problems += [
        f"customer {pk}: overdue or disputed but not stored" for pk in sorted(set(fresh) - set(stored))
    ]
    for pk in sorted(set(fresh) & set(stored)):
        problems += [
            f"customer {pk}: {name} stored {stored[pk][name]!r}, fresh {fresh[pk][name]!r}"
            for name in FIELDS
            if stored[pk][name] != fresh[pk][name]
        ]
    rows = history()
    open_rows: dict[int, list[CollectionStageChange]] = {}
    for row in rows:
        if row.left_on is None:
            open_rows.setdefault(row.customer_id, []).append(row)
        elif row.left_on < row.entered_on:
            problems.append(
                f"history row {row.id}: left on {row.left_on}, before it was entered {row.entered_on}"
            )
    for pk in sorted(set(open_rows) | {pk for pk, state in fresh.items() if state["stage"] is not None}):
        found = open_rows.get(pk, [])
        stage = fresh.get(pk, {}).get("stage")
        if len(found) != 1 or found[0].stage != stage:
            problems.append(
                f"customer {pk}: open history rows {[(r.stage, r.entered_on) for r in found]}, stage {stage!r}"
            )
    return problems
