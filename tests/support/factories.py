"""Factories for test data, one per entity, written through the same functions and transactions the app uses.

Money moves (payments, credit notes, a saved policy) go through the actions, so balances, allocations and audit
events stay as the app keeps them; rows the app only imports or seeds (subscriptions, tickets, escalations,
collections activities with past dates, the support offering, Microsoft's invoices) are added in one
transaction() each, as the importer and the demo do. Every factory takes keyword overrides with sensible
defaults and returns the row's key (external ID, number, or database id for payments and activities).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from data_access import clock, ledger
from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.actions.policies import save_policy
from data_access.db import transaction
from data_access.demo.policy import GRACE_DAYS, MINIMUM_OVERDUE_CENTS, POLICY_STAGES
from data_access.demo.support import SUPPORT_TARGETS
from data_access.enums import ActivityKind, EscalationKind, Severity, SupportVehicle
from data_access.models import (
    CollectionsActivity,
    CollectionsPolicy,
    Customer,
    Escalation,
    Holiday,
    MicrosoftInvoice,
    PolicyStage,
    Subscription,
    SupportOffering,
    SupportTarget,
    Ticket,
)
from data_access.money import from_cents
from data_access.permissions import Actor
from data_access.rules.policy import Stage
from tests.support.actors import BILLING

# The default collections policy's stages, as the demo seeds them: (days past due, action, name, template).
DEFAULT_STAGES: tuple[tuple[int, str, str, str], ...] = tuple(
    (days, action.value, name, template) for days, action, name, template in POLICY_STAGES
)
# Business hours for the support offering: weekdays 08:00-18:00, weekends closed.
WEEKDAY_HOURS: dict[str, list[str] | None] = {
    **{day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": None,
    "sun": None,
}
# (first response, resolution) in business hours, per severity, as the demo offers them.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {s.value: hours for s, hours in SUPPORT_TARGETS.items()}


def at(day: date, hour: int = 12) -> datetime:
    """Noon (or the hour given) on a day, in UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def customer(
    external_id: str = "C-001",
    *,
    name: str | None = None,
    currency: str = "USD",
    country: str = "US",
    account_manager: str = "sales",
    **columns: Any,
) -> str:
    """A customer; any other Customer column (tenant_id, domain, exempt_from_collections, ...) by keyword."""
    with transaction() as session:
        session.add(
            Customer(
                external_id=external_id,
                name=name or f"Customer {external_id}",
                currency=currency,
                country=country,
                account_manager=account_manager,
                **columns,
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


def payment(
    customer_id: str,
    *,
    cents: int,
    received_on: date | None = None,
    invoice: str | None = None,
    reference: str | None = None,
    today: date | None = None,
    actor: Actor = BILLING,
) -> int:
    """Money received (default today), recorded as the Payments form does: to the named invoice or oldest-first,
    any excess left as unapplied credit, with its audit event. Returns the payment's id."""
    return record_payment(
        actor,
        customer_id=customer_id,
        amount=from_cents(cents),
        received_on=received_on or today or clock.today(),
        invoice_number=invoice,
        reference=reference,
        today=today,
    )


def credit_note(
    invoice_number: str,
    number: str | None = None,
    *,
    cents: int,
    issued_on: date,
    reason: str | None = None,
    actor: Actor = BILLING,
) -> str:
    """A credit note against one invoice, issued as the app issues one (never more than is open on it)."""
    number = number or f"CN-{invoice_number}-{issued_on}"
    issue_credit_note(
        actor, invoice_number=invoice_number, number=number, amount=from_cents(cents), issued_on=issued_on,
        reason=reason,
    )  # fmt: skip
    return number


def subscription(
    customer_id: str,
    external_id: str,
    product: str = "Microsoft 365 E3",
    *,
    sku: str | None = None,
    quantity: int = 10,
    unit_price_cents: int = 3_600,
    status: str = "Active",
    term_end: date | None = None,
    **columns: Any,
) -> str:
    """A subscription; other Subscription columns (suspended_at, suspension_reason, ...) by keyword."""
    with transaction() as session:
        session.add(
            Subscription(
                external_id=external_id,
                customer_id=ledger.customer_by_external_id(session, customer_id).id,
                product=product,
                sku=product.upper() if sku is None else sku,
                quantity=quantity,
                unit_price_cents=unit_price_cents,
                status=status,
                term_end=term_end,
                **columns,
            )
        )
    return external_id


def activity(
    customer_id: str,
    kind: str = ActivityKind.NOTE.value,
    *,
    occurred_at: datetime | None = None,
    actor: str = "billing",
    notes: str | None = None,
    **columns: Any,
) -> int:
    """A collections activity at any moment (default now), past ones included; returns its id."""
    with transaction() as session:
        row = CollectionsActivity(
            customer_id=ledger.customer_by_external_id(session, customer_id).id,
            kind=kind,
            occurred_at=occurred_at or datetime.now(UTC),
            actor=actor,
            notes=notes,
            **columns,
        )
        session.add(row)
        session.flush()
        return row.id


def promise(
    customer_id: str,
    *,
    cents: int,
    promised_for: date,
    made: datetime | None = None,
    actor: str = "billing",
    notes: str | None = None,
) -> int:
    """A promise to pay, made at any moment (default now): a collections activity of that kind."""
    return activity(
        customer_id, ActivityKind.PROMISE_TO_PAY.value, occurred_at=made, actor=actor, notes=notes,
        promised_amount_cents=cents, promised_for=promised_for,
    )  # fmt: skip


def policy(
    *,
    stages: Iterable[tuple[int, str, str, str] | tuple[int, str, str]] = DEFAULT_STAGES,
    minimum_overdue_cents: int = MINIMUM_OVERDUE_CENTS,
    grace_days: int = GRACE_DAYS,
    disputes_stop_clock: bool = True,
    name: str = "Standard collections policy",
) -> None:
    """The collections policy row, as the demo seeds it (default: the demo's five stages, minimum and grace);
    stages are (days past due, action, name[, message template])."""
    with transaction() as session:
        session.add(
            CollectionsPolicy(
                name=name,
                minimum_overdue_cents=minimum_overdue_cents,
                grace_days_before_suspension=grace_days,
                disputes_stop_clock=disputes_stop_clock,
                stages=[
                    PolicyStage(
                        days_past_due=stage[0],
                        action=str(stage[1]),
                        name=stage[2],
                        message_template=stage[3] if len(stage) > 3 else "Pay {customer_name}",
                    )
                    for stage in stages
                ],
            )
        )


def saved_policy(
    stages: Sequence[Stage],
    *,
    minimum_overdue: Decimal = Decimal("0"),
    grace_days: int = 0,
    disputes_stop_clock: bool = True,
    statement_intro: str = "",
    actor: Actor = BILLING,
) -> None:
    """A custom collections policy saved through the Policies page's action (validated, audited)."""
    save_policy(
        actor, stages=list(stages), minimum_overdue=minimum_overdue, grace_days=grace_days,
        disputes_stop_clock=disputes_stop_clock, statement_intro=statement_intro,
    )  # fmt: skip


def support_offering(
    *,
    name: str = "Partner support",
    time_zone: str = "America/New_York",
    business_hours: Mapping[str, list[str] | None] | None = None,
    targets: Mapping[str, tuple[int, int]] | None = None,
    entitlements: Sequence[str] = (),
    holidays: Mapping[date, str] | None = None,
    pricing: str | None = None,
) -> None:
    """The support offering with a response target per severity (default: the demo's), business hours (default:
    none, i.e. the clock never stops) and holidays."""
    with transaction() as session:
        offering = SupportOffering(
            name=name,
            time_zone=time_zone,
            business_hours=dict(business_hours or {}),
            contact_methods=[],
            pricing=pricing,
            entitlements=list(entitlements),
        )
        session.add(offering)
        session.flush()
        for severity, (first, resolution) in (DEFAULT_TARGETS if targets is None else targets).items():
            session.add(
                SupportTarget(
                    offering_id=offering.id,
                    severity=str(severity),
                    first_response_hours=first,
                    resolution_hours=resolution,
                )
            )
        for day, holiday in (holidays or {}).items():
            session.add(Holiday(offering_id=offering.id, day=day, name=holiday))


def ticket(
    customer_id: str | None,
    external_id: str = "T-1",
    *,
    created_at: datetime | None = None,
    title: str | None = None,
    category: str = "billing question",
    severity: str = Severity.MODERATE.value,
    status: str = "open",
    **columns: Any,
) -> str:
    """A ticket opened at any moment (default now); other Ticket columns (channel, assignee, resolved_at,
    first_response_at, description) by keyword; no customer is a triage ticket."""
    with transaction() as session:
        session.add(
            Ticket(
                external_id=external_id,
                customer_id=None
                if customer_id is None
                else ledger.customer_by_external_id(session, customer_id).id,
                title=title or f"Question {external_id}",
                category=category,
                severity=severity,
                status=status,
                created_at=created_at or datetime.now(UTC),
                **columns,
            )
        )
    return external_id


def escalation(
    ticket_id: str,
    case_number: str,
    *,
    kind: str = EscalationKind.TECHNICAL.value,
    vehicle: str | None = None,
    severity: str = Severity.MODERATE.value,
    status: str = "in progress",
    submitted_at: datetime | None = None,
    status_changed_at: datetime | None = None,
    **columns: Any,
) -> str:
    """A Microsoft case for a ticket (by its external ID); a technical one goes through Advanced Support unless
    another vehicle is named, a commercial one through none. Status changed when submitted unless given."""
    submitted = submitted_at or datetime.now(UTC)
    if vehicle is None and kind == EscalationKind.TECHNICAL.value:
        vehicle = SupportVehicle.ADVANCED.value
    with transaction() as session:
        found = session.query(Ticket).filter_by(external_id=ticket_id).one()
        session.add(
            Escalation(
                ticket_id=found.id,
                kind=kind,
                vehicle=vehicle,
                microsoft_case_number=case_number,
                severity=severity,
                status=status,
                submitted_at=submitted,
                status_changed_at=status_changed_at or submitted,
                **columns,
            )
        )
    return case_number


def microsoft_invoice(
    number: str,
    *,
    cents: int,
    due: date,
    currency: str = "USD",
    paid_on: date | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
) -> str:
    """The partner's own invoice from Microsoft."""
    with transaction() as session:
        session.add(
            MicrosoftInvoice(
                number=number,
                period_start=period_start,
                period_end=period_end,
                amount_cents=cents,
                currency=currency,
                due_date=due,
                paid_on=paid_on,
            )
        )
    return number
