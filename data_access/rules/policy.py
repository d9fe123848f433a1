"""The collections policy engine: where an overdue account stands, what billing owes it now, what comes next.

Pure: dates and integer cents in, frozen dataclasses out; no database, no Streamlit, no clock of its own. The
caller gives the account's open invoices with their open balances at the as-of date; payments are needed only
to judge promises to pay.

The clock. An invoice is overdue from the day after its due date. The account's days past due are those of its
oldest overdue invoice with an open balance. When the policy says disputes stop the clock, disputed invoices
are left out of the clock and of the overdue balance; once a dispute is resolved the invoice counts again from
its own due date. `disputed_cents` always shows the overdue amount in dispute. Below the policy's minimum
overdue balance no stage applies, however old the debt.

Stages. The clock alone puts the account in the highest stage whose days past due it has reached, from the
later of that day and the day the overdue balance first reached the minimum.

Promises to pay. A promise stands from the day it is made through its promised date, whether or not it has
been paid yet. A stage the account had not reached when a promise was made is not entered while the promise
stands (nor while a promise made under that hold stands): the clock keeps counting, and on the day after the
promise date the account moves straight to the stage the clock says. A stage already reached stays; the
account never moves back to an earlier stage while its invoices stay unpaid. While a promise stands nothing is
due and the account is not eligible for suspension. Payments received from the day a promise is made through
its date go to the promises in order of their dates; a promise paid in full is kept, one whose date passed
short of its amount is broken, and a late payment does not mend it.

Due now. Each stage asks billing to act once: the action is due until an activity of a kind in `DONE_BY` is
recorded on or after the day the account entered the stage, named for that stage or for none.

Suspension. The first stage whose action is `suspension_eligible` starts the grace period: the account becomes
eligible for suspension the grace days after it entered that stage, while its overdue balance is at least the
minimum and no promise stands.

Exempt customers get the reminders and final notices up to the first stage that asks for suspension or for a
review for cancellation, and no stage from there on: they are never eligible for suspension, never reviewed
for cancellation or referred to an agency, and their `clock_stage` shows where the clock alone would put them.

Next step. What happens next if nothing is paid, nothing new is invoiced and no new promise is made: the next
stage and the first day it applies (the day after the promise date when a promise holds it back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from data_access.enums import ActivityKind, StageAction
from data_access.errors import InvalidAction
from data_access.money import from_cents, money

PLACEHOLDERS: tuple[str, ...] = (
    "customer_name",
    "overdue_amount",
    "currency",
    "days_past_due",
    "oldest_invoice",
)


ACTION_LABELS: Mapping[str, str] = {
    StageAction.REMINDER: "reminder",
    StageAction.FINAL_NOTICE: "final notice",
    StageAction.SUSPENSION_ELIGIBLE: "suspension eligible",
    StageAction.REVIEW_FOR_CANCELLATION: "review for cancellation / agency",
}


DONE_BY: Mapping[str, frozenset[str]] = {
    StageAction.REMINDER: frozenset({ActivityKind.REMINDER_SENT}),
    StageAction.FINAL_NOTICE: frozenset({ActivityKind.REMINDER_SENT, ActivityKind.EMAIL}),
    StageAction.SUSPENSION_ELIGIBLE: frozenset({ActivityKind.REMINDER_SENT, ActivityKind.EMAIL}),
    StageAction.REVIEW_FOR_CANCELLATION: frozenset(
        {ActivityKind.REMINDER_SENT, ActivityKind.EMAIL, ActivityKind.NOTE}
    ),
}


_ENFORCEMENT = frozenset({StageAction.SUSPENSION_ELIGIBLE, StageAction.REVIEW_FOR_CANCELLATION})


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Stage:
    name: str
    days_past_due: int
    action: str
    message_template: str = ""


@dataclass(frozen=True)
class Policy:
    stages: tuple[Stage, ...]
    minimum_overdue_cents: int = 0
    grace_days_before_suspension: int = 0
    disputes_stop_clock: bool = True

    def validated(self) -> Policy:
        """The policy itself when it can be saved; otherwise InvalidAction naming every problem."""
        problems = validate_policy(self)
        if problems:
            raise InvalidAction(" ".join(problems))
        return self


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice with its open balance at the as-of date (amount less payments and credit notes by then)."""

    number: str
    due_date: date
    open_cents: int
    disputed: bool = False


@dataclass(frozen=True)
class Payment:
    received_on: date
    amount_cents: int


@dataclass(frozen=True)
class Promise:
    """A promise to pay an amount by a date, recorded on the day the customer made it."""

    amount_cents: int
    promised_for: date
    made_on: date


@dataclass(frozen=True)
class Activity:
    """Something billing did, e.g. a reminder sent; stage_name says which stage it was for, if any."""

    kind: str
    on: date
    stage_name: str | None = None


