"""The data version: bumped by every committed write and by nothing else; page caches are keyed on it, so a
change committed through another app server (another process, here another thread with its own context) shows
on this server's next rerun, while a rerun with nothing changed is served from the cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from streamlit.testing.v1 import AppTest

from data_access import clock, db
from data_access.actions.payments import record_payment
from data_access.errors import InvalidAction
from data_access.permissions import Actor
from tests.support import factories
from tests.support.contexts import in_fresh_context
from tests.support.pages import signed_in

BILLING = Actor("billing", frozenset({"Billing admin"}))


@pytest.fixture
def aging_queries(database: str) -> Iterator[list[str]]:
    """Statements that read open invoices, as the engine sends them."""
    seen: list[str] = []
    engine = db.get_engine()

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "open_cents" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def total_receivables(app: AppTest) -> str:
    return next(metric.value for metric in app.metric if metric.label == "Total receivables (USD)")


def test_every_committed_write_bumps_the_version_and_a_refused_one_does_not(database: str) -> None:
    start = db.data_version()
    factories.customer("C-1")
    after_customer = db.data_version()
    assert after_customer > start
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=40), cents=10_000)
    after_invoice = db.data_version()
    assert after_invoice > after_customer
    with pytest.raises(InvalidAction):
        record_payment(BILLING, customer_id="C-1", amount=Decimal("-5.00"), received_on=clock.today())
    assert db.data_version() == after_invoice
    record_payment(BILLING, customer_id="C-1", amount=Decimal("5.00"), received_on=clock.today())
    assert db.data_version() > after_invoice


def test_a_change_from_another_server_shows_on_the_next_rerun_and_an_unchanged_rerun_hits_the_cache(
    database: str, aging_queries: list[str]
) -> None:
    today = clock.today()
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=today - timedelta(days=60), cents=150_000)
    app = signed_in("billing")
    assert total_receivables(app) == "1,500.00"
    first_run_queries = len(aging_queries)
    assert first_run_queries > 0

    app.run()  # nothing changed: every figure comes from the cache
    assert total_receivables(app) == "1,500.00"
    assert len(aging_queries) == first_run_queries

    in_fresh_context(lambda: factories.invoice("C-1", "I-2", issued=today - timedelta(days=3), cents=25_050))
    app.run()  # no cache was cleared and no TTL ran out: the version moved
    assert not app.exception, app.exception
    assert total_receivables(app) == "1,750.50"
    assert len(aging_queries) > first_run_queries


def test_a_users_own_action_shows_on_the_run_that_made_it(database: str) -> None:
    """Within one run the version read at its start is superseded by what the run itself committed."""
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=60), cents=150_000)
    db.set_read_floor(0)
    before = db.cache_version()
    record_payment(BILLING, customer_id="C-1", amount=Decimal("100.00"), received_on=clock.today())
    assert db.cache_version() > before
    assert db.read_floor() == db.data_version()


def test_cached_functions_with_the_same_shape_keep_separate_entries(database: str) -> None:
    from ui.cache import cached

    def first(value: int) -> str:
        return f"first {value}"

    def second(value: int) -> str:
        return f"second {value}"

    assert (cached(first)(1), cached(second)(1), cached(first)(1)) == ("first 1", "second 1", "first 1")
