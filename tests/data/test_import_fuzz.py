"""Hostile files for every import kind (property-based, bounded): each file is imported exactly as its rows say,
or refused with every bad line named (each with the reason for each bad cell) and nothing written; never an
exception. SQLite only: the rules are Python's, and the backends are raced in test_import_races."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from data_access.checks import COUNTRIES, CURRENCIES
from data_access.csv_import import import_csv
from data_access.db import dispose_engines, read_session
from data_access.enums import BillingCycle, Severity, SubscriptionStatus, TicketCategory, TicketStatus
from data_access.models import CreditNote, Customer, Invoice, MicrosoftInvoice, Payment, Subscription, Ticket
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.environment import IN_CI
from tests.support.ledger_invariant import ledger_digest, ledger_problems, table_counts

TODAY = date(2026, 11, 24)
FIRST, LAST = date(2000, 1, 1), date(2099, 12, 31)
Draw = Callable[[st.SearchStrategy[Any]], Any]

TEXT = st.one_of(
    st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12).filter(str.strip),
    st.sampled_from(["=1+2", "+SUM(A1:A9)", "-2", "@cmd", '=HYPERLINK("http://h/t")']),
)
HOSTILE: dict[str, list[str]] = {
    "text": ["a\x00b", "tab\there", "esc\x1b[31m", "bidi\u202eevil", "line\nbreak", "del\x7f", "zero\u200bwidth"],
    "amount": ["-1.00", "1e3", "1,000.00", "²", "١٢٣", "1000000000.01", "92233720368547758.08", "9" * 30,
               "1.001", "NaN", "Infinity", "12\x00", "+5", "0x10", "１０"],
    "quantity": ["-1", "2.5", "2147483648", "1000001", "²", "１２", "1e3", "9" * 40],
    "date": ["2026-02-30", "2026-1-1", "٢٠٢٦-٠١-٠١", "0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01",
             "20261124", "2026-W48-2", "tomorrow", "2026-11-24T00:00"],
    "time": ["2026-11-24T25:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59:59-01:00", "²⁰²⁶-01-01T00:00",
             "yesterday", "1999-12-31T23:00:00"],
    "currency": ["XYZ", "ÄÖÜ", "US", "usdollar", "ßp", "XAU", "X\x00Y"],
    "country": ["ZZ", "USA", "ÄÖ", "1A", "u s"],
    "tenant": ["not-a-guid", "8f2d2c4e-0000-4000-8000-00000000000", "8f2d2c4e000040008000000000000001",
               "８f2d2c4e-0000-4000-8000-000000000001", "{8f2d2c4e-0000-4000-8000-000000000001}"],
    "email": ["no-at-sign", "a@b", "a b@c.de", "@x.com", "a@@b.com"],
    "boolean": ["maybe", "２", "y"],
    "choice": ["urgent", "Cancelled", "²"],
}  # fmt: skip
UNKNOWN = {"customer": "NOPE", "invoice": "INV-NOPE"}


@dataclass
class Cell:
    text: str
    expected: Any = None
    marker: str | None = None
    """Set when the cell is hostile: what the row's reasons must mention."""
    default: Any = None
    """What is stored when the file lacks the column."""


@dataclass
class Kind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    families: dict[str, str]
    row: Callable[[Draw, int, dict[str, Any]], dict[str, Cell]]
    stored: Callable[[dict[str, Cell], dict[str, Any]], tuple[Any, dict[str, Any]]]
    """What the database must hold for a good row: (the model row's filter, the attributes it must have)."""
    lengths: dict[str, int] = field(default_factory=dict)


def good(value: str, expected: Any = None) -> Cell:
    return Cell(value, value.strip() if expected is None else expected)


def amount(draw: Draw, low: int = 0, high: int = 10**11) -> Cell:
    cents = draw(st.one_of(st.integers(low, high), st.sampled_from([low, high])))
    return Cell(f"{cents // 100}" if cents % 100 == 0 and draw(st.booleans()) else f"{cents // 100}.{cents % 100:02d}", cents)  # fmt: skip


def day(draw: Draw, low: date = FIRST, high: date = LAST) -> Cell:
    value = draw(st.dates(low, high))
    return Cell(value.isoformat(), value)