@dataclass(frozen=True)
class Account:
    """What the engine needs to know about one customer; payments serve only to judge promises."""

    customer_id: int
    exempt: bool = False
    invoices: tuple[OpenInvoice, ...] = ()
    promises: tuple[Promise, ...] = ()
    activities: tuple[Activity, ...] = ()
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True)
class NextStep:
    """The stage the account reaches next if nothing is paid, and the first day it applies."""

    stage: Stage
    on: date


@dataclass(frozen=True)
class Assessment:
    """Where the account stands; `clock_stage` ignores promises and exemption, `stage` does not."""

    as_of: date
    stage: Stage | None
    clock_stage: Stage | None
    entered_stage_on: date | None
    overdue_cents: int
    disputed_cents: int
    below_minimum: bool
    days_past_due: int
    oldest_invoice: OpenInvoice | None
    exempt: bool
    held_by_promise: bool
    promise: Promise | None
    kept_promises: tuple[Promise, ...]
    broken_promises: tuple[Promise, ...]
    due_now: str | None
    suspension_eligible: bool
    suspension_eligible_on: date | None
    next_step: NextStep | None


def validate_policy(policy: Policy) -> list[str]:
    """Why an edited policy cannot be saved, one sentence per problem; an empty list means it can."""
    problems: list[str] = []
    if policy.minimum_overdue_cents < 0:
        problems.append("The minimum overdue balance cannot be negative.")
    if policy.grace_days_before_suspension < 0:
        problems.append("The grace days before suspension cannot be negative.")
    if not policy.stages:
        problems.append("The policy needs at least one stage.")
    names: set[str] = set()
    for number, stage in enumerate(policy.stages, start=1):
        name = stage.name.strip()
        label = f'Stage {number} ("{name}")' if name else f"Stage {number}"
        earlier = policy.stages[: number - 1]
        if not name:
            problems.append(f"{label} needs a name.")
        elif name.casefold() in names:
            problems.append(f"{label} has the same name as an earlier stage; each stage needs its own name.")
        names.add(name.casefold())
        if stage.days_past_due < 1:
            problems.append(f"{label} must start at least 1 day past due.")
        if earlier and stage.days_past_due <= earlier[-1].days_past_due:
            problems.append(
                f"{label} starts at {stage.days_past_due} days past due, no later than the stage before it "
                f"({earlier[-1].days_past_due} days); each stage must start later than the one before."
            )
        if stage.action not in ACTION_LABELS:
            choices = ", ".join(ACTION_LABELS.values())
            problems.append(
                f'{label} asks for "{stage.action}", which is not an action; choose one of {choices}.'
            )
        if stage.action == StageAction.SUSPENSION_ELIGIBLE and not any(
            s.action == StageAction.FINAL_NOTICE and s.days_past_due < stage.days_past_due for s in earlier
        ):
            problems.append(
                f"{label} makes accounts eligible for suspension before any final notice; "
                "add a final notice stage before it."
            )
        if not stage.message_template.strip():
            problems.append(f"{label} needs a message for the customer.")
        unknown = sorted(set(_PLACEHOLDER.findall(stage.message_template)) - set(PLACEHOLDERS))
        if unknown:
            named = ", ".join(f"{{{p}}}" for p in unknown)
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            problems.append(f"{label}'s message uses {named}, which cannot be filled in; use {known}.")
    return problems


def assess(policy: Policy, account: Account, as_of: date) -> Assessment:
    """Where the account stands under the policy at the as-of date, what is due now and what comes next."""
    stages = sorted(policy.stages, key=lambda s: s.days_past_due)
    suspension = next((s for s in stages if s.action == StageAction.SUSPENSION_ELIGIBLE), None)
    enforcement = next((s for s in stages if s.action in _ENFORCEMENT), None)
    reachable = [
        s
        for s in stages
        if not (account.exempt and enforcement is not None and s.days_past_due >= enforcement.days_past_due)
    ]
    open_invoices = [i for i in account.invoices if i.open_cents > 0]
    clocked = sorted(
        (i for i in open_invoices if not (policy.disputes_stop_clock and i.disputed)),
        key=lambda i: (i.due_date, i.number),
    )
    overdue = [i for i in clocked if i.due_date < as_of]
    overdue_cents = sum(i.open_cents for i in overdue)
    oldest = overdue[0] if overdue else None
    promises = [p for p in account.promises if p.made_on <= as_of]
    clock = _Clock(
        anchor=clocked[0].due_date if clocked else None,
        minimum_met_on=_minimum_met_on(clocked, policy.minimum_overdue_cents),
        holds=tuple((p.made_on, p.promised_for) for p in promises),
    )

    stage = _last(s for s in reachable if _on_or_before(clock.entered_on(s), as_of))
    entered_stage_on = clock.entered_on(stage) if stage else None
    standing = [p for p in promises if as_of <= p.promised_for]
    promise = max(standing, key=lambda p: (p.promised_for, p.made_on)) if standing else None
    kept, broken = _promise_outcomes(promises, account.payments, as_of)

    suspension_entered_on = None if account.exempt or suspension is None else clock.entered_on(suspension)
    eligible_on = (
        suspension_entered_on + timedelta(days=policy.grace_days_before_suspension)
        if suspension_entered_on
        else None
    )
    suspension_eligible = (
        eligible_on is not None
        and suspension_entered_on is not None
        and suspension_entered_on <= as_of
        and eligible_on <= as_of
        and promise is None
        and overdue_cents >= policy.minimum_overdue_cents
    )

    return Assessment(
        as_of=as_of,
        stage=stage,
        clock_stage=_last(s for s in stages if _on_or_before(clock.reached_on(s), as_of)),
        entered_stage_on=entered_stage_on,
        overdue_cents=overdue_cents,
        disputed_cents=sum(i.open_cents for i in open_invoices if i.disputed and i.due_date < as_of),
        below_minimum=0 < overdue_cents < policy.minimum_overdue_cents,
        days_past_due=(as_of - oldest.due_date).days if oldest else 0,
        oldest_invoice=oldest,
        exempt=account.exempt,
        held_by_promise=promise is not None,
        promise=promise,
        kept_promises=kept,
        broken_promises=broken,
        due_now=None if promise else _due_now(stage, entered_stage_on, account.activities, as_of),
        suspension_eligible=suspension_eligible,
        suspension_eligible_on=eligible_on,
        next_step=_next_step(reachable, clock, as_of),
    )


