"""`report collections`: one row per customer with an overdue (or disputed) balance at the date, in the columns the
design names, for today (from the stored state once today's run has finished, assessed otherwise) and a past date
(always assessed), as csv, json and a table, filtered by stage. On SQLite and PostgreSQL.

The expectation is worked out by hand from the data set below, day by day under the policy given here; the amounts,
days past due and who is listed are also summed here from the raw invoices, payment allocations and credit notes.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from data_access import clock
from data_access.actions import collections, collections_run
from data_access.cli import main
from data_access.db import read_session, transaction
from data_access.models import CollectionState, CreditNote, Customer, Invoice, PaymentAllocation
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.cli import cli

D = clock.today()
P = D - timedelta(days=10)
COLUMNS = ["customer_id", "customer_name", "currency", "stage", "stage_entered_on", "days_past_due", "overdue",
           "disputed", "due_now", "next_step", "next_step_on", "promise_until", "suspension_eligible"]  # fmt: skip
STAGES = [
    (10, "reminder", "Reminder"),
    (30, "final_notice", "Final notice"),
    (60, "suspension_eligible", "Suspension"),
]


def ago(days: int) -> str:
    return str(D - timedelta(days=days))


# By hand (policy: Reminder at 10 days, Final notice at 30, Suspension at 60; minimum 100.00; grace 5 days):
# A owes 4000.00 of an invoice 70 days late (1000.00 paid 20 days ago) and 300.00 5 days late: Suspension since
# day -10, eligible since day -5. B's 800.00 is disputed, its 200.00 is 15 days late: Reminder since day -5.
# C's 50.00 is under the minimum. E paid its 2000.00, 35 days late, 3 days ago. G bills in EUR (a USD invoice of
# its own does not count). H promised 2 days ago to pay its 600.00, 25 days late, by day +5: its Final notice waits
# for the day after.
TODAY = [
    ["A", "USD", "Suspension", ago(10), "70", "4300.00", "0.00", "suspension_eligible", "", "", "", "true"],
    ["B", "USD", "Reminder", ago(5), "15", "200.00", "800.00", "reminder", "Final notice", ago(-15), "", "false"],
    ["C", "USD", "", "", "20", "50.00", "0.00", "", "", "", "", "false"],
    ["G", "EUR", "Final notice", ago(15), "45", "1500.00", "0.00", "final_notice", "Suspension", ago(-15), "",
     "false"],
    ["H", "USD", "Reminder", ago(15), "25", "600.00", "0.00", "", "Final notice", ago(-6), ago(-5), "false"],
]  # fmt: skip
TEN_DAYS_AGO = [
    ["A", "USD", "Suspension", ago(10), "60", "4000.00", "0.00", "suspension_eligible", "", "", "", "false"],
    ["B", "USD", "", "", "5", "200.00", "800.00", "", "Reminder", ago(5), "", "false"],
    ["C", "USD", "", "", "10", "50.00", "0.00", "", "", "", "", "false"],
    ["E", "USD", "Reminder", ago(25), "25", "2000.00", "0.00", "reminder", "Final notice", ago(5), "", "false"],
    ["G", "EUR", "Final notice", ago(15), "35", "1500.00", "0.00", "final_notice", "Suspension", ago(-15), "",
     "false"],
    ["H", "USD", "Reminder", ago(15), "15", "600.00", "0.00", "reminder", "Final notice", ago(-5), "", "false"],
]  # fmt: skip


def rows(expected: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(COLUMNS, [row[0], f"Customer {row[0]}", *row[1:]], strict=True)) for row in expected]


@pytest.fixture
def book(database: str) -> str:
    factories.policy(
        stages=[(days, action, name, f"{name}: pay") for days, action, name in STAGES],
        minimum_overdue_cents=10_000,
        grace_days=5,
    )
    for customer in "ABCEFGH":
        factories.customer(customer, currency="EUR" if customer == "G" else "USD")
    factories.invoice("A", "A-1", issued=D - timedelta(days=100), cents=500_000)
    factories.invoice("A", "A-2", issued=D - timedelta(days=35), cents=30_000)
    factories.payment("A", cents=100_000, received_on=D - timedelta(days=20), invoice="A-1")
    factories.invoice("B", "B-1", issued=D - timedelta(days=70), cents=80_000, disputed=True)
    factories.invoice("B", "B-2", issued=D - timedelta(days=45), cents=20_000)
    factories.invoice("C", "C-1", issued=D - timedelta(days=50), cents=5_000)
    factories.invoice("E", "E-1", issued=D - timedelta(days=65), cents=200_000)
    factories.payment("E", cents=200_000, received_on=D - timedelta(days=3))
    factories.invoice("F", "F-1", issued=D - timedelta(days=10), cents=70_000)
    factories.invoice("G", "G-1", issued=D - timedelta(days=75), cents=150_000)
    factories.invoice("G", "G-2", issued=D - timedelta(days=75), cents=99_900, currency="USD")
    factories.invoice("H", "H-1", issued=D - timedelta(days=55), cents=60_000)
    factories.promise(
        "H", cents=60_000, promised_for=D + timedelta(days=5), made=factories.at(D - timedelta(days=2))
    )
    return database


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", "collections", *args])
    out, err = capsys.readouterr()
    return code, out, err


def from_raw_rows(as_of: date) -> dict[str, tuple[str, str, str]]:
    """(overdue, disputed, days past due) per customer with either, summed from invoices, allocations and credit
    notes dated by the as-of date, in the customer's own currency."""
    with read_session() as session:
        customers = {c.id: c for c in session.scalars(select(Customer))}
        paid: dict[int, int] = defaultdict(int)
        for invoice_id, cents, on in session.execute(
            select(PaymentAllocation.invoice_id, PaymentAllocation.amount_cents, PaymentAllocation.applied_on)
        ):
            paid[invoice_id] += cents if on <= as_of else 0
        for invoice_id, cents, on in session.execute(
            select(CreditNote.invoice_id, CreditNote.amount_cents, CreditNote.issued_on)
        ):
            paid[invoice_id] += cents if on <= as_of else 0
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for invoice in session.scalars(select(Invoice)):
            customer = customers[invoice.customer_id]
            open_cents = invoice.amount_cents - paid[invoice.id]
            if invoice.issue_date > as_of or invoice.due_date >= as_of or open_cents <= 0:
                continue
            if invoice.currency != customer.currency:
                continue
            total = totals[invoice.customer_id]
            total[1 if invoice.disputed else 0] += open_cents
            if not invoice.disputed:
                total[2] = max(total[2], (as_of - invoice.due_date).days)
    return {
        customers[pk].external_id: (f"{Decimal(o) / 100:.2f}", f"{Decimal(d) / 100:.2f}", str(days))
        for pk, (o, d, days) in totals.items()
    }


