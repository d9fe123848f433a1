"""Master data kept by hand: a customer's details, invoices added, corrected and voided, and the partner profile on
statements and reminders. Each action is guarded, audited, checked as the import checks, refuses with a sentence
and writes nothing then; two edits at once (two threads, two processes) lose neither."""

from __future__ import annotations

import io
import multiprocessing
import re
import threading
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from data_access import audit, ledger
from data_access.actions import collections as collections_actions
from data_access.actions.customers import update_customer
from data_access.actions.invoices import add_invoice, correct_invoice, void_invoice
from data_access.actions.partner import MAX_LOGO_BYTES, iban_valid, save_partner_profile
from data_access.db import dispose_engines, read_session
from data_access.documents import customer_statements
from data_access.documents.statement import statement, statement_csv, statement_pdf
from data_access.errors import InvalidAction
from data_access.models import AuditEvent, Customer, Invoice, PartnerProfile
from data_access.money import MAX_AMOUNT
from data_access.permissions import PermissionDenied
from data_access.queries import aging, customers, invoices
from data_access.queries.partner import PartnerDetails, partner_profile
from tests.support import factories
from tests.support.actors import ADMIN, BILLING, SALES
from tests.support.documents import pdf_text
from tests.support.ledger_check import ledger_problems

TODAY = date(2026, 11, 30)
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("data_access.clock.today", lambda: TODAY)


def events(permission: str) -> list[tuple[str, str, Any]]:
    with read_session() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.target, AuditEvent.permission, AuditEvent.details)
            .where(AuditEvent.permission == permission)
            .order_by(AuditEvent.id)
        ).all()
    return [(r.actor, r.target, audit.parse_event(r.permission, r.details)) for r in rows]


def invoice_row(number: str) -> Invoice:
    with read_session() as session:
        found = ledger.invoice_by_number(session, number)
        session.expunge(found)
        return found


# ---------------------------------------------------------------------------------------------------------------
# Customers


def test_an_edit_writes_only_what_changed_and_audits_before_and_after(database: str) -> None:
    factories.customer("C-1", name="Contoso Ltd", billing_contact_email="old@contoso.example")
    before = customers.customer_details(BILLING, customer_id="C-1")
    after = replace(
        before,
        billing_contact_email=" ap@contoso.example ",
        payment_terms_days=45,
        credit_limit=Decimal("25000.00"),
        exempt_from_collections=True,
        country="de",
        tenant_id="3F2504E0-4F89-41D3-9A0C-0305E82C3301",
    )
    changed = update_customer(BILLING, customer_id="C-1", before=before, after=after)
    assert set(changed) == {
        "billing_contact_email", "payment_terms_days", "credit_limit", "exempt_from_collections", "country",
        "tenant_id",
    }  # fmt: skip
    now = customers.customer_details(SALES, customer_id="C-1")
    assert now.billing_contact_email == "ap@contoso.example"
    assert (now.payment_terms_days, now.credit_limit, now.exempt_from_collections) == (
        45,
        Decimal("25000.00"),
        True,
    )
    assert (now.country, now.tenant_id) == ("DE", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    ((who, target, event),) = events("customer.edit")
    assert (who, target) == ("billing", "customer:C-1")
    assert isinstance(event, audit.CustomerEdited)
    assert event.before["billing_contact_email"] == "old@contoso.example"
    assert event.after == {
        "tenant_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "country": "DE", "payment_terms_days": "45",
        "credit_limit": "25000.00", "billing_contact_email": "ap@contoso.example", "exempt_from_collections": "true",
    }  # fmt: skip
    assert update_customer(BILLING, customer_id="C-1", before=now, after=now) == ()
    assert len(events("customer.edit")) == 1


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"name": "  "}, "A customer needs a name."),
        (
            {"billing_contact_email": "not-an-address"},
            "The billing contact e-mail 'not-an-address' is not an e-mail",
        ),
        ({"tenant_id": "1234"}, "The tenant id '1234' is not a tenant id"),
        ({"country": "XX"}, "The country 'XX' is not a two-letter country code"),
        ({"currency": "EURO"}, "The currency is longer than 3 characters"),
        ({"currency": "ABC"}, "The currency 'ABC' is not an ISO 4217 currency code"),
        ({"payment_terms_days": -1}, "Payment terms must be 0 to 365 days."),
        ({"credit_limit": MAX_AMOUNT + 1}, "more than the largest amount"),
        ({"credit_limit": Decimal("-5")}, "The credit limit cannot be negative"),
        ({"credit_limit": Decimal("1.234")}, "more than two decimal places"),
        ({"name": "Evil\u202eCorp"}, "control characters (U+202E)"),
        ({"domain": "not a domain"}, "is not a domain name"),
    ],
)
def test_bad_details_are_refused_with_a_sentence_and_nothing_is_written(
    database: str, change: dict[str, Any], sentence: str
) -> None:
    factories.customer("C-1", name="Contoso Ltd")
    before = customers.customer_details(BILLING, customer_id="C-1")
    with pytest.raises(InvalidAction, match=re.escape(sentence)):
        update_customer(BILLING, customer_id="C-1", before=before, after=replace(before, **change))
    assert customers.customer_details(BILLING, customer_id="C-1") == before
    assert events("customer.edit") == []


