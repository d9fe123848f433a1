"""The support offering and the collections policy as files: `show --format json` is taken back by `set` unchanged on
both databases, a bad file gets one sentence and exit code 2 with nothing written, every save is audited, and the
SLA clock runs on the offering a file set."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from data_access import audit, clock
from data_access.actions.policies import save_offering
from data_access.cli import main
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, CollectionState
from data_access.permissions import PermissionDenied
from data_access.queries.policies import ResponseTarget, current_policy, support_offering
from data_access.queries.tickets import tickets
from tests.support import factories
from tests.support.actors import ADMIN, BILLING, HELPDESK, SALES
from tests.support.cli import cli

OFFERING: dict[str, Any] = {
    "name": "Contoso support",
    "time_zone": "Europe/London",
    "business_hours": {"mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"], "wed": ["09:00", "17:00"],
                       "thu": ["09:00", "17:00"], "fri": ["09:00", "17:00"], "sat": None, "sun": None},
    "holidays": [{"date": "2026-12-28", "name": "Boxing Day (substitute)"}],
    "targets": {"critical": {"first_response_hours": 1, "resolution_hours": 8},
                "moderate": {"first_response_hours": 4, "resolution_hours": 24},
                "minimal": {"first_response_hours": 8, "resolution_hours": 40}},
    "entitlements": ["Premier Support for Partners"],
    "contact_methods": [{"method": "email", "value": "help@contoso.example", "availability": "Any time"}],
    "pricing": {"description": "Included with every subscription.",
                "rates": [{"item": "Out of hours", "currency": "GBP", "amount": "12.50", "unit": "hour"}]},
}  # fmt: skip

POLICY: dict[str, Any] = {
    "minimum_overdue": "25.00",
    "grace_days": 3,
    "disputes_stop_clock": False,
    "statement_intro": "Pay on time, please.",
    "stages": [
        {"name": "Reminder", "days_past_due": 1, "action": "reminder", "message_template": "Hello {customer_name}."},
        {"name": "Final", "days_past_due": 20, "action": "final_notice", "message_template": "Final notice."},
        {"name": "Suspend", "days_past_due": 40, "action": "suspension_eligible", "message_template": "Suspended."},
    ],
}  # fmt: skip


def audit_count() -> int:
    with read_session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def write(tmp_path: Path, document: Any, name: str = "settings.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_json_is_taken_back_by_set_unchanged_on_both_databases(database: str, tmp_path: Path) -> None:
    from data_access.demo import seed_demo

    seed_demo(customers=3, seed=5)
    for kind in ("offering", "policy"):
        shown = cli(kind, "show", "--format", "json", database_url=database)
        assert shown.returncode == 0, shown.stderr
        before = audit_count()
        path = write(tmp_path, shown.stdout, f"{kind}.json")
        saved = cli(kind, "set", path, database_url=database)
        assert saved.returncode == 0, saved.stderr
        assert saved.stdout.endswith(f"saved from {kind}.json.\n")
        again = cli(kind, "show", "--format", "json", database_url=database)
        assert again.stdout == shown.stdout
        assert audit_count() == before + 1
    document = json.loads(shown.stdout)
    assert isinstance(document["minimum_overdue"], str) and Decimal(document["minimum_overdue"]) > 0
    offering = json.loads(cli("offering", "show", "--format", "json", database_url=database).stdout)
    assert offering["pricing"]["rates"][0]["amount"] == "150.00"
    readable = cli("offering", "show", database_url=database)
    assert "Time zone: America/New_York" in readable.stdout and "Thanksgiving Day" in readable.stdout


def test_set_replaces_the_offering_whole_and_audits_before_and_after(database: str, tmp_path: Path) -> None:
    factories.support_offering(holidays={date(2026, 12, 25): "Christmas Day"})
    saved = cli("offering", "set", write(tmp_path, OFFERING), database_url=database)
    assert saved.returncode == 0, saved.stderr
    view = support_offering(SALES)
    assert view is not None
    assert (view.name, view.time_zone) == ("Contoso support", "Europe/London")
    assert view.holidays == ((date(2026, 12, 28), "Boxing Day (substitute)"),)
    assert [(r.currency, r.amount) for r in view.pricing_rates] == [("GBP", Decimal("12.50"))]
    assert view.contact_methods[0].value == "help@contoso.example"
    assert json.loads(cli("offering", "show", "--format", "json", database_url=database).stdout) == OFFERING
    with read_session() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.target == "support-offering")).one()
    event = audit.parse_event(row.permission, row.details)
    assert isinstance(event, audit.SupportOfferingSaved)
    assert row.actor.startswith("cli:")
    assert event.before is not None and event.before.holidays[0].name == "Christmas Day"
    assert event.after.pricing_rates[0].amount == Decimal("12.50")


def test_policy_set_refreshes_collections_state_like_the_page(database: str, tmp_path: Path) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=clock.today() - timedelta(days=55), cents=100_000)
    assert cli("policy", "set", write(tmp_path, POLICY), database_url=database).returncode == 0
    view = current_policy(SALES)
    assert view is not None
    assert [s.name for s in view.policy.stages] == ["Reminder", "Final", "Suspend"]
    assert (view.policy.minimum_overdue_cents, view.policy.grace_days_before_suspension) == (2_500, 3)
    assert view.policy.disputes_stop_clock is False and view.statement_intro == "Pay on time, please."
    with read_session() as session:
        stage = session.scalar(select(CollectionState.stage))
    assert stage == "Final"  # 25 days past due, stored when the policy was set


def changed(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy with the value at a dotted path (list items by number) replaced; `...` removes the key."""
    copied = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = copied
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return copied


