"""The collections policy as stored data: read it, save an edit of it, and render the statement customers read;
and the support offering, read only.

Saving replaces the policy's stages in one transaction with its audit event, after the engine's validation
(`policy.validate_policy`) and the money rules (`money.to_cents`) both pass; a refused edit writes nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data_access import policy
from data_access.accounts import load_policy
from data_access.audit import record_event
from data_access.db import read_session, transaction
from data_access.errors import InvalidAction
from data_access.models import (
    CollectionsPolicy,
    Holiday,
    PolicyStage,
    Severity,
    StageAction,
    SupportOffering,
    SupportTarget,
    SupportVehicle,
    utcnow,
)
from data_access.money import InvalidAmount, from_cents, to_cents
from data_access.output import WORD_JOINER, plain
from data_access.permissions import Actor, requires
from data_access.sla import Calendar

DEFAULT_POLICY_NAME = "Collections policy"
STAGE_NAME_LENGTH = 100
WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)
_SEVERITY_ORDER = {severity.value: index for index, severity in enumerate(Severity)}
_WHAT_HAPPENS: dict[str, str] = {
    StageAction.REMINDER: "We send you a reminder of the overdue balance.",
    StageAction.FINAL_NOTICE: "We send you a final notice: the last reminder before access to your "
    "subscriptions is at risk.",
    StageAction.SUSPENSION_ELIGIBLE: "Your Microsoft subscriptions become eligible for suspension.",
    StageAction.REVIEW_FOR_CANCELLATION: "We review your account for cancellation of your subscriptions and "
    "may refer the debt to a collection agency.",
}


@dataclass(frozen=True)
class PolicyView:
    """The stored policy: its name, the engine's rules, the statement's introduction and who changed it last."""

    name: str
    policy: policy.Policy
    statement_intro: str
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class ContactMethod:
    method: str
    value: str
    availability: str


@dataclass(frozen=True)
class ResponseTarget:
    severity: str
    first_response_hours: int
    resolution_hours: int


@dataclass(frozen=True)
class SupportOfferingView:
    """The support offering; `business_hours` lists every weekday, with (start, end) or None when closed."""

    name: str
    time_zone: str
    business_hours: tuple[tuple[str, tuple[str, str] | None], ...]
    holidays: tuple[tuple[date, str], ...]
    contact_methods: tuple[ContactMethod, ...]
    pricing: str
    targets: tuple[ResponseTarget, ...]
    entitlements: tuple[str, ...]
    updated_at: datetime | None
    updated_by: str | None


def _policy_row(session: Session) -> CollectionsPolicy | None:
    return session.scalar(select(CollectionsPolicy).order_by(CollectionsPolicy.id).limit(1))


@requires("policies.view")
def current_policy(actor: Actor) -> PolicyView | None:
    """The partner's collections policy as stored, or None when none has been set up yet."""
    with read_session() as session:
        row = _policy_row(session)
        if row is None:
            return None
        return PolicyView(
            name=row.name,
            policy=load_policy(session),
            statement_intro=row.statement_intro or "",
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


def _snapshot(rules: policy.Policy, statement_intro: str) -> dict[str, Any]:
    return {
        "minimum_overdue": str(from_cents(rules.minimum_overdue_cents)),
        "grace_days_before_suspension": rules.grace_days_before_suspension,
        "disputes_stop_clock": rules.disputes_stop_clock,
        "statement_intro": statement_intro,
        "stages": [
            {"name": s.name, "days_past_due": s.days_past_due, "action": s.action,
             "message_template": s.message_template}
            for s in rules.stages
        ],
    }  # fmt: skip


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
            permission="policies.edit",
            target=f"collections_policy:{row.id}",
            details={"before": before, "after": _snapshot(rules, intro)},
        )


def _amount(cents: int) -> str:
    return f"{from_cents(cents):,.2f}"


