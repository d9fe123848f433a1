"""Keeping the stored collections state: the daily run over every customer, and the refresh of one customer in the
same transaction as each write that changes their account.

The state is the policy engine's output (`rules.policy.assess`, read through `queries.assessments`) and nothing
else: `queries.collections_state.state_of` turns an assessment into a row. A refresh reassesses the customers it
is given through the caller's session (so the caller's uncommitted writes count), writes only the rows that
changed, deletes the row of a customer with nothing overdue or disputed left, and keeps the stage history: when a
customer's stage changes, the open history row is closed and a new one opened, each saying why.

Who waits for whom. A refresh of named customers locks those customers' rows (in id order) and then takes the
run's lock shared; a refresh of everybody takes it exclusively (`db.hold_lock`, PostgreSQL's advisory lock), so a
run never overwrites a customer's row with what it read before a payment on that customer committed. On SQLite the
write transaction holds the whole database already. A run waits for the one before it and then finds nothing to
change, so runs from several servers at once leave the rows of one run.
"""

from __future__ import annotations

import importlib
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select, text, union, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from data_access import clock
from data_access.audit import CollectionsRunRecorded, record_event
from data_access.db import hold_lock, read_session, transaction
from data_access.errors import InvalidAction
from data_access.models import CollectionsRun, CollectionStageChange, CollectionState, Customer, utcnow
from data_access.money import day as iso_day
from data_access.permissions import Actor, requires
from data_access.queries import assessments
from data_access.queries.collections_state import has_state, is_current, state_of, stored_states
from data_access.rules.policy import Assessment

LOCK = "collections run"
DAILY_RUN = "daily run"
BATCH = 2000
"""Customers assessed and written per round of a refresh: bounded memory, few statements."""
_LOCKED_RETRIES = 60
"""A run on SQLite waits this many times for a writer that holds the database longer than its busy timeout."""


@dataclass(frozen=True)
class RunSummary:
    """What one collections run did; `line()` is what the command prints."""

    run_id: int
    as_of: date
    customers_assessed: int
    stage_changes: int
    messages_queued: int
    messages_sent: int
    messages_failed: int
    messages_left: int
    sent: bool
    seconds: float

    def line(self) -> str:
        mail = (
            f"{self.messages_queued} reminders queued, {self.messages_sent} sent, {self.messages_failed} failed, "
            f"{self.messages_left} left in the outbox"
            if self.sent
            else "nothing queued or sent (no --send)"
        )
        return (
            f"Collections run for {iso_day(self.as_of)}: {self.customers_assessed} customers assessed, "
            f"{self.stage_changes} stage changes, {mail} ({self.seconds:.1f} s)."
        )


@dataclass(frozen=True)
class _Outcome:
    assessed: int
    stage_changes: int


def refresh(session: Session, customer_ids: Iterable[int] | None, *, as_of: date, because: str) -> int:
    """Reassess the customers given (their Customer.id; None: everybody overdue at the as-of date and everybody
    with a stored row) inside the caller's write transaction, store what changed and record each stage change,
    saying `because` and the clock's reason. Returns the number of stage changes."""
    return _refresh(session, customer_ids, as_of=as_of, because=because).stage_changes