def test_an_edit_from_a_stale_form_is_refused_for_the_field_someone_else_changed(database: str) -> None:
    factories.customer("C-1", name="Contoso Ltd")
    seen = customers.customer_details(BILLING, customer_id="C-1")
    update_customer(ADMIN, customer_id="C-1", before=seen, after=replace(seen, payment_terms_days=60))
    with pytest.raises(InvalidAction, match=r"Someone else changed the payment terms \(now 60\)"):
        update_customer(BILLING, customer_id="C-1", before=seen, after=replace(seen, payment_terms_days=14))
    # A field nobody else touched still saves from the same form.
    update_customer(BILLING, customer_id="C-1", before=seen, after=replace(seen, account_manager="bob"))
    now = customers.customer_details(BILLING, customer_id="C-1")
    assert (now.payment_terms_days, now.account_manager) == (60, "bob")


def test_the_currency_cannot_change_under_invoices(database: str) -> None:
    factories.customer("C-1")
    factories.customer("C-2")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=1_000)
    before = customers.customer_details(BILLING, customer_id="C-1")
    with pytest.raises(InvalidAction, match="has invoices or payments in USD"):
        update_customer(BILLING, customer_id="C-1", before=before, after=replace(before, currency="EUR"))
    fresh = customers.customer_details(BILLING, customer_id="C-2")
    update_customer(BILLING, customer_id="C-2", before=fresh, after=replace(fresh, currency="eur"))
    assert customers.customer_details(BILLING, customer_id="C-2").currency == "EUR"


def test_a_sales_agent_may_not_edit(database: str) -> None:
    factories.customer("C-1")
    before = customers.customer_details(SALES, customer_id="C-1")
    with pytest.raises(PermissionDenied, match=r"customer\.edit"):
        update_customer(SALES, customer_id="C-1", before=before, after=replace(before, name="Mine now"))
    with pytest.raises(PermissionDenied, match=r"invoice\.edit"):
        add_invoice(SALES, customer_id="C-1", number="X", issue_date=TODAY, amount=Decimal(1))


def _edit(task: tuple[str, str, Any]) -> str:
    """One edit as a request would make it: read the form, change one field, save."""
    customer_id, field, value = task
    try:
        before = customers.customer_details(BILLING, customer_id=customer_id)
        update_customer(
            BILLING, customer_id=customer_id, before=before, after=replace(before, **{field: value})
        )
    except InvalidAction as refused:
        return f"refused: {refused}"
    except Exception as error:  # pragma: no cover - the message is the point
        return f"crash: {type(error).__name__}: {error}"
    return "ok"


def _edit_after(barrier: Any, task: tuple[str, str, Any], results: Any) -> None:
    barrier.wait()
    results.put(_edit(task))
    dispose_engines()


