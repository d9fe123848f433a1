"""Hostile input on the master-data write paths (customers, invoices, the partner profile): every one is refused
with a sentence, writes nothing (no row changed, no audit event) and leaves the ledger consistent."""

from __future__ import annotations

import io
import re
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, event, func, select

from data_access import ledger
from data_access.actions.customers import update_customer
from data_access.actions.invoices import add_invoice, correct_invoice, void_invoice
from data_access.actions.partner import save_partner_profile
from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, Invoice
from data_access.permissions import Actor, PermissionDenied
from data_access.queries import customers
from data_access.queries.customers import CustomerDetails
from data_access.queries.partner import PartnerDetails, partner_profile
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, NOBODY, SALES, USERMGR
from tests.support.ledger_check import ledger_problems

TODAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)


def audit_events() -> int:
    with read_session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def invoice_count() -> int:
    with read_session() as session:
        return session.scalar(select(func.count()).select_from(Invoice)) or 0


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"account_manager": "x" * 101}, "The account manager is longer than 100 characters."),
        ({"account_manager": "sales\x00"}, "The account manager contains control characters (U+0000)"),
        ({"billing_contact_name": "x" * 10_000}, "The billing contact is longer than 200 characters."),
        (
            {"billing_contact_name": "Ann\u202eEvil"},
            "The billing contact contains control characters (U+202E)",
        ),
        ({"payment_terms_days": 1.5}, "Payment terms must be 0 to 365 days."),
        ({"payment_terms_days": True}, "Payment terms must be 0 to 365 days."),
        ({"payment_terms_days": "30"}, "Payment terms must be 0 to 365 days."),
    ],
)
def test_a_bad_account_manager_contact_or_terms_is_refused_not_silently_erased(
    database: str, change: dict[str, Any], sentence: str
) -> None:
    factories.customer(
        "C-1", account_manager="sales", billing_contact_name="Ann Buyer", payment_terms_days=30
    )
    before = customers.customer_details(BILLING, customer_id="C-1")
    with pytest.raises(InvalidAction, match=re.escape(sentence)):
        update_customer(BILLING, customer_id="C-1", before=before, after=replace(before, **change))
    assert customers.customer_details(BILLING, customer_id="C-1") == before
    assert audit_events() == 0
    assert ledger_problems(database) == []


@pytest.mark.parametrize("issued", [date(9999, 12, 31), date(9999, 12, 20), date(1, 1, 1)])
def test_an_invoice_issued_at_the_ends_of_the_calendar_is_refused_in_words(
    database: str, issued: date
) -> None:
    factories.customer("C-1", payment_terms_days=30)
    with pytest.raises(
        InvalidAction, match=re.escape(f"The issue date '{issued}' is not between 2000-01-01")
    ):
        add_invoice(BILLING, customer_id="C-1", number="INV-END", issue_date=issued, amount="10.00")
    assert invoice_count() == 0
    assert audit_events() == 0


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("INV-1001", "Invoice INV-1001 already exists."),
        ("  INV-1001\u00a0", "Invoice INV-1001 already exists."),
        ("inv-1001", "Invoice INV-1001 already exists; inv-1001 differs from it only in upper or lower case"),
        ("\uff29\uff2e\uff36-1001", "Invoice INV-1001 already exists."),
        (
            "\uff49\uff4e\uff56-1001",
            "Invoice INV-1001 already exists; inv-1001 differs from it only in upper",
        ),
    ],
)
def test_an_invoice_number_typed_again_in_another_case_width_or_spacing_is_refused(
    database: str, typed: str, sentence: str
) -> None:
    factories.customer("C-1")
    factories.customer("C-2")
    factories.invoice("C-1", "INV-1001", issued=date(2026, 11, 1), cents=10_000)
    with pytest.raises(InvalidAction, match=re.escape(sentence)):
        add_invoice(BILLING, customer_id="C-2", number=typed, issue_date=date(2026, 11, 2), amount="5.00")
    assert invoice_count() == 1
    assert audit_events() == 0
    assert add_invoice(
        BILLING, customer_id="C-2", number="\uff29\uff2e\uff36-1002", issue_date=TODAY, amount="5"
    ) == ("INV-1002")