def code(draw: Draw, codes: frozenset[str]) -> Cell:
    value = draw(st.sampled_from(sorted(codes)))
    return Cell(draw(st.sampled_from([value, value.lower(), value.title()])), value)


def choice(draw: Draw, values: list[str]) -> Cell:
    value = draw(st.sampled_from(values))
    spelled = draw(st.sampled_from([value, value.upper(), value.lower().replace(" ", "_")]))
    return Cell(spelled, value)


def optional(draw: Draw, cell: Cell, default: Any = None) -> Cell:
    chosen = cell if draw(st.booleans()) else Cell("", default)
    chosen.default = default
    return chosen


def guid(draw: Draw) -> Cell:
    value = str(draw(st.uuids()))
    return Cell(draw(st.sampled_from([value, value.upper()])), value)


def email(draw: Draw) -> Cell:
    return good(draw(st.from_regex(r"[a-z0-9._%+-]{1,10}@[a-z0-9-]{1,10}\.[a-z]{2,6}", fullmatch=True)))


def flag(draw: Draw) -> Cell:
    value = draw(st.sampled_from(["true", "FALSE", "yes", "No", "1", "0"]))
    return Cell(value, value.lower() in ("true", "yes", "1"))


def moment(draw: Draw, low: datetime) -> tuple[Cell, datetime]:
    zone = draw(st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]))  # fmt: skip
    value = low + timedelta(seconds=draw(st.integers(0, 10**8)))
    shown = value.replace(tzinfo=None) if zone is None else value.astimezone(zone)
    return Cell(
        shown.isoformat() if zone is not UTC else shown.isoformat().replace("+00:00", "Z"), value
    ), value


def customers_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    return {
        "customer_id": good(f"F-{i}"), "name": good(draw(TEXT)),
        "tenant_id": optional(draw, guid(draw)),
        "domain": optional(draw, good(draw(TEXT))), "country": optional(draw, code(draw, COUNTRIES)),
        "currency": optional(draw, code(draw, CURRENCIES), "USD"), "account_manager": optional(draw, good(draw(TEXT))),
        "email": optional(draw, email(draw)),
    }  # fmt: skip


def subscriptions_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    quantity = draw(st.integers(0, 1_000_000))
    return {
        "subscription_id": good(f"F-{i}"), "customer_id": Cell(*draw(st.sampled_from(base["customers"]))),
        "product": good(draw(TEXT)), "sku": good(draw(TEXT)), "quantity": Cell(str(quantity), quantity),
        "unit_price": amount(draw), "billing_cycle": choice(draw, BillingCycle.values()),
        "status": choice(draw, SubscriptionStatus.values()), "term_end": optional(draw, day(draw)),
    }  # fmt: skip


def invoices_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    customer = draw(st.sampled_from(base["customers"]))
    issued = day(draw, high=LAST - timedelta(days=90))
    due = issued.expected + timedelta(days=draw(st.integers(0, 90)))
    return {
        "invoice_number": good(f"F-{i}"), "customer_id": Cell(*customer), "issue_date": issued,
        "due_date": Cell(due.isoformat(), due), "amount": amount(draw),
        "currency": optional(draw, code(draw, CURRENCIES), base["currency"][customer[1]]),
        "disputed": optional(draw, flag(draw), False),
    }  # fmt: skip


def payments_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    number, invoice_id, customer_id, external_id = draw(st.sampled_from(base["invoices"]))
    by_invoice = draw(st.booleans())
    return {
        "invoice_number": Cell(number, invoice_id) if by_invoice else Cell("", None),
        "customer_id": Cell(external_id, customer_id) if not by_invoice or draw(st.booleans()) else Cell("", customer_id),
        "paid_on": day(draw, high=TODAY), "amount": amount(draw, 1, 10_000_000),
        "reference": good(f"ref-{i}-{draw(TEXT)}"),
    }  # fmt: skip


def credit_notes_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    number, invoice_id, _, _ = draw(st.sampled_from(base["invoices"]))
    return {
        "credit_note_number": good(f"F-{i}"), "invoice_number": Cell(number, invoice_id),
        "issued_on": day(draw, low=date(2026, 1, 1)), "amount": amount(draw, 1, 10_000_000),
        "reason": optional(draw, good(draw(TEXT))),
    }  # fmt: skip