def test_two_edits_at_once_in_two_threads_lose_neither(database: str) -> None:
    for round_ in range(10):
        factories.customer(f"C-{round_}")
        barrier = threading.Barrier(2)
        results: list[str] = []
        tasks = [
            (f"C-{round_}", "payment_terms_days", 45),
            (f"C-{round_}", "billing_contact_email", "ap@x.example"),
        ]

        def run(
            task: tuple[str, str, Any], barrier: threading.Barrier = barrier, results: list[str] = results
        ) -> None:
            barrier.wait()
            results.append(_edit(task))

        threads = [threading.Thread(target=run, args=(task,)) for task in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results == ["ok", "ok"], results
        now = customers.customer_details(BILLING, customer_id=f"C-{round_}")
        assert (now.payment_terms_days, now.billing_contact_email) == (45, "ap@x.example")
    assert len(events("customer.edit")) == 20


def test_two_servers_editing_one_customer_at_once_lose_neither(database: str) -> None:
    factories.customer("C-1")
    dispose_engines()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    tasks = [("C-1", "credit_limit", Decimal("5000.00")), ("C-1", "exempt_from_collections", True)]
    workers = [context.Process(target=_edit_after, args=(barrier, task, results)) for task in tasks]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90), results.get(timeout=90)]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok", "ok"]
    now = customers.customer_details(BILLING, customer_id="C-1")
    assert (now.credit_limit, now.exempt_from_collections) == (Decimal("5000.00"), True)


# ---------------------------------------------------------------------------------------------------------------
# Invoices


def test_an_invoice_added_by_hand_is_open_due_after_the_terms_and_audited(database: str) -> None:
    factories.customer("C-1", currency="EUR", payment_terms_days=14)
    number = add_invoice(
        BILLING, customer_id="C-1", number=" INV-9 ", issue_date=date(2026, 11, 2), amount="1,234.50",
        reason="issued on paper",
    )  # fmt: skip
    assert number == "INV-9"
    found = invoice_row("INV-9")
    assert (found.due_date, found.amount_cents, found.open_cents, found.currency) == (
        date(2026, 11, 16), 123_450, 123_450, "EUR"
    )  # fmt: skip
    ((who, target, event),) = events("invoice.edit")
    assert (who, target) == ("billing", "invoice:INV-9")
    assert event == audit.InvoiceAdded(
        invoice=audit.InvoiceRecord(customer_id="C-1", issue_date=date(2026, 11, 2), due_date=date(2026, 11, 16),
                                    amount=Decimal("1234.50"), currency="EUR"),
        reason="issued on paper",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"currency": "XYZ"}, "The currency 'XYZ' is not an ISO 4217 currency code"),
        ({"amount": MAX_AMOUNT + Decimal("0.01")}, "is more than the largest amount"),
        ({"amount": Decimal("-1")}, "The amount -1 is negative"),
        ({"amount": Decimal("10.005")}, "has more than two decimal places"),
        ({"amount": "ten"}, "is not an amount"),
        (
            {"issue_date": date(1999, 12, 31)},
            "The issue date '1999-12-31' is not between 2000-01-01 and 2099-12-31",
        ),
        ({"due_date": date(2026, 10, 1)}, "The due date 2026-10-01 is before the issue date 2026-11-02"),
        ({"number": "INV-1"}, "Invoice INV-1 already exists."),
        ({"number": " "}, "Give the invoice number."),
        ({"number": "X" * 65}, "The invoice number is longer than 64 characters."),
    ],
)
def test_a_bad_invoice_is_refused_as_the_import_refuses_it(
    database: str, values: dict[str, Any], sentence: str
) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=1_000)
    arguments: dict[str, Any] = {"customer_id": "C-1", "number": "INV-2", "issue_date": date(2026, 11, 2),
                                 "amount": Decimal("100.00")} | values  # fmt: skip
    with pytest.raises(InvalidAction, match=re.escape(sentence)):
        add_invoice(BILLING, **arguments)
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 1
    assert events("invoice.edit") == []


