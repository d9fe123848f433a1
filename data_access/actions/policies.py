"""Saving the collections policy and the support offering: validated, audited, one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data_access import clock
from data_access.actions import collections_run
from data_access.audit import (
    ContactRecord,
    HolidayRecord,
    PolicyRecord,
    PolicySaved,
    PriceRecord,
    StageRecord,
    SupportOfferingRecord,
    SupportOfferingSaved,
    TargetRecord,
    record_event,
)
from data_access.checks import CURRENCIES, clean_text, control_characters
from data_access.db import transaction
from data_access.enums import Severity, SupportVehicle
from data_access.errors import InvalidAction
from data_access.models import CollectionsPolicy, Holiday, PolicyStage, SupportOffering, SupportTarget, utcnow
from data_access.money import InvalidAmount, from_cents, to_cents
from data_access.permissions import Actor, requires
from data_access.queries.assessments import load_policy
from data_access.queries.policies import WEEKDAYS, ContactMethod, OfferingSettings, PriceRate, ResponseTarget
from data_access.rules import policy
from data_access.rules.sla import Calendar, closed_too_long, known_time_zone

DEFAULT_POLICY_NAME = "Collections policy"


STAGE_NAME_LENGTH = 100
MESSAGE_LENGTH = 5_000
"""A stage's message template: a reminder's text, as long as the statement's introduction may be."""
INTRO_LENGTH = 5_000
MAX_STAGE_DAYS = 3_650
"""The latest day past due a stage may start on, and the most grace days: ten years."""


def _snapshot(rules: policy.Policy, statement_intro: str) -> PolicyRecord:
    return PolicyRecord(
        minimum_overdue=from_cents(rules.minimum_overdue_cents),
        grace_days_before_suspension=rules.grace_days_before_suspension,
        disputes_stop_clock=rules.disputes_stop_clock,
        statement_intro=statement_intro,
        stages=tuple(
            StageRecord(
                name=s.name,
                days_past_due=s.days_past_due,
                action=s.action,
                message_template=s.message_template,
            )
            for s in rules.stages
        ),
    )


def _targets(targets: Sequence[ResponseTarget]) -> tuple[TargetRecord, ...]:
    return tuple(
        TargetRecord(
            severity=t.severity,
            first_response_hours=t.first_response_hours,
            resolution_hours=t.resolution_hours,
        )
        for t in targets
    )


def _checked(
    stages: list[policy.Stage], minimum_overdue: Decimal, grace_days: int, disputes_stop_clock: bool
) -> policy.Policy:
    """The edited policy when it can be saved; otherwise InvalidAction naming every problem, money included."""
    problems: list[str] = []
    try:
        minimum_cents = to_cents(minimum_overdue)
    except InvalidAmount as exc:
        problems.append(f"The minimum overdue balance: {exc}")
        minimum_cents = 0
    tidy = tuple(
        policy.Stage(
            name=s.name.strip(),
            days_past_due=s.days_past_due,
            action=s.action,
            message_template=s.message_template.strip(),
        )
        for s in stages
    )
    rules = policy.Policy(
        stages=tidy,
        minimum_overdue_cents=minimum_cents,
        grace_days_before_suspension=grace_days,
        disputes_stop_clock=disputes_stop_clock,
    )
    problems += policy.validate_policy(rules)
    problems += [
        f"Stage {number}'s name is longer than {STAGE_NAME_LENGTH} characters; shorten it."
        for number, s in enumerate(tidy, start=1)
        if len(s.name) > STAGE_NAME_LENGTH
    ]
    problems += [
        f"Stage {number}'s message is longer than {MESSAGE_LENGTH:,} characters; shorten it."
        for number, s in enumerate(tidy, start=1)
        if len(s.message_template) > MESSAGE_LENGTH
    ]
    problems += [
        f"Stage {number} starts at {s.days_past_due:,} days past due; the latest a stage may start is "
        f"{MAX_STAGE_DAYS:,} days."
        for number, s in enumerate(tidy, start=1)
        if s.days_past_due > MAX_STAGE_DAYS
    ]
    if grace_days > MAX_STAGE_DAYS:
        problems.append(f"{grace_days:,} grace days is more than the {MAX_STAGE_DAYS:,} days allowed.")
    for number, s in enumerate(tidy, start=1):
        for what, value, multiline in (("name", s.name, False), ("message", s.message_template, True)):
            if bad := control_characters(value, multiline=multiline):
                problems.append(f"Stage {number}'s {what} contains control characters ({', '.join(bad)}).")
    if problems:
        raise InvalidAction(" ".join(problems))
    return rules.validated()


