"""Keeping the stored collections state: the daily run over every customer, and the refresh of one customer in the
same transaction as each write that changes their account.

The state is the policy engine's output (`rules.policy.assess`, read through `queries.assessments`) and nothing
else: `queries.collections_state.state_of` turns an assessment into a row. A refresh reassesses the customers it
is given through the caller's session (so the caller's uncommitted writes count), writes only the rows that
changed, deletes the row of a customer with nothing overdue or disputed left, and keeps the stage history: when a
customer's stage changes, the open history row is closed and a new one opened, each saying why.

Who waits for whom (PostgreSQL; on SQLite a write transaction holds the whole database). A refresh of a few named
customers, at the end of a write, locks their rows FOR NO KEY UPDATE (a money write holds its customer FOR UPDATE
already; a note only refers to it) and then holds the run's named lock shared: refreshes of one customer take
turns, each reading what the one before committed. A refresh of many or of everybody (the run, the first reader of
the day, a policy save, a big import) holds the run's lock alone, so no refresh commits meanwhile, and never waits
for a row: a customer that a write holds (and will refresh once the run is over) is skipped and reassessed on its
own after the commit. A transaction takes the run's lock after every customer lock it will need, never before.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, delete, event, func, insert, select, text, union, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from data_access import clock
from data_access.audit import CollectionsRunRecorded, record_event
from data_access.config import InvalidSetting
from data_access.db import analyze, hold_lock, read_session, transaction
from data_access.errors import InvalidAction
from data_access.models import CollectionsRun, CollectionStageChange, CollectionState, Customer, utcnow
from data_access.money import day as iso_day
from data_access.permissions import Actor, requires
from data_access.queries import assessments
from data_access.queries.collections_state import STATE_FIELDS, has_state, is_current, state_of, stored_states
from data_access.rules.policy import Assessment

LOCK = "collections run"
FEW = 100
"""A refresh of at most this many named customers runs beside others (a write's, an import's); more, or everybody,
takes the run's lock alone."""
DAILY_RUN = "daily run"
FIRST_READER = "app (first reader of the day)"
BATCH = 2000
"""Customers assessed and written per round of a refresh: bounded memory, few statements."""
_LOCKED_RETRIES = 60
"""A run on SQLite waits this many times for a writer that holds the database longer than its busy timeout."""

T = TypeVar("T")
STATES = cast(Table, CollectionState.__table__)
STAGE_CHANGES = cast(Table, CollectionStageChange.__table__)
_UPDATE_STATE = (
    update(STATES)
    .where(STATES.c.customer_id == bindparam("_customer_id"))
    .values({name: bindparam(name) for name in (*STATE_FIELDS[1:], "updated_at")})
)
_CLOSE_STAGE = (
    update(STAGE_CHANGES)
    .where(STAGE_CHANGES.c.id == bindparam("_id"))
    .values(left_on=bindparam("left_on"), left_because=bindparam("left_because"))
)


@dataclass(frozen=True)
class RunSummary:
    """What one collections run did; `line()` is what the command prints."""

    run_id: int
    as_of: date
    customers_assessed: int
    stage_changes: int
    messages_queued: int
    messages_sent: int
    messages_retrying: int
    messages_failed: int
    messages_left: int
    sent: bool
    seconds: float

    def line(self) -> str:
        mail = (
            f"{_count(self.messages_queued, 'reminder')} queued; outbox: {self.messages_sent} sent, "
            f"{self.messages_retrying} to be retried, {self.messages_failed} failed, {self.messages_left} left"
            if self.sent
            else "nothing queued or sent (no --send)"
        )
        return (
            f"Collections run for {iso_day(self.as_of)}: {_count(self.customers_assessed, 'customer')} assessed, "
            f"{_count(self.stage_changes, 'stage change')}, {mail} ({self.seconds:.1f} s)."
        )


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class Refreshed:
    """What a full refresh did: its run row, and the customers a write held (reassess them once it commits)."""

    run: CollectionsRun
    held: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class _Outcome:
    assessed: int
    stage_changes: int
    held: tuple[int, ...] = ()


def refresh(session: Session, customer_ids: Iterable[int] | None, *, as_of: date, because: str) -> int:
    """Reassess the customers given (their Customer.id; None: everybody overdue at the as-of date and everybody
    with a stored row) inside the caller's write transaction, store what changed and record each stage change,
    saying `because` and the clock's reason. Returns the number of stage changes. A customer another write holds
    during a refresh of many is reassessed once the caller's transaction has committed."""
    outcome = _refresh(session, customer_ids, as_of=as_of, because=because)
    if outcome.held:
        held, day = outcome.held, as_of
        event.listen(session, "after_commit", lambda _: _catch_up(held, day, because=because), once=True)
    return outcome.stage_changes


