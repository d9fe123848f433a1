"""The bucket rules, pure: labels, which bucket an age falls in, and the cut-off dates SQL compares with."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_access.errors import InvalidAction
from data_access.rules.buckets import (
    DEFAULT_BUCKETS,
    bucket_index,
    bucket_labels,
    bucket_of,
    cutoffs,
    parse_buckets,
    validate_buckets,
)

edges_strategy = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6, unique=True).map(
    lambda found: tuple(sorted(found))
)


def test_default_labels() -> None:
    assert bucket_labels(DEFAULT_BUCKETS) == ["current", "1-30", "31-60", "61-90", "91-120", "121+"]


@pytest.mark.parametrize(
    ("age", "label"),
    [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"),
     (90, "61-90"), (91, "91-120"), (120, "91-120"), (121, "121+"), (10_000, "121+")],
)  # fmt: skip
def test_default_buckets_at_their_boundaries(age: int, label: str) -> None:
    assert bucket_of(age, DEFAULT_BUCKETS) == label


def test_parse_buckets() -> None:
    assert parse_buckets("30,60,90,120") == (30, 60, 90, 120)
    assert parse_buckets(" 15, 45 ,") == (15, 45)


@pytest.mark.parametrize("text", ["", "30,x", "60,30", "0,30", "30,30", "-1", "1.5"])
def test_parse_buckets_refuses(text: str) -> None:
    with pytest.raises(InvalidAction):
        parse_buckets(text)


def test_validate_refuses_no_edges() -> None:
    with pytest.raises(InvalidAction):
        validate_buckets(())


def test_cutoffs_of_the_default_edges() -> None:
    as_of = date(2026, 3, 31)
    assert cutoffs(as_of, DEFAULT_BUCKETS) == [
        date(2026, 3, 31), date(2026, 3, 1), date(2026, 1, 30), date(2025, 12, 31), date(2025, 12, 1),
    ]  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(edges=edges_strategy, age=st.integers(min_value=-1000, max_value=1000))
def test_the_index_names_the_bucket_whose_range_holds_the_age(edges: tuple[int, ...], age: int) -> None:
    index = bucket_index(age, edges)
    assert 0 <= index <= len(edges) + 1
    assert bucket_of(age, edges) == bucket_labels(edges)[index]
    lows = [-(10**9), 1, *(edge + 1 for edge in edges)]
    highs = [0, *edges, 10**9]
    assert lows[index] <= age <= highs[index]


@settings(max_examples=50, deadline=None)
@given(
    edges=edges_strategy,
    as_of=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    age=st.integers(min_value=-500, max_value=1500),
)
def test_cutoff_dates_put_a_date_in_the_same_bucket_as_its_age(
    edges: tuple[int, ...], as_of: date, age: int
) -> None:
    basis = as_of - timedelta(days=age)
    cuts = cutoffs(as_of, edges)
    by_dates = next((i for i, cut in enumerate(cuts) if basis >= cut), len(cuts))
    assert by_dates == bucket_index(age, edges)


@settings(max_examples=50, deadline=None)
@given(edges=edges_strategy)
def test_the_labels_round_trip_through_parse(edges: tuple[int, ...]) -> None:
    assert parse_buckets(",".join(map(str, edges))) == edges
    assert len(bucket_labels(edges)) == len(edges) + 2