@requires("policies.edit")
def save_policy(
    actor: Actor,
    *,
    stages: list[policy.Stage],
    minimum_overdue: Decimal,
    grace_days: int,
    disputes_stop_clock: bool,
    statement_intro: str,
) -> None:
    """Replace the policy's settings and stages, all or nothing, with an audit event holding before and after;
    creates the policy when there is none. Refused with sentences, and nothing written, when it is invalid."""
    rules = _checked(stages, minimum_overdue, grace_days, disputes_stop_clock)
    intro = clean_text(statement_intro, "The statement introduction", INTRO_LENGTH, multiline=True) or ""
    with transaction() as session:
        row = session.scalar(
            select(CollectionsPolicy).order_by(CollectionsPolicy.id).limit(1).with_for_update()
        )
        before = None if row is None else _snapshot(load_policy(session), row.statement_intro or "")
        if row is None:
            row = CollectionsPolicy(name=DEFAULT_POLICY_NAME)
            session.add(row)
        row.minimum_overdue_cents = rules.minimum_overdue_cents
        row.grace_days_before_suspension = rules.grace_days_before_suspension
        row.disputes_stop_clock = rules.disputes_stop_clock
        row.statement_intro = intro
        row.updated_at = utcnow()
        row.updated_by = actor.username
        row.stages = [
            PolicyStage(
                name=s.name,
                days_past_due=s.days_past_due,
                action=s.action,
                message_template=s.message_template,
            )
            for s in rules.stages
        ]
        session.flush()
        record_event(
            session,
            actor,
            PolicySaved(before=before, after=_snapshot(rules, intro)),
            target=f"collections_policy:{row.id}",
        )
        collections_run.refresh(session, None, as_of=clock.today(), because="policy changed")


MAX_TARGET_HOURS = 8_760
"""The longest first-response or resolution target: a year of business hours."""
MAX_HOLIDAYS = 1_000
MAX_CONTACTS = 20
MAX_RATES = 50
PRICING_LENGTH = 5_000


def _text(problems: list[str], value: str, what: str, length: int, *, required: bool = True) -> str:
    """The trimmed text, or "" with a sentence added to problems (control characters, too long, missing)."""
    try:
        cleaned = clean_text(value, what, length) or ""
    except InvalidAction as exc:
        problems.append(str(exc))
        return ""
    if required and not cleaned:
        problems.append(f"{what} is empty; fill it in.")
    return cleaned


