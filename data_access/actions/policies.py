"""Saving the collections policy and the support offering: validated, audited, one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import delete, select

from data_access import clock
from data_access.actions import collections_run
from data_access.audit import (
    OfferingRecord,
    OfferingSaved,
    OfferingSummary,
    PolicyRecord,
    PolicySaved,
    StageRecord,
    TargetRecord,
    record_event,
)
from data_access.db import transaction
from data_access.enums import Severity, SupportVehicle
from data_access.errors import InvalidAction
from data_access.models import CollectionsPolicy, PolicyStage, SupportOffering, SupportTarget, utcnow
from data_access.money import InvalidAmount, from_cents, to_cents
from data_access.permissions import Actor, requires
from data_access.queries.assessments import load_policy
from data_access.queries.policies import WEEKDAYS, ResponseTarget, _offering
from data_access.rules import policy
from data_access.rules.sla import Calendar

DEFAULT_POLICY_NAME = "Collections policy"


STAGE_NAME_LENGTH = 100


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
    intro = statement_intro.strip()
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


@requires("policies.edit")
def save_support_offering(
    actor: Actor,
    *,
    time_zone: str,
    business_hours: Mapping[str, tuple[str, str] | None],
    targets: Sequence[ResponseTarget],
    entitlements: Sequence[str],
    pricing: str,
) -> None:
    """Hours must form a valid business calendar in a known time zone; each severity needs positive targets with
    the first response no later than the resolution; entitlements are Microsoft's three support vehicles."""
    problems: list[str] = []
    hours_json: dict[str, list[str] | None] = {}
    for key, _ in WEEKDAYS:
        opening = business_hours.get(key)
        hours_json[key] = list(opening) if opening else None
    try:
        Calendar.from_offering(time_zone, hours_json, ())
    except InvalidAction as exc:
        problems.append(str(exc))
    seen = set()
    for target in targets:
        if target.severity not in Severity.values():
            problems.append(f"{target.severity!r} is not a severity; use {', '.join(Severity.values())}.")
        if target.first_response_hours <= 0 or target.resolution_hours <= 0:
            problems.append(f"The {target.severity} targets must be positive numbers of business hours.")
        elif target.first_response_hours > target.resolution_hours:
            problems.append(f"The {target.severity} first response cannot come after its resolution.")
        seen.add(target.severity)
    missing = [severity for severity in Severity.values() if severity not in seen]
    if missing:
        problems.append(f"Give targets for every severity (missing: {', '.join(missing)}).")
    unknown = [vehicle for vehicle in entitlements if vehicle not in SupportVehicle.values()]
    if unknown:
        problems.append(f"{', '.join(unknown)} is not a Microsoft support vehicle.")
    if problems:
        raise InvalidAction(" ".join(problems))
    before = _offering()
    with transaction() as session:
        row = session.scalar(select(SupportOffering).order_by(SupportOffering.id).limit(1).with_for_update())
        if row is None:
            row = SupportOffering(name="Support offering", time_zone=time_zone, business_hours=hours_json,
                                  contact_methods=[], entitlements=[])  # fmt: skip
            session.add(row)
            session.flush()
        row.time_zone, row.business_hours, row.pricing = time_zone, hours_json, pricing
        row.entitlements = list(dict.fromkeys(entitlements))
        row.updated_at, row.updated_by = utcnow(), actor.username
        session.execute(delete(SupportTarget).where(SupportTarget.offering_id == row.id))
        session.add_all(
            SupportTarget(offering_id=row.id, severity=t.severity, first_response_hours=t.first_response_hours,
                          resolution_hours=t.resolution_hours)
            for t in targets
        )  # fmt: skip
        was = None
        if before is not None:
            was = OfferingSummary(
                time_zone=before.time_zone, entitlements=before.entitlements, targets=_targets(before.targets)
            )
        saved = OfferingSaved(
            before=was,
            after=OfferingRecord(
                time_zone=time_zone,
                business_hours={
                    day: None if hours is None else tuple(hours) for day, hours in hours_json.items()
                },
                entitlements=tuple(entitlements),
                targets=_targets(targets),
            ),
        )
        record_event(session, actor, saved, target="support-offering")
