"""Page caches follow what changed: every function a page reads through cached() declares the subjects it reads
(data_access/subjects.py), each such read touches only tables of its subjects, and under AppTest a ticket update
leaves the Receivables page warm while a payment makes it cold, and the Tickets page stays warm after a payment."""

from __future__ import annotations

import ast
import importlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause, TableClause
from streamlit.testing.v1 import AppTest

from data_access import clock, db
from data_access.actions.payments import record_payment
from data_access.actions.tickets import change_status
from data_access.demo import seed_demo
from data_access.subjects import (
    BOOKKEEPING,
    READS_EVENTS_OF_THEIR_SUBJECTS,
    TABLES,
    function_name,
    reads_of,
)
from tests.support import collections_page, factories, pages
from tests.support.actors import BILLING, HELPDESK
from tests.support.contexts import in_fresh_context
from tests.support.environment import ROOT
from ui import cache

PAGES = sorted((ROOT / "app_pages").glob("*.py"))


def _imported_names(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """Each name a page binds by import -> (module, attribute), attribute None for `import x.y as z`."""
    names: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
    return names


def _resolve(expression: ast.expr, names: dict[str, tuple[str, str | None]]) -> Any:
    if isinstance(expression, ast.Name):
        module, attribute = names[expression.id]
        if attribute is None:
            return importlib.import_module(module)
        try:
            return importlib.import_module(f"{module}.{attribute}")  # `from package import module`
        except ModuleNotFoundError:
            return getattr(importlib.import_module(module), attribute)
    if isinstance(expression, ast.Attribute):
        return getattr(_resolve(expression.value, names), expression.attr)
    raise TypeError(f"cached() is given {ast.unparse(expression)}, which names no imported function")


def cached_functions(path: Path) -> list[tuple[int, Callable[..., Any]]]:
    """The functions a page passes to cached(), with the line of each call."""
    tree = ast.parse(path.read_text(), str(path))
    names = _imported_names(tree)
    return [
        (node.lineno, _resolve(node.args[0], names))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cached"
    ]


def test_the_pages_read_through_cached() -> None:
    """The declarations below mean something only while the pages read through cached()."""
    assert sum(len(cached_functions(path)) for path in PAGES) >= 40


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_function_a_page_caches_declares_its_subjects(path: Path) -> None:
    undeclared = [
        f"line {line}: {function_name(function)}"
        for line, function in cached_functions(path)
        if reads_of(function) is None
    ]
    assert undeclared == [], "declare what these read in data_access/subjects.py READS"


# What each cached read touches, recorded while the pages run.

_reading: ContextVar[str | None] = ContextVar("test_cache_subjects_reading", default=None)


class Reads:
    """Per cached function (by name): the tables its statements read, and the subjects it declares."""

    def __init__(self) -> None:
        self.tables: dict[str, set[str]] = {}
        self.declared: dict[str, frozenset[str] | None] = {}
        self.events_of_own_subjects: dict[str, bool] = {}

    def call(
        self,
        name: str,
        _version: int,
        _arguments: object,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """ui.cache._stored without the cache: every call runs, so every statement is seen."""
        self.tables.setdefault(name, set())
        self.declared[name] = reads_of(function)
        self.events_of_own_subjects[name] = bool({name, function.__module__} & READS_EVENTS_OF_THEIR_SUBJECTS)
        token = _reading.set(name)
        try:
            return function(*args, **kwargs)
        finally:
            _reading.reset(token)

    def statement(self, state: ORMExecuteState) -> None:
        name = _reading.get()
        if name is None:
            return
        statement = state.statement
        assert isinstance(statement, visitors.ExternallyTraversible)
        for element in visitors.iterate(statement):
            if isinstance(element, TableClause):
                self.tables[name].add(element.name)
            elif isinstance(element, ColumnClause) and isinstance(element.table, TableClause):
                self.tables[name].add(element.table.name)

    def outside_subjects(self) -> dict[str, list[str]]:
        found = {}
        for name, tables in self.tables.items():
            declared = self.declared[name]
            # The versions themselves: read to tell whether a kept summary may be stored, never shown.
            allowed = {table for subject in declared or () for table in TABLES[subject]} | BOOKKEEPING
            if self.events_of_own_subjects[name]:
                allowed.add("audit_events")
            if declared is None or tables - allowed:
                found[name] = sorted(tables - allowed) if declared is not None else ["(not declared)"]
        return found


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    recorded = Reads()
    monkeypatch.setattr(cache, "_stored", recorded.call)
    event.listen(Session, "do_orm_execute", recorded.statement)
    yield recorded
    event.remove(Session, "do_orm_execute", recorded.statement)


def visit(page: str, then: Callable[[AppTest], object] | None = None) -> AppTest:
    app = pages.open_page(f"app_pages/{page}.py", "admin")
    if then is not None:
        then(app)
        app.run()
        assert not app.exception, app.exception
    return app


def pick_first_row(app: AppTest) -> None:
    key = app.dataframe[0].key
    assert key is not None
    app.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}


def pick_open_ticket(app: AppTest) -> None:
    """A ticket not closed, so its conversation and the reply box's address are read."""
    listed = app.dataframe[0].value
    app.selectbox(key="tickets_picked").set_value(listed[listed.status != "closed"].ticket_id.iloc[0])


def test_every_cached_read_of_every_page_touches_only_tables_of_its_subjects(
    sqlite_database: str, reads: Reads
) -> None:
    seed_demo(customers=20, seed=5)
    for page in ("overview", "suspensions", "tickets", "escalations", "customers", "microsoft_payables", "margin",
                 "policies", "audit_log"):  # fmt: skip
        visit(page)
    visit("receivables", pick_first_row)
    visit("tickets", pick_open_ticket)
    stage = visit("receivables").selectbox(key="receivables_stage")
    visit("receivables", lambda app: app.selectbox(key="receivables_stage").set_value(stage.options[1]))
    collections = collections_page.open_page("admin")
    collections.toggle(key="collections_mail_preview").set_value(True)
    collections_page.select_row(collections, 0)

    every = {function_name(f) for path in PAGES for _, f in cached_functions(path)}
    assert every - set(reads.tables) == set(), "these cached reads were never run: reach them here"
    assert reads.outside_subjects() == {}


# The pages themselves: what stays warm and what goes cold.


@pytest.fixture
def statements(database: str) -> Iterator[list[str]]:
    """The SQL the app sends from now on (after the fixture's setup), one line each."""
    sent: list[str] = []
    engine: Engine = db.get_engine()

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", remember)
    yield sent
    event.remove(engine, "before_cursor_execute", remember)


def reading(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if s.startswith("select") and (f"from {table} " in s or f"join {table} " in s)]


def total_receivables(app: AppTest) -> str:
    return next(str(m.value) for m in app.metric if m.label == "Total receivables (USD)")


@pytest.fixture
def ledger_and_tickets(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=60), cents=150_000)
    factories.ticket("C-1", "T-1", status="open", created_at=datetime.now(UTC) - timedelta(hours=3))
    factories.support_offering(business_hours=factories.WEEKDAY_HOURS)


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def test_a_ticket_update_leaves_receivables_warm_and_a_payment_makes_them_cold(
    ledger_and_tickets: None, statements: list[str]
) -> None:
    app = pages.open_page("app_pages/receivables.py", "billing")
    assert reading(statements, "invoices"), "the first run reads the ledger"

    statements.clear()
    in_fresh_context(lambda: change_status(HELPDESK, ticket_id="T-1", status="pending customer"))
    rerun(app)
    assert reading(statements, "invoices") == [], "a ticket update left the receivables cached"

    in_fresh_context(
        lambda: record_payment(
            BILLING, customer_id="C-1", amount=Decimal("400.00"), received_on=clock.today()
        )
    )
    statements.clear()
    rerun(app)
    assert reading(statements, "invoices"), "a payment made the receivables cold"
    assert [(m.label, m.value) for m in app.metric] == [("Open receivables (USD)", "1,100.00")]


