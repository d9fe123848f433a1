"""The policy engine's inputs read from the database: the partner's policy and each customer's account.

An account is what was true at the as-of date: invoices issued by then with what was open on them then
(`ledger.open_at`, the aging rule), promises and activities recorded by then, payments received by then. Only
invoices in the customer's own currency count, since the policy's minimum is an amount. The customers assessed at a
date are those with an invoice open and past due at that date, whether or not they have paid since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from data_access import ledger
from data_access.db import read_session
from data_access.enums import ActivityKind
from data_access.models import (
    CollectionsActivity,
    CollectionsPolicy,
    Customer,
    Payment,
)
from data_access.permissions import Actor, requires
from data_access.rules import policy

_CHUNK = 500


# Which customers to read rows for: a list of ids, or a query that yields them.
CustomerIds = Sequence[int] | Select[int]


@dataclass(frozen=True)
class CustomerAccount:
    """A customer as the collections pages list it, with the engine's assessment at the as-of date."""

    customer_id: str
    name: str
    currency: str
    account_manager: str | None
    tenant_id: str | None
    exempt: bool
    account: policy.Account
    assessment: policy.Assessment


def load_policy(session: Session) -> policy.Policy:
    """The partner's collections policy; with none set up, a policy with no stages (nothing ever happens)."""
    row = session.scalar(select(CollectionsPolicy).order_by(CollectionsPolicy.id).limit(1))
    if row is None:
        return policy.Policy(stages=())
    stages = tuple(
        policy.Stage(
            name=s.name, days_past_due=s.days_past_due, action=s.action, message_template=s.message_template
        )
        for s in sorted(row.stages, key=lambda stage: stage.days_past_due)
    )
    return policy.Policy(
        stages=stages,
        minimum_overdue_cents=row.minimum_overdue_cents,
        grace_days_before_suspension=row.grace_days_before_suspension,
        disputes_stop_clock=row.disputes_stop_clock,
    )


def _open_invoices(session: Session, ids: CustomerIds, as_of: date) -> dict[int, list[policy.OpenInvoice]]:
    """Each customer's invoices in their own currency that were open at the as-of date, with what was open then
    (`ledger.open_at`: today from the partial index on open invoices, an earlier date adding back what was paid
    or credited since)."""
    chosen = ids if isinstance(ids, Select) else select(Customer.id).where(Customer.id.in_(list(ids)))
    rows = ledger.open_at(as_of, customer_ids=chosen).subquery("open_at")
    query = (
        select(rows.c.customer_id, rows.c.number, rows.c.due_date, rows.c.disputed, rows.c.open_cents)
        .join(Customer, Customer.id == rows.c.customer_id)
        .where(rows.c.currency == Customer.currency)
    )
    found: dict[int, list[policy.OpenInvoice]] = defaultdict(list)
    for customer_id, number, due_date, disputed, cents in session.execute(query):
        found[customer_id].append(
            policy.OpenInvoice(
                number=number, due_date=due_date, open_cents=int(cents), disputed=bool(disputed)
            )
        )
    return found


def _history(
    session: Session, ids: CustomerIds, as_of: date
) -> tuple[
    dict[int, list[policy.Promise]], dict[int, list[policy.Activity]], dict[int, list[policy.Payment]]
]:
    promises: dict[int, list[policy.Promise]] = defaultdict(list)
    activities: dict[int, list[policy.Activity]] = defaultdict(list)
    payments: dict[int, list[policy.Payment]] = defaultdict(list)
    # Plain columns, not ORM objects: building an object per activity cost most of an assessment's time.
    rows = session.execute(
        select(
            CollectionsActivity.customer_id,
            CollectionsActivity.occurred_at,
            CollectionsActivity.kind,
            CollectionsActivity.details,
            CollectionsActivity.promised_amount_cents,
            CollectionsActivity.promised_for,
        )
        .where(
            CollectionsActivity.customer_id.in_(ids),
            CollectionsActivity.occurred_at < datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC),
        )
        .order_by(CollectionsActivity.occurred_at, CollectionsActivity.id)
    )
    for customer_id, occurred_at, kind, details, promised_cents, promised_for in rows:
        on = occurred_at.date()
        stage = (details or {}).get("stage")
        activities[customer_id].append(policy.Activity(kind=kind, on=on, stage_name=stage))
        if kind == ActivityKind.PROMISE_TO_PAY and promised_cents and promised_for is not None:
            promises[customer_id].append(
                policy.Promise(amount_cents=promised_cents, promised_for=promised_for, made_on=on)
            )
    # Payments serve only to judge promises, and only those received between a promise and its date can keep
    # it: read just those customers' payments since their first promise, not every payment ever received.
    first_promise = {customer_id: min(p.made_on for p in made) for customer_id, made in promises.items()}
    if first_promise:
        paid = select(Payment.customer_id, Payment.received_on, Payment.amount_cents).where(
            Payment.customer_id.in_(list(first_promise)),
            Payment.received_on >= min(first_promise.values()),
            Payment.received_on <= as_of,
            or_(Payment.reversed_on.is_(None), Payment.reversed_on > as_of),
        )
        for row in session.execute(paid):
            if row.received_on >= first_promise[row.customer_id]:
                payments[row.customer_id].append(
                    policy.Payment(received_on=row.received_on, amount_cents=row.amount_cents)
                )
    return promises, activities, payments