def _weekdays(days: int) -> list[date]:
    return [day for n in range(days) if (day := date(2027, 1, 1) + timedelta(days=n)).weekday() < 5]


BAD_OFFERINGS = [
    pytest.param("{not json", "is not JSON", id="not-json"),
    pytest.param("[1, 2]", "must be a JSON object", id="a-list"),
    pytest.param(changed(OFFERING, "colour", "blue"), "unknown keys ('colour')", id="unknown-key"),
    pytest.param(changed(OFFERING, "targets.critical.sla", 3), "unknown keys ('sla')", id="unknown-nested-key"),
    pytest.param(changed(OFFERING, "name", ...), "lacks 'name'", id="missing-key"),
    pytest.param(changed(OFFERING, "name", 7), "name must be text", id="wrong-type"),
    pytest.param(changed(OFFERING, "targets.moderate.first_response_hours", -4), "positive", id="negative-target"),
    pytest.param(changed(OFFERING, "targets.moderate.first_response_hours", 4.5), "fraction", id="float-target"),
    pytest.param(changed(OFFERING, "targets.moderate.resolution_hours", "24"), "whole number", id="text-hours"),
    pytest.param(changed(OFFERING, "targets.moderate.resolution_hours", 10**30), "too large", id="huge-number"),
    pytest.param(changed(OFFERING, "targets.moderate.resolution_hours", 10**9), "more than 8,760", id="too-many"),
    pytest.param(changed(OFFERING, "targets.moderate", ...), "missing: moderate", id="missing-severity"),
    pytest.param(changed(OFFERING, "business_hours.monday", ["09:00", "17:00"]), "unknown keys ('monday')",
                 id="weekday-name"),
    pytest.param(changed(OFFERING, "business_hours.mon", ["09:00", "25:00"]), "times like 08:00", id="25:00"),
    pytest.param(changed(OFFERING, "business_hours.mon", ["17:00", "09:00"]), "before the closing", id="reversed"),
    pytest.param(changed(OFFERING, "time_zone", "Mars/Olympus"), "not known", id="time-zone"),
    # A folder of the time zone database, a name too long for a file, and names that mean whatever the server's
    # clock is set to (localtime) or no time zone at all (Factory): once a traceback, or saved.
    pytest.param(changed(OFFERING, "time_zone", "Europe"), "not known", id="time-zone-folder"),
    pytest.param(changed(OFFERING, "time_zone", "Europe/" + "x" * 300), "not known", id="time-zone-too-long"),
    pytest.param(changed(OFFERING, "time_zone", "localtime"), "not known", id="time-zone-localtime"),
    pytest.param(changed(OFFERING, "time_zone", "Factory"), "not known", id="time-zone-factory"),
    pytest.param(changed(OFFERING, "time_zone", "posix/Europe/London"), "not known", id="time-zone-posix"),
    # Every weekday a holiday for three and a half years: saved once, then every SLA clock (the Overview's, report
    # tickets --detail) failed for everybody with "no business hours for three years".
    pytest.param(changed(OFFERING, "holidays", [{"date": str(day), "name": "Shut"} for day in _weekdays(7 * 183)]),
                 "holidays from 2027-01-01 leave no business hours for three years", id="holidays-for-years"),
    pytest.param(changed(OFFERING, "holidays.0.date", "28/12/2026"), "must be a date", id="holiday-not-date"),
    pytest.param(changed(OFFERING, "holidays.0.date", "2026-02-30"), "must be a date", id="holiday-no-such-day"),
    pytest.param(changed(OFFERING, "entitlements.0", "Gold support"), "not a Microsoft support vehicle",
                 id="vehicle"),
    pytest.param(changed(OFFERING, "pricing.rates.0.amount", 12.5), 'strings such as "12.50"', id="float-money"),
    pytest.param(changed(OFFERING, "pricing.rates.0.amount", "12.505"), "more than two decimal", id="sub-cent"),
    pytest.param(changed(OFFERING, "pricing.rates.0.amount", "-1.00"), "cannot be negative", id="negative-price"),
    pytest.param(changed(OFFERING, "pricing.rates.0.currency", "XYZ"), "not a currency", id="currency"),
    pytest.param(changed(OFFERING, "name", "Contoso\x1b[31m"), "control characters (U+001B)", id="control-name"),
    pytest.param(changed(OFFERING, "contact_methods.0.value", "a\u202eb"), "control characters (U+202E)",
                 id="control-contact"),
    pytest.param('{"name": "a", "name": "b"}', "given twice", id="duplicate-key"),
    pytest.param('{"name": NaN}', "not a number", id="nan"),
    pytest.param("[" * 100_000, "nests", id="deep"),
    pytest.param(" " * 1_000_001, "larger than 1,000,000 bytes", id="huge-file"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "phrase"), BAD_OFFERINGS)