def message_context(assessment: Assessment, *, customer_name: str, currency: str) -> dict[str, str]:
    """What a stage's message quotes: the overdue balance the clock counts, its age and oldest invoice."""
    return {
        "customer_name": customer_name,
        "overdue_amount": money(from_cents(assessment.overdue_cents)),
        "currency": currency,
        "days_past_due": str(assessment.days_past_due),
        "oldest_invoice": assessment.oldest_invoice.number if assessment.oldest_invoice else "",
    }


def render_message(stage: Stage, context: Mapping[str, object]) -> str:
    """The stage's message with each {placeholder} the context knows filled in; the rest left as written."""
    return _PLACEHOLDER.sub(
        lambda match: str(context[match[1]]) if match[1] in context else match[0], stage.message_template
    )


@dataclass(frozen=True)
class _Clock:
    anchor: date | None
    minimum_met_on: date | None
    holds: tuple[tuple[date, date], ...]

    def reached_on(self, stage: Stage) -> date | None:
        if self.anchor is None or self.minimum_met_on is None:
            return None
        return max(self.anchor + timedelta(days=stage.days_past_due), self.minimum_met_on)

    def entered_on(self, stage: Stage) -> date | None:
        day = self.reached_on(stage)
        while day is not None:
            ends = [until for made_on, until in self.holds if made_on < day <= until]
            if not ends:
                return day
            day = max(ends) + _ONE_DAY
        return None


def _due_now(
    stage: Stage | None, entered_on: date | None, activities: tuple[Activity, ...], as_of: date
) -> str | None:
    if stage is None or entered_on is None:
        return None
    done_by = DONE_BY.get(stage.action, frozenset())
    for activity in activities:
        if (
            activity.kind in done_by
            and entered_on <= activity.on <= as_of
            and activity.stage_name in (None, stage.name)
        ):
            return None
    return stage.action


def _minimum_met_on(clocked: list[OpenInvoice], minimum_cents: int) -> date | None:
    running = 0
    for invoice in clocked:
        running += invoice.open_cents
        if running >= minimum_cents:
            return invoice.due_date + _ONE_DAY
    return None


def _promise_outcomes(
    promises: list[Promise], payments: tuple[Payment, ...], as_of: date
) -> tuple[tuple[Promise, ...], tuple[Promise, ...]]:
    received = sorted((p.received_on, p.amount_cents) for p in payments if p.received_on <= as_of)
    unspent = [cents for _, cents in received]
    kept: list[Promise] = []
    broken: list[Promise] = []
    for promise in sorted(promises, key=lambda p: (p.promised_for, p.made_on)):
        owed = promise.amount_cents
        for index, (received_on, _) in enumerate(received):
            if owed <= 0:
                break
            if promise.made_on <= received_on <= promise.promised_for and unspent[index] > 0:
                used = min(owed, unspent[index])
                unspent[index] -= used
                owed -= used
        if owed <= 0:
            kept.append(promise)
        elif promise.promised_for < as_of:
            broken.append(promise)
    return tuple(kept), tuple(broken)


def _next_step(reachable: list[Stage], clock: _Clock, as_of: date) -> NextStep | None:
    upcoming = [(day, s) for s in reachable if (day := clock.entered_on(s)) is not None and day > as_of]
    if not upcoming:
        return None
    first = min(day for day, _ in upcoming)
    return NextStep(stage=[s for day, s in upcoming if day == first][-1], on=first)


def _on_or_before(day: date | None, as_of: date) -> bool:
    return day is not None and day <= as_of


def _last(stages: Iterable[Stage]) -> Stage | None:
    found = None
    for stage in stages:
        found = stage
    return found
