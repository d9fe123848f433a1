"""Where overdue customers stand under the collections policy: who is at which stage, how many at each, one
customer's standing and the history of their stages.

Today, once today's collections run has finished (`collections_state.is_current`), the answers are read from the
stored state (`collection_states`, the policy engine's output, kept by the run and by every write that changes an
account), chosen and counted in the database. Any other date, or a state not yet brought up to date today, is
assessed on demand from the ledger (`assessments`), so a figure is never wrong, only slower.

The customers counted are those `assessments.overdue_ids` names: an invoice open and past due at the date. The
stored state has a row for each of them with an overdue or disputed balance in their own currency; one overdue
only in another currency has none and stands at no stage, as the engine says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.db import read_session
from data_access.enums import ActivityKind
from data_access.models import CollectionsActivity, CollectionStageChange, CollectionState, Customer
from data_access.permissions import Actor, requires
from data_access.queries import assessments, collections_state

NO_STAGE = assessments.NO_STAGE


STAGE_HISTORY_COLUMNS = ["stage", "entered_on", "entered_because", "left_on", "left_because"]


def listed() -> ColumnElement[bool]:
    """A stored row of a customer with an overdue or disputed balance (the accounts the worklist lists)."""
    return or_(CollectionState.overdue_cents > 0, CollectionState.disputed_cents > 0)


def _without_row(as_of: date) -> Select[tuple[int]]:
    """Customers overdue at the as-of date with no stored row: overdue only in another currency than their own."""
    ids = assessments.overdue_ids(as_of).subquery("overdue_ids")
    has_row = exists().where(CollectionState.customer_id == ids.c.customer_id, listed())
    return select(ids.c.customer_id).where(~has_row)


def stage_counts(as_of: date) -> tuple[list[str], dict[str, int]]:
    """The policy's stage names in order, and how many overdue customers stand at each stage at the as-of date
    (NO_STAGE: at none)."""
    with read_session() as session:
        if collections_state.is_current(session, as_of):
            names = [stage.name for stage in assessments.load_policy(session).stages]
            grouped = (
                select(CollectionState.stage, func.count()).where(listed()).group_by(CollectionState.stage)
            )
            counts: dict[str, int] = {}
            for stage, accounts in session.execute(grouped):
                counts[stage or NO_STAGE] = counts.get(stage or NO_STAGE, 0) + int(accounts)
            unstaged = int(
                session.scalar(select(func.count()).select_from(_without_row(as_of).subquery())) or 0
            )
            if unstaged:
                counts[NO_STAGE] = counts.get(NO_STAGE, 0) + unstaged
            return names, counts
    names, stages = assessments.stages_at(as_of)
    counted: dict[str, int] = {}
    for stage in stages.values():
        counted[stage] = counted.get(stage, 0) + 1
    return names, counted


def customers_in_stage(as_of: date, stage: str) -> list[str]:
    """The ids of the customers overdue at the as-of date who stand at the stage (NO_STAGE: at none), in order."""
    with read_session() as session:
        if collections_state.is_current(session, as_of):
            at_stage = (
                CollectionState.stage.is_(None) if stage == NO_STAGE else CollectionState.stage == stage
            )
            chosen: ColumnElement[bool] = Customer.id.in_(
                select(CollectionState.customer_id).where(at_stage, listed())
            )
            if stage == NO_STAGE:
                chosen = or_(chosen, Customer.id.in_(_without_row(as_of)))
            return sorted(session.scalars(select(Customer.external_id).where(chosen)))
    _, stages = assessments.stages_at(as_of)
    return sorted(customer for customer, found in stages.items() if found == stage)


@dataclass(frozen=True)
class Standing:
    """Where one customer stands under the collections policy at a date, as their page tells it: the stage and the
    day it was entered, the overdue balance the clock counts, the action due now (a `StageAction` value), what
    comes next, and the promise to pay that holds the account back."""

    as_of: date
    currency: str
    stage: str | None
    stage_entered_on: date | None
    overdue_cents: int
    disputed_cents: int
    below_minimum: bool
    days_past_due: int
    due_now: str | None
    next_step: str | None
    next_step_on: date | None
    promise_cents: int | None
    promise_until: date | None


def _assessed(found: assessments.CustomerAccount) -> Standing:
    assessed = found.assessment
    return Standing(
        as_of=assessed.as_of,
        currency=found.currency,
        stage=assessed.stage.name if assessed.stage else None,
        stage_entered_on=assessed.entered_stage_on,
        overdue_cents=assessed.overdue_cents,
        disputed_cents=assessed.disputed_cents,
        below_minimum=assessed.below_minimum,
        days_past_due=assessed.days_past_due,
        due_now=assessed.due_now,
        next_step=assessed.next_step.stage.name if assessed.next_step else None,
        next_step_on=assessed.next_step.on if assessed.next_step else None,
        promise_cents=assessed.promise.amount_cents if assessed.promise else None,
        promise_until=assessed.promise.promised_for if assessed.promise else None,
    )


def _promised_cents(session: Session, customer_pk: int, as_of: date, until: date) -> int | None:
    """The amount of the promise that holds the account (of those due that day, the engine's choice: the one made
    last, the first recorded on that day)."""
    made = session.execute(
        select(CollectionsActivity.occurred_at, CollectionsActivity.promised_amount_cents)
        .where(
            CollectionsActivity.customer_id == customer_pk,
            CollectionsActivity.kind == ActivityKind.PROMISE_TO_PAY,
            CollectionsActivity.promised_for == until,
            CollectionsActivity.promised_amount_cents > 0,
        )
        .order_by(CollectionsActivity.occurred_at, CollectionsActivity.id)
    ).all()
    standing = [(at.date(), cents) for at, cents in made if at.date() <= as_of]
    last = max((on for on, _ in standing), default=None)
    return next((cents for on, cents in standing if on == last), None)


@requires("customers.view")
def customer_standing(actor: Actor, *, customer_id: str, as_of: date) -> Standing | None:
    """Where one customer stands under the collections policy at the as-of date: their stored row when the state
    is current and they have one, else assessed now; None when there is no such customer."""
    with read_session() as session:
        customer = session.scalar(select(Customer).where(Customer.external_id == customer_id))
        if customer is None:
            return None
        row = None
        if collections_state.is_current(session, as_of):
            row = session.scalar(
                select(CollectionState).where(CollectionState.customer_id == customer.id, listed())
            )
        if row is None:
            return _assessed(assessments.assess_customers(session, [customer], as_of)[0])
        until = row.promise_until if row.held_by_promise else None
        return Standing(
            as_of=as_of,
            currency=customer.currency,
            stage=row.stage,
            stage_entered_on=row.stage_entered_on,
            overdue_cents=row.overdue_cents,
            disputed_cents=row.disputed_cents,
            below_minimum=row.below_minimum,
            days_past_due=row.days_past_due,
            due_now=row.due_now,
            next_step=row.next_step,
            next_step_on=row.next_step_on,
            promise_cents=None if until is None else _promised_cents(session, customer.id, as_of, until),
            promise_until=until,
        )


@requires("customers.view")
def stage_history(actor: Actor, *, customer_id: str) -> pd.DataFrame:
    """The customer's collections stages, newest first: each stage entered (None: out of every stage), on which day
    and why, and the day it was left and why (None while it lasts)."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        rows = session.execute(
            select(
                CollectionStageChange.stage,
                CollectionStageChange.entered_on,
                CollectionStageChange.entered_because,
                CollectionStageChange.left_on,
                CollectionStageChange.left_because,
            )
            .where(CollectionStageChange.customer_id == customer.id)
            .order_by(CollectionStageChange.entered_on.desc(), CollectionStageChange.id.desc())
        ).all()
    return pd.DataFrame([tuple(row) for row in rows], columns=STAGE_HISTORY_COLUMNS)
