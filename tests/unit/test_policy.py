"""The collections policy engine, by hand at every boundary of the default policy and by property."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_access.demo.policy import GRACE_DAYS, MINIMUM_OVERDUE_CENTS, POLICY_STAGES
from data_access.enums import ActivityKind, StageAction
from data_access.errors import InvalidAction
from data_access.rules.policy import (
    Account,
    Activity,
    OpenInvoice,
    Payment,
    Policy,
    Promise,
    Stage,
    assess,
    message_context,
    render_message,
    validate_policy,
)

DUE = date(2026, 3, 2)
DEFAULT = Policy(
    stages=tuple(Stage(name, days, action.value, template) for days, action, name, template in POLICY_STAGES),
    minimum_overdue_cents=MINIMUM_OVERDUE_CENTS,
    grace_days_before_suspension=GRACE_DAYS,
    disputes_stop_clock=True,
)
PROPERTY = settings(max_examples=100)


def day(n: int) -> date:
    return DUE + timedelta(days=n)


def invoice(
    number: str = "INV-1", due: int = 0, cents: int = 10_000, *, disputed: bool = False
) -> OpenInvoice:
    return OpenInvoice(number=number, due_date=day(due), open_cents=cents, disputed=disputed)


def account(
    *invoices: OpenInvoice,
    exempt: bool = False,
    promises: tuple[Promise, ...] = (),
    activities: tuple[Activity, ...] = (),
    payments: tuple[Payment, ...] = (),
) -> Account:
    """Customer 7; one invoice of 100.00 due on DUE unless others are given."""
    return Account(7, exempt, invoices or (invoice(),), promises, activities, payments)


def stage_name(policy: Policy, acct: Account, on: int) -> str | None:
    stage = assess(policy, acct, day(on)).stage
    return stage.name if stage else None


# The default policy, stage by stage


@pytest.mark.parametrize(
    ("days", "stage", "due_now"),
    [
        (-5, None, None),
        (0, None, None),
        (1, "Friendly reminder", "reminder"),
        (14, "Friendly reminder", "reminder"),
        (15, "Second reminder", "reminder"),
        (29, "Second reminder", "reminder"),
        (30, "Final notice", "final_notice"),
        (44, "Final notice", "final_notice"),
        (45, "Suspension", "suspension_eligible"),
        (89, "Suspension", "suspension_eligible"),
        (90, "Review for cancellation / agency", "review_for_cancellation"),
        (400, "Review for cancellation / agency", "review_for_cancellation"),
    ],
)
def test_each_stage_starts_on_its_day_past_due(days: int, stage: str | None, due_now: str | None) -> None:
    result = assess(DEFAULT, account(), day(days))
    assert (result.stage.name if result.stage else None) == stage
    assert result.due_now == due_now
    assert result.days_past_due == max(days, 0)
    assert result.overdue_cents == (10_000 if days > 0 else 0)
    assert result.oldest_invoice == (invoice() if days > 0 else None)


def test_the_due_date_itself_is_not_overdue_and_the_first_reminder_is_next() -> None:
    result = assess(DEFAULT, account(), DUE)
    assert result.stage is None and result.overdue_cents == 0 and not result.below_minimum
    assert result.next_step is not None
    assert (result.next_step.stage.name, result.next_step.on) == ("Friendly reminder", day(1))


def test_suspension_eligibility_waits_for_the_grace_days() -> None:
    for days, eligible in [(44, False), (45, False), (49, False), (50, True), (90, True)]:
        result = assess(DEFAULT, account(), day(days))
        assert result.suspension_eligible is eligible, days
        assert result.suspension_eligible_on == day(50)


def test_next_step_is_the_next_stage_on_the_day_the_clock_reaches_it() -> None:
    steps = {n: assess(DEFAULT, account(), day(n)).next_step for n in (1, 20, 44, 60, 90)}
    assert {n: (s.stage.name, s.on) if s else None for n, s in steps.items()} == {
        1: ("Second reminder", day(15)),
        20: ("Final notice", day(30)),
        44: ("Suspension", day(45)),
        60: ("Review for cancellation / agency", day(90)),
        90: None,
    }


def test_the_oldest_overdue_invoice_sets_the_clock_and_every_overdue_invoice_counts() -> None:
    acct = account(
        invoice("INV-2", due=20, cents=3_000), invoice("INV-1", due=0, cents=4_000), invoice("INV-3", 40)
    )
    result = assess(DEFAULT, acct, day(31))
    assert result.oldest_invoice is not None and result.oldest_invoice.number == "INV-1"
    assert (result.days_past_due, result.overdue_cents) == (31, 7_000)
    assert result.stage is not None and result.stage.name == "Final notice"


# The minimum overdue balance


def test_a_balance_under_the_minimum_starts_no_stage_however_old() -> None:
    result = assess(DEFAULT, account(invoice(cents=4_999)), day(120))
    assert result.stage is None and result.clock_stage is None
    assert result.below_minimum and result.overdue_cents == 4_999 and result.days_past_due == 120
    assert result.due_now is None and result.next_step is None
    assert not result.suspension_eligible and result.suspension_eligible_on is None


def test_a_balance_of_exactly_the_minimum_is_chased() -> None:
    result = assess(DEFAULT, account(invoice(cents=5_000)), day(1))
    assert result.stage is not None and result.stage.name == "Friendly reminder" and not result.below_minimum


def test_the_stages_start_when_a_later_invoice_lifts_the_balance_over_the_minimum() -> None:
    acct = account(invoice("INV-1", due=0, cents=3_000), invoice("INV-2", due=20, cents=3_000))
    before = assess(DEFAULT, acct, day(20))
    assert before.stage is None and before.below_minimum
    assert before.next_step is not None
    assert (before.next_step.stage.name, before.next_step.on) == ("Second reminder", day(21))
    after = assess(DEFAULT, acct, day(21))
    assert after.stage is not None and after.stage.name == "Second reminder"
    assert after.entered_stage_on == day(21) and after.days_past_due == 21
    assert after.suspension_eligible_on == day(50)


# Disputes


def test_a_disputed_invoice_is_set_aside_and_the_clock_runs_on_the_rest() -> None:
    acct = account(invoice("INV-1", due=0, cents=8_000, disputed=True), invoice("INV-2", due=20, cents=6_000))
    result = assess(DEFAULT, acct, day(50))
    assert (result.overdue_cents, result.disputed_cents, result.days_past_due) == (6_000, 8_000, 30)
    assert result.oldest_invoice is not None and result.oldest_invoice.number == "INV-2"
    assert result.stage is not None and result.stage.name == "Final notice"
    assert not result.suspension_eligible and result.suspension_eligible_on == day(70)


def test_disputes_alone_start_no_stage_and_the_remaining_balance_must_reach_the_minimum() -> None:
    only_disputed = account(invoice(cents=50_000, disputed=True))
    assert assess(DEFAULT, only_disputed, day(200)).stage is None
    small_rest = account(invoice("INV-1", cents=50_000, disputed=True), invoice("INV-2", cents=1_000))
    result = assess(DEFAULT, small_rest, day(200))
    assert result.stage is None and result.below_minimum and result.disputed_cents == 50_000


def test_a_resolved_dispute_counts_again_from_its_own_due_date() -> None:
    resolved = account(invoice("INV-1", due=0, cents=8_000), invoice("INV-2", due=20, cents=6_000))
    result = assess(DEFAULT, resolved, day(50))
    assert result.days_past_due == 50 and result.overdue_cents == 14_000 and result.disputed_cents == 0
    assert result.stage is not None and result.stage.name == "Suspension" and result.suspension_eligible


def test_when_disputes_do_not_stop_the_clock_a_disputed_invoice_counts_like_any_other() -> None:
    policy = replace(DEFAULT, disputes_stop_clock=False)
    result = assess(policy, account(invoice(cents=8_000, disputed=True)), day(46))
    assert (result.overdue_cents, result.disputed_cents) == (8_000, 8_000)
    assert result.stage is not None and result.stage.name == "Suspension"


# Exempt customers


def test_an_exempt_customer_gets_reminders_and_the_final_notice_but_never_suspension() -> None:
    exempt = account(exempt=True)
    assert stage_name(DEFAULT, exempt, 1) == "Friendly reminder"
    assert assess(DEFAULT, exempt, day(1)).due_now == "reminder"
    assert stage_name(DEFAULT, exempt, 30) == "Final notice"
    for days in (45, 50, 90, 365):
        result = assess(DEFAULT, exempt, day(days))
        assert result.stage is not None and result.stage.name == "Final notice"
        assert result.exempt and not result.suspension_eligible and result.suspension_eligible_on is None
        assert result.clock_stage is not None and result.clock_stage.days_past_due >= 45
    assert assess(DEFAULT, exempt, day(35)).next_step is None


# Promises to pay


def test_a_promise_holds_the_stage_it_was_made_in_until_its_date() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(40), made_on=day(20))
    acct = account(promises=(promise,))
    held = assess(DEFAULT, acct, day(35))
    assert held.stage is not None and held.stage.name == "Second reminder"
    assert held.clock_stage is not None and held.clock_stage.name == "Final notice"
    assert held.held_by_promise and held.promise == promise and held.due_now is None
    assert held.next_step is not None
    assert (held.next_step.stage.name, held.next_step.on) == ("Final notice", day(41))
    assert stage_name(DEFAULT, acct, 40) == "Second reminder"
    assert held.broken_promises == () and held.kept_promises == ()


def test_a_broken_promise_releases_the_clock_the_day_after_its_date() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(40), made_on=day(20))
    result = assess(DEFAULT, account(promises=(promise,)), day(41))
    assert result.stage is not None and result.stage.name == "Final notice"
    assert result.entered_stage_on == day(41) and result.due_now == "final_notice"
    assert not result.held_by_promise and result.broken_promises == (promise,)


def test_a_promise_made_before_suspension_moves_the_grace_period_after_its_date() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(60), made_on=day(40))
    acct = account(promises=(promise,))
    assert stage_name(DEFAULT, acct, 60) == "Final notice"
    reached = assess(DEFAULT, acct, day(61))
    assert reached.stage is not None and reached.stage.name == "Suspension"
    assert reached.suspension_eligible_on == day(66) and not reached.suspension_eligible
    assert assess(DEFAULT, acct, day(66)).suspension_eligible


def test_a_promise_made_after_suspension_keeps_the_stage_but_blocks_suspension_while_it_stands() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(60), made_on=day(52))
    acct = account(promises=(promise,))
    assert assess(DEFAULT, acct, day(51)).suspension_eligible
    standing = assess(DEFAULT, acct, day(55))
    assert standing.stage is not None and standing.stage.name == "Suspension"
    assert standing.suspension_eligible_on == day(50) and not standing.suspension_eligible
    assert assess(DEFAULT, acct, day(60)).held_by_promise
    after = assess(DEFAULT, acct, day(61))
    assert after.suspension_eligible and after.broken_promises == (promise,)


def test_a_promise_renewed_while_the_first_stands_keeps_holding() -> None:
    first = Promise(amount_cents=10_000, promised_for=day(50), made_on=day(40))
    renewed = Promise(amount_cents=10_000, promised_for=day(70), made_on=day(48))
    acct = account(promises=(first, renewed))
    result = assess(DEFAULT, acct, day(60))
    assert result.stage is not None and result.stage.name == "Final notice"
    assert result.promise == renewed and result.broken_promises == (first,)
    assert stage_name(DEFAULT, acct, 71) == "Suspension"


def test_a_promise_paid_in_full_by_its_date_is_kept_and_the_rest_is_chased_after_it() -> None:
    promise = Promise(amount_cents=2_000, promised_for=day(40), made_on=day(20))
    acct = account(invoice(cents=8_000), promises=(promise,), payments=(Payment(day(38), 2_000),))
    assert assess(DEFAULT, acct, day(39)).kept_promises == (promise,)
    result = assess(DEFAULT, acct, day(41))
    assert result.kept_promises == (promise,) and result.broken_promises == ()
    assert result.stage is not None and result.stage.name == "Final notice"


@pytest.mark.parametrize(
    ("payments", "kept"),
    [
        ((Payment(day(30), 10_000),), True),
        ((Payment(day(20), 4_000), Payment(day(40), 6_000)), True),
        ((Payment(day(30), 9_999),), False),
        ((Payment(day(19), 10_000),), False),
        ((Payment(day(41), 10_000),), False),
        ((), False),
    ],
    ids=["paid", "paid-in-two", "short-by-a-cent", "paid-before-the-promise", "paid-late", "unpaid"],
)
def test_a_promise_is_kept_only_by_payments_from_the_day_it_was_made_through_its_date(
    payments: tuple[Payment, ...], kept: bool
) -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(40), made_on=day(20))
    result = assess(DEFAULT, account(promises=(promise,), payments=payments), day(45))
    assert (result.kept_promises, result.broken_promises) == (((promise,), ()) if kept else ((), (promise,)))


def test_one_payment_keeps_only_one_of_two_promises() -> None:
    first = Promise(amount_cents=5_000, promised_for=day(30), made_on=day(20))
    second = Promise(amount_cents=5_000, promised_for=day(35), made_on=day(22))
    result = assess(DEFAULT, account(promises=(second, first), payments=(Payment(day(25), 5_000),)), day(40))
    assert result.kept_promises == (first,) and result.broken_promises == (second,)


def test_a_promise_or_payment_recorded_after_the_as_of_date_does_not_count_yet() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(40), made_on=day(35))
    acct = account(promises=(promise,), payments=(Payment(day(36), 10_000),))
    early = assess(DEFAULT, acct, day(34))
    assert not early.held_by_promise and early.kept_promises == () and early.due_now == "final_notice"


# Partial payments: the caller passes open balances at the as-of date


def test_a_partly_paid_oldest_invoice_still_sets_the_clock() -> None:
    acct = account(invoice("INV-1", due=0, cents=6_000), invoice("INV-2", due=20, cents=10_000))
    result = assess(DEFAULT, acct, day(46))
    assert result.oldest_invoice is not None and result.oldest_invoice.number == "INV-1"
    assert result.days_past_due == 46 and result.overdue_cents == 16_000


def test_paying_off_the_oldest_invoice_moves_the_clock_to_the_next_one() -> None:
    acct = account(invoice("INV-1", due=0, cents=0), invoice("INV-2", due=20, cents=10_000))
    result = assess(DEFAULT, acct, day(46))
    assert result.oldest_invoice is not None and result.oldest_invoice.number == "INV-2"
    assert result.days_past_due == 26 and result.overdue_cents == 10_000
    assert result.stage is not None and result.stage.name == "Second reminder"
    assert result.entered_stage_on == day(35) and result.suspension_eligible_on == day(70)


def test_a_partial_payment_that_drops_the_balance_under_the_minimum_stops_the_chasing() -> None:
    result = assess(DEFAULT, account(invoice(cents=4_000)), day(60))
    assert result.stage is None and not result.suspension_eligible


# What is due now


def test_a_stage_action_is_done_by_an_activity_recorded_for_it_since_the_account_entered_it() -> None:
    sent = Activity(ActivityKind.REMINDER_SENT, day(1), "Friendly reminder")
    acct = account(activities=(sent,))
    assert assess(DEFAULT, acct, day(5)).due_now is None
    assert assess(DEFAULT, acct, day(15)).due_now == "reminder"
    assert assess(DEFAULT, account(), day(5)).due_now == "reminder"


@pytest.mark.parametrize(
    ("activity", "done"),
    [
        (Activity(ActivityKind.REMINDER_SENT, day(16), "Second reminder"), True),
        (Activity(ActivityKind.REMINDER_SENT, day(16)), True),
        (Activity(ActivityKind.REMINDER_SENT, day(16), "Friendly reminder"), False),
        (Activity(ActivityKind.REMINDER_SENT, day(14), "Second reminder"), False),
        (Activity(ActivityKind.REMINDER_SENT, day(21), "Second reminder"), False),
        (Activity(ActivityKind.CALL, day(16), "Second reminder"), False),
        (Activity(ActivityKind.EMAIL, day(16)), False),
    ],
    ids=["named", "unnamed", "other-stage", "before-the-stage", "after-as-of", "a-call", "an-email"],
)
def test_which_activity_does_a_reminder(activity: Activity, done: bool) -> None:
    result = assess(DEFAULT, account(activities=(activity,)), day(20))
    assert result.due_now == (None if done else "reminder")


def test_the_suspension_warning_may_be_an_email_and_the_review_a_note() -> None:
    warned = account(activities=(Activity(ActivityKind.EMAIL, day(45)),))
    assert assess(DEFAULT, warned, day(50)).due_now is None
    reviewed = account(activities=(Activity(ActivityKind.NOTE, day(90), "Review for cancellation / agency"),))
    assert assess(DEFAULT, reviewed, day(91)).due_now is None


def test_a_held_stage_counts_from_the_day_it_was_entered() -> None:
    promise = Promise(amount_cents=10_000, promised_for=day(40), made_on=day(20))
    early_notice = Activity(ActivityKind.REMINDER_SENT, day(35), "Final notice")
    result = assess(DEFAULT, account(promises=(promise,), activities=(early_notice,)), day(42))
    assert result.entered_stage_on == day(41) and result.due_now == "final_notice"


# Validating an edited policy


def test_the_default_policy_is_valid() -> None:
    assert validate_policy(DEFAULT) == []
    assert DEFAULT.validated() is DEFAULT


def stages(*spec: tuple[int, str]) -> tuple[Stage, ...]:
    return tuple(
        Stage(f"Step {n}", days, action, "Hello {customer_name}") for n, (days, action) in enumerate(spec)
    )


REMINDER, FINAL, SUSPEND, REVIEW = StageAction.values()


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (replace(DEFAULT, stages=stages((1, REMINDER), (1, FINAL))), "must start later than the one before"),
        (
            replace(DEFAULT, stages=stages((30, FINAL), (15, REMINDER))),
            "must start later than the one before",
        ),
        (replace(DEFAULT, stages=stages((1, REMINDER), (45, SUSPEND))), "before any final notice"),
        (replace(DEFAULT, stages=stages((45, SUSPEND), (60, FINAL))), "before any final notice"),
        (replace(DEFAULT, minimum_overdue_cents=-1), "minimum overdue balance cannot be negative"),
        (
            replace(DEFAULT, grace_days_before_suspension=-2),
            "grace days before suspension cannot be negative",
        ),
        (replace(DEFAULT, stages=()), "needs at least one stage"),
        (replace(DEFAULT, stages=stages((0, REMINDER))), "at least 1 day past due"),
        (replace(DEFAULT, stages=stages((1, "letter"))), 'asks for "letter", which is not an action'),
        (replace(DEFAULT, stages=(Stage(" ", 1, REMINDER, "Hi"),)), "Stage 1 needs a name"),
        (replace(DEFAULT, stages=(Stage("A", 1, REMINDER, "Hi"), Stage("a", 9, FINAL, "Hi"))), "same name"),
        (replace(DEFAULT, stages=(Stage("A", 1, REMINDER, " "),)), "needs a message for the customer"),
        (replace(DEFAULT, stages=(Stage("A", 1, REMINDER, "Pay {amount} by {due}"),)), "{amount}, {due}"),
    ],
)
def test_an_edited_policy_that_breaks_a_rule_is_refused_with_a_reason(policy: Policy, problem: str) -> None:
    problems = validate_policy(policy)
    assert any(problem in p for p in problems), problems
    assert all(p.endswith(".") for p in problems)
    with pytest.raises(InvalidAction, match=r"\.$"):
        policy.validated()


def test_every_problem_is_reported_at_once() -> None:
    policy = Policy(stages=stages((30, FINAL), (15, SUSPEND)), minimum_overdue_cents=-5)
    assert len(validate_policy(policy)) == 3
    with pytest.raises(InvalidAction) as refused:
        policy.validated()
    assert "minimum overdue balance" in str(refused.value) and "final notice" in str(refused.value)


def test_a_final_notice_on_the_same_day_as_suspension_does_not_count_as_before_it() -> None:
    policy = Policy(stages=(*stages((1, REMINDER), (45, SUSPEND)), Stage("Late notice", 45, FINAL, "Hi")))
    assert any("before any final notice" in p for p in validate_policy(policy))


# Messages


def test_the_default_messages_render_with_the_account_figures() -> None:
    acct = account(invoice("INV-9", due=0, cents=12_345), invoice("INV-10", due=10, cents=100_000))
    result = assess(DEFAULT, acct, day(31))
    assert result.stage is not None
    context = message_context(result, customer_name="Contoso Ltd", currency="EUR")
    assert render_message(result.stage, context) == (
        "Contoso Ltd: final notice. EUR 1,123.45 is 31 days past due (oldest invoice INV-9). A balance still "
        "unpaid 45 days after its due date makes your Microsoft subscriptions eligible for suspension."
    )
    for stage in DEFAULT.stages:
        assert "{" not in render_message(stage, context)


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("Dear {customer_name}, pay {amount}.", "Dear Contoso, pay {amount}."),
        ("{currency}{currency}", "USDUSD"),
        ("Braces { and } and {} and {{customer_name}}", "Braces { and } and {} and {Contoso}"),
        (
            "{0} {customer_name.upper} {currency!r} {currency:>9} {",
            "{0} {customer_name.upper} {currency!r} {currency:>9} {",
        ),
        ("{days_past_due} days", "{days_past_due} days"),
    ],
)
def test_rendering_fills_known_placeholders_and_leaves_the_rest_visible(template: str, rendered: str) -> None:
    stage = Stage("Any", 1, REMINDER, template)
    assert render_message(stage, {"customer_name": "Contoso", "currency": "USD"}) == rendered


def test_a_value_that_looks_like_a_placeholder_is_not_filled_in_again() -> None:
    stage = Stage("Any", 1, REMINDER, "{customer_name} owes {currency}")
    assert render_message(stage, {"customer_name": "{currency}", "currency": "USD"}) == "{currency} owes USD"


# Properties


def numbered(invoices: list[OpenInvoice]) -> tuple[OpenInvoice, ...]:
    return tuple(replace(inv, number=f"INV-{n:03}") for n, inv in enumerate(invoices))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Valid policies: stages in rising days, and no suspension stage before a final notice."""
    days = sorted(draw(st.sets(st.integers(1, 120), min_size=1, max_size=6)))
    actions: list[str] = []
    for _ in days:
        action = draw(st.sampled_from(StageAction.values()))
        if action == SUSPEND and FINAL not in actions:
            action = FINAL
        actions.append(action)
    return Policy(
        stages=tuple(
            Stage(f"Stage {d}", d, a, "Hello {customer_name}") for d, a in zip(days, actions, strict=True)
        ),
        minimum_overdue_cents=draw(st.sampled_from([0, 1, 5_000, 30_000])),
        grace_days_before_suspension=draw(st.integers(0, 10)),
        disputes_stop_clock=draw(st.booleans()),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, Account, int]:
    """A policy, an account and an as-of day, with promises and payments around the as-of day."""
    policy = draw(st.one_of(st.just(DEFAULT), policies()))
    on = draw(st.integers(-10, 120))
    near = st.integers(on - 45, on + 3)
    invoices = draw(
        st.lists(
            st.builds(
                OpenInvoice,
                number=st.just(""),
                due_date=st.integers(-60, 40).map(day),
                open_cents=st.integers(0, 20_000),
                disputed=st.booleans(),
            ),
            min_size=1,
            max_size=6,
        )
    )
    promises = draw(
        st.lists(
            st.builds(
                lambda made, length, cents: Promise(
                    cents, promised_for=day(made + length), made_on=day(made)
                ),
                near,
                st.integers(0, 60),
                st.integers(1, 20_000),
            ),
            max_size=3,
        )
    )
    payments = draw(st.lists(st.builds(Payment, near.map(day), st.integers(1, 20_000)), max_size=4))
    acct = Account(
        customer_id=7,
        exempt=draw(st.booleans()),
        invoices=tuple(replace(inv, number=f"INV-{n:03}") for n, inv in enumerate(invoices)),
        promises=tuple(promises),
        payments=tuple(payments),
    )
    return policy, acct, on


