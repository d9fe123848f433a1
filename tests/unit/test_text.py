"""Sentences end once, counts agree with their nouns, tables show empty cells for missing values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from data_access.text import days_past_due, plural, readable, sentence


def test_a_sentence_ending_in_a_name_with_a_period_ends_once() -> None:
    assert sentence("Reinstated Contoso Ltd.") == "Reinstated Contoso Ltd."
    assert sentence("Reinstated Contoso GmbH") == "Reinstated Contoso GmbH."
    assert sentence("Done!") == "Done!"
    assert sentence("") == ""


def test_counts_agree_with_their_nouns() -> None:
    assert days_past_due(1) == "1 day past due"
    assert days_past_due(2) == "2 days past due"
    assert plural(1, "overdue account") == "1 overdue account"
    assert plural(97, "overdue account") == "97 overdue accounts"
    assert plural(0, "subscription") == "0 subscriptions"
    assert plural(1204, "activity") == "1,204 activities"
    assert plural(2, "day") == "2 days"


def test_a_table_for_people_shows_iso_days_zoned_times_and_empty_cells() -> None:
    frame = pd.DataFrame(
        {
            "name": ["Contoso", None],
            "on": [date(2026, 12, 2), None],
            "at": [datetime(2026, 12, 2, 15, 8, tzinfo=UTC), None],
            "promised": [Decimal("1234.5"), None],
            "count": [3, 4],
        }
    )
    shown = readable(frame, days=["on"], moments=["at"], zone="America/New_York", amounts=["promised"])
    assert shown.to_dict("list") == {
        "name": ["Contoso", ""],
        "on": ["2026-12-02", ""],
        "at": ["2026-12-02 10:08", ""],
        "promised": ["1,234.50", ""],
        "count": [3, 4],
    }
    assert pd.isna(frame["name"][1]), "the frame given is left as it was"