def assess_customers(
    session: Session,
    customers: Iterable[Customer],
    as_of: date,
    *,
    chosen_by: Select[int] | None = None,
) -> list[CustomerAccount]:
    """Assess each customer at the as-of date under the partner's policy, reading their rows in batches of ids;
    or, given `chosen_by` (a query of exactly those customers' ids), in one pass that selects them by it (no
    long lists of ids to send, one query per kind of row however many customers there are)."""
    rules = load_policy(session)
    chosen = list(customers)
    results: list[CustomerAccount] = []
    batches: list[tuple[list[Customer], CustomerIds]] = (
        [(chosen, chosen_by)]
        if chosen_by is not None
        else [
            (batch, [customer.id for customer in batch])
            for batch in (chosen[start : start + _CHUNK] for start in range(0, len(chosen), _CHUNK))
        ]
    )
    for batch, ids in batches:
        invoices = _open_invoices(session, ids, as_of)
        promises, activities, payments = _history(session, ids, as_of)
        for customer in batch:
            account = policy.Account(
                customer_id=customer.id,
                exempt=customer.exempt_from_collections,
                invoices=tuple(invoices.get(customer.id, ())),
                promises=tuple(promises.get(customer.id, ())),
                activities=tuple(activities.get(customer.id, ())),
                payments=tuple(payments.get(customer.id, ())),
            )
            results.append(
                CustomerAccount(
                    customer_id=customer.external_id,
                    name=customer.name,
                    currency=customer.currency,
                    account_manager=customer.account_manager,
                    tenant_id=customer.tenant_id,
                    exempt=customer.exempt_from_collections,
                    account=account,
                    assessment=policy.assess(rules, account, as_of),
                )
            )
    return results


def overdue_ids(as_of: date) -> Select[int]:
    """Ids of customers with an invoice open at the as-of date and due before it (`ledger.open_at`): the
    worklist's candidates, including customers overdue then who have paid since."""
    rows = ledger.open_at(as_of).subquery("open_at")
    return select(rows.c.customer_id).where(rows.c.due_date < as_of).distinct()


def overdue_customers(session: Session, as_of: date) -> list[Customer]:
    """The customers `overdue_ids` names, by customer id."""
    return list(
        session.scalars(
            select(Customer).where(Customer.id.in_(overdue_ids(as_of))).order_by(Customer.external_id)
        )
    )


def assess_overdue(session: Session, as_of: date) -> list[CustomerAccount]:
    """Every overdue customer assessed at the as-of date, in one pass."""
    return assess_customers(session, overdue_customers(session, as_of), as_of, chosen_by=overdue_ids(as_of))


def assess_customer(customer_id: str, as_of: date) -> CustomerAccount | None:
    """One customer's assessment, or None when there is no such customer."""
    with read_session() as session:
        customer = session.scalar(select(Customer).where(Customer.external_id == customer_id))
        if customer is None:
            return None
        return assess_customers(session, [customer], as_of)[0]


@requires("customers.view")
def customer_assessment(actor: Actor, *, customer_id: str, as_of: date) -> CustomerAccount | None:
    """Where one customer's account stands under the collections policy at the as-of date, assessed now from the
    ledger, for whoever may see the customer; None when there is no such customer."""
    return assess_customer(customer_id, as_of)


NO_STAGE = "no stage"


def stage_names() -> list[str]:
    """The policy's stage names in order (cheap: no customer is assessed)."""
    with read_session() as session:
        return [stage.name for stage in load_policy(session).stages]


def stages_at(as_of: date) -> tuple[list[str], dict[str, str]]:
    """The policy's stage names in order, and each overdue customer's stage at the as-of date ('no stage' when
    the policy asks nothing yet: under the minimum, all disputed, or not yet a day late enough), assessed now."""
    with read_session() as session:
        names = [stage.name for stage in load_policy(session).stages]
        assessed = assess_overdue(session, as_of)
    return names, {
        found.customer_id: found.assessment.stage.name if found.assessment.stage else NO_STAGE
        for found in assessed
    }