def full_refresh(
    session: Session,
    *,
    as_of: date,
    by: str,
    because: str = DAILY_RUN,
    at: datetime | None = None,
    host: str | None = None,
) -> Refreshed:
    """Under the run's lock, everybody reassessed at the as-of date and recorded as a finished collections run by
    `by` on this host (added to the session, not yet committed); customers a write holds meanwhile are skipped and
    named. `at` and `host` stand for now and this machine (the demo's replayed runs give its own)."""
    hold_lock(session, LOCK)
    started = at or utcnow()
    row = CollectionsRun(as_of=as_of, started_at=started, host=(host or socket.gethostname())[:200], actor=by)
    session.add(row)
    outcome = _refresh(session, None, as_of=as_of, because=because, at=at)
    row.customers_assessed = outcome.assessed
    row.stage_changes = outcome.stage_changes
    row.messages_queued = row.messages_sent = row.messages_failed = 0
    row.finished_at = at or utcnow()
    session.flush()
    return Refreshed(run=row, held=outcome.held)


@requires("collections.act")
def run(actor: Actor, *, as_of: date | None = None, send: bool = False) -> RunSummary:
    """The daily collections run: everybody reassessed for the day (default today), stage changes recorded, and
    with `send` the reminders due queued and the outbox delivered. Idempotent: a second run the same day changes
    nothing and queues nothing twice; runs at once wait for each other. A day after today, or before the day the
    stored state is already at, is refused."""
    started = time.perf_counter()
    today = clock.today()
    day = as_of or today
    if day > today:
        raise InvalidAction(
            f"{iso_day(day)} has not come yet; a collections run is for today or a day before."
        )

    def assess() -> tuple[int, int, int, tuple[int, ...]]:
        with transaction() as session:
            hold_lock(session, LOCK)
            _refuse_going_back(session, day)
            done = full_refresh(session, as_of=day, by=actor.username)
            event = CollectionsRunRecorded(
                as_of=day,
                customers_assessed=done.run.customers_assessed,
                stage_changes=done.run.stage_changes,
                send=send,
            )
            record_event(session, actor, event, target=f"collections_run:{done.run.id}")
            return done.run.id, done.run.customers_assessed, done.run.stage_changes, done.held

    run_id, assessed, changes, held = _waiting_for_sqlite(assess)
    if held and day == today:
        more_changes = _catch_up(held, day)
        _count_caught_up(run_id, len(held), more_changes)
        assessed, changes = assessed + len(held), changes + more_changes
    queued = sent = retrying = failed = left = 0
    if send:
        queued = _waiting_for_sqlite(lambda: _queue_reminders(actor, day, run_id))
        from data_access.mail.outbox import deliver_due

        try:
            delivery = deliver_due()
        except InvalidSetting as problem:
            raise InvalidAction(
                f"The collections run for {iso_day(day)} is done and {queued} reminders are queued, but nothing "
                f"was delivered: {problem}"
            ) from problem
        sent, retrying, failed, left = delivery.sent, delivery.retrying, delivery.failed, delivery.left
        with transaction() as session:
            session.execute(
                update(CollectionsRun)
                .where(CollectionsRun.id == run_id)
                .values(messages_sent=sent, messages_failed=failed)
            )
    # The pages filter and count the stored state: the planner must know its size (a first run wrote every row;
    # without statistics PostgreSQL guessed 5,052 rows of 49,530 at 5M invoices). Last, outside the run's
    # transactions.
    _waiting_for_sqlite(lambda: analyze("collection_states", "collection_stage_changes"))
    return RunSummary(
        run_id=run_id,
        as_of=day,
        customers_assessed=assessed,
        stage_changes=changes,
        messages_queued=queued,
        messages_sent=sent,
        messages_retrying=retrying,
        messages_failed=failed,
        messages_left=left,
        sent=send,
        seconds=time.perf_counter() - started,
    )


