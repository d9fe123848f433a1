"""`report tickets --detail`: one row per ticket created in the range, its SLA due times hand-computed from the
offering's business hours (New York, weekdays 08:00-18:00, Thanksgiving closed), its states at a moment, the
range's bounds in UTC days, and what a spreadsheet or a scheduler reads of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from data_access.errors import InvalidAction
from data_access.permissions import PermissionDenied
from data_access.queries.tickets import DETAIL_COLUMNS, tickets_detail, tickets_report
from tests.support import factories
from tests.support.actors import HELPDESK, SALES, USERMGR
from tests.support.cli import cli

ZONE = "America/New_York"  # EST, UTC-5, all through these weeks of November 2026
HOLIDAY = date(2026, 11, 26)  # Thanksgiving, a Thursday
NOV_23 = date(2026, 11, 23)  # a Monday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def new_york(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 moment on New York's wall clock, as UTC."""
    return utc(2026, 11, day, hour, minute) + timedelta(hours=5)


@pytest.fixture
def db(database: str) -> str:
    factories.support_offering(
        time_zone=ZONE, business_hours=factories.WEEKDAY_HOURS, holidays={HOLIDAY: "Thanksgiving Day"}
    )
    factories.customer("C-001")
    return database


def detail(now: datetime, start: date = date(2026, 11, 1), end: date = date(2026, 11, 30)) -> dict[str, dict]:
    frame = tickets_detail(HELPDESK, start=start, end=end, now=now)
    assert list(frame.columns) == DETAIL_COLUMNS
    return {row["ticket_id"]: row for row in frame.to_dict(orient="records")}


def test_due_times_are_the_hand_computed_ones(db: str) -> None:
    # critical (1 h, 8 h), Tuesday 10:00: answered at the due minute, resolved an hour into Wednesday
    factories.ticket("C-001", "T-IN-HOURS", severity="critical", created_at=new_york(24, 10), status="resolved",
                     first_response_at=new_york(24, 11), resolved_at=new_york(25, 9))  # fmt: skip
    # moderate (4 h, 24 h), Wednesday 16:00: 2 h on Wednesday, Thanksgiving closed, 2 h on Friday; the 24 h run
    # on over the weekend: Wed 2 + Fri 10 + Mon 10 + Tue 2
    factories.ticket("C-001", "T-HOLIDAY", severity="moderate", created_at=new_york(25, 16))
    # minimal (8 h, 40 h), opened on Saturday: the clock starts Monday 08:00; 40 h skip Thanksgiving
    factories.ticket("C-001", "T-WEEKEND", severity="minimal", created_at=new_york(21, 13))
    # moderate, opened Monday at 20:00 after closing: starts Tuesday 08:00; 24 h skip Thanksgiving
    factories.ticket("C-001", "T-EVENING", severity="moderate", created_at=new_york(23, 20))
    rows = detail(now=new_york(24, 10, 30))
    assert rows["T-IN-HOURS"] == {
        "ticket_id": "T-IN-HOURS", "customer_id": "C-001", "category": "billing question", "severity": "critical",
        "status": "resolved", "channel": None,
        "created_at": "2026-11-24T10:00:00-05:00",
        "first_response_at": "2026-11-24T11:00:00-05:00",
        "first_response_due": "2026-11-24T11:00:00-05:00", "first_response_state": "met",
        "resolved_at": "2026-11-25T09:00:00-05:00",
        "resolution_due": "2026-11-24T18:00:00-05:00", "resolution_state": "breached",
    }  # fmt: skip
    due = {tid: (row["first_response_due"], row["resolution_due"]) for tid, row in rows.items()}
    assert due["T-HOLIDAY"] == ("2026-11-27T10:00:00-05:00", "2026-12-01T10:00:00-05:00")
    assert due["T-WEEKEND"] == ("2026-11-23T16:00:00-05:00", "2026-11-27T18:00:00-05:00")
    assert due["T-EVENING"] == (
        "2026-11-24T12:00:00-05:00",
        "2026-11-27T12:00:00-05:00",
    )  # Tue 10 + Wed 10 + Fri 4
    assert rows["T-EVENING"]["created_at"] == "2026-11-23T20:00:00-05:00"


