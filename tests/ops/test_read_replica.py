"""DATABASE_READ_URL against a real streaming standby (a private cluster made with pg_basebackup): queries read
from the replica, actions write to the primary, and a user sees their own action at once even while the replica
has not replayed it, while everyone else sees the replica's state until it has."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, event

from data_access import clock, db
from data_access.actions.payments import record_payment
from data_access.migrate import upgrade
from data_access.permissions import Actor
from data_access.queries.aging import AgingFilter
from data_access.queries.receivables import receivables_summary
from tests.support import factories
from tests.support.contexts import in_fresh_context
from tests.support.pages import signed_in
from tests.support.pg_cluster import (
    PrivateCluster,
    private_cluster_fixture,  # noqa: F401  (fixture)
)

BILLING = Actor("billing", frozenset({"Billing admin"}))
T = TypeVar("T")


@pytest.fixture(scope="module")
def primary_and_replica(private_cluster: PrivateCluster) -> Iterator[tuple[str, str, PrivateCluster]]:
    """A migrated database on the private primary and a standby streaming it."""
    primary_url = private_cluster.create_database(f"billing_{uuid.uuid4().hex[:8]}")
    upgrade(primary_url)
    db.dispose_engines()
    standby = private_cluster.standby()
    standby.wait_caught_up(private_cluster, timeout=60)
    replica_url = primary_url.replace(f":{private_cluster.port}/", f":{standby.port}/")
    yield primary_url, replica_url, standby
    db.dispose_engines()
    standby.destroy()
    private_cluster.standbys.remove(standby)


@pytest.fixture
def replicated(
    primary_and_replica: tuple[str, str, PrivateCluster], private_cluster: PrivateCluster, monkeypatch: Any
) -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    primary_url, replica_url, standby = primary_and_replica
    monkeypatch.setenv("DATABASE_URL", primary_url)
    monkeypatch.setenv("DATABASE_READ_URL", replica_url)
    db.dispose_engines()
    db.set_read_floor(0)
    yield private_cluster, standby
    standby.resume_replay()
    db.dispose_engines()


class Statements:
    """SQL each engine sent while recording, by the server it went to."""

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {"primary": [], "replica": []}
        self._engines: list[tuple[Engine, Callable[..., None]]] = []

    def watch(self, name: str, engine: Engine) -> None:
        def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.sent[name].append(" ".join(statement.split()).upper())

        event.listen(engine, "before_cursor_execute", remember)
        self._engines.append((engine, remember))

    def close(self) -> None:
        for engine, remember in self._engines:
            event.remove(engine, "before_cursor_execute", remember)

    def touching(self, name: str, verb: str, table: str) -> list[str]:
        return [s for s in self.sent[name] if s.startswith(verb) and table.upper() in s]


def replicated_customer(primary: PrivateCluster, standby: PrivateCluster, *, cents: int) -> str:
    """A new customer with one invoice 15 days past due, written on the primary and replayed on the standby."""
    customer = f"C-{uuid.uuid4().hex[:6]}"
    factories.customer(customer)
    factories.invoice(customer, f"I-{customer}", issued=clock.today() - timedelta(days=45), cents=cents)
    standby.wait_caught_up(primary, timeout=60)
    return customer


def open_usd(as_of_days: int = 0) -> Decimal:
    summary = receivables_summary(BILLING, AgingFilter(as_of=clock.today() - timedelta(days=as_of_days)))
    return Decimal(summary[summary.currency == "USD"].amount.sum())


def test_reads_land_on_the_replica_and_writes_on_the_primary(
    replicated: tuple[PrivateCluster, PrivateCluster],
) -> None:
    primary, standby = replicated
    customer = replicated_customer(primary, standby, cents=120_000)

    statements = Statements()
    statements.watch("primary", db.engine_for(os.environ["DATABASE_URL"]))
    statements.watch("replica", db.engine_for(os.environ["DATABASE_READ_URL"]))
    try:

        def read_then_pay() -> Decimal:
            db.data_version()
            before = open_usd()
            record_payment(BILLING, customer_id=customer, amount=Decimal("200.00"), received_on=clock.today())
            return before

        in_fresh_context(read_then_pay)
    finally:
        statements.close()

    # The aging query went to the replica, not the primary; the payment's writes went to the primary only.
    assert statements.touching("replica", "SELECT", "invoices")
    assert not statements.touching("primary", "SELECT", "FROM INVOICES LEFT OUTER JOIN")
    assert statements.touching("primary", "INSERT", "payments")
    assert statements.touching("primary", "UPDATE", "data_version")
    assert not any(s.startswith(("INSERT", "UPDATE", "DELETE")) for s in statements.sent["replica"])
    # The replica really is a standby: it refuses writes of its own.
    assert standby.is_in_recovery() and not primary.is_in_recovery()


def test_a_user_sees_their_own_action_at_once_while_the_replica_lags(
    replicated: tuple[PrivateCluster, PrivateCluster],
) -> None:
    primary, standby = replicated
    customer = replicated_customer(primary, standby, cents=120_000)
    before = in_fresh_context(lambda: (db.data_version(), open_usd())[1])

    standby.pause_replay()

    def pay_then_read() -> tuple[Decimal, int, bool]:
        db.data_version()
        record_payment(BILLING, customer_id=customer, amount=Decimal("300.00"), received_on=clock.today())
        seen = open_usd()
        return seen, db.read_floor(), db.get_read_engine() is db.get_engine()

    seen_by_payer, payer_floor, payer_on_primary = in_fresh_context(pay_then_read)
    assert seen_by_payer == before - Decimal("300.00")
    assert payer_on_primary

    # On the payer's next run (the app carries the floor in their session) the replica is still behind: primary.
    def next_run_of_payer() -> tuple[Decimal, bool]:
        db.set_read_floor(payer_floor)
        db.data_version()
        return open_usd(), db.get_read_engine() is db.get_engine()

    assert in_fresh_context(next_run_of_payer) == (before - Decimal("300.00"), True)

    # Anyone else reads the replica, which has not replayed the payment yet.
    def someone_else() -> tuple[Decimal, bool]:
        db.data_version()
        return open_usd(), db.get_read_engine() is db.get_engine()

    assert in_fresh_context(someone_else) == (before, False)

    standby.resume_replay()
    standby.wait_caught_up(primary, timeout=60)
    assert in_fresh_context(someone_else) == (before - Decimal("300.00"), False)
    # Once the replica has replayed it, the payer reads from the replica again.
    assert in_fresh_context(next_run_of_payer) == (before - Decimal("300.00"), False)


def test_the_app_carries_a_users_read_floor_across_runs(
    replicated: tuple[PrivateCluster, PrivateCluster],
) -> None:
    """Through dashboard.py: a run with the user's floor in their session reads the primary while the replica
    lags; the same page without it shows the replica's (older) figure."""
    primary, standby = replicated
    customer = replicated_customer(primary, standby, cents=70_000)
    standby.pause_replay()

    def pay() -> int:
        record_payment(BILLING, customer_id=customer, amount=Decimal("50.00"), received_on=clock.today())
        return db.read_floor()

    floor = in_fresh_context(pay)
    expected_now = in_fresh_context(lambda: (db.set_read_floor(floor), db.data_version(), open_usd())[2])
    lagging = in_fresh_context(lambda: (db.data_version(), open_usd())[1])
    assert expected_now == lagging - Decimal("50.00")

    def overview_total(app: Any) -> Decimal:
        value = next(m.value for m in app.metric if m.label == "Total receivables (USD)")
        return Decimal(value.replace(",", ""))

    from ui.session_keys import READ_FLOOR

    db.set_read_floor(0)
    other_user = signed_in("billing")
    assert overview_total(other_user) == lagging

    db.set_read_floor(0)
    payer = signed_in("billing", **{READ_FLOOR: floor})
    assert overview_total(payer) == expected_now
    assert payer.session_state[READ_FLOOR] >= floor