def ensure_current(as_of: date) -> bool:
    """Before a page reads the stored state for the as-of date: when that is today and no run has finished for
    today (the scheduled run has not run yet), the first reader brings everybody up to date under the run's lock;
    one query when it is current already. True when the stored state stands for today's assessment; False for any
    other day, which the reader assesses on demand."""
    if as_of != clock.today():
        return False
    with read_session() as session:
        if is_current(session, as_of):
            return True

    def bring_up_to_date() -> tuple[bool, tuple[int, ...], int]:
        with transaction() as session:
            hold_lock(session, LOCK)
            if is_current(session, as_of):  # another server did it while this one waited
                return True, (), 0
            latest = _latest_day(session)
            if latest is not None and latest > as_of:  # a run ahead of the clock: assess on demand
                return False, (), 0
            done = full_refresh(session, as_of=as_of, by=FIRST_READER)
            return True, done.held, done.run.id

    current, held, run_id = _waiting_for_sqlite(bring_up_to_date)
    if held:
        _count_caught_up(run_id, len(held), _catch_up(held, as_of))
    return current


def _queue_reminders(actor: Actor, day: date, run_id: int) -> int:
    """The reminders and final notices due, queued a customer at a time (`mail.reminders.queue_reminder`, the
    customer's activity, audit event and refreshed state in one short transaction each, as "send all due" does):
    a long transaction over every due customer would hold each one reminded until the last statement PDF is drawn.
    Each is queued once (the outbox's key); one another run queues at the same moment is left to it."""
    from data_access.mail.reminders import due_customer_ids, queue_reminder  # (they refresh through here)

    with transaction(versioned=False) as session:
        due = due_customer_ids(session, day)
    queued = 0
    for customer_id in due:
        with transaction() as session:
            customer = session.get_one(Customer, customer_id)
            queued += queue_reminder(session, actor, customer, as_of=day) is not None
    with transaction() as session:
        session.execute(
            update(CollectionsRun).where(CollectionsRun.id == run_id).values(messages_queued=queued)
        )
    return queued


def _catch_up(held: Sequence[int], day: date, *, because: str = DAILY_RUN) -> int:
    """Customers a write held during a refresh of many, reassessed one at a time now that it is over (that write
    has refreshed them already unless it failed); their stage changes. Nothing for another day than today."""
    if not held or day != clock.today():
        return 0
    changes = 0
    for customer_id in held:
        with transaction() as session:
            changes += refresh(session, [customer_id], as_of=day, because=because)
    return changes


def _count_caught_up(run_id: int, customers: int, changes: int) -> None:
    with transaction() as session:
        session.execute(
            update(CollectionsRun)
            .where(CollectionsRun.id == run_id)
            .values(
                customers_assessed=CollectionsRun.customers_assessed + customers,
                stage_changes=CollectionsRun.stage_changes + changes,
            )
        )


def _waiting_for_sqlite(work: Callable[[], T]) -> T:
    """SQLite gives up on a held write lock after its busy timeout (10 s); a run outlasts that and waits on."""
    for attempt in range(_LOCKED_RETRIES + 1):
        try:
            return work()
        except OperationalError as error:
            if "database is locked" not in str(error) or attempt == _LOCKED_RETRIES:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")  # pragma: no cover


def _latest_day(session: Session) -> date | None:
    """The latest day the stored state or a run is at."""
    stored = session.scalar(select(func.max(CollectionState.as_of)))
    last_run = session.scalar(select(func.max(CollectionsRun.as_of)))
    return max((day for day in (stored, last_run) if day is not None), default=None)


def _refuse_going_back(session: Session, as_of: date) -> None:
    latest = _latest_day(session)
    if latest is not None and as_of < latest:
        raise InvalidAction(
            f"The stored collections state is already as of {iso_day(latest)}; a run cannot take it back to "
            f"{iso_day(as_of)}. See that day with `report collections --as-of {iso_day(as_of)}`."
        )


def _refresh(
    session: Session,
    customer_ids: Iterable[int] | None,
    *,
    as_of: date,
    because: str,
    at: datetime | None = None,
) -> _Outcome:
    postgres = session.get_bind().dialect.name == "postgresql"
    ids = None if customer_ids is None else sorted(set(customer_ids))
    alone = ids is not None and len(ids) <= FEW
    if ids is not None and alone:
        lock_customers(session, ids)
        if postgres:
            _hold_shared(session)
    else:
        hold_lock(session, LOCK)
        if ids is None:
            everybody = union(assessments.overdue_ids(as_of), select(CollectionState.customer_id))
            ids = sorted(session.scalars(select(everybody.subquery().c[0])))
    assessed = changes = 0
    held: list[int] = []
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        if postgres and not alone:
            # Never wait for a write holding a customer (it may be waiting for this lock to refresh them itself):
            # skip it. The rest are held FOR KEY SHARE, which the rows written here need for their foreign key.
            locked = set(
                session.scalars(_locking(batch).with_for_update(read=True, key_share=True, skip_locked=True))
            )
            held += [customer_id for customer_id in batch if customer_id not in locked]
            batch = [customer_id for customer_id in batch if customer_id in locked]
        if batch:
            assessed += len(batch)
            changes += _refresh_batch(session, batch, as_of=as_of, because=because, now=at or utcnow())
    return _Outcome(assessed, changes, tuple(held))