def _edit_or_pay(kind: str, customer_id: str, number: str) -> str:
    try:
        if kind == "void":
            void_invoice(BILLING, number=number, reason="race")
        elif kind == "correct":
            correct_invoice(BILLING, number=number, issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31),
                            amount=Decimal("80.00"), currency="USD", reason="race")  # fmt: skip
        elif kind == "pay named":
            factories.payment(customer_id, cents=1_000, invoice=number, today=TODAY)
        elif kind == "pay oldest first":
            factories.payment(customer_id, cents=1_000, today=TODAY)
        else:
            factories.credit_note(number, cents=1_000, issued_on=TODAY)
    except InvalidAction as refused:
        return f"refused: {refused}"
    return "ok"


@pytest.mark.parametrize("edit", ["void", "correct"])
@pytest.mark.parametrize("money", ["pay named", "pay oldest first", "credit note"])
def test_a_void_or_correction_racing_money_leaves_no_money_on_a_changed_invoice(
    database: str, edit: str, money: str
) -> None:
    for index in range(6):
        customer_id, number = f"C-{index}", f"INV-{index}"
        factories.customer(customer_id)
        factories.invoice(customer_id, number, issued=date(2026, 10, 1), cents=10_000)
        events_before = audit_events()
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def run(kind: str, barrier: threading.Barrier = barrier, results: dict[str, str] = results) -> None:
            barrier.wait()
            results[kind] = _edit_or_pay(kind, customer_id, number)  # noqa: B023 - joined before the loop moves on

        threads = [threading.Thread(target=run, args=(kind,)) for kind in (edit, money)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert "ok" in results.values(), results
        assert ledger_problems(database) == [], results
        with read_session() as session:
            found = ledger.invoice_by_number(session, number)
            against = ledger.money_against(session, found.id)
            changed = found.voided_on is not None or found.amount_cents == 8_000
        assert changed == (results[edit] == "ok"), results
        if edit == "void":  # a correction may be paid afterwards; a voided invoice never
            assert not (changed and against), (results, against)
        assert audit_events() == events_before + list(results.values()).count("ok"), results


def png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header says it is width x height (a decompression bomb's first bytes)."""
    buffer = io.BytesIO()
    Image.new("1", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


def png_of(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("logo", "sentence"),
    [
        (png_claiming(20_000, 20_000), "The logo claims to be larger than 4000 pixels on a side"),
        (png_claiming(2**31 - 1, 1), "The logo claims to be larger than 4000 pixels on a side"),
        (png_claiming(12_000, 9_000), "The logo is 12000x9000 pixels; keep it under 4000 on each side."),
        (png_of(4_001, 10), "The logo is 4001x10 pixels; keep it under 4000 on each side."),
        (png_of(10, 10)[:40] + b"\0" * 200, "The logo file is damaged"),
    ],
)
def test_an_oversized_or_bomb_logo_is_refused_in_words_and_nothing_is_saved(
    database: str, logo: bytes, sentence: str
) -> None:
    with pytest.raises(InvalidAction, match=re.escape(sentence)):
        save_partner_profile(BILLING, details=PartnerDetails(name="Northwind"), logo=logo)
    assert partner_profile(BILLING) is None
    assert audit_events() == 0


WRITES: dict[str, Callable[[Actor], object]] = {
    "update_customer": lambda actor: update_customer(
        actor, customer_id="C-1", before=BEFORE, after=replace(BEFORE, name="Hijacked")
    ),
    "add_invoice": lambda actor: add_invoice(
        actor, customer_id="C-1", number="INV-X", issue_date=TODAY, amount="1.00"
    ),
    "correct_invoice": lambda actor: correct_invoice(
        actor, number="INV-1", issue_date=TODAY, due_date=TODAY, amount="1.00", currency="USD", reason="x"
    ),
    "void_invoice": lambda actor: void_invoice(actor, number="INV-1", reason="x"),
    "save_partner_profile": lambda actor: save_partner_profile(
        actor, details=PartnerDetails(name="Hijacked")
    ),
}
BEFORE = CustomerDetails(
    name="Customer C-1", tenant_id=None, domain=None, country="US", currency="USD", account_manager="sales",
    payment_terms_days=30, credit_limit=None, billing_contact_name=None, billing_contact_email=None,
    exempt_from_collections=False,
)  # fmt: skip


@pytest.mark.parametrize("actor", [SALES, HELPDESK, USERMGR, NOBODY], ids=lambda actor: actor.username)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_role_without_the_permission_is_refused_before_any_query(
    database: str, actor: Actor, write: str
) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 11, 1), cents=10_000)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with pytest.raises(PermissionDenied):
            WRITES[write](actor)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert statements == []
    assert audit_events() == 0
    assert customers.customer_details(BILLING, customer_id="C-1") == BEFORE
    assert partner_profile(BILLING) is None


def test_importing_money_against_a_voided_invoice_is_refused_as_voided(database: str, tmp_path: Path) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=10_000)
    factories.invoice("C-1", "INV-2", issued=date(2026, 10, 1), cents=10_000)
    void_invoice(BILLING, number="INV-1", reason="issued twice")
    notes = tmp_path / "credit-notes.csv"
    notes.write_text(
        "credit_note_number,invoice_number,issued_on,amount,reason\n"
        "CN-1,INV-1,2026-11-01,10.00,goodwill\nCN-2,INV-1,2026-11-01,0.00,goodwill\n"
    )
    report = import_csv(BILLING, "credit-notes", notes)
    assert [str(e) for e in report.errors] == [
        "line 2: invoice INV-1 was voided on 2026-11-30; it takes no credit note",
        "line 3: invoice INV-1 was voided on 2026-11-30; it takes no credit note",
    ]
    paid = tmp_path / "payments.csv"
    paid.write_text("customer_id,invoice_number,paid_on,amount,reference\nC-1,INV-1,2026-11-01,10.00,r1\n")
    report = import_csv(BILLING, "payments", paid)
    assert [str(e) for e in report.errors] == [
        "line 2: Invoice INV-1 was voided on 2026-11-30; it takes no payment."
    ]
    with read_session() as session:
        voided = ledger.invoice_by_number(session, "INV-1")
        assert (voided.amount_cents, voided.open_cents, ledger.money_against(session, voided.id)) == (
            0,
            0,
            [],
        )
    assert ledger_problems(database) == []


@pytest.mark.parametrize("second", ["INV-{}", "inv-{}"])
def test_one_number_added_for_two_customers_at_once_is_added_once(database: str, second: str) -> None:
    factories.customer("C-1")
    factories.customer("C-2")
    for index in range(8):
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def add(
            customer_id: str,
            number: str,
            barrier: threading.Barrier = barrier,
            results: dict[str, str] = results,
        ) -> None:
            barrier.wait()
            try:
                add_invoice(BILLING, customer_id=customer_id, number=number, issue_date=TODAY, amount="1.00")
            except InvalidAction as refused:
                results[customer_id] = f"refused: {refused}"
            else:
                results[customer_id] = "ok"

        threads = [
            threading.Thread(target=add, args=("C-1", f"INV-{index}")),
            threading.Thread(target=add, args=("C-2", second.format(index))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results.values())[0] == "ok", results
        assert re.match(f"refused: Invoice (?i:inv-{index}) already exists", sorted(results.values())[1]), (
            results
        )
        assert invoice_count() == index + 1
        assert audit_events() == index + 1
