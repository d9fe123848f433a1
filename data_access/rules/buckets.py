"""Aging buckets: the edges (days past the due or issue date), their labels, which bucket an age falls in, and
the cut-off dates that let SQL compare dates instead of counting days (one SQL text then serves SQLite's ISO
text dates and PostgreSQL's dates alike).

With the default edges 30, 60, 90, 120 the buckets are 'current' (not yet due: an age of 0 days or less), then
'1-30', '31-60', '61-90', '91-120' and '121+'.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, timedelta

from data_access.errors import InvalidAction

DEFAULT_BUCKETS: tuple[int, ...] = (30, 60, 90, 120)


def parse_buckets(text: str) -> tuple[int, ...]:
    """Bucket edges in days, strictly increasing and positive, e.g. '30,60,90,120'."""
    try:
        edges = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidAction(
            f"Buckets must be whole numbers of days separated by commas, not {text!r}."
        ) from None
    validate_buckets(edges)
    return edges


def validate_buckets(edges: Sequence[int]) -> None:
    """Refuse no edges, an edge below 1, or edges that do not increase."""
    if not edges:
        raise InvalidAction("Give at least one bucket edge, e.g. 30,60,90.")
    if edges[0] < 1 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvalidAction(f"Bucket edges must be positive and increasing, not {','.join(map(str, edges))}.")


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """'current', then '1-30', '31-60', ... and finally '121+' for the default edges."""
    labels = ["current"]
    low = 1
    for edge in edges:
        labels.append(f"{low}-{edge}")
        low = edge + 1
    labels.append(f"{low}+")
    return labels


def bucket_index(age_days: int, edges: Sequence[int]) -> int:
    """0 while not yet due (an age of 0 days or less), then 1 for an age up to the first edge, 2 up to the
    second, ..., and len(edges) + 1 beyond the last edge."""
    if age_days <= 0:
        return 0
    for position, edge in enumerate(edges, start=1):
        if age_days <= edge:
            return position
    return len(edges) + 1


def bucket_of(age_days: int, edges: Sequence[int]) -> str:
    """The label of the bucket an age falls in, e.g. '31-60' for 45 days with the default edges."""
    return bucket_labels(edges)[bucket_index(age_days, edges)]


def cutoffs(as_of: date, edges: Sequence[int]) -> list[date]:
    """The cut-off dates of the buckets at as_of: [as_of, as_of - edge 1, as_of - edge 2, ...]. A basis date
    (due or issue date) is in bucket i for the first i with basis date >= cutoffs[i], and in bucket len(edges) + 1
    when it is before them all; this agrees with `bucket_index((as_of - basis date).days, edges)`."""
    return [as_of, *(as_of - timedelta(days=edge) for edge in edges)]