def test_each_state_at_a_moment(db: str) -> None:
    now = new_york(25, 12)  # Wednesday noon
    # critical, 45 of its 60 minutes used: at risk from 75 % (inclusive); 45 min of 8 h: running
    factories.ticket("C-001", "T-RISK", severity="critical", created_at=new_york(25, 11, 15))
    # moderate, Tuesday 09:00, no answer: first response due Tuesday 13:00, breached; 13 of 24 h used: running
    factories.ticket("C-001", "T-LATE", severity="moderate", created_at=new_york(24, 9))
    # resolved without a recorded first response, in time: the resolution stops both clocks
    factories.ticket("C-001", "T-QUICK", severity="critical", created_at=new_york(24, 9), status="resolved",
                     resolved_at=new_york(24, 9, 50))  # fmt: skip
    # moderate, answered a minute after its due time (Tuesday 13:00); 13 of 24 h used: running
    factories.ticket("C-001", "T-SLOW", severity="moderate", created_at=new_york(24, 9),
                     first_response_at=new_york(24, 13, 1))  # fmt: skip
    states = {tid: (r["first_response_state"], r["resolution_state"]) for tid, r in detail(now).items()}
    assert states == {
        "T-RISK": ("at risk", "running"),
        "T-LATE": ("breached", "running"),
        "T-QUICK": ("met", "met"),
        "T-SLOW": ("breached", "running"),
    }
    assert detail(now)["T-QUICK"]["first_response_at"] is None
    assert detail(new_york(25, 11, 59))["T-RISK"]["first_response_state"] == "running"  # 44 min: 73 %


def test_the_range_is_utc_days_both_included_as_the_summary_counts_them(db: str) -> None:
    factories.ticket("C-001", "T-BEFORE", created_at=utc(2026, 11, 22, 23, 59, 59))
    factories.ticket("C-001", "T-FIRST", created_at=utc(2026, 11, 23, 0, 0))
    factories.ticket("C-001", "T-EVENING", created_at=new_york(23, 20))  # 01:00 UTC on the 24th
    factories.ticket("C-001", "T-LAST", created_at=utc(2026, 11, 24, 23, 59, 59))
    factories.ticket("C-001", "T-AFTER", created_at=utc(2026, 11, 25, 0, 0))
    factories.ticket(None, "T-TRIAGE", created_at=utc(2026, 11, 24, 12))
    now = utc(2026, 12, 1)
    rows = tickets_detail(SALES, start=NOV_23, end=date(2026, 11, 24), now=now)
    assert list(rows.ticket_id) == ["T-FIRST", "T-EVENING", "T-TRIAGE", "T-LAST"]
    assert rows.set_index("ticket_id").customer_id["T-TRIAGE"] is None
    summary = tickets_report(SALES, start=NOV_23, end=date(2026, 11, 24), by="day")
    assert summary.opened.sum() == len(rows)
    only_monday = tickets_detail(SALES, start=NOV_23, end=NOV_23, now=now, batch=1)
    assert list(only_monday.ticket_id) == ["T-FIRST"]
    assert tickets_detail(SALES, start=date(2026, 10, 1), end=date(2026, 10, 31), now=now).empty
    with pytest.raises(InvalidAction, match="first day must come before"):
        tickets_detail(SALES, start=date(2026, 11, 24), end=NOV_23, now=now)
    with pytest.raises(PermissionDenied):
        tickets_detail(USERMGR, start=NOV_23, end=NOV_23, now=now)


def test_the_command_prints_csv_json_and_table(db: str) -> None:
    factories.customer('=HYPERLINK("http://x")')
    factories.ticket("=HYPERLINK(\"http://x\")", "T-FORMULA", severity="critical", created_at=new_york(24, 10),
                     channel="@chat")  # fmt: skip
    factories.ticket(None, "T-TRIAGE", severity="minimal", created_at=new_york(21, 13), channel="email")
    args = ("report", "tickets", "--detail", "--from", "2026-11-21", "--to", "2026-11-24")
    as_csv = cli(*args, "--format", "csv", database_url=db)
    assert as_csv.returncode == 0, as_csv.stderr
    assert as_csv.stdout.splitlines()[0] == ",".join(DETAIL_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["ticket_id"] for r in rows] == ["T-TRIAGE", "T-FORMULA"]
    triage, formula = rows
    assert triage["customer_id"] == "" and triage["first_response_at"] == ""
    assert (triage["first_response_due"], triage["resolution_due"]) == (
        "2026-11-23T16:00:00-05:00", "2026-11-27T18:00:00-05:00")  # fmt: skip
    assert (triage["first_response_state"], triage["resolution_state"]) == ("breached", "breached")
    assert formula["customer_id"] == '\'=HYPERLINK("http://x")' and formula["channel"] == "'@chat"
    as_json = json.loads(cli(*args, "--format", "json", database_url=db).stdout)
    assert [list(r) for r in as_json] == [DETAIL_COLUMNS, DETAIL_COLUMNS]
    assert as_json[0]["customer_id"] is None and as_json[1]["customer_id"] == '=HYPERLINK("http://x")'
    assert as_json[1]["first_response_due"] == "2026-11-24T11:00:00-05:00"
    table = cli(*args, database_url=db)
    assert (
        table.returncode == 0 and "T-FORMULA" in table.stdout and "2026-11-24T11:00:00-05:00" in table.stdout
    )
    summary = cli("report", "tickets", "--from", "2026-11-21", "--to", "2026-11-24", "--format", "csv",
                  database_url=db)  # fmt: skip
    assert summary.stdout.splitlines()[0].startswith("period,opened,resolved")