def test_a_bad_offering_file_gets_one_sentence_exit_2_and_nothing_written(
    sqlite_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any, phrase: str
) -> None:
    factories.support_offering()
    shown_before = run(capsys, "offering", "show", "--format", "json")[1]
    before = audit_count()
    code, out, err = run(capsys, "offering", "set", write(tmp_path, document, "offering.json"))
    assert code == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: offering.json was not saved: ") and phrase in err, err
    assert run(capsys, "offering", "show", "--format", "json")[1] == shown_before
    assert audit_count() == before


BAD_POLICIES = [
    pytest.param(changed(POLICY, "stages.1.days_past_due", 1), "no later than the stage before", id="not-increasing"),
    pytest.param(changed(POLICY, "grace_days", -2), "cannot be negative", id="negative-grace"),
    pytest.param(changed(POLICY, "grace_days", 10**12), "more than the 3,650 days", id="huge-grace"),
    pytest.param(changed(POLICY, "stages.2.days_past_due", 99_999), "3,650", id="huge-stage"),
    pytest.param(changed(POLICY, "minimum_overdue", 25), 'in quotes such as "12.50"', id="number-money"),
    pytest.param(changed(POLICY, "minimum_overdue", "-5.00"), "cannot be negative", id="negative-minimum"),
    pytest.param(changed(POLICY, "disputes_stop_clock", "yes"), "true or false", id="not-boolean"),
    pytest.param(changed(POLICY, "stages.0.action", "sue"), "not an action", id="action"),
    pytest.param(changed(POLICY, "stages.0.when", 3), "unknown keys ('when')", id="unknown-stage-key"),
    pytest.param(changed(POLICY, "stages.0.name", "Re\x00minder"), "control characters (U+0000)", id="nul"),
    pytest.param(changed(POLICY, "stages", []), "at least one stage", id="no-stages"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "phrase"), BAD_POLICIES)
