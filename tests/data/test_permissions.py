"""The permission matrix: every guarded data_access function, called by every role (none, one, two), is allowed
or refused exactly as DESIGN.md's roles table says. New guarded functions join without a new test."""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from pathlib import Path

import pytest

import data_access
from data_access.db import dispose_engines
from data_access.permissions import GUARDED, PERMISSIONS, ROLES, Actor, PermissionDenied, allowed
from tests.support.actors import NOBODY

G, U, H, B, S = "Global admin", "User management admin", "Helpdesk agent", "Billing admin", "Sales agent"

# DESIGN.md's roles table, restated independently of data_access/permissions.py.
EXPECTED: dict[str, set[str]] = {
    "overview.view": {G, H, B, S},
    "receivables.view": {G, B, S},
    "receivables.export": {G, B, S},
    "collections.view": {G, B},
    "collections.act": {G, B},
    "payment.record": {G, B},
    "credit_note.issue": {G, B},
    "payment.reverse": {G, B},
    "credit_note.reverse": {G, B},
    "credit.apply": {G, B},
    "subscription.suspend": {G, B},
    "subscription.reinstate": {G, B},
    "tickets.view": {G, H, B, S},
    "ticket.create": {G, H, B},
    "ticket.update": {G, H, B},
    "ticket.escalate": {G, H, B},
    "escalations.view": {G, H, B},
    "customers.view": {G, H, B, S},
    "customer.edit": {G, B},
    "invoice.edit": {G, B},
    "payables.view": {G, B},
    "margin.view": {G, B},
    "policies.view": {G, U, H, B, S},
    "policies.edit": {G, B},
    "data.import": {G, B},
    "users.manage": {G, U},
    "audit.view": {G, B},
}

ACTORS = [
    NOBODY,
    *(Actor.of(f"one-{role}", [role]) for role in ROLES),
    *(Actor.of(f"two-{a}-{b}", [a, b]) for a, b in itertools.combinations(ROLES, 2)),
]


def load_every_module() -> None:
    for module in pkgutil.walk_packages(data_access.__path__, "data_access."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)


load_every_module()
CASES = [
    pytest.param(permission, function, actor, id=f"{permission}-{function.__name__}-{actor.username}")
    for permission, functions in sorted(GUARDED.items())
    for function in functions
    for actor in ACTORS
]


def test_the_permission_table_is_the_design_table() -> None:
    assert {permission: set(roles) for permission, roles in PERMISSIONS.items()} == EXPECTED
    for permission, actor in itertools.product(EXPECTED, ACTORS):
        assert allowed(actor, permission) == bool(EXPECTED[permission] & actor.roles)


def test_every_permission_guards_at_least_one_function() -> None:
    """A permission with nothing behind it would be a row of the table that nothing enforces."""
    assert set(EXPECTED) - set(GUARDED) == set()


ALLOWED = [case for case in CASES if EXPECTED[case.values[0]] & case.values[2].roles]  # type: ignore[index,union-attr]
REFUSED = [case for case in CASES if case not in ALLOWED]


@pytest.mark.parametrize(("permission", "function", "actor"), ALLOWED)
def test_every_guarded_function_allows_the_roles_in_the_table(
    sqlite_database: str, permission: str, function: object, actor: Actor
) -> None:
    call = function  # type: ignore[assignment]
    try:
        call(actor)  # type: ignore[operator]
    except PermissionDenied as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{actor.roles} was refused {permission}: {exc}")
    except Exception:
        pass


@pytest.mark.parametrize(("permission", "function", "actor"), REFUSED)
def test_every_guarded_function_refuses_other_roles_before_any_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permission: str, function: object, actor: Actor
) -> None:
    """No database is copied for a refusal: the URL points at a folder that does not exist, so a query made before
    the guard would fail with a database error instead of PermissionDenied."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/folder/billing.sqlite3")
    dispose_engines()
    with pytest.raises(PermissionDenied, match=permission):
        function(actor)  # type: ignore[operator]
    dispose_engines()
