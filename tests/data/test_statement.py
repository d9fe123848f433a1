"""The statement of account equals what plain Python makes of the rows written; opening + debits - credits =
closing, and closing = the customer's aging total at the end date, for many periods."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from data_access import clock
from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.documents.statement import (
    FRAME_COLUMNS,
    Statement,
    statement,
    statement_csv,
    statement_frame,
    statement_pdf,
)
from data_access.errors import InvalidAction, NotFound
from data_access.permissions import PermissionDenied
from data_access.queries.aging import AgingFilter, aging_by_customer
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, SALES, USERMGR
from tests.support.documents import pdf_text

TODAY = date(2026, 11, 24)
ZERO = Decimal("0.00")
PERIODS = [
    (date(2024, 1, 1), date(2024, 12, 31)),  # before anything
    (date(2025, 1, 1), date(2025, 1, 1)),  # one day
    (date(2025, 1, 1), TODAY),  # everything
    (date(2025, 3, 15), date(2025, 9, 30)),
    (date(2025, 12, 1), date(2026, 2, 28)),
    (date(2026, 6, 1), date(2026, 6, 30)),
    (date(2026, 8, 1), TODAY),
    (date(2026, 11, 1), date(2026, 12, 31)),  # ends after today
]


@dataclass
class Book:
    """The test's own record of one customer's invoices and the money against them, apart from the database."""

    customer: str
    invoices: dict[str, tuple[date, date, int, str]] = field(default_factory=dict)
    moves: list[tuple[date, str, str, str, int]] = field(default_factory=list)
    unapplied: list[tuple[date, str, str, int]] = field(default_factory=list)

    def invoice(self, number: str, issued: date, cents: int, currency: str, terms: int = 30) -> None:
        factories.invoice(self.customer, number, issued=issued, cents=cents, terms=terms, currency=currency)
        self.invoices[number] = (issued, issued + timedelta(days=terms), cents, currency)

    def open_cents(self, number: str, on: date) -> int:
        issued, _, cents, _ = self.invoices[number]
        if issued > on:
            return 0
        return cents - sum(c for day, _, _, n, c in self.moves if n == number and day <= on)

    def pay(self, number: str, on: date, cents: int, extra: int = 0) -> None:
        reference = f"PAY {number} {on}"
        record_payment(BILLING, customer_id=self.customer, amount=Decimal(cents + extra) / 100, received_on=on,
                       invoice_number=number, reference=reference, today=TODAY)  # fmt: skip
        self.moves.append((on, "payment", reference, number, cents))
        if extra:
            self.unapplied.append((on, self.invoices[number][3], reference, extra))

    def credit(self, number: str, on: date, cents: int) -> None:
        note = f"CN-{number}-{on}"
        issue_credit_note(BILLING, invoice_number=number, number=note, amount=Decimal(cents) / 100, issued_on=on,
                          reason="service credit")  # fmt: skip
        self.moves.append((on, "credit note", note, number, cents))

    def expected(self, start: date, end: date) -> dict[str, dict[str, object]]:
        """Per currency: opening, lines (day, kind, reference, invoice, debit, credit), closing, unapplied."""
        before = start - timedelta(days=1)
        sections: dict[str, dict[str, object]] = {}
        for currency in sorted({inv[3] for inv in self.invoices.values()}):
            numbers = [n for n, inv in self.invoices.items() if inv[3] == currency]
            lines = [(issued, "invoice", n, n, money(cents), ZERO)
                     for n, (issued, _, cents, _) in self.invoices.items()
                     if n in numbers and start <= issued <= end]  # fmt: skip
            lines += [(day, kind, ref, n, ZERO, money(cents)) for day, kind, ref, n, cents in self.moves
                      if n in numbers and start <= day <= end]  # fmt: skip
            unapplied = [(on, ref, money(cents)) for on, cur, ref, cents in self.unapplied
                         if cur == currency and on <= end]  # fmt: skip
            opening = sum(self.open_cents(n, before) for n in numbers)
            closing = sum(self.open_cents(n, end) for n in numbers)
            if opening or closing or lines or unapplied:
                sections[currency] = {"opening": money(opening), "lines": lines, "closing": money(closing),
                                      "unapplied": unapplied}  # fmt: skip
        return sections


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def write_fixed_book() -> Book:
    """One customer in USD and EUR with payments, a partial payment, credit notes and unapplied credit; another
    customer whose rows must not appear."""
    factories.customer("C-OTHER")
    factories.invoice("C-OTHER", "X-1", issued=date(2026, 7, 1), cents=999_999)
    book = Book(factories.customer("C-1", name="Contoso Pharma Ltd"))
    book.invoice("U-1", date(2025, 1, 1), 100_000, "USD")
    book.pay("U-1", date(2025, 1, 20), 100_000)
    book.invoice("U-2", date(2025, 6, 1), 250_000, "USD")
    book.pay("U-2", date(2025, 7, 15), 100_000)
    book.credit("U-2", date(2025, 9, 1), 50_000)
    book.invoice("U-3", date(2026, 6, 1), 120_000, "USD")
    book.pay("U-3", date(2026, 6, 1), 120_000, extra=4_321)
    book.invoice("U-4", date(2026, 11, 1), 80_000, "USD")
    book.invoice("E-1", date(2025, 12, 15), 70_000, "EUR")
    book.pay("E-1", date(2026, 2, 28), 30_000)
    book.credit("E-1", date(2026, 2, 28), 10_000)
    book.invoice("E-2", date(2026, 8, 1), 45_000, "EUR", terms=14)
    return book


def write_random_book(seed: int) -> Book:
    rng = random.Random(seed)
    book = Book(factories.customer("C-R", currency="USD"))
    for month in range(23):
        issued = date(2025 + month // 12, month % 12 + 1, rng.randint(1, 28))
        for currency in ("USD", "EUR") if rng.random() < 0.4 else ("USD",):
            number = f"R-{month:02d}-{currency}"
            cents = rng.randint(1_000, 500_000)
            book.invoice(number, issued, cents, currency, terms=rng.choice((14, 30, 45)))
            left = cents
            day = issued
            for _ in range(rng.randint(0, 3)):
                day = day + timedelta(days=rng.randint(0, 60))
                if day > TODAY or left == 0:
                    break
                part = rng.choice((left, rng.randint(1, left)))
                if rng.random() < 0.75:
                    # Only what exceeds the open balance stays unapplied.
                    extra = rng.choice((0, 0, rng.randint(1, 5_000))) if part == left else 0
                    book.pay(number, day, part, extra=extra)
                else:
                    book.credit(number, day, part)
                left -= part
    return book


def aging_totals(customer: str, end: date) -> dict[str, Decimal]:
    aged = aging_by_customer(AgingFilter(as_of=end, customer_ids=(customer,)))
    return dict(zip(aged.currency, aged.total, strict=True))


def check(found: Statement, book: Book, start: date, end: date) -> None:
    expected = book.expected(start, end)
    assert [s.currency for s in found.sections] == sorted(expected, key=lambda c: (c != "USD", c))
    aging = aging_totals(book.customer, end)
    for section in found.sections:
        want = expected[section.currency]
        lines = [(x.day, x.kind, x.reference, x.invoice, x.debit, x.credit) for x in section.lines]
        assert sorted(lines) == sorted(want["lines"])  # type: ignore[call-overload]
        assert [x.day for x in section.lines] == sorted(x.day for x in section.lines)
        assert section.opening_balance == want["opening"]
        running = section.opening_balance
        for line in section.lines:
            running += line.debit - line.credit
            assert line.balance == running
        assert section.total_debits == sum((x.debit for x in section.lines), ZERO)
        assert section.total_credits == sum((x.credit for x in section.lines), ZERO)
        assert (
            section.opening_balance + section.total_debits - section.total_credits == section.closing_balance
        )
        assert section.closing_balance == want["closing"] == aging.get(section.currency, ZERO)
        assert section.aging_total == section.closing_balance
        assert [(p.received_on, p.reference, p.amount) for p in section.unapplied_payments] == want[
            "unapplied"
        ]
        assert section.unapplied_credit == sum((p.amount for p in section.unapplied_payments), ZERO)


@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_the_statement_equals_the_book_and_closes_at_the_aging_total(
    database: str, start: date, end: date
) -> None:
    book = write_fixed_book()
    found = statement(HELPDESK, customer_id="C-1", start=start, end=end)
    assert (found.customer_id, found.customer_name, found.start, found.end) == (
        "C-1",
        "Contoso Pharma Ltd",
        start,
        end,
    )
    assert found.generated_on == clock.today()
    check(found, book, start, end)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_ledgers_close_at_the_aging_total_for_every_period(database: str, seed: int) -> None:
    book = write_random_book(seed)
    rng = random.Random(seed)
    periods = [*PERIODS]
    for _ in range(6):
        start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 690))
        periods.append((start, start + timedelta(days=rng.randint(0, 200))))
    for start, end in periods:
        check(statement(BILLING, customer_id="C-R", start=start, end=end), book, start, end)


def test_the_statement_by_hand(database: str) -> None:
    write_fixed_book()
    found = statement(BILLING, customer_id="C-1", start=date(2026, 2, 1), end=date(2026, 8, 31))
    usd, eur = found.sections
    # U-2: 2,500 - 1,000 paid - 500 credited was open before the period; U-3 was paid in full with 43.21 extra.
    assert (usd.opening_balance, usd.total_debits, usd.total_credits, usd.closing_balance) == (
        Decimal("1000.00"), Decimal("1200.00"), Decimal("1200.00"), Decimal("1000.00")
    )  # fmt: skip
    assert [(x.kind, x.reference, x.balance) for x in usd.lines] == [
        ("invoice", "U-3", Decimal("2200.00")),
        ("payment", "PAY U-3 2026-06-01", Decimal("1000.00")),
    ]
    assert (usd.unapplied_credit, usd.aging) == (
        Decimal("43.21"),
        (("current", ZERO), ("1-30", ZERO), ("31-60", ZERO), ("61-90", ZERO), ("91-120", ZERO),
         ("121+", Decimal("1000.00"))),
    )  # fmt: skip
    assert (eur.opening_balance, eur.closing_balance, eur.unapplied_credit) == (
        Decimal("700.00"), Decimal("750.00"), ZERO
    )  # fmt: skip
    assert [(x.day, x.kind, x.debit, x.credit) for x in eur.lines] == [
        (date(2026, 2, 28), "payment", ZERO, Decimal("300.00")),
        (date(2026, 2, 28), "credit note", ZERO, Decimal("100.00")),
        (date(2026, 8, 1), "invoice", Decimal("450.00"), ZERO),
    ]
    assert dict(eur.aging)["current"] == ZERO and dict(eur.aging)["1-30"] == Decimal("450.00")


def test_within_a_day_the_invoice_comes_before_what_pays_it(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2026, 3, 1), cents=10_000)
    factories.payment(
        "C-1", cents=10_000, received_on=date(2026, 3, 1), invoice="I-1", reference="SAME DAY", today=TODAY
    )
    (section,) = statement(BILLING, customer_id="C-1", start=date(2026, 3, 1), end=date(2026, 3, 1)).sections
    assert [(x.kind, x.balance) for x in section.lines] == [("invoice", Decimal("100.00")), ("payment", ZERO)]


def test_a_customer_with_nothing_has_no_sections_and_a_pdf_that_says_so(database: str) -> None:
    factories.customer("C-NEW")
    found = statement(BILLING, customer_id="C-NEW", start=date(2026, 1, 1), end=TODAY)
    assert found.sections == ()
    assert statement_frame(found).empty
    assert statement_pdf(found).startswith(b"%PDF-")
    text = pdf_text(statement_pdf(found))
    if text is not None:
        assert "Nothing to show" in text


def test_unapplied_credit_received_before_the_period_is_still_on_account(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2025, 1, 1), cents=10_000)
    factories.payment(
        "C-1", cents=15_000, received_on=date(2025, 1, 5), invoice="I-1", reference="TWICE", today=TODAY
    )
    (section,) = statement(BILLING, customer_id="C-1", start=date(2026, 1, 1), end=TODAY).sections
    assert (section.opening_balance, section.lines, section.closing_balance) == (ZERO, (), ZERO)
    assert [(p.received_on, p.reference, p.amount) for p in section.unapplied_payments] == [
        (date(2025, 1, 5), "TWICE", Decimal("50.00"))
    ]
    before = statement(BILLING, customer_id="C-1", start=date(2024, 1, 1), end=date(2025, 1, 4))
    assert [s.unapplied_credit for s in before.sections] == [Decimal("0.00")]


def test_the_frame_lists_every_section_in_order(database: str) -> None:
    write_fixed_book()
    found = statement(BILLING, customer_id="C-1", start=date(2026, 2, 1), end=date(2026, 8, 31))
    frame = statement_frame(found)
    assert list(frame.columns) == FRAME_COLUMNS
    usd = frame[frame.currency == "USD"]
    assert list(usd.type) == ["opening balance", "invoice", "payment", "closing balance", "unapplied credit",
                              *["aging"] * 6]  # fmt: skip
    closing = usd[usd.type == "closing balance"].iloc[0]
    assert (closing.debit, closing.credit, closing.balance) == (
        Decimal("1200.00"), Decimal("1200.00"), Decimal("1000.00")
    )  # fmt: skip
    assert sum(usd[usd.type == "aging"].balance) == closing.balance
    assert usd[usd.type == "unapplied credit"].credit.tolist() == [Decimal("43.21")]
    assert list(frame.currency.drop_duplicates()) == ["USD", "EUR"]


def test_the_csv_reads_back_as_the_statement(database: str) -> None:
    write_fixed_book()
    found = statement(BILLING, customer_id="C-1", start=date(2025, 1, 1), end=TODAY)
    data = statement_csv(found)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    frame = statement_frame(found)
    assert list(back.columns) == FRAME_COLUMNS
    as_text = frame.map(lambda v: "" if v is None else v.isoformat() if isinstance(v, date) else str(v))
    assert back.to_dict(orient="records") == as_text.to_dict(orient="records")
    amounts = back[back.type.isin(["invoice", "payment", "credit note"])]
    assert sum(Decimal(v) for v in amounts.debit) == sum(s.total_debits for s in found.sections)


def test_the_pdf_carries_the_customer_the_period_and_the_balances(database: str) -> None:
    write_fixed_book()
    found = statement(BILLING, customer_id="C-1", start=date(2026, 2, 1), end=date(2026, 8, 31))
    data = statement_pdf(found)
    assert data.startswith(b"%PDF-")
    assert b"Contoso Pharma Ltd" in data  # the document title, in the PDF's metadata
    text = pdf_text(data)
    if text is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils): only the bytes were checked")
    for expected in ("Statement of account", "Contoso Pharma Ltd", "Customer id: C-1", "2026-02-01 to 2026-08-31",
                     "Amounts in USD", "Amounts in EUR", "1,000.00", "Unapplied credit on account: USD 43.21",
                     "PAY U-3 2026-06-01", "Closing balance less unapplied credit: USD 956.79"):  # fmt: skip
        assert expected in text, expected
    assert "Billing Desk" not in text  # partner-neutral: the customer sees no product or partner name


@pytest.mark.parametrize("unicode_font", [True, False])
def test_accents_and_the_euro_sign_never_break_the_pdf(
    database: str, tmp_path: Path, unicode_font: bool
) -> None:
    factories.customer("C-Z", name="Zoë & Café Müller € Ltd", currency="EUR")
    factories.invoice("C-Z", "Z-1", issued=date(2026, 10, 1), cents=12_345)
    factories.credit_note(
        "Z-1", "CN-Z", cents=100, issued_on=date(2026, 10, 2), reason="Geste commercial – désolé ☕"
    )
    found = statement(BILLING, customer_id="C-Z", start=date(2026, 10, 1), end=TODAY)
    font = None if unicode_font else tmp_path / "no-such-font.ttf"
    if unicode_font and not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        pytest.skip("DejaVu Sans is not installed here")
    data = statement_pdf(found) if font is None else statement_pdf(found, font_path=font)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    if text is not None:
        assert ("Zoë & Café Müller € Ltd" if unicode_font else "Zoë & Café Müller EUR Ltd") in text
        assert "désolé" in text


def test_a_period_that_ends_before_it_starts_is_refused(database: str) -> None:
    factories.customer("C-1")
    with pytest.raises(InvalidAction, match="after it ends"):
        statement(BILLING, customer_id="C-1", start=date(2026, 2, 1), end=date(2026, 1, 31))
    with pytest.raises(NotFound):
        statement(BILLING, customer_id="C-NONE", start=date(2026, 1, 1), end=date(2026, 1, 31))


def test_a_user_management_admin_is_refused_a_statement(database: str) -> None:
    factories.customer("C-1")
    with pytest.raises(PermissionDenied, match=r"customers\.view"):
        statement(USERMGR, customer_id="C-1", start=TODAY, end=TODAY)
    sales = statement(SALES, customer_id="C-1", start=TODAY, end=TODAY)
    assert sales.sections == ()