def _offering_problems(settings: OfferingSettings) -> list[str]:
    problems: list[str] = []
    _text(problems, settings.name, "The offering's name", 200)
    hours_json = {key: list(span) if span else None for key, span in settings.business_hours.items()}
    zone = "UTC"
    try:
        zone = known_time_zone(settings.time_zone)
    except InvalidAction as exc:
        problems.append(str(exc))
    try:
        calendar = Calendar.from_offering(zone, hours_json, (day for day, _ in settings.holidays))
    except InvalidAction as exc:  # the hours are judged even when the zone is refused
        problems.append(str(exc))
    else:
        if (first := closed_too_long(calendar)) is not None:
            problems.append(
                f"The holidays from {first.isoformat()} leave no business hours for three years, so no ticket's "
                "SLA clock could run; remove some."
            )
    if len(settings.holidays) > MAX_HOLIDAYS:
        problems.append(
            f"There are {len(settings.holidays)} holidays; the most the offering keeps is {MAX_HOLIDAYS}."
        )
    days: set[date] = set()
    for day, name in settings.holidays:
        _text(problems, name, f"The holiday on {day.isoformat()}'s name", 200)
        if day in days:
            problems.append(f"{day.isoformat()} is listed as a holiday twice; keep one.")
        days.add(day)
    seen: set[str] = set()
    for target in settings.targets:
        if target.severity not in Severity.values():
            problems.append(f"{target.severity!r} is not a severity; use {', '.join(Severity.values())}.")
        elif target.severity in seen:
            problems.append(f"The {target.severity} targets are given twice; give them once.")
        hours = (target.first_response_hours, target.resolution_hours)
        if any(h <= 0 for h in hours):
            problems.append(f"The {target.severity} targets must be positive numbers of business hours.")
        elif any(h > MAX_TARGET_HOURS for h in hours):
            problems.append(
                f"The {target.severity} targets are more than {MAX_TARGET_HOURS:,} business hours."
            )
        elif target.first_response_hours > target.resolution_hours:
            problems.append(f"The {target.severity} first response cannot come after its resolution.")
        seen.add(target.severity)
    missing = [severity for severity in Severity.values() if severity not in seen]
    if missing:
        problems.append(f"Give targets for every severity (missing: {', '.join(missing)}).")
    unknown = [vehicle for vehicle in settings.entitlements if vehicle not in SupportVehicle.values()]
    if unknown:
        problems.append(
            f"{', '.join(map(repr, unknown))} is not a Microsoft support vehicle; use "
            f"{', '.join(SupportVehicle.values())}."
        )
    if len(settings.contact_methods) > MAX_CONTACTS:
        problems.append(
            f"There are {len(settings.contact_methods)} contact methods; the most is {MAX_CONTACTS}."
        )
    for number, contact in enumerate(settings.contact_methods, start=1):
        _text(problems, contact.method, f"Contact method {number}'s kind", 50)
        _text(problems, contact.value, f"Contact method {number}'s address or number", 300)
        _text(problems, contact.availability, f"Contact method {number}'s availability", 200, required=False)
    try:
        clean_text(settings.pricing, "The pricing text", PRICING_LENGTH, multiline=True)
    except InvalidAction as exc:
        problems.append(str(exc))
    if len(settings.pricing_rates) > MAX_RATES:
        problems.append(f"There are {len(settings.pricing_rates)} prices; the most is {MAX_RATES}.")
    for number, rate in enumerate(settings.pricing_rates, start=1):
        _text(problems, rate.item, f"Price {number}'s item", 200)
        _text(problems, rate.unit, f"Price {number}'s unit", 50)
        if rate.currency not in CURRENCIES:
            problems.append(
                f"Price {number}'s currency {rate.currency!r} is not a currency code such as USD."
            )
        try:
            if to_cents(rate.amount) < 0:
                problems.append(f"Price {number}'s amount cannot be negative.")
        except InvalidAmount as exc:
            problems.append(f"Price {number}'s amount: {exc}")
    return problems


def _offering_record(settings: OfferingSettings) -> SupportOfferingRecord:
    return SupportOfferingRecord(
        name=settings.name,
        time_zone=settings.time_zone,
        business_hours={
            key: None if span is None else tuple(span) for key, span in settings.business_hours.items()
        },
        holidays=tuple(HolidayRecord(day=day, name=name) for day, name in settings.holidays),
        targets=_targets(settings.targets),
        entitlements=settings.entitlements,
        contact_methods=tuple(
            ContactRecord(method=c.method, value=c.value, availability=c.availability)
            for c in settings.contact_methods
        ),
        pricing=settings.pricing,
        pricing_rates=tuple(
            PriceRecord(item=r.item, currency=r.currency, amount=r.amount, unit=r.unit)
            for r in settings.pricing_rates
        ),
    )


def _tidy(settings: OfferingSettings) -> OfferingSettings:
    """Text trimmed, weekdays in order (closed when missing), holidays by date, amounts to the cent."""
    return OfferingSettings(
        name=settings.name.strip(),
        time_zone=settings.time_zone.strip(),
        business_hours={key: settings.business_hours.get(key) or None for key, _ in WEEKDAYS},
        holidays=tuple(sorted((day, name.strip()) for day, name in settings.holidays)),
        targets=tuple(sorted(settings.targets, key=lambda t: Severity.values().index(t.severity))),
        entitlements=tuple(dict.fromkeys(settings.entitlements)),
        contact_methods=tuple(
            ContactMethod(method=c.method.strip(), value=c.value.strip(), availability=c.availability.strip())
            for c in settings.contact_methods
        ),
        pricing=settings.pricing.replace("\r\n", "\n").strip(),
        pricing_rates=tuple(
            PriceRate(
                item=r.item.strip(),
                currency=r.currency,
                amount=from_cents(to_cents(r.amount)),
                unit=r.unit.strip(),
            )
            for r in settings.pricing_rates
        ),
    )


