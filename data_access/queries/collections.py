"""The collections worklist and what billing does on an overdue account: contacts, reminders, promises, plans,
disputes and notes.

Each action checks `collections.act`, runs in one transaction and writes its audit event in it; bad input is
refused with `InvalidAction` before anything is written. Activities are stamped with the current UTC time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import pandas as pd
from sqlalchemy import ColumnElement, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.db import read_session
from data_access.models import CollectionState, Customer, Invoice, Payment
from data_access.money import day, from_cents, money
from data_access.permissions import Actor, requires
from data_access.queries import assessments, collections_state, stages
from data_access.queries.customers import latest_activities_and_payments
from data_access.queries.exchange_rates import Rates, ranked_amount, rates_on
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


# The collections page's first screen: the accounts to chase first.
FIRST_SCREEN_ROWS = 200


@dataclass(frozen=True)
class WorklistRows:
    """The first rows of the worklist (every row when not cut), and how many accounts it lists in all; ranked in
    `reporting` at the rates on or before `rates_on`, the accounts in the `unranked` currencies (no rate) after
    the others."""

    table: pd.DataFrame
    matching: int
    reporting: str = ""
    rates_on: date | None = None
    unranked: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorklistChoices:
    """What the worklist's filters offer: how many accounts it lists, their account managers (in code point order)
    and their stages (the least overdue first)."""

    accounts: int
    account_managers: tuple[str, ...]
    stages: tuple[str, ...]


@requires("collections.view")
def worklist(
    actor: Actor,
    *,
    as_of: date,
    account_manager: str | None = None,
    stage: str | None = None,
    due_only: bool = False,
) -> pd.DataFrame:
    """Overdue accounts at the as-of date, broken promises first, then by overdue amount x days past due (the
    amount in the reporting currency at the as-of date's rates; accounts in a currency without one after the
    others): read,
    filtered and sorted in the database from the stored state when it answers for the date (today, after today's
    run), else assessed now from the ledger."""
    return _worklist(as_of, account_manager=account_manager, stage=stage, due_only=due_only).table


@requires("collections.view")
def worklist_first_screen(
    actor: Actor,
    *,
    as_of: date,
    account_manager: str | None = None,
    stage: str | None = None,
    due_only: bool = False,
    rows: int | None = FIRST_SCREEN_ROWS,
    search: str = "",
) -> WorklistRows:
    """The worklist's first `rows` rows (None: every row) and how many it has, chosen, ordered and cut in the
    database from the stored state, so a first screen never builds a table of every overdue customer; `search`
    keeps the customers whose id or name contains it (any case)."""
    return _worklist(
        as_of, account_manager=account_manager, stage=stage, due_only=due_only, rows=rows, search=search
    )


@requires("collections.view")
def worklist_choices(actor: Actor, *, as_of: date) -> WorklistChoices:
    """How many overdue accounts the worklist lists at the as-of date, and the account managers and stages its
    filters offer, counted in the database from the stored state (one grouped read) when it answers for the
    date."""
    with read_session() as session:
        current = collections_state.is_current(session, as_of)
        groups: list[tuple[str | None, str | None, int, int]] = []
        if current:
            found = session.execute(
                select(
                    Customer.account_manager,
                    CollectionState.stage,
                    func.count(),
                    func.min(CollectionState.days_past_due),
                )
                .join(CollectionState, CollectionState.customer_id == Customer.id)
                .where(stages.listed())
                .group_by(Customer.account_manager, CollectionState.stage)
            )
            groups = [(manager, at_stage, count, days) for manager, at_stage, count, days in found]
    if not current:  # a day the stored state does not stand for: every row of the worklist assessed now
        table = _worklist(as_of, account_manager=None, stage=None, due_only=False).table
        groups = [
            (None if pd.isna(manager) else manager, None if pd.isna(at_stage) else at_stage, 1, int(days))
            for manager, at_stage, days in zip(
                table.account_manager, table.stage, table.days_past_due, strict=True
            )
        ]
    least_overdue: dict[str, int] = {}
    for _, at_stage, _, days in groups:
        if at_stage is not None:
            least_overdue[at_stage] = min(days, least_overdue.get(at_stage, days))
    return WorklistChoices(
        accounts=int(sum(count for _, _, count, _ in groups)),
        account_managers=tuple(sorted({manager for manager, *_ in groups if manager is not None})),
        stages=tuple(sorted(least_overdue, key=lambda name: (least_overdue[name], name))),
    )


def _worklist(
    as_of: date,
    *,
    account_manager: str | None,
    stage: str | None,
    due_only: bool,
    rows: int | None = None,
    search: str = "",
) -> WorklistRows:
    term = search.strip()
    with read_session() as session:
        rates = rates_on(session, as_of)
        if collections_state.is_current(session, as_of):
            return _stored_worklist(
                session,
                rates,
                account_manager=account_manager,
                stage=stage,
                due_only=due_only,
                rows=rows,
                search=term,
            )
        assessed = assessments.assess_overdue(session, as_of)
    found = [
        _worklist_row(found)
        for found in assessed
        if found.assessment.overdue_cents or found.assessment.disputed_cents
    ]
    if account_manager is not None:
        found = [row for row in found if row["account_manager"] == account_manager]
    if stage is not None:
        found = [row for row in found if row["stage"] == stage]
    if due_only:
        found = [row for row in found if row["due_now"] is not None]
    if term:
        wanted = term.lower()
        found = [
            row for row in found if wanted in row["customer_id"].lower() or wanted in row["name"].lower()
        ]
    found.sort(key=lambda row: _rank(row, rates))
    shown = found if rows is None else found[:rows]
    credit = _unapplied_credit()
    for row in shown:
        row["unapplied"] = from_cents(credit.get((row["customer_id"], row["currency"]), 0))
    unranked = tuple(sorted({row["currency"] for row in found if rates.rate(row["currency"]) is None}))
    table = pd.DataFrame(shown, columns=WORKLIST_COLUMNS)
    return WorklistRows(table, len(found), rates.reporting, as_of, unranked)


def _rank(row: dict[str, Any], rates: Rates) -> tuple[Any, ...]:
    """The stored worklist's order in Python: broken promises first, then accounts whose currency has a rate,
    then the priority converted (its own amount where there is no rate), then the customer id."""
    rate = rates.rate(row["currency"])
    priority: Decimal = row["priority"] * (rate or Decimal(1))
    return (row["broken_promises"] == 0, rate is None, -priority, row["customer_id"])


def _stored_worklist(
    session: Session,
    rates: Rates,
    *,
    account_manager: str | None,
    stage: str | None,
    due_only: bool,
    rows: int | None,
    search: str,
) -> WorklistRows:
    """The worklist from the stored state joined to each customer and their unapplied credit in their own currency,
    chosen, ordered and cut in the database: the accounts shown are chosen on narrow rows first (the order and
    the count of every match), and only those are read whole with their credit."""
    state = CollectionState
    priority = state.overdue_cents * state.days_past_due
    promises_broken_first = case((state.broken_promises > 0, 0), else_=1)
    unrated, converted = ranked_amount(rates, priority, Customer.currency)
    chosen = (
        select(
            state.customer_id,
            promises_broken_first.label("broken_first"),
            unrated.label("unrated"),
            converted.label("converted"),
            priority.label("priority"),
            func.count().over().label("matching"),
        )
        .join(Customer, Customer.id == state.customer_id)
        .where(stages.listed())
        .order_by(promises_broken_first, unrated, converted.desc(), _in_code_point_order(session))
    )
    if account_manager is not None:
        chosen = chosen.where(Customer.account_manager == account_manager)
    if stage is not None:
        chosen = chosen.where(state.stage == stage)
    if due_only:
        chosen = chosen.where(state.due_now.is_not(None))
    if search:
        chosen = chosen.where(
            or_(
                Customer.external_id.icontains(search, autoescape=True),
                Customer.name.icontains(search, autoescape=True),
            )
        )
    without_rate = chosen.with_only_columns(Customer.currency).where(unrated == 1).distinct().order_by(None)
    unranked = tuple(sorted(session.scalars(without_rate)))
    if rows is not None:
        chosen = chosen.limit(rows)
    page = chosen.subquery("page")
    unapplied = (
        select(func.sum(Payment.unapplied_cents))
        .where(
            Payment.customer_id == Customer.id,
            Payment.currency == Customer.currency,
            Payment.unapplied_cents > literal_column("0"),
        )
        .scalar_subquery()
    )
    columns = (  # in the order of WORKLIST_COLUMNS
        Customer.external_id, Customer.name, Customer.currency, Customer.account_manager, state.overdue_cents,
        state.disputed_cents, state.days_past_due, state.stage, state.due_now, state.next_step, state.next_step_on,
        state.broken_promises, state.held_by_promise, state.last_contact, state.last_contact_on, page.c.priority,
        unapplied, page.c.matching,
    )  # fmt: skip
    query = (
        select(*columns)
        .select_from(page)
        .join(state, state.customer_id == page.c.customer_id)
        .join(Customer, Customer.id == page.c.customer_id)
        .order_by(page.c.broken_first, page.c.unrated, page.c.converted.desc(), _in_code_point_order(session))
    )
    label = policy.ACTION_LABELS.get
    found = session.execute(query).all()
    table = [
        (customer, name, currency, manager, from_cents(overdue), from_cents(disputed), days, at_stage,
         label(due) if due else None, next_step, next_on, broken, bool(held), kind.replace("_", " ") if kind else None,
         contact_on, from_cents(order), from_cents(unapplied))
        for (customer, name, currency, manager, overdue, disputed, days, at_stage, due, next_step, next_on, broken,
             held, kind, contact_on, order, unapplied, _) in found
    ]  # fmt: skip
    matching = found[0].matching if found else 0
    return WorklistRows(
        pd.DataFrame(table, columns=WORKLIST_COLUMNS), matching, rates.reporting, rates.on, unranked
    )


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


def _in_code_point_order(session: Session) -> ColumnElement[str]:
    """Customer ids compared by code point, as Python compares them (PostgreSQL's default collation may not)."""
    return Customer.external_id.collate("C" if session.get_bind().dialect.name == "postgresql" else "BINARY")


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
    """How many overdue accounts stand at each stage of the policy (in the policy's order), and how many at none;
    counted in the database from the stored state when it answers for the date."""
    names, counted = stages.stage_counts(as_of)
    counts = {name: 0 for name in [*names, assessments.NO_STAGE]}
    for stage, accounts in counted.items():
        counts[stage] = counts.get(stage, 0) + accounts
    return pd.DataFrame({"stage": list(counts), "accounts": list(counts.values())})
