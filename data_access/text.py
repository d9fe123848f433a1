"""Sentences and tables for people: a sentence ends once (a name ending in "Ltd." takes no second period), counts
agree with their noun ("1 day past due", "2 days past due"), and a table shows an empty cell, not "None", where
a value is missing. Dates and times in tables read as data_access.money writes them (2026-12-02, 2026-12-02 10:08
in the partner's time zone)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd

from data_access.money import money

_ENDINGS = (".", "!", "?", "…")


def sentence(text: str) -> str:
    """`text` ended with one period: "Reinstated Acme Ltd." stays as it is, "Reinstated Acme" gets its period."""
    stripped = text.rstrip()
    return stripped if not stripped or stripped.endswith(_ENDINGS) else stripped + "."


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """A count with its noun agreeing: "1 overdue account", "2 overdue accounts", "1,204 days"; the noun's last
    word is made plural, or `plural_form` is used for irregular nouns. "2 days past due": plural(2, "day") + " past
    due" (days_past_due)."""
    if count == 1:
        return f"{count:,} {noun}"
    if plural_form is None:
        head, _, last = noun.rpartition(" ")
        plural_form = (f"{head} " if head else "") + _plural_word(last)
    return f"{count:,} {plural_form}"


def days_past_due(days: int) -> str:
    """ "1 day past due", "2 days past due"."""
    return plural(days, "day") + " past due"


def _plural_word(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _day_text(value: object) -> str:
    if _missing(value):
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def _moment_text(value: object, zone: ZoneInfo) -> str:
    if _missing(value):
        return ""
    moment = pd.Timestamp(value).to_pydatetime()  # type: ignore[arg-type]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def readable(
    frame: pd.DataFrame,
    *,
    days: Iterable[str] = (),
    moments: Iterable[str] = (),
    zone: str = "UTC",
    amounts: Iterable[str] = (),
    counts: Iterable[str] = (),
) -> pd.DataFrame:
    """A copy of `frame` to show: `days` as 2026-12-02, `moments` as 2026-12-02 10:08 in `zone` (say the zone in
    the column's label), `amounts` (which may be missing) as 1,234.56 text, `counts` as whole numbers, and every
    missing value in those and in the text columns as an empty cell. Columns not named and not text keep their
    type (numbers stay numbers for the table's own formatting)."""
    shown = frame.copy()
    tz = ZoneInfo(zone)
    for column in days:
        shown[column] = [_day_text(value) for value in shown[column]]
    for column in moments:
        shown[column] = [_moment_text(value, tz) for value in shown[column]]
    for column in amounts:
        shown[column] = ["" if _missing(v) else money(Decimal(str(v))) for v in shown[column]]
    for column in counts:
        shown[column] = ["" if _missing(v) else f"{int(v):,}" for v in shown[column]]
    for column in shown.columns:
        values = shown[column]
        textual = pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        if textual and all(isinstance(v, str) for v in values if not _missing(v)):
            shown[column] = ["" if _missing(v) else v for v in values]
    return shown