def test_correcting_the_amount_moves_the_open_balance_and_is_audited(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=100_000)
    correct_invoice(
        BILLING, number="INV-1", issue_date=date(2026, 10, 2), due_date=date(2026, 11, 15), amount=Decimal("900"),
        currency="usd", reason="price agreed was 900",
    )  # fmt: skip
    found = invoice_row("INV-1")
    assert (found.issue_date, found.due_date, found.amount_cents, found.open_cents) == (
        date(2026, 10, 2), date(2026, 11, 15), 90_000, 90_000
    )  # fmt: skip
    (*_, event) = events("invoice.edit")[-1]
    assert isinstance(event, audit.InvoiceCorrected)
    assert (event.before.amount, event.after.amount, event.open_after) == (
        Decimal("1000.00"), Decimal("900.00"), Decimal("900.00")
    )  # fmt: skip
    assert event.reason == "price agreed was 900"
    assert ledger_problems(database) == []
    total = aging.aging_summary(aging.AgingFilter(as_of=TODAY))
    assert total.amount.sum() == Decimal("900.00")


def test_correcting_needs_a_reason_and_no_payment(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=100_000)
    values = {"number": "INV-1", "issue_date": date(2026, 10, 1), "due_date": date(2026, 10, 31),
              "amount": Decimal("800"), "currency": "USD"}  # fmt: skip
    with pytest.raises(InvalidAction, match="Say why"):
        correct_invoice(BILLING, reason=" ", **values)
    factories.payment("C-1", cents=10_000, received_on=date(2026, 11, 1), invoice="INV-1")
    with pytest.raises(
        InvalidAction, match="Invoice INV-1 has payments against it, so it cannot be corrected"
    ):
        correct_invoice(BILLING, reason="typo", **values)
    assert invoice_row("INV-1").amount_cents == 100_000


def test_a_voided_invoice_owes_nothing_anywhere_at_any_date(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-KEEP", issued=date(2026, 6, 1), cents=50_000)
    factories.invoice("C-1", "INV-VOID", issued=date(2026, 6, 1), cents=70_000)
    void_invoice(BILLING, number="INV-VOID", reason="issued twice")
    found = invoice_row("INV-VOID")
    assert (found.amount_cents, found.open_cents, found.voided_amount_cents) == (0, 0, 70_000)
    assert (found.voided_on, found.voided_by, found.void_reason) == (TODAY, "billing", "issued twice")
    (*_, event) = events("invoice.edit")[-1]
    assert event == audit.InvoiceVoided(
        invoice=audit.InvoiceRecord(customer_id="C-1", issue_date=date(2026, 6, 1), due_date=date(2026, 7, 1),
                                    amount=Decimal("700.00"), currency="USD"),
        voided_on=TODAY, reason="issued twice",
    )  # fmt: skip
    for as_of in (date(2026, 6, 1), date(2026, 8, 1), TODAY):
        with read_session() as session:
            numbers = {row.number for row in session.execute(ledger.open_at(as_of))}
        assert numbers == {"INV-KEEP"}, as_of
        by_customer = aging.aging_by_customer(aging.AgingFilter(as_of=as_of))
        assert by_customer.total.sum() == Decimal("500.00")
    status = customers.customer_status(BILLING, customer_id="C-1", as_of=TODAY)
    assert status.balances[0].open == Decimal("500.00")
    found_statement = statement(BILLING, customer_id="C-1", start=date(2026, 1, 1), end=TODAY)
    assert [line.reference for line in found_statement.sections[0].lines] == ["INV-KEEP"]
    assert b"INV-VOID" not in statement_csv(found_statement)
    listed = invoices.customer_invoices(BILLING, customer_id="C-1").set_index("number")
    assert listed.loc["INV-VOID", "status"] == "voided"
    assert listed.loc["INV-VOID", "amount"] == Decimal("700.00")
    assert not listed.loc["INV-VOID", "editable"] and listed.loc["INV-KEEP", "editable"]
    assert ledger_problems(database) == []
    with pytest.raises(InvalidAction, match="was voided on 2026-11-30; it takes no payment"):
        factories.payment("C-1", cents=100, invoice="INV-VOID")
    with pytest.raises(InvalidAction, match="was voided on 2026-11-30; it cannot be voided"):
        void_invoice(BILLING, number="INV-VOID", reason="again")
    with pytest.raises(InvalidAction, match="was voided on 2026-11-30; it cannot be corrected"):
        correct_invoice(BILLING, number="INV-VOID", issue_date=date(2026, 6, 1), due_date=date(2026, 7, 1),
                        amount=Decimal(1), currency="USD", reason="undo")  # fmt: skip


@pytest.mark.parametrize("money", ["payment", "credit note", "reversed payment"])
def test_voiding_an_invoice_with_payments_or_credit_notes_is_refused(database: str, money: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=10_000)
    if money == "credit note":
        factories.credit_note("INV-1", "CN-1", cents=1_000, issued_on=date(2026, 10, 5))
    else:
        paid = factories.payment("C-1", cents=1_000, received_on=date(2026, 10, 5), invoice="INV-1")
        if money == "reversed payment":
            from data_access.actions.payments import reverse_payment

            reverse_payment(
                BILLING, payment_id=paid, reason="bounced", reversed_on=date(2026, 10, 9), today=TODAY
            )
    what = "credit notes" if money == "credit note" else "payments"
    with pytest.raises(
        InvalidAction, match=f"Invoice INV-1 has {what} against it, so it cannot be voided; reverse"
    ):
        void_invoice(BILLING, number="INV-1", reason="wrong customer")
    assert invoice_row("INV-1").voided_on is None


def test_an_import_update_cannot_revive_a_voided_invoice(database: str, tmp_path: Any) -> None:
    from data_access.csv_import import import_csv

    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=10_000)
    void_invoice(BILLING, number="INV-1", reason="duplicate")
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_number,customer_id,issue_date,due_date,amount\nINV-1,C-1,2026-10-01,2026-10-31,100.00\n"
    )
    report = import_csv(BILLING, "invoices", path, update=True)
    assert [str(e) for e in report.errors] == [
        "line 2: invoice INV-1 was voided on 2026-11-30; it cannot be changed"
    ]
    assert invoice_row("INV-1").open_cents == 0