@pytest.mark.parametrize("after_the_run", [True, False], ids=["stored", "assessed"])
def test_today_from_the_stored_state_or_assessed_the_same(
    book: str, capsys: pytest.CaptureFixture[str], after_the_run: bool
) -> None:
    if after_the_run:
        collections_run.run(BILLING)
    code, out, err = report(capsys, "--format", "csv")
    assert code == 0, err
    found = list(csv.DictReader(io.StringIO(out)))
    assert list(found[0]) == COLUMNS
    assert found == rows(TODAY)
    raw = from_raw_rows(D)
    assert {r["customer_id"]: (r["overdue"], r["disputed"], r["days_past_due"]) for r in found} == raw


def test_a_past_date_is_assessed_as_it_stood_then(book: str, capsys: pytest.CaptureFixture[str]) -> None:
    collections_run.run(BILLING)
    code, out, err = report(capsys, "--as-of", str(P), "--format", "csv")
    assert code == 0, err
    found = list(csv.DictReader(io.StringIO(out)))
    assert found == rows(TEN_DAYS_AGO)
    assert {
        r["customer_id"]: (r["overdue"], r["disputed"], r["days_past_due"]) for r in found
    } == from_raw_rows(P)


def test_for_today_the_report_reads_the_stored_state_once_todays_run_has_finished(
    book: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Proved by a row changed behind the run's back: today shows it, a past date does not."""
    collections_run.run(BILLING)
    with transaction() as session:
        session.execute(update(CollectionState).values(next_step="(stored)"))
    _, out, _ = report(capsys, "--format", "csv")
    assert {row["next_step"] for row in csv.DictReader(io.StringIO(out))} == {"(stored)"}
    _, out, _ = report(capsys, "--format", "csv", "--as-of", str(P))
    assert "(stored)" not in out


def test_json_and_table(book: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = report(capsys, "--format", "json")
    records = json.loads(out, parse_float=Decimal)
    assert [list(record) for record in records] == [COLUMNS] * len(TODAY)
    first = records[0]
    assert (first["customer_id"], first["overdue"], first["disputed"], first["suspension_eligible"]) == (
        "A",
        Decimal("4300.00"),
        Decimal("0.00"),
        True,
    )
    assert (
        first["next_step"] is None and first["stage_entered_on"] == ago(10) and first["days_past_due"] == 70
    )
    assert records[2]["stage"] is None and records[4]["promise_until"] == ago(-5)
    _, table, _ = report(capsys)
    lines = table.splitlines()
    assert lines[0].split() == COLUMNS and len(lines) == 1 + len(TODAY)
    assert lines[1].split() == ["A", "Customer", "A", "USD", "Suspension", ago(10), "70", "4300.00", "0.00",
                                "suspension_eligible", "true"]  # fmt: skip


def test_a_stage_filter_keeps_that_stage_and_an_unknown_stage_is_refused(
    book: str, capsys: pytest.CaptureFixture[str]
) -> None:
    collections.add_note(BILLING, customer_id="C", notes="called")
    code, out, _ = report(capsys, "--stage", "reminder", "--format", "csv")
    assert code == 0
    assert [row["customer_id"] for row in csv.DictReader(io.StringIO(out))] == ["B", "H"]
    _, out, _ = report(capsys, "--stage", "Reminder", "--as-of", str(P), "--format", "csv")
    assert [row["customer_id"] for row in csv.DictReader(io.StringIO(out))] == ["E", "H"]
    code, out, err = report(capsys, "--stage", "Agency", "--format", "csv")
    assert (code, out) == (1, "")
    assert err == (
        "error: There is no collections stage named 'Agency'; the stages are: Reminder, Final notice, Suspension.\n"
    )


def test_the_command_from_a_shell(book: str) -> None:
    collections_run.run(BILLING)
    done = cli("report", "collections", "--as-of", str(D), "--stage", "Final notice", "--format", "csv",
               database_url=book)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(csv.DictReader(io.StringIO(done.stdout))) == rows(
        [row for row in TODAY if row[2] == "Final notice"]
    )
    helped = cli("report", "collections", "--help", database_url=book)
    assert helped.returncode == 0 and "--stage" in helped.stdout