def start_of_a_minute() -> None:
    """The Tickets page reads its clocks at the current minute (part of each read's key): its runs must share one."""
    seconds = datetime.now(UTC).second
    if seconds > 30:
        time.sleep(60.5 - seconds)


def test_the_tickets_page_stays_warm_after_a_payment_and_goes_cold_after_a_ticket_update(
    ledger_and_tickets: None, statements: list[str]
) -> None:
    start_of_a_minute()
    app = pages.open_page("app_pages/tickets.py", "billing")
    assert reading(statements, "tickets")

    in_fresh_context(
        lambda: record_payment(
            BILLING, customer_id="C-1", amount=Decimal("400.00"), received_on=clock.today()
        )
    )
    statements.clear()
    rerun(app)
    assert reading(statements, "tickets") == [], "a payment left the tickets cached"

    in_fresh_context(lambda: change_status(HELPDESK, ticket_id="T-1", status="pending customer"))
    statements.clear()
    rerun(app)
    assert reading(statements, "tickets"), "a ticket update made the tickets cold"


def test_the_overview_shows_a_payment_from_another_server_on_its_next_run(
    ledger_and_tickets: None, statements: list[str]
) -> None:
    app = pages.signed_in("billing")
    assert total_receivables(app) == "1,500.00"
    in_fresh_context(
        lambda: record_payment(
            BILLING, customer_id="C-1", amount=Decimal("400.00"), received_on=clock.today()
        )
    )
    assert total_receivables(rerun(app)) == "1,100.00"