def lock_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Lock the customers' rows, in id order, for a write that will refresh them (FOR NO KEY UPDATE: it waits for a
    money write on them, which locks its customer FOR UPDATE, and for another refresh of them, but not for rows that
    merely refer to them). A no-op on SQLite, whose write transaction holds the whole database."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), BATCH):
        session.execute(_locking(ids[start : start + BATCH]).with_for_update(key_share=True))


def _hold_shared(session: Session) -> None:
    """The run's lock, shared: refreshes of a few customers run side by side and wait for a run (or a refresh of
    many), which holds it alone (`db.hold_lock`) and writes nothing a waiting write holds."""
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(hashtext(:name))"), {"name": f"billing_desk:{LOCK}"}
    )


def _locking(ids: Sequence[int]) -> Select[int]:
    return select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id)


def _refresh_batch(session: Session, ids: list[int], *, as_of: date, because: str, now: datetime) -> int:
    customers = list(session.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)))
    chosen = select(Customer.id).where(Customer.id.in_(ids))
    assessed = assessments.assess_customers(session, customers, as_of, chosen_by=chosen)
    stored = stored_states(session, ids)
    open_rows = {
        row.customer_id: row
        for row in session.execute(
            select(CollectionStageChange.id, CollectionStageChange.customer_id, CollectionStageChange.stage,
                   CollectionStageChange.entered_on)
            .where(CollectionStageChange.customer_id.in_(ids), CollectionStageChange.left_on.is_(None))
        )
    }  # fmt: skip
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    gone: list[int] = []
    closed: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    for found in assessed:
        customer_id = found.account.customer_id
        state = state_of(found) if has_state(found) else None
        before = stored.get(customer_id)
        if state is None and before is not None:
            gone.append(customer_id)
        elif state is not None and before is None:
            added.append({**state, "updated_at": now})
        elif state is not None and state != before:
            changed.append({**state, "updated_at": now})
        stage = state["stage"] if state else None
        current = open_rows.get(customer_id)
        if (current.stage if current else None) == stage:
            continue
        entered_on = (found.assessment.entered_stage_on if stage is not None else None) or as_of
        why = _why(because, found.assessment, entered_on)
        if current is not None:
            left_on = max(current.entered_on, min(entered_on, as_of))
            closed.append({"_id": current.id, "left_on": left_on, "left_because": why})
        opened.append(
            {"customer_id": customer_id, "stage": stage, "entered_on": entered_on, "entered_because": why,
             "recorded_at": now}
        )  # fmt: skip
    # Core statements with every column in every row: one multi-row INSERT per thousand rows, one executemany per
    # UPDATE (the ORM's bulk forms split rows by which values are None, down to one statement a row).
    if gone:
        session.execute(delete(STATES).where(STATES.c.customer_id.in_(gone)))
    if added:
        session.execute(insert(STATES), added)
    if changed:
        session.execute(_UPDATE_STATE, [{**row, "_customer_id": row["customer_id"]} for row in changed])
    if closed:
        session.execute(_CLOSE_STAGE, closed)
    if opened:
        session.execute(insert(STAGE_CHANGES), opened)
    return len(opened)


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'} past due"


def _why(because: str, assessment: Assessment, entered_on: date) -> str:
    """Why the customer is where the engine put them on the day they got there: the write or the run, and the
    clock's reason (the days past due that day, when the refresh came later)."""
    if assessment.stage is not None:
        reason = _days(max(assessment.days_past_due - (assessment.as_of - entered_on).days, 0))
    elif not assessment.overdue_cents and not assessment.disputed_cents:
        reason = "nothing overdue"
    elif not assessment.overdue_cents:
        reason = "only disputed invoices overdue"
    elif assessment.below_minimum:
        reason = "overdue balance below the policy's minimum"
    elif assessment.promise is not None:
        reason = f"held by a promise to pay by {iso_day(assessment.promise.promised_for)}"
    else:
        reason = f"{_days(assessment.days_past_due)}, no stage yet"
    return f"{because}: {reason}"[:300]