def _stage_lines(rules: policy.Policy) -> list[str]:
    lines = []
    for stage in sorted(rules.stages, key=lambda s: s.days_past_due):
        days = "1 day" if stage.days_past_due == 1 else f"{stage.days_past_due} days"
        what = _WHAT_HAPPENS.get(stage.action, policy.ACTION_LABELS.get(stage.action, stage.action))
        if stage.action == StageAction.SUSPENSION_ELIGIBLE:
            grace = rules.grace_days_before_suspension
            what += (
                f" We may suspend them {grace} day{'s' if grace != 1 else ''} later (the grace period) "
                "if the balance is still unpaid, without further notice."
                if grace
                else " We may suspend them from that day if the balance is still unpaid, without further notice."
            )
        lines.append(f"- **{days} past due ({plain(stage.name)}).** {what}")
    return lines


def _contact_lines(offering: SupportOfferingView | None) -> list[str]:
    if offering is None or not offering.contact_methods:
        return ["Contact your account manager, or reply to any reminder we send you."]
    return [
        f"- {plain(c.method.capitalize())}: {plain(c.value)}"
        + (f" ({plain(c.availability)})" if c.availability else "")
        for c in offering.contact_methods
    ]


@requires("policies.view")
def collections_statement_markdown(actor: Actor, *, partner_name: str = "Your CSP partner") -> str:
    """The customer-facing statement of the policy: each stage in plain words, the minimum, the grace days,
    disputes and promises to pay, and how to reach us."""
    view = current_policy(actor)
    partner = plain(partner_name.strip() or "Your CSP partner")
    title = f"# {partner}: collections statement"
    if view is None or not view.policy.stages:
        return "\n\n".join(
            [
                title,
                f"{partner} has not set out a collections policy yet. Please pay every invoice by its due date.",
            ]
        )
    rules = view.policy
    minimum = (
        f"An overdue balance under **{_amount(rules.minimum_overdue_cents)}** in your billing currency starts "
        "no step, however old it is."
        if rules.minimum_overdue_cents
        else "Any overdue balance, however small, starts the steps below."
    )
    disputes = (
        "If you dispute an invoice, it is set aside while we look into it: it does not count towards the days "
        "past due or the overdue balance. Once the dispute is resolved it counts again from its own due date."
        if rules.disputes_stop_clock
        else "An invoice you dispute keeps counting towards the days past due while we look into it; please pay "
        "the undisputed part on time."
    )
    sections = [
        title,
        plain(view.statement_intro)
        or "Please pay every invoice by the due date shown on it. When a balance stays unpaid, we take the steps "
        "below.",
        "## The steps we take",
        "Days are counted past the due date of your oldest unpaid invoice.",
        "\n".join(_stage_lines(rules)),
        "## Small balances",
        minimum,
        "## Suspension",
        f"Access to your Microsoft subscriptions is suspended only after the suspension step and a grace period "
        f"of {rules.grace_days_before_suspension} days, and only while the balance is still at least "
        f"{_amount(rules.minimum_overdue_cents)}.",
        "## Disputes",
        disputes,
        "## Promises to pay",
        "If you tell us when you will pay, no new step starts until that date; if the payment does not arrive by "
        "then, the steps continue where the days past due have reached.",
        "## How to pay and contact us",
        "Pay with the payment details printed on your invoice, quoting the invoice number. Questions about a "
        "balance, or a dispute:",
        "\n".join(_contact_lines(_offering())),
    ]
    return "\n\n".join(sections) + "\n"


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1b1b1b; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 1.6rem; }}
@media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def _inline(text: str) -> str:
    marked_up = _BOLD.sub(r"<strong>\1</strong>", html.escape(text))
    return _ESCAPED.sub(r"\1", marked_up).replace(WORD_JOINER, "")


def collections_statement_html(markdown_text: str) -> str:
    """The statement as one self-contained HTML page (headings, paragraphs, lists, bold, Markdown's backslash
    escapes); all text escaped."""
    body: list[str] = []
    paragraph: list[str] = []
    in_list = False
    title = "Collections statement"

    def close() -> None:
        nonlocal in_list
        if paragraph:
            body.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if in_list:
            body.append("</ul>")
            in_list = False

    for raw in markdown_text.splitlines():
        line = raw.strip()
        if line.startswith("# "):
            close()
            title = line[2:].strip()
            body.append(f"<h1>{_inline(title)}</h1>")
        elif line.startswith("## "):
            close()
            body.append(f"<h2>{_inline(line[3:].strip())}</h2>")
        elif line.startswith("- "):
            if paragraph:
                close()
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(line[2:].strip())}</li>")
        elif not line:
            close()
        else:
            if in_list:
                close()
            paragraph.append(line)
    close()
    return _HTML_PAGE.format(title=_inline(title), body="\n".join(body))