def tickets_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    created, at = moment(
        draw, datetime(2000, 1, 2, tzinfo=UTC) + timedelta(days=draw(st.integers(0, 32_000)))
    )
    return {
        "ticket_id": good(f"F-{i}"), "customer_id": Cell(*draw(st.sampled_from(base["customers"]))),
        "title": good(draw(TEXT)), "category": choice(draw, TicketCategory.values()),
        "severity": choice(draw, Severity.values()), "status": choice(draw, TicketStatus.values()),
        "channel": optional(draw, good(draw(TEXT))), "created_at": created,
        "first_response_at": optional(draw, moment(draw, at)[0]), "resolved_at": optional(draw, moment(draw, at)[0]),
    }  # fmt: skip


def microsoft_row(draw: Draw, i: int, base: dict[str, Any]) -> dict[str, Cell]:
    start = day(draw, high=date(2099, 1, 1))
    end = start.expected + timedelta(days=draw(st.integers(0, 60)))
    return {
        "invoice_number": good(f"F-{i}"), "period_start": start, "period_end": Cell(end.isoformat(), end),
        "amount": amount(draw), "currency": code(draw, CURRENCIES), "due_date": day(draw),
        "paid_on": optional(draw, day(draw)),
    }  # fmt: skip


def by_key(model: type[Any], attribute: str, column: str, names: dict[str, str]) -> Callable[..., Any]:
    def stored(row: dict[str, Cell], base: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return getattr(model, attribute) == row[column].expected, {
            attr: row[col].expected for col, attr in names.items()
        }

    return stored


def invoices_stored(row: dict[str, Cell], base: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    where, expected = by_key(Invoice, "number", "invoice_number", {
        "customer_id": "customer_id", "issue_date": "issue_date", "due_date": "due_date", "amount": "amount_cents",
        "currency": "currency", "disputed": "disputed"})(row, base)  # fmt: skip
    return where, expected | {"open_cents": row["amount"].expected}


def payments_stored(row: dict[str, Cell], base: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return Payment.reference == row["reference"].expected, {
        "invoice_id": row["invoice_number"].expected, "customer_id": row["customer_id"].expected,
        "received_on": row["paid_on"].expected, "amount_cents": row["amount"].expected}  # fmt: skip


def credit_notes_stored(row: dict[str, Cell], base: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return CreditNote.number == row["credit_note_number"].expected, {
        "invoice_id": row["invoice_number"].expected, "issued_on": row["issued_on"].expected,
        "amount_cents": row["amount"].expected, "reason": row["reason"].expected}  # fmt: skip


KINDS = {
    kind.name: kind
    for kind in (
        Kind("customers", ("customer_id", "name"),
             ("tenant_id", "domain", "country", "currency", "account_manager", "email"),
             {"customer_id": "text", "name": "text", "tenant_id": "tenant", "domain": "text", "country": "country",
              "currency": "currency", "account_manager": "text", "email": "email"},
             customers_row,
             by_key(Customer, "external_id", "customer_id", {
                 "name": "name", "tenant_id": "tenant_id", "domain": "domain", "country": "country",
                 "currency": "currency", "account_manager": "account_manager", "email": "billing_contact_email"}),
             {"customer_id": 64, "name": 200, "domain": 253, "account_manager": 100}),
        Kind("subscriptions", ("subscription_id", "customer_id", "product", "sku", "quantity", "unit_price",
                               "billing_cycle", "status"), ("term_end",),
             {"subscription_id": "text", "customer_id": "customer", "product": "text", "sku": "text",
              "quantity": "quantity", "unit_price": "amount", "billing_cycle": "choice", "status": "choice",
              "term_end": "date"},
             subscriptions_row,
             by_key(Subscription, "external_id", "subscription_id", {
                 "customer_id": "customer_id", "product": "product", "sku": "sku", "quantity": "quantity",
                 "unit_price": "unit_price_cents", "billing_cycle": "billing_cycle", "status": "status",
                 "term_end": "term_end"}),
             {"subscription_id": 64, "product": 200, "sku": 200}),
        Kind("invoices", ("invoice_number", "customer_id", "issue_date", "due_date", "amount"),
             ("currency", "disputed"),
             {"invoice_number": "text", "customer_id": "customer", "issue_date": "date", "due_date": "date",
              "amount": "amount", "currency": "currency", "disputed": "boolean"},
             invoices_row, invoices_stored, {"invoice_number": 64}),
        Kind("payments", ("invoice_number", "customer_id", "paid_on", "amount", "reference"), (),
             {"invoice_number": "invoice", "customer_id": "customer", "paid_on": "date", "amount": "amount",
              "reference": "text"},
             payments_row, payments_stored, {"reference": 200}),
        Kind("credit-notes", ("credit_note_number", "invoice_number", "issued_on", "amount"), ("reason",),
             {"credit_note_number": "text", "invoice_number": "invoice", "issued_on": "date", "amount": "amount",
              "reason": "text"},
             credit_notes_row, credit_notes_stored, {"credit_note_number": 64, "reason": 200}),
        Kind("tickets", ("ticket_id", "customer_id", "title", "category", "severity", "status", "created_at"),
             ("channel", "first_response_at", "resolved_at"),
             {"ticket_id": "text", "customer_id": "customer", "title": "text", "category": "choice",
              "severity": "choice", "status": "choice", "channel": "text", "created_at": "time",
              "first_response_at": "time", "resolved_at": "time"},
             tickets_row,
             by_key(Ticket, "external_id", "ticket_id", {
                 "customer_id": "customer_id", "title": "title", "category": "category", "severity": "severity",
                 "status": "status", "channel": "channel", "created_at": "created_at",
                 "first_response_at": "first_response_at", "resolved_at": "resolved_at"}),
             {"ticket_id": 64, "title": 300, "channel": 30}),
        Kind("microsoft-invoices", ("invoice_number", "period_start", "period_end", "amount", "currency",
                                    "due_date"), ("paid_on",),
             {"invoice_number": "text", "period_start": "date", "period_end": "date", "amount": "amount",
              "currency": "currency", "due_date": "date", "paid_on": "date"},
             microsoft_row,
             by_key(MicrosoftInvoice, "number", "invoice_number", {
                 "period_start": "period_start", "period_end": "period_end", "amount": "amount_cents",
                 "currency": "currency", "due_date": "due_date", "paid_on": "paid_on"}),
             {"invoice_number": 64}),
    )
}  # fmt: skip
FILE_REQUIRED = {"payments": ("paid_on", "amount")}


def hostile(draw: Draw, kind: Kind, column: str, row: dict[str, Cell]) -> Cell:
    family = kind.families[column]
    if family in UNKNOWN:
        if draw(st.booleans()):
            return Cell(UNKNOWN[family], marker=UNKNOWN[family])
        family = "text"
    values = HOSTILE[family] + (["x" * (kind.lengths[column] + 1)] if column in kind.lengths else [])
    return Cell(draw(st.sampled_from(values)), marker=column)


@dataclass
class File:
    data: bytes
    good: list[dict[str, Cell]]
    bad: dict[int, list[str]]
    """Line -> what its reasons must mention."""
    refused_at: tuple[int, str] | None = None
    """A problem with the file as a whole: the one line reported and what it says."""


def hostile_file(draw: Draw, kind: Kind, base: dict[str, Any]) -> File:
    required = list(FILE_REQUIRED.get(kind.name, kind.required))
    columns = list(kind.required) + [c for c in kind.optional if draw(st.booleans())]
    if draw(st.integers(0, 5)) == 0:
        columns.append("notes")
    columns = draw(st.permutations(columns))
    header = list(columns)
    refused_at: tuple[int, str] | None = None
    trouble = draw(st.sampled_from(["none"] * 15 + ["repeat", "drop", "non-utf8"]))
    if trouble == "repeat":
        header.append(draw(st.sampled_from([f" {n.upper()} " for n in columns])))
        refused_at = (1, "twice")
    elif trouble == "drop":
        gone = draw(st.sampled_from(required))
        header = [n for n in header if n != gone]
        refused_at = (1, "lacks required column")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    lines_before = 1
    good_rows: list[dict[str, Cell]] = []
    bad: dict[int, list[str]] = {}
    starts: list[int] = []
    for i in range(draw(st.integers(0, 6)) or draw(st.integers(0, 6))):
        row = kind.row(draw, i, base)
        line = lines_before + 1
        cells = [row[n].text if n in row else "" for n in columns]
        if draw(st.integers(0, 3)) == 0:
            spoiled = draw(
                st.lists(
                    st.sampled_from([n for n in columns if n in row]), min_size=1, max_size=2, unique=True
                )
            )
            for name in spoiled:
                row[name] = hostile(draw, kind, name, row)
            cells = [row[n].text if n in row else "" for n in columns]
            bad[line] = [row[n].marker for n in spoiled if row[n].marker]  # type: ignore[misc]
        elif good_rows and draw(st.integers(0, 7)) == 0:
            row = good_rows[-1]
            cells = [row[n].text if n in row else "" for n in columns]
            bad[line] = ["duplicate of line"]
        elif draw(st.integers(0, 9)) == 0:
            cells.append("surplus")
            bad[line] = ["cells but the header names"]
        else:
            good_rows.append({n: row[n] if n in columns else Cell("", row[n].default) for n in row})
        start = out.tell()
        writer.writerow(cells)
        lines_before += len(re.findall(r"\r\n|\r|\n", out.getvalue()[start:]))
        starts.append(line)
    data = out.getvalue().encode()
    if trouble == "non-utf8" and starts:
        target = draw(st.sampled_from(starts))
        lines = data.split(b"\n")
        lines[target - 1] = b"\xff" + lines[target - 1]
        data = b"\n".join(lines)
        refused_at = (target, "not UTF-8")
    return File(data, good_rows, bad, refused_at)


@pytest.fixture
def baseline(
    sqlite_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], dict[str, Any]]:
    """Two customers with an open invoice each, saved once and copied back before every example."""
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)
    factories.customer("C1", currency="USD")
    factories.customer("C2", currency="EUR")
    factories.invoice("C1", "I1", issued=date(2026, 1, 1), cents=100_000_000_00)
    factories.invoice("C2", "I2", issued=date(2026, 1, 1), cents=100_000_000_00, currency="EUR")
    with read_session() as session:
        ids = {row.external_id: row.id for row in session.execute(select(Customer.external_id, Customer.id))}
        invoices = [
            (n, i, c) for n, i, c in session.execute(select(Invoice.number, Invoice.id, Invoice.customer_id))
        ]
    external = {v: k for k, v in ids.items()}
    base = {
        "customers": [(external_id, customer_id) for external_id, customer_id in ids.items()],
        "currency": {ids["C1"]: "USD", ids["C2"]: "EUR"},
        "invoices": [(n, i, c, external[c]) for n, i, c in invoices],
    }
    path = Path(sqlite_database.removeprefix("sqlite:///"))
    saved = tmp_path / "baseline.sqlite3"
    dispose_engines()
    shutil.copyfile(path, saved)

    def restore() -> dict[str, Any]:
        dispose_engines()
        shutil.copyfile(saved, path)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return base

    return restore


FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=IN_CI,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("kind_name", list(KINDS))
@FUZZ
@given(data=st.data())
def test_a_hostile_file_is_imported_exactly_or_refused_whole(
    baseline: Callable[[], dict[str, Any]], kind_name: str, data: st.DataObject
) -> None:
    base = baseline()
    kind = KINDS[kind_name]
    file = hostile_file(data.draw, kind, base)
    counts, digest = table_counts(), ledger_digest()
    report = import_csv(BILLING, kind.name, file.data)
    if file.refused_at or file.bad:
        lines = {error.line: error.reason for error in report.errors}
        if file.refused_at:
            line, says = file.refused_at
            assert list(lines) == [line] and says in lines[line], report.errors
        else:
            assert set(lines) == set(file.bad), report.errors
            for line, markers in file.bad.items():
                assert all(marker in lines[line] for marker in markers), (line, markers, lines[line])
        assert (table_counts(), ledger_digest()) == (counts, digest)
        return
    assert report.ok and report.added == len(file.good), report.errors
    model = {"customers": Customer, "subscriptions": Subscription, "invoices": Invoice, "payments": Payment,
             "credit-notes": CreditNote, "tickets": Ticket, "microsoft-invoices": MicrosoftInvoice}[kind.name]  # fmt: skip
    with read_session() as session:
        for row in file.good:
            where, expected = kind.stored(row, base)
            record = session.scalars(select(model).where(where)).one()
            assert {name: getattr(record, name) for name in expected} == expected
    grown = {name: table_counts()[name] - before for name, before in counts.items()}
    assert grown[str(model.__tablename__)] == len(file.good)
    assert ledger_problems() == []