def _void_or_pay(task: tuple[str, str]) -> str:
    from data_access.actions.payments import record_payment

    try:
        if task[0] == "void":
            void_invoice(BILLING, number=task[1], reason="race")
        else:
            record_payment(BILLING, customer_id="C-1", amount=Decimal("10.00"), received_on=TODAY,
                           invoice_number=task[1], reference=None, today=TODAY)  # fmt: skip
    except InvalidAction as refused:
        return f"refused: {refused}"
    return "ok"


def test_a_void_and_a_payment_at_once_never_both_win(database: str) -> None:
    factories.customer("C-1")
    for index in range(10):
        number = f"INV-{index}"
        factories.invoice("C-1", number, issued=date(2026, 10, 1), cents=10_000)
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def run(
            task: tuple[str, str], barrier: threading.Barrier = barrier, results: dict[str, str] = results
        ) -> None:
            barrier.wait()
            results[task[0]] = _void_or_pay(task)

        threads = [threading.Thread(target=run, args=((kind, number),)) for kind in ("void", "pay")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results.values())[0] == "ok", results
        assert list(results.values()).count("ok") == 1, results
        assert ledger_problems(database) == [], results


# ---------------------------------------------------------------------------------------------------------------
# The partner profile


def png(size: tuple[int, int] = (60, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 80, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


PROFILE = PartnerDetails(
    name="Northwind Cloud GmbH",
    address="Hauptstraße 5\n10115 Berlin\nGermany",
    tax_id="DE123456789",
    contact_email="billing@northwind.example",
    contact_phone="+49 30 1234567",
    bank_name="Commerzbank",
    bank_account=IBAN.replace(" ", ""),
    bank_bic="cobadeffxxx",
    payment_reference="Quote your customer id and invoice number",
)


def test_the_profile_is_saved_audited_and_read_back(database: str) -> None:
    assert partner_profile(SALES) is None
    save_partner_profile(BILLING, details=PROFILE, logo=png())
    saved = partner_profile(SALES)
    assert saved is not None
    assert (saved.name, saved.bank_account, saved.bank_bic, saved.logo_type) == (
        "Northwind Cloud GmbH", IBAN, "COBADEFFXXX", "image/png"
    )  # fmt: skip
    save_partner_profile(ADMIN, details=replace(PROFILE, name="Northwind Cloud AG"))
    kept = partner_profile(SALES)
    assert kept is not None and kept.logo == saved.logo and kept.name == "Northwind Cloud AG"
    save_partner_profile(ADMIN, details=PROFILE, remove_logo=True)
    assert partner_profile(SALES).logo is None  # type: ignore[union-attr]
    first, second, third = events("policies.edit")
    assert first[1] == "partner-profile" and isinstance(first[2], audit.PartnerProfileSaved)
    assert first[2].before is None and first[2].after.logo.startswith("image/png")  # type: ignore[union-attr]
    assert second[2].before.name == "Northwind Cloud GmbH" and second[2].after.name == "Northwind Cloud AG"
    assert third[2].after.logo is None
    with read_session() as session:
        assert session.scalar(select(func.count()).select_from(PartnerProfile)) == 1


@pytest.mark.parametrize(
    ("logo", "sentence"),
    [
        (b"GIF89a" + b"\0" * 100, "must be a PNG or JPEG image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "The logo file is damaged"),
        (b"\xff\xd8\xff" + b"x" * (MAX_LOGO_BYTES + 1), "the largest is 200 KB"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "must be a PNG or JPEG image"),
    ],
)
def test_a_logo_that_is_not_a_small_png_or_jpeg_is_refused(database: str, logo: bytes, sentence: str) -> None:
    with pytest.raises(InvalidAction, match=sentence):
        save_partner_profile(BILLING, details=PROFILE, logo=logo)
    assert partner_profile(BILLING) is None


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"name": ""}, "Give the partner's name"),
        (
            {"bank_account": "DE89 3704 0044 0532 0130 01"},
            "The IBAN 'DE89 3704 0044 0532 0130 01' is not valid",
        ),
        ({"bank_bic": "12"}, "is not a BIC/SWIFT code"),
        ({"contact_email": "billing"}, "is not an e-mail address"),
        ({"contact_phone": "call me"}, "The contact phone may hold"),
        ({"address": "x" * 501}, "The address is longer than 500 characters."),
    ],
)
def test_a_bad_profile_is_refused(database: str, change: dict[str, Any], sentence: str) -> None:
    with pytest.raises(InvalidAction, match=sentence):
        save_partner_profile(BILLING, details=replace(PROFILE, **change))
    assert partner_profile(BILLING) is None