def full_refresh(session: Session, *, as_of: date, by: str, because: str = DAILY_RUN) -> CollectionsRun:
    """Under the run's lock, everybody reassessed at the as-of date and recorded as a finished collections run by
    `by` (added to the session, not yet committed)."""
    hold_lock(session, LOCK)
    row = CollectionsRun(as_of=as_of, started_at=utcnow(), host=socket.gethostname()[:200], actor=by)
    session.add(row)
    outcome = _refresh(session, None, as_of=as_of, because=because)
    row.customers_assessed = outcome.assessed
    row.stage_changes = outcome.stage_changes
    row.messages_queued = row.messages_sent = row.messages_failed = 0
    row.finished_at = utcnow()
    session.flush()
    return row


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

    def assess_and_queue() -> tuple[int, int, int, int]:
        with transaction() as session:
            hold_lock(session, LOCK)
            _refuse_going_back(session, day)
            row = full_refresh(session, as_of=day, by=actor.username)
            if send:
                reminders = importlib.import_module("data_access.mail.reminders")
                row.messages_queued = int(reminders.queue_due_reminders(session, actor, as_of=day))
            session.flush()
            record_event(
                session,
                actor,
                CollectionsRunRecorded(
                    as_of=day,
                    customers_assessed=row.customers_assessed,
                    stage_changes=row.stage_changes,
                    messages_queued=row.messages_queued,
                    send=send,
                ),
                target=f"collections_run:{row.id}",
            )
            return row.id, row.customers_assessed, row.stage_changes, row.messages_queued

    run_id, assessed, changes, queued = _waiting_for_sqlite(assess_and_queue)
    sent = failed = left = 0
    if send:
        delivery = importlib.import_module("data_access.mail.outbox").deliver_due()
        sent, failed, left = (int(getattr(delivery, name, 0)) for name in ("sent", "failed", "left"))
        with transaction() as session:
            session.execute(
                update(CollectionsRun)
                .where(CollectionsRun.id == run_id)
                .values(messages_sent=sent, messages_failed=failed)
            )
    return RunSummary(
        run_id=run_id,
        as_of=day,
        customers_assessed=assessed,
        stage_changes=changes,
        messages_queued=queued,
        messages_sent=sent,
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

    def bring_up_to_date() -> bool:
        with transaction() as session:
            hold_lock(session, LOCK)
            if is_current(session, as_of):  # another server did it while this one waited
                return True
            latest = _latest_day(session)
            if latest is not None and latest > as_of:  # a run ahead of the clock: assess on demand
                return False
            full_refresh(session, as_of=as_of, by="app (first reader of the day)")
            return True

    return bool(_waiting_for_sqlite(bring_up_to_date))


def _waiting_for_sqlite(work: Any) -> Any:
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


def _refresh(session: Session, customer_ids: Iterable[int] | None, *, as_of: date, because: str) -> _Outcome:
    if customer_ids is None:
        hold_lock(session, LOCK)
        everybody = union(assessments.overdue_ids(as_of), select(CollectionState.customer_id))
        ids = sorted(session.scalars(select(everybody.subquery().c[0])))
    else:
        ids = sorted(set(customer_ids))
        if not ids:
            return _Outcome(0, 0)
        _lock_customers(session, ids)
        _hold_shared(session, LOCK)
    changes = 0
    for start in range(0, len(ids), BATCH):
        changes += _refresh_batch(session, ids[start : start + BATCH], as_of=as_of, because=because)
    return _Outcome(len(ids), changes)


def _lock_customers(session: Session, ids: Sequence[int]) -> None:
    """Lock the customers' rows in id order, as a payment locks its customer's: writes on one customer and their
    refreshes take turns."""
    if session.get_bind().dialect.name == "postgresql":
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            session.execute(
                select(Customer.id).where(Customer.id.in_(chunk)).order_by(Customer.id).with_for_update()
            )


def _hold_shared(session: Session, name: str) -> None:
    """Hold the named lock shared until this transaction ends: refreshes of different customers run side by side,
    and each waits for a run (which holds it exclusively through `db.hold_lock`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(hashtext(:name))"), {"name": f"billing_desk:{name}"}
        )


def _refresh_batch(session: Session, ids: list[int], *, as_of: date, because: str) -> int:
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
    now = utcnow()
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
            closed.append({"id": current.id, "left_on": left_on, "left_because": why})
        opened.append(
            {"customer_id": customer_id, "stage": stage, "entered_on": entered_on, "entered_because": why,
             "recorded_at": now}
        )  # fmt: skip
    if gone:
        session.execute(delete(CollectionState).where(CollectionState.customer_id.in_(gone)))
    if added:
        session.execute(insert(CollectionState), added)
    if changed:
        session.execute(update(CollectionState), changed)
    if closed:
        session.execute(update(CollectionStageChange), closed)
    if opened:
        session.execute(insert(CollectionStageChange), opened)
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