def test_states_against_the_real_clock_without_an_offering(database: str) -> None:
    now = datetime.now(UTC)
    factories.customer("C-001")
    factories.ticket("C-001", "T-RISK", severity="critical", created_at=now - timedelta(minutes=50))
    factories.ticket("C-001", "T-NEW", severity="minimal", created_at=now - timedelta(minutes=1))
    today = now.date().isoformat()
    result = cli("report", "tickets", "--detail", "--from", (now.date() - timedelta(days=1)).isoformat(), "--to",
                 today, "--format", "json", database_url=database)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {r["ticket_id"]: r for r in json.loads(result.stdout)}
    assert (rows["T-RISK"]["first_response_state"], rows["T-RISK"]["resolution_state"]) == (
        "at risk",
        "running",
    )
    assert (rows["T-NEW"]["first_response_state"], rows["T-NEW"]["resolution_state"]) == (
        "running",
        "running",
    )
    assert rows["T-NEW"]["created_at"].endswith("+00:00")  # no offering: UTC


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2026-11-31", "--to", "2026-12-01"],
        ["--from", "yesterday", "--to", "2026-12-01"],
        ["--from", "2026-11-01", "--to", "1 Dec"],
        ["--from", "2026-11-01"],
        ["--from", "2026-11-01", "--to", "2026-11-30", "--by", "week"],
        ["--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx"],
        ["--from", "2026-01-01", "--to", "9999-12-31"],  # an OverflowError (the day after the end), once
        ["--from", "0001-01-01", "--to", "2026-12-31"],
    ],
)
def test_bad_input_gets_one_sentence_and_exit_2(sqlite_database: str, args: list[str]) -> None:
    result = cli("report", "tickets", "--detail", *args, database_url=sqlite_database)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error:" in result.stderr


def test_a_range_backwards_is_refused_as_the_summary_refuses_it(sqlite_database: str) -> None:
    result = cli("report", "tickets", "--detail", "--from", "2026-11-30", "--to", "2026-11-01",
                 database_url=sqlite_database)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --to 2026-11-01 is before --from 2026-11-30."


@pytest.mark.parametrize(
    "args",
    [
        ["report", "tickets", "--from", "9999-12-31", "--to", "9999-12-31"],
        ["report", "tickets", "--from", "2026-01-01", "--to", "9999-12-31", "--by", "month"],
        ["report", "overview", "--as-of", "9999-12-31"],
        ["report", "overview", "--as-of", "0001-01-01"],
        ["report", "collections", "--as-of", "9999-12-31"],
        ["report", "aging", "--as-of", "0001-01-01"],
    ],
)
def test_dates_at_the_ends_of_the_calendar_get_a_sentence_not_a_traceback(
    sqlite_database: str, args: list[str]
) -> None:
    result = cli(*args, database_url=sqlite_database)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "Traceback" not in result.stderr and "outside the days Billing Desk counts" in result.stderr


def test_a_hundred_years_of_detail_and_of_weeks_is_answered(db: str) -> None:
    factories.ticket("C-001", "T-1950", created_at=datetime(1950, 1, 2, 10, tzinfo=UTC))
    factories.ticket("C-001", "T-2049", created_at=datetime(2049, 12, 31, 10, tzinfo=UTC))
    result = cli("report", "tickets", "--detail", "--from", "1950-01-01", "--to", "2049-12-31", "--format", "csv",
                 database_url=db)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [row["ticket_id"] for row in csv.DictReader(io.StringIO(result.stdout))] == ["T-1950", "T-2049"]
    result = cli("report", "tickets", "--by", "week", "--from", "1950-01-01", "--to", "2049-12-31", "--format",
                 "csv", database_url=db)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    mondays = (
        date(2049, 12, 27) - date(1949, 12, 26)
    ).days // 7 + 1  # the weeks holding the first and last day
    assert (rows[0]["period"], rows[-1]["period"], len(rows)) == ("1949-12-26", "2049-12-27", mondays)
    assert sum(int(row["opened"]) for row in rows) == 2