def test_iban_check_digits() -> None:
    assert iban_valid(IBAN) and iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33") and not iban_valid("DE89")


def test_the_statement_pdf_names_the_partner_and_how_to_pay(database: str) -> None:
    factories.customer("C-1", name="Contoso Pharma Ltd")
    factories.invoice("C-1", "INV-1", issued=date(2026, 10, 1), cents=123_456)
    plain_pdf = statement_pdf(statement(BILLING, customer_id="C-1", start=date(2026, 10, 1), end=TODAY))
    save_partner_profile(BILLING, details=PROFILE, logo=png())
    found = statement(BILLING, customer_id="C-1", start=date(2026, 10, 1), end=TODAY)
    data = statement_pdf(found)
    assert len(data) > len(plain_pdf)  # the logo is in it
    text = pdf_text(data)
    if text is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils): only the bytes were checked")
    for expected in ("Northwind Cloud GmbH", "Hauptstraße 5", "10115 Berlin", "Tax id: DE123456789",
                     "billing@northwind.example", "How to pay", "Bank: Commerzbank", f"IBAN: {IBAN}",
                     "BIC/SWIFT: COBADEFFXXX", "Reference: Quote your customer id and invoice number",
                     "Pay to Northwind Cloud GmbH: Bank: Commerzbank", "Statement of account", "1,234.56"):  # fmt: skip
        assert expected in text, expected
    assert b"Northwind" not in statement_csv(found)  # the CSV is the table alone