@requires("policies.edit")
def save_offering(actor: Actor, settings: OfferingSettings) -> None:
    """Replace the support offering whole (hours, holidays, targets, entitlements, contacts, pricing), with an audit
    event holding before and after. Hours must form a valid business calendar in a known time zone; each severity
    needs positive targets with the first response no later than the resolution; entitlements are Microsoft's three
    support vehicles; prices are exact amounts. Refused with sentences, and nothing written, when invalid."""
    problems = _offering_problems(settings)
    if problems:
        raise InvalidAction(" ".join(problems))
    tidy = _tidy(settings)
    with transaction() as session:
        row = session.scalar(select(SupportOffering).order_by(SupportOffering.id).limit(1).with_for_update())
        before = None if row is None else _offering_in(session, row)
        if row is None:
            row = SupportOffering(name=tidy.name, time_zone=tidy.time_zone, business_hours={},
                                  contact_methods=[], entitlements=[])  # fmt: skip
            session.add(row)
            session.flush()
        row.name, row.time_zone = tidy.name, tidy.time_zone
        row.business_hours = {key: list(span) if span else None for key, span in tidy.business_hours.items()}
        row.contact_methods = [
            {"method": c.method, "value": c.value, "availability": c.availability}
            for c in tidy.contact_methods
        ]
        row.pricing = tidy.pricing
        row.pricing_rates = [
            {"item": r.item, "currency": r.currency, "amount": str(r.amount), "unit": r.unit}
            for r in tidy.pricing_rates
        ]
        row.entitlements = list(tidy.entitlements)
        row.updated_at, row.updated_by = utcnow(), actor.username
        session.execute(delete(SupportTarget).where(SupportTarget.offering_id == row.id))
        session.execute(delete(Holiday).where(Holiday.offering_id == row.id))
        session.add_all(
            SupportTarget(offering_id=row.id, severity=t.severity, first_response_hours=t.first_response_hours,
                          resolution_hours=t.resolution_hours)
            for t in tidy.targets
        )  # fmt: skip
        session.add_all(Holiday(offering_id=row.id, day=day, name=name) for day, name in tidy.holidays)
        saved = SupportOfferingSaved(before=before, after=_offering_record(tidy))
        record_event(session, actor, saved, target="support-offering")


def _offering_in(session: Session, row: SupportOffering) -> SupportOfferingRecord:
    """The stored offering as the audit event records it, read inside the saving transaction."""
    targets = session.scalars(select(SupportTarget).where(SupportTarget.offering_id == row.id)).all()
    holidays = session.execute(
        select(Holiday.day, Holiday.name).where(Holiday.offering_id == row.id).order_by(Holiday.day)
    ).all()
    order = Severity.values()
    return SupportOfferingRecord(
        name=row.name,
        time_zone=row.time_zone,
        business_hours={
            key: tuple(map(str, span)) if span else None for key, span in (row.business_hours or {}).items()
        },
        holidays=tuple(HolidayRecord(day=day, name=name) for day, name in holidays),
        targets=tuple(
            TargetRecord(
                severity=t.severity,
                first_response_hours=t.first_response_hours,
                resolution_hours=t.resolution_hours,
            )
            for t in sorted(
                targets, key=lambda t: order.index(t.severity) if t.severity in order else len(order)
            )
        ),
        entitlements=tuple(str(e) for e in row.entitlements or []),
        contact_methods=tuple(
            ContactRecord(
                method=str(c.get("method", "")),
                value=str(c.get("value", "")),
                availability=str(c.get("availability") or ""),
            )
            for c in row.contact_methods or []
        ),
        pricing=row.pricing or "",
        pricing_rates=tuple(
            PriceRecord(
                item=str(r.get("item", "")),
                currency=str(r.get("currency", "")),
                amount=Decimal(str(r.get("amount", "0"))),
                unit=str(r.get("unit") or ""),
            )
            for r in row.pricing_rates or []
        ),
    )