def test_a_bad_policy_file_gets_one_sentence_exit_2_and_nothing_written(
    sqlite_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any, phrase: str
) -> None:
    code, _, err = run(capsys, "policy", "set", write(tmp_path, POLICY, "good.json"))
    assert code == 0, err
    before = (run(capsys, "policy", "show", "--format", "json")[1], audit_count())
    code, out, err = run(capsys, "policy", "set", write(tmp_path, document, "policy.json"))
    assert code == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: policy.json was not saved: ") and phrase in err, err
    assert (run(capsys, "policy", "show", "--format", "json")[1], audit_count()) == before


def test_files_that_cannot_be_read_and_show_before_any_setting(
    sqlite_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "offering", "set", str(tmp_path / "missing.json"))
    assert code == 2 and "There is no file" in err
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"name": "Caf\u00e9"}'.encode("latin-1"))
    code, _, err = run(capsys, "policy", "set", str(latin))
    assert code == 2 and "not UTF-8 text" in err
    code, _, err = run(capsys, "policy", "show")
    assert code == 1 and err == "error: There is no collections policy yet.\n"
    with pytest.raises(SystemExit) as exited:
        main(["offering", "show", "--format", "csv"])
    assert exited.value.code == 2


def test_save_offering_is_for_billing_and_global_admins(database: str) -> None:
    from data_access.documents.settings_files import read_offering

    settings = read_offering(json.dumps(OFFERING))
    for actor in (SALES, HELPDESK):
        with pytest.raises(PermissionDenied, match=r"policies\.edit"):
            save_offering(actor, settings)
    assert support_offering(SALES) is None and audit_count() == 0
    save_offering(BILLING, settings)
    late = (ResponseTarget("critical", 9, 8), *settings.targets[1:])
    with pytest.raises(InvalidAction, match="critical first response cannot come after its resolution"):
        save_offering(ADMIN, replace(settings, targets=late, name="Changed"))
    view = support_offering(SALES)
    assert view is not None and view.name == "Contoso support" and audit_count() == 1


def test_the_sla_clock_runs_on_the_offering_a_file_set(database: str, tmp_path: Path) -> None:
    """A moderate ticket (first response 4 business hours) opened on Friday 2026-12-25 at 16:30 in London: half
    an hour that Friday, the weekend closed, Monday 28th a holiday, then 3.5 hours from Tuesday 09:00, so due
    Tuesday 2026-12-29 at 12:30 London time (GMT, UTC+0). Resolution (24 hours): 0.5 + Tue 8 + Wed 8 + Thu 7.5,
    due Thursday 2026-12-31 at 16:30."""
    assert cli("offering", "set", write(tmp_path, OFFERING), database_url=database).returncode == 0
    factories.customer("C-1")
    factories.ticket("C-1", "T-1", created_at=datetime(2026, 12, 25, 16, 30, tzinfo=UTC))
    row = tickets(HELPDESK, now=datetime(2026, 12, 26, tzinfo=UTC)).iloc[0]
    assert row["first_response_due"] == datetime(2026, 12, 29, 12, 30, tzinfo=UTC)
    assert row["resolution_due"] == datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    detail = cli("report", "tickets", "--detail", "--from", "2026-12-25", "--to", "2026-12-25", "--format", "json",
                 database_url=database)  # fmt: skip
    assert detail.returncode == 0, detail.stderr
    [reported] = json.loads(detail.stdout)
    assert (reported["first_response_due"], reported["resolution_due"]) == (
        "2026-12-29T12:30:00+00:00",
        "2026-12-31T16:30:00+00:00",
    )
    moved = changed(OFFERING, "holidays", [])
    assert cli("offering", "set", write(tmp_path, moved), database_url=database).returncode == 0
    row = tickets(HELPDESK, now=datetime(2026, 12, 26, tzinfo=UTC)).iloc[0]
    assert row["first_response_due"] == datetime(2026, 12, 28, 12, 30, tzinfo=UTC)


def test_two_years_of_weekday_holidays_are_saved(sqlite_database: str, tmp_path: Path) -> None:
    document = changed(
        OFFERING, "holidays", [{"date": str(day), "name": "Shut"} for day in _weekdays(2 * 365)]
    )
    result = cli("offering", "set", write(tmp_path, document), database_url=sqlite_database)
    assert result.returncode == 0, result.stderr