def test_reminders_and_the_collections_statement_name_the_partner_and_how_to_pay(database: str) -> None:
    factories.customer("C-1", name="Contoso Ltd")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=60), cents=50_000)
    factories.policy()
    markdown = customer_statements.collections_statement_markdown(SALES)
    assert markdown.startswith("# Your CSP partner: collections statement")
    assert "Pay with the payment details printed on your invoice" in markdown
    save_partner_profile(BILLING, details=PROFILE)
    markdown = customer_statements.collections_statement_markdown(SALES)
    assert markdown.startswith("# Northwind Cloud GmbH: collections statement")
    assert "Pay Northwind Cloud GmbH by bank transfer:" in markdown and f"- IBAN: {IBAN}" in markdown
    assert customer_statements.collections_statement_markdown(SALES, partner_name="Other").startswith(
        "# Other:"
    )
    assert customer_statements.support_statement_markdown(SALES).startswith(
        "# Support from Northwind Cloud GmbH"
    )
    text = collections_actions.send_reminder(BILLING, customer_id="C-1", as_of=TODAY)
    assert "How to pay: by bank transfer to Northwind Cloud GmbH." in text
    assert f"IBAN: {IBAN}" in text and "Reference: Quote your customer id" in text
    assert text.rstrip().endswith("Northwind Cloud GmbH")


# ---------------------------------------------------------------------------------------------------------------
# The customer page's figures


def test_average_days_late_counts_open_overdue_invoices_too(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=246), cents=10_000)  # due 216 days ago
    status = customers.customer_status(BILLING, customer_id="C-1", as_of=TODAY)
    assert (status.average_days_late, status.invoices_paid_last_12_months, status.invoices_open_overdue) == (
        Decimal("216.0"), 0, 1
    )  # fmt: skip
    factories.invoice("C-1", "INV-2", issued=TODAY - timedelta(days=100), cents=10_000)  # due 70 days ago
    factories.payment("C-1", cents=10_000, received_on=TODAY - timedelta(days=60), invoice="INV-2")  # 10 late
    status = customers.customer_status(BILLING, customer_id="C-1", as_of=TODAY)
    assert (status.average_days_late, status.invoices_paid_last_12_months, status.invoices_open_overdue) == (
        Decimal("113.0"), 1, 1
    )  # fmt: skip


def test_recent_activity_merges_payments_and_collections_newest_first(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=date(2026, 9, 1), cents=10_000)
    factories.activity(
        "C-1", kind="note", notes="Called, no answer", occurred_at=factories.at(date(2026, 11, 2))
    )
    factories.payment("C-1", cents=4_000, received_on=date(2026, 11, 10), invoice="INV-1", reference="WIRE-7")
    factories.activity(
        "C-1", kind="call", notes="Promised the rest", occurred_at=factories.at(date(2026, 11, 20))
    )
    factories.payment("C-1", cents=1_000, received_on=date(2026, 10, 1))
    frame = customers.recent_activity(SALES, customer_id="C-1", as_of=TODAY)
    assert list(frame.what) == ["Call", "Payment received", "Note", "Payment received"]
    assert list(frame.on) == [date(2026, 11, 20), date(2026, 11, 10), date(2026, 11, 2), date(2026, 10, 1)]
    assert frame.amount[1] == Decimal("40.00") and "reference WIRE-7" in frame.details[1]
    assert "applied oldest invoice first" in frame.details[3]
    earlier = customers.recent_activity(SALES, customer_id="C-1", as_of=date(2026, 11, 5))
    assert list(earlier.what) == ["Note", "Payment received"]


def test_the_customer_row_keeps_its_values_in_the_database(database: str) -> None:
    """The edit goes through the model: a credit limit is stored as cents."""
    factories.customer("C-1")
    before = customers.customer_details(BILLING, customer_id="C-1")
    update_customer(
        BILLING, customer_id="C-1", before=before, after=replace(before, credit_limit=Decimal("12.34"))
    )
    with read_session() as session:
        assert (
            session.scalar(select(Customer.credit_limit_cents).where(Customer.external_id == "C-1")) == 1234
        )
