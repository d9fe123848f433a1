"""The stored collections state: each customer's assessment as the policy engine last made it, and whether it may
be read instead of assessing again.

A `collection_states` row is the engine's output for one customer with an overdue or disputed balance at the row's
`as_of` (`state_of` says which field holds what). The daily `collections run` rewrites every row for its day, and
each write that changes a customer's account rewrites that customer's row for today (actions/collections_run.py).
The rows are current, and a reader may use them instead of assessing, only for today and only once a run has
finished for today (`is_current`); any other day is assessed on demand, so a figure is never stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access import clock
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import CollectionsRun, CollectionState, Customer
from data_access.money import from_cents
from data_access.permissions import Actor, requires
from data_access.queries import assessments

STATE_FIELDS: tuple[str, ...] = (
    "customer_id",
    "as_of",
    "stage",
    "stage_entered_on",
    "clock_stage",
    "days_past_due",
    "overdue_cents",
    "disputed_cents",
    "below_minimum",
    "oldest_invoice",
    "exempt",
    "due_now",
    "next_step",
    "next_step_on",
    "held_by_promise",
    "promise_until",
    "kept_promises",
    "broken_promises",
    "suspension_eligible",
    "suspension_eligible_on",
    "last_contact",
    "last_contact_on",
    "priority",
)
"""The columns of a collection_states row that the engine decides (all but `updated_at`)."""


REPORT_COLUMNS = [
    "customer_id",
    "customer_name",
    "currency",
    "stage",
    "stage_entered_on",
    "days_past_due",
    "overdue",
    "disputed",
    "due_now",
    "next_step",
    "next_step_on",
    "promise_until",
    "suspension_eligible",
]


def is_current(session: Session, as_of: date) -> bool:
    """True when the stored state may stand for a fresh assessment at the as-of date: the day is today and the
    latest finished collections run was for today (every write since has kept its customer's row up to date)."""
    if as_of != clock.today():
        return False
    latest = session.scalar(
        select(CollectionsRun.as_of)
        .where(CollectionsRun.finished_at.is_not(None))
        .order_by(CollectionsRun.id.desc())
        .limit(1)
    )
    return latest == as_of


def has_state(found: assessments.CustomerAccount) -> bool:
    """A customer has a stored row while something of theirs is overdue, disputed or not."""
    return bool(found.assessment.overdue_cents or found.assessment.disputed_cents)


def state_of(found: assessments.CustomerAccount) -> dict[str, Any]:
    """The collection_states row of one assessed customer, field by field from the engine's assessment. The last
    contact is the worklist's: the kind and day of the latest activity; the priority is the worklist's overdue
    amount x days past due, in cents."""
    a = found.assessment
    last = max(found.account.activities, key=lambda activity: activity.on, default=None)
    return {
        "customer_id": found.account.customer_id,
        "as_of": a.as_of,
        "stage": a.stage.name if a.stage else None,
        "stage_entered_on": a.entered_stage_on,
        "clock_stage": a.clock_stage.name if a.clock_stage else None,
        "days_past_due": a.days_past_due,
        "overdue_cents": a.overdue_cents,
        "disputed_cents": a.disputed_cents,
        "below_minimum": a.below_minimum,
        "oldest_invoice": a.oldest_invoice.number if a.oldest_invoice else None,
        "exempt": a.exempt,
        "due_now": a.due_now,
        "next_step": a.next_step.stage.name if a.next_step else None,
        "next_step_on": a.next_step.on if a.next_step else None,
        "held_by_promise": a.held_by_promise,
        "promise_until": a.promise.promised_for if a.promise else None,
        "kept_promises": len(a.kept_promises),
        "broken_promises": len(a.broken_promises),
        "suspension_eligible": a.suspension_eligible,
        "suspension_eligible_on": a.suspension_eligible_on,
        "last_contact": last.kind if last else None,
        "last_contact_on": last.on if last else None,
        "priority": a.overdue_cents * a.days_past_due,
    }


def stored_states(session: Session, customer_ids: Sequence[int] | None = None) -> dict[int, dict[str, Any]]:
    """The stored rows (every one, or those of the customers given) by customer pk, as `state_of` gives them."""
    columns = [getattr(CollectionState, name) for name in STATE_FIELDS]
    query = select(*columns)
    if customer_ids is not None:
        query = query.where(CollectionState.customer_id.in_(list(customer_ids)))
    return {row.customer_id: dict(row._mapping) for row in session.execute(query)}


def _check_stage(session: Session, stage: str | None) -> str | None:
    if stage is None:
        return None
    names = [s.name for s in assessments.load_policy(session).stages]
    for name in names:
        if name.casefold() == stage.strip().casefold():
            return name
    known = ", ".join(names) if names else "none (no collections policy is set up)"
    raise InvalidAction(f"There is no collections stage named {stage!r}; the stages are: {known}.")


def _report_rows(session: Session, as_of: date) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(customer id, name, currency, state) per customer with an overdue or disputed balance at the as-of date:
    from the stored state when it is current, else assessed now."""
    if is_current(session, as_of):
        columns = [getattr(CollectionState, name) for name in STATE_FIELDS]
        query = select(Customer.external_id, Customer.name, Customer.currency, *columns).join(
            Customer, Customer.id == CollectionState.customer_id
        )
        return [
            (row.external_id, row.name, row.currency, {name: getattr(row, name) for name in STATE_FIELDS})
            for row in session.execute(query)
        ]
    return [
        (found.customer_id, found.name, found.currency, state_of(found))
        for found in assessments.assess_overdue(session, as_of)
        if has_state(found)
    ]


@requires("collections.view")
def collections_report(actor: Actor, *, as_of: date, stage: str | None = None) -> pd.DataFrame:
    """Where each customer with an overdue (or disputed) balance stands under the collections policy at the as-of
    date, by customer id: the stored state for today once today's run has finished, otherwise assessed on demand.
    `stage` keeps one stage of the policy (any case); a name the policy does not have is refused."""
    with read_session() as session:
        wanted = _check_stage(session, stage)
        found = _report_rows(session, as_of)
    rows = [
        {
            "customer_id": customer_id,
            "customer_name": name,
            "currency": currency,
            "stage": state["stage"],
            "stage_entered_on": state["stage_entered_on"],
            "days_past_due": state["days_past_due"],
            "overdue": from_cents(state["overdue_cents"]),
            "disputed": from_cents(state["disputed_cents"]),
            "due_now": state["due_now"],
            "next_step": state["next_step"],
            "next_step_on": state["next_step_on"],
            "promise_until": state["promise_until"],
            "suspension_eligible": bool(state["suspension_eligible"]),
        }
        for customer_id, name, currency, state in found
        if wanted is None or state["stage"] == wanted
    ]
    rows.sort(key=lambda row: row["customer_id"])
    return pd.DataFrame(rows, columns=REPORT_COLUMNS, dtype=object)
