"""ui.cache.cached: one call per data version, actor and arguments; nothing else shares an entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest

from data_access.permissions import Actor
from ui import cache
from ui.cache import cached

ALICE = Actor.of("alice", ["Billing admin"])
BOB = Actor.of("bob", ["Billing admin"])


@dataclass(frozen=True)
class Filter:
    as_of: date
    tags: frozenset[str] = frozenset()


@pytest.fixture
def version(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The data version cached() sees, settable by the test (no database)."""
    current = [1]
    monkeypatch.setattr(cache.db, "cache_version", lambda: current[0])
    return current


@pytest.fixture
def calls() -> list[tuple[object, ...]]:
    return []


def reader(calls: list[tuple[object, ...]]):  # type: ignore[no-untyped-def]
    def figures(actor: Actor, flt: Filter, *, currency: str | None = None) -> pd.DataFrame:
        calls.append((actor.username, flt, currency))
        return pd.DataFrame({"n": [len(calls)]})

    return figures


def test_the_same_key_calls_once(version: list[int], calls: list[tuple[object, ...]]) -> None:
    figures = reader(calls)
    flt = Filter(date(2026, 12, 2))
    first = cached(figures)(ALICE, flt, currency="EUR")
    again = cached(figures)(Actor.of("alice", ["Billing admin"]), Filter(date(2026, 12, 2)), currency="EUR")
    assert len(calls) == 1
    assert first.equals(again)


def test_a_version_bump_calls_again(version: list[int], calls: list[tuple[object, ...]]) -> None:
    figures = reader(calls)
    cached(figures)(ALICE, Filter(date(2026, 12, 2)))
    version[0] += 1
    cached(figures)(ALICE, Filter(date(2026, 12, 2)))
    assert len(calls) == 2


def test_another_actor_or_other_roles_call_again(version: list[int], calls: list[tuple[object, ...]]) -> None:
    figures = reader(calls)
    flt = Filter(date(2026, 12, 2))
    cached(figures)(ALICE, flt)
    cached(figures)(BOB, flt)
    cached(figures)(Actor.of("alice", ["Sales agent"]), flt)
    assert [call[0] for call in calls] == ["alice", "bob", "alice"]


def test_other_arguments_call_again_and_set_order_does_not(
    version: list[int], calls: list[tuple[object, ...]]
) -> None:
    figures = reader(calls)
    cached(figures)(ALICE, Filter(date(2026, 12, 2), frozenset({"a", "b"})))
    cached(figures)(ALICE, Filter(date(2026, 12, 2), frozenset(["b", "a"])))
    cached(figures)(ALICE, Filter(date(2026, 12, 3), frozenset({"a", "b"})))
    cached(figures)(ALICE, Filter(date(2026, 12, 3), frozenset({"a", "b"})), currency="USD")
    assert len(calls) == 3


def test_two_functions_never_share_an_entry(version: list[int]) -> None:
    def first(actor: Actor) -> str:
        return "first"

    def second(actor: Actor) -> str:
        return "second"

    assert (cached(first)(ALICE), cached(second)(ALICE)) == ("first", "second")


def test_an_exception_is_not_cached(version: list[int]) -> None:
    attempts = []

    def refusing(actor: Actor) -> str:
        attempts.append(actor)
        raise PermissionError("no")

    for _ in range(2):
        with pytest.raises(PermissionError):
            cached(refusing)(ALICE)
    assert len(attempts) == 2


def test_an_argument_that_cannot_be_a_key_is_refused(
    version: list[int], calls: list[tuple[object, ...]]
) -> None:
    def takes_a_frame(actor: Actor, frame: pd.DataFrame) -> int:
        return len(frame)

    with pytest.raises(TypeError):
        cached(takes_a_frame)(ALICE, pd.DataFrame({"a": [1]}))