@st.composite
def promise_cases(draw: st.DrawFn) -> tuple[Policy, Account, int]:
    """The default policy, one overdue-enough invoice and promises made while its clock crosses the stages."""
    on = draw(st.integers(1, 120))
    made = st.integers(max(on - 60, 0), on)
    promises = draw(
        st.lists(
            st.builds(
                lambda made, length: Promise(10_000, promised_for=day(made + length), made_on=day(made)),
                made,
                st.integers(0, 45),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return DEFAULT, account(exempt=draw(st.booleans()), promises=tuple(promises)), on


scenarios = st.one_of(cases(), promise_cases())


def simulated_stage(policy: Policy, acct: Account, as_of: date) -> Stage | None:
    """Walk day by day: on a day no standing promise holds, the stage is where the clock puts it."""
    ordered = sorted(policy.stages, key=lambda s: s.days_past_due)
    enforced = next((s.days_past_due for s in ordered if s.action in (SUSPEND, REVIEW)), None)
    reachable = [
        s for s in ordered if not (acct.exempt and enforced is not None and s.days_past_due >= enforced)
    ]
    clocked = [
        i for i in acct.invoices if i.open_cents > 0 and not (policy.disputes_stop_clock and i.disputed)
    ]
    known = [p for p in acct.promises if p.made_on <= as_of]
    stage = None
    current = day(-160)
    while current <= as_of:
        if not any(p.made_on < current <= p.promised_for for p in known):
            overdue = [i for i in clocked if i.due_date < current]
            stage = None
            if overdue and sum(i.open_cents for i in overdue) >= policy.minimum_overdue_cents:
                days = (current - min(i.due_date for i in overdue)).days
                stage = next((s for s in reversed(reachable) if s.days_past_due <= days), None)
        current += timedelta(days=1)
    return stage


@PROPERTY
@given(case=scenarios)
def test_property_the_stage_is_what_a_day_by_day_walk_finds(case: tuple[Policy, Account, int]) -> None:
    policy, acct, on = case
    assert validate_policy(policy) == []
    assert assess(policy, acct, day(on)).stage == simulated_stage(policy, acct, day(on))


@PROPERTY
@given(case=scenarios, later=st.integers(0, 120))
def test_property_unpaid_the_stage_never_goes_back(case: tuple[Policy, Account, int], later: int) -> None:
    policy, acct, first = case

    def rank(on: int) -> int:
        stage = assess(policy, acct, day(on)).stage
        return stage.days_past_due if stage else 0

    assert rank(first) <= rank(first + later)
    no_promises = replace(acct, promises=(), exempt=False)
    assert (
        assess(policy, no_promises, day(first)).stage == assess(policy, no_promises, day(first)).clock_stage
    )


@PROPERTY
@given(case=scenarios)
def test_property_paying_everything_overdue_ends_the_chase(case: tuple[Policy, Account, int]) -> None:
    policy, acct, on = case
    paid = tuple(replace(i, open_cents=0) if i.due_date < day(on) else i for i in acct.invoices)
    result = assess(policy, replace(acct, invoices=paid), day(on))
    assert result.stage is None and result.overdue_cents == 0 and result.due_now is None
    assert not result.suspension_eligible


@PROPERTY
@given(case=scenarios)
def test_property_an_exempt_account_never_reaches_suspension(case: tuple[Policy, Account, int]) -> None:
    policy, acct, on = case
    result = assess(policy, replace(acct, exempt=True), day(on))
    assert not result.suspension_eligible and result.suspension_eligible_on is None
    assert result.stage is None or result.stage.action in (REMINDER, FINAL)
    assert result.due_now in (None, REMINDER, FINAL)


@PROPERTY
@given(case=scenarios)
def test_property_suspension_only_after_grace_over_the_minimum_and_unpromised(
    case: tuple[Policy, Account, int],
) -> None:
    policy, acct, on = case
    result = assess(policy, acct, day(on))
    if result.suspension_eligible:
        assert result.suspension_eligible_on is not None and day(on) >= result.suspension_eligible_on
        assert result.overdue_cents >= policy.minimum_overdue_cents and result.overdue_cents > 0
        assert not result.exempt and not result.held_by_promise
        assert result.stage is not None and result.entered_stage_on is not None
    if result.held_by_promise:
        assert result.due_now is None and not result.suspension_eligible


@PROPERTY
@given(case=scenarios)
def test_property_disputing_every_overdue_invoice_stops_the_chase(case: tuple[Policy, Account, int]) -> None:
    policy, acct, on = case
    disputed = tuple(replace(i, disputed=True) if i.due_date < day(on) else i for i in acct.invoices)
    stopping = replace(policy, disputes_stop_clock=True)
    result = assess(stopping, replace(acct, invoices=disputed), day(on))
    assert result.stage is None and result.overdue_cents == 0
    overdue = sum(i.open_cents for i in acct.invoices if i.due_date < day(on))
    assert result.disputed_cents == overdue
    both = assess(stopping, acct, day(on))
    assert both.overdue_cents + both.disputed_cents == overdue


@PROPERTY
@given(case=scenarios)
def test_property_the_next_step_happens_on_its_day_and_not_before(case: tuple[Policy, Account, int]) -> None:
    policy, acct, on = case
    result = assess(policy, acct, day(on))
    step = result.next_step
    if step is None:
        assert assess(policy, acct, day(on + 400)).stage == result.stage
        return
    assert step.on > day(on)
    known = replace(acct, promises=tuple(p for p in acct.promises if p.made_on <= day(on)))
    assert assess(policy, known, step.on).stage == step.stage
    assert assess(policy, known, step.on - timedelta(days=1)).stage == result.stage


@PROPERTY
@given(
    case=scenarios,
    kinds=st.lists(st.sampled_from(ActivityKind.values()), max_size=4),
    offsets=st.lists(st.integers(-60, 60), min_size=4, max_size=4),
)
def test_property_an_action_done_for_the_stage_is_no_longer_due(
    case: tuple[Policy, Account, int], kinds: list[str], offsets: list[int]
) -> None:
    policy, acct, on = case
    result = assess(policy, acct, day(on))
    if result.stage is None or result.due_now is None or result.entered_stage_on is None:
        return
    assert result.due_now == result.stage.action
    done = Activity(ActivityKind.REMINDER_SENT, result.entered_stage_on, result.stage.name)
    others = tuple(Activity(k, day(on + o)) for k, o in zip(kinds, offsets, strict=False))
    assert assess(policy, replace(acct, activities=(*others, done)), day(on)).due_now is None


@PROPERTY
@given(template=st.text(max_size=60), context=st.dictionaries(st.text(max_size=12), st.text(max_size=12)))
def test_property_rendering_never_fails(template: str, context: dict[str, str]) -> None:
    rendered = render_message(Stage("Any", 1, REMINDER, template), context)
    if not any(f"{{{key}}}" in template for key in context):
        assert rendered == template