def _offering() -> SupportOfferingView | None:
    with read_session() as session:
        row = session.scalar(select(SupportOffering).order_by(SupportOffering.id).limit(1))
        if row is None:
            return None
        targets = session.scalars(select(SupportTarget).where(SupportTarget.offering_id == row.id)).all()
        days = session.execute(
            select(Holiday.day, Holiday.name).where(Holiday.offering_id == row.id).order_by(Holiday.day)
        ).all()
        hours = row.business_hours or {}
        return SupportOfferingView(
            name=row.name,
            time_zone=row.time_zone,
            business_hours=tuple(
                (label, (str(hours[key][0]), str(hours[key][1])) if hours.get(key) else None)
                for key, label in WEEKDAYS
            ),
            holidays=tuple((day, name) for day, name in days),
            contact_methods=tuple(
                ContactMethod(
                    method=str(c.get("method", "")),
                    value=str(c.get("value", "")),
                    availability=str(c.get("availability") or ""),
                )
                for c in row.contact_methods or []
            ),
            pricing=row.pricing or "",
            targets=tuple(
                ResponseTarget(
                    severity=t.severity,
                    first_response_hours=t.first_response_hours,
                    resolution_hours=t.resolution_hours,
                )
                for t in sorted(targets, key=lambda t: _SEVERITY_ORDER.get(t.severity, len(_SEVERITY_ORDER)))
            ),
            entitlements=tuple(str(e) for e in row.entitlements or []),
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


@requires("policies.view")
def support_offering(actor: Actor) -> SupportOfferingView | None:
    """The partner's support offering (hours, holidays, contacts, pricing, targets, entitlements), read only."""
    return _offering()


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
        record_event(
            session, actor, permission="policies.edit", target="support-offering",
            details={
                "before": None if before is None else {"time_zone": before.time_zone,
                                                       "entitlements": list(before.entitlements),
                                                       "targets": [vars(t) for t in before.targets]},
                "after": {"time_zone": time_zone, "business_hours": hours_json, "entitlements": list(entitlements),
                          "targets": [vars(t) for t in targets]},
            },
        )  # fmt: skip


@requires("policies.view")
def support_statement_markdown(actor: Actor, *, partner_name: str = "Your CSP partner") -> str:
    """The customer-facing support statement: hours, holidays, how to reach us, targets in business hours."""
    offering = _offering()
    if offering is None:
        return f"# Support from {plain(partner_name)}\n\nNo support offering has been set out yet.\n"
    lines = [f"# Support from {plain(partner_name)}", "",
             f"We answer support requests during these hours ({plain(offering.time_zone)} time):", ""]  # fmt: skip
    lines += [
        f"- **{day}:** {f'{span[0]} to {span[1]}' if span else 'closed'}"
        for day, span in offering.business_hours
    ]
    upcoming = [f"- {day:%d %B %Y}: {plain(name)}" for day, name in offering.holidays]
    if upcoming:
        lines += ["", "We are closed on these holidays:", "", *upcoming]
    lines += ["", "## How to reach us", ""]
    lines += [f"- **{plain(c.method.capitalize())}:** {plain(c.value)}"
              + (f" ({plain(c.availability)})" if c.availability else "")
              for c in offering.contact_methods] or ["- Your account manager."]  # fmt: skip
    lines += ["", "## How fast we respond", "",
              "Times count business hours only: a request sent on a Friday evening is answered from Monday morning.",
              ""]  # fmt: skip
    lines += [f"- **{t.severity.capitalize()}:** first response within {t.first_response_hours} business hours, "
              f"resolution within {t.resolution_hours}." for t in offering.targets]  # fmt: skip
    if offering.entitlements:
        lines += ["", "Technical issues beyond our support boundary are escalated to Microsoft through "
                  + ", ".join(map(plain, offering.entitlements))
                  + "; billing and licensing issues through Microsoft's commercial support."]  # fmt: skip
    if offering.pricing:
        lines += ["", "## Pricing", "", plain(offering.pricing)]
    return "\n".join(lines) + "\n"
