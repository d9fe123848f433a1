"""A customer's statement of account for a period, one section per currency (never added together).

The balance on the statement is the balance of invoices: invoiced, less payments applied to invoices and credit
notes, so the closing balance equals the customer's aging total at the end date (same rule: payments and credit
notes dated after it do not count, invoices issued after it do not exist). Money received that no invoice
absorbed (unapplied credit) is not in that balance; it is shown below it, as credit on account.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from fpdf import FPDF, FontFace
from sqlalchemy import func, select

from data_access import clock, ledger
from data_access.db import read_session
from data_access.documents.exports import render
from data_access.errors import InvalidAction
from data_access.models import CreditNote, Customer, Invoice, Payment, PaymentAllocation
from data_access.money import day, from_cents, money
from data_access.permissions import Actor, requires
from data_access.queries.aging import AgingFilter, aging_by_customer
from data_access.queries.partner import PartnerDetails, load_partner

LineKind = Literal["invoice", "payment", "credit note"]


_KIND_ORDER: dict[str, int] = {"invoice": 0, "payment": 1, "credit note": 2}


ZERO = Decimal("0.00")


FRAME_COLUMNS = ["currency", "date", "type", "reference", "invoice", "details", "debit", "credit", "balance"]


BALANCE_NOTE = (
    "Balances are of invoices: amounts invoiced, less payments applied to them and credit notes. Money received "
    "but not applied to an invoice is unapplied credit on account: it is shown below the closing balance and "
    "is not deducted from it."
)


UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class StatementLine:
    """An invoice (debit), or a payment applied to an invoice or a credit note (credit), and the balance after."""

    day: date
    kind: LineKind
    reference: str
    invoice: str
    details: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class UnappliedPayment:
    """Part of a payment received by the end date that no invoice absorbed."""

    received_on: date
    reference: str
    amount: Decimal


@dataclass(frozen=True)
class StatementSection:
    """One currency: opening + debits - credits = closing, and closing = the aging total at the end date."""

    currency: str
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    total_debits: Decimal
    total_credits: Decimal
    closing_balance: Decimal
    aging: tuple[tuple[str, Decimal], ...]
    unapplied_credit: Decimal
    unapplied_payments: tuple[UnappliedPayment, ...]

    @property
    def aging_total(self) -> Decimal:
        return sum((amount for _, amount in self.aging), ZERO)


@dataclass(frozen=True)
class Statement:
    customer_id: str
    customer_name: str
    billing_contact_name: str | None
    billing_contact_email: str | None
    start: date
    end: date
    generated_on: date
    sections: tuple[StatementSection, ...]
    partner: PartnerDetails | None = None
    """Who sends the statement and how to pay them (the partner profile), when it has been set."""


def _opening_cents(customer_id: int, before: date) -> dict[str, int]:
    """Per currency: what was open at the end of `before` (`ledger.open_at`: invoiced by then, less payments
    applied and credit notes issued by then)."""
    customer = select(Customer.id).where(Customer.id == customer_id)
    rows = ledger.open_at(before, customer_ids=customer).subquery("open_at")
    query = select(rows.c.currency, func.sum(rows.c.open_cents).label("cents")).group_by(rows.c.currency)
    with read_session() as session:
        return {row.currency: int(row.cents) for row in session.execute(query)}


def _period_rows(customer_id: int, start: date, end: date) -> list[dict[str, Any]]:
    """Invoices issued, payments applied and credit notes issued in the period, each with its currency."""
    invoices = select(
        Invoice.currency,
        Invoice.issue_date,
        Invoice.number,
        Invoice.due_date,
        Invoice.amount_cents,
        Invoice.disputed,
    ).where(
        Invoice.customer_id == customer_id,
        Invoice.issue_date >= start,
        Invoice.issue_date <= end,
        Invoice.voided_on.is_(None),  # void from the start: never owed, never on a statement
    )
    allocations = (
        select(
            PaymentAllocation.currency,
            PaymentAllocation.applied_on,
            PaymentAllocation.amount_cents,
            Invoice.number,
            Payment.id.label("payment_id"),
            Payment.reference,
            Payment.received_on,
        )
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            Invoice.customer_id == customer_id,
            PaymentAllocation.applied_on >= start,
            PaymentAllocation.applied_on <= end,
        )
    )
    credits = (
        select(CreditNote.currency, CreditNote.issued_on, CreditNote.number, CreditNote.amount_cents,
               CreditNote.reason, Invoice.number.label("invoice_number"))
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(CreditNote.customer_id == customer_id, CreditNote.issued_on >= start, CreditNote.issued_on <= end)
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    with read_session() as session:
        for inv in session.execute(invoices):
            details = f"Invoice, due {day(inv.due_date)}" + (" (disputed)" if inv.disputed else "")
            rows.append({"currency": inv.currency, "day": inv.issue_date, "kind": "invoice",
                         "reference": inv.number, "invoice": inv.number, "details": details,
                         "debit": inv.amount_cents, "credit": 0})  # fmt: skip
        for pay in session.execute(allocations):
            details = f"Payment applied to invoice {pay.number}"
            if pay.received_on != pay.applied_on:
                details += f" (received {day(pay.received_on)})"
            rows.append({"currency": pay.currency, "day": pay.applied_on, "kind": "payment",
                         "reference": pay.reference or f"Payment {pay.payment_id}", "invoice": pay.number,
                         "details": details, "debit": 0, "credit": pay.amount_cents})  # fmt: skip
        for note in session.execute(credits):
            details = f"Credit note on invoice {note.invoice_number}" + (
                f": {note.reason}" if note.reason else ""
            )
            rows.append({"currency": note.currency, "day": note.issued_on, "kind": "credit note",
                         "reference": note.number, "invoice": note.invoice_number, "details": details,
                         "debit": 0, "credit": note.amount_cents})  # fmt: skip
    # Within a day, invoices before what pays them, so the running balance reads naturally.
    rows.sort(key=lambda r: (r["day"], _KIND_ORDER[r["kind"]], r["invoice"], r["reference"]))
    return rows


def _unapplied(customer_id: int, end: date) -> list[Any]:
    """The customer's payments holding unapplied credit at the end of `end`, with the credit then
    (`ledger.unapplied_at`): id, currency, received_on, reference, unapplied_cents."""
    customer = select(Customer.id).where(Customer.id == customer_id)
    held = ledger.unapplied_at(end, customer_ids=customer).subquery("unapplied_at")
    query = select(
        held.c.payment_id.label("id"), held.c.currency, held.c.received_on, held.c.reference,
        held.c.unapplied_cents,
    ).order_by(held.c.received_on, held.c.payment_id)  # fmt: skip
    with read_session() as session:
        return [row for row in session.execute(query) if row.unapplied_cents > 0]


def _section(
    currency: str,
    opening_cents: int,
    rows: list[dict[str, Any]],
    aging: dict[str, Decimal],
    unapplied: list[Any],
) -> StatementSection:
    balance = opening_cents
    lines = []
    for row in rows:
        balance += row["debit"] - row["credit"]
        lines.append(
            StatementLine(
                day=row["day"],
                kind=row["kind"],
                reference=row["reference"],
                invoice=row["invoice"],
                details=row["details"],
                debit=from_cents(row["debit"]),
                credit=from_cents(row["credit"]),
                balance=from_cents(balance),
            )
        )
    payments = tuple(
        UnappliedPayment(
            received_on=p.received_on,
            reference=p.reference or f"Payment {p.id}",
            amount=from_cents(p.unapplied_cents),
        )
        for p in unapplied
    )
    return StatementSection(
        currency=currency,
        opening_balance=from_cents(opening_cents),
        lines=tuple(lines),
        total_debits=from_cents(sum(row["debit"] for row in rows)),
        total_credits=from_cents(sum(row["credit"] for row in rows)),
        closing_balance=from_cents(balance),
        aging=tuple(aging.items()),
        unapplied_credit=sum((p.amount for p in payments), ZERO),
        unapplied_payments=payments,
    )


@requires("customers.view")
def statement(actor: Actor, *, customer_id: str, start: date, end: date) -> Statement:
    """The statement of account from start to end (both included): per currency, the balance of invoices at the
    end of the day before start, every invoice, payment applied and credit note in the period with the running
    balance, the closing balance (equal to the aging total at end), its aging, and unapplied credit apart."""
    if start > end:
        raise InvalidAction(
            f"The statement period starts on {day(start)}, after it ends ({day(end)}); swap the dates."
        )
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        session.expunge(customer)
    opening = _opening_cents(customer.id, start - timedelta(days=1))
    rows = _period_rows(customer.id, start, end)
    unapplied = _unapplied(customer.id, end)
    flt = AgingFilter(as_of=end, customer_ids=(customer.external_id,))
    aged = aging_by_customer(flt)
    aging = {
        row["currency"]: {label: row[label] for label in flt.labels} for row in aged.to_dict(orient="records")
    }
    currencies = {currency for currency, cents in opening.items() if cents} | {r["currency"] for r in rows}
    currencies |= set(aging) | {p.currency for p in unapplied}
    ordered = sorted(currencies, key=lambda c: (c != customer.currency, c))
    sections = tuple(
        _section(
            currency,
            opening.get(currency, 0),
            [r for r in rows if r["currency"] == currency],
            aging.get(currency, dict.fromkeys(flt.labels, ZERO)),
            [p for p in unapplied if p.currency == currency],
        )
        for currency in ordered
    )
    return Statement(
        customer_id=customer.external_id,
        customer_name=customer.name,
        billing_contact_name=customer.billing_contact_name,
        billing_contact_email=customer.billing_contact_email,
        start=start,
        end=end,
        generated_on=clock.today(),
        sections=sections,
        partner=load_partner(),
    )


def _aging_label(bucket: str) -> str:
    return "Not yet due" if bucket == "current" else f"{bucket} days past due"


def statement_frame(statement: Statement) -> pd.DataFrame:
    """The statement as one table (csv, json or a plain table): per currency an opening balance row, the lines,
    a closing balance row (total debits and credits), unapplied credit on account (not in the balance) and the
    aging of the closing balance. Cells that do not apply are empty."""
    records: list[dict[str, Any]] = []

    def add(currency: str, on: date, kind: str, details: str, **values: Any) -> None:
        records.append(
            {"currency": currency, "date": on, "type": kind, "reference": "", "invoice": "",
             "details": details, "debit": None, "credit": None, "balance": None, **values}
        )  # fmt: skip

    for section in statement.sections:
        currency = section.currency
        add(currency, statement.start, "opening balance",
            f"Balance of invoices at the end of {day(statement.start - timedelta(days=1))}",
            balance=section.opening_balance)  # fmt: skip
        for line in section.lines:
            add(currency, line.day, line.kind, line.details, reference=line.reference, invoice=line.invoice,
                debit=line.debit, credit=line.credit, balance=line.balance)  # fmt: skip
        add(currency, statement.end, "closing balance", "Period totals; closing balance",
            debit=section.total_debits, credit=section.total_credits, balance=section.closing_balance)  # fmt: skip
        for payment in section.unapplied_payments:
            add(currency, payment.received_on, "unapplied credit",
                "Not applied to an invoice: credit on account, not in the balance",
                reference=payment.reference, credit=payment.amount)  # fmt: skip
        for bucket, amount in section.aging:
            add(currency, statement.end, "aging", _aging_label(bucket), reference=bucket, balance=amount)
    return pd.DataFrame(records, columns=FRAME_COLUMNS)


def statement_csv(statement: Statement) -> bytes:
    """The statement table as UTF-8 CSV with a byte-order mark, so spreadsheet programs read accents and '€'."""
    return render(statement_frame(statement), "csv").encode("utf-8-sig")


class _StatementPDF(FPDF):
    """A4 portrait with a footer naming the statement and the page; DejaVu Sans when the system has it, else a
    core font with what Latin-1 cannot hold replaced, so no name or currency sign can break the document."""

    def __init__(self, footer_text: str, font_path: Path, remittance: str = "") -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.remittance = remittance
        self.body_font = "helvetica"
        self.has_unicode_font = False
        if font_path.is_file():
            bold = font_path.with_name(font_path.stem + "-Bold" + font_path.suffix)
            self.add_font("DejaVu", "", str(font_path))
            self.add_font("DejaVu", "B", str(bold if bold.is_file() else font_path))
            self.body_font, self.has_unicode_font = "DejaVu", True
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=24 if remittance else 18)

    def text_of(self, value: object) -> str:
        text = "" if value is None else str(value)
        if self.has_unicode_font:
            return text
        text = text.replace("€", "EUR").replace("–", "-").replace("—", "-").replace("’", "'")
        return text.encode("latin-1", errors="replace").decode("latin-1")

    def use(self, size: float, bold: bool = False) -> None:
        self.set_font(self.body_font, "B" if bold else "", size)

    def footer(self) -> None:
        if self.remittance:
            self.set_y(-18)
            self.use(7)
            self.set_text_color(60)
            self.cell(0, 5, self.text_of(self.remittance), align="L")
        self.set_y(-12)
        self.use(7)
        self.set_text_color(110)
        self.cell(0, 5, self.text_of(self.footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    def write_line(self, text: str, size: float = 9, bold: bool = False, height: float = 5) -> None:
        self.use(size, bold)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")


def _pdf_section(pdf: _StatementPDF, statement: Statement, section: StatementSection) -> None:
    currency = section.currency
    pdf.ln(3)
    pdf.write_line(f"Amounts in {currency}", size=11, bold=True, height=7)
    pdf.use(7.5)
    grey = FontFace(fill_color=(235, 235, 235), emphasis="BOLD")
    with pdf.table(
        col_widths=(21, 18, 33, 50, 19, 19, 20),
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=grey,
        line_height=4.5,
        borders_layout="HORIZONTAL_LINES",
        repeat_headings=1,
    ) as table:
        table.row(
            [pdf.text_of(h) for h in ("Date", "Type", "Reference", "Details", "Debit", "Credit", "Balance")]
        )
        before = statement.start - timedelta(days=1)
        table.row(
            [day(statement.start), "Opening", "", pdf.text_of(f"Balance at the end of {day(before)}"),
             "", "", money(section.opening_balance)],
        )  # fmt: skip
        for line in section.lines:
            table.row(
                [day(line.day), line.kind.capitalize(), pdf.text_of(line.reference),
                 pdf.text_of(line.details), money(line.debit) if line.debit else "",
                 money(line.credit) if line.credit else "", money(line.balance)]
            )  # fmt: skip
        if not section.lines:
            table.row(["", "", "", "No invoices, payments or credit notes in this period.", "", "", ""])
        table.row(
            [day(statement.end), "Closing", "", "Period totals; closing balance",
             money(section.total_debits), money(section.total_credits), money(section.closing_balance)],
            style=grey,
        )  # fmt: skip
    pdf.ln(2)
    if section.unapplied_credit:
        net = section.closing_balance - section.unapplied_credit
        pdf.write_line(
            f"Unapplied credit on account: {money(section.unapplied_credit, currency)}. Received but not applied "
            "to an invoice, so not deducted from the closing balance above.",
            bold=True,
        )
        for payment in section.unapplied_payments:
            pdf.write_line(
                f"    Received {day(payment.received_on)}, {payment.reference}: "
                f"{money(payment.amount, currency)} not applied to an invoice",
                size=8,
                height=4.5,
            )
        pdf.write_line(
            f"Closing balance less unapplied credit: {money(net, currency)}"
            + (" (in the customer's favour)" if net < 0 else ""),
        )
        pdf.ln(1)
    pdf.write_line(f"Aging of the closing balance at {day(statement.end)} (days past due)", bold=True)
    pdf.use(8)
    labels = [label for label, _ in section.aging]
    with pdf.table(
        text_align="RIGHT", headings_style=grey, line_height=4.5, borders_layout="HORIZONTAL_LINES"
    ) as table:
        table.row(["Not yet due" if label == "current" else label for label in labels] + ["Total"])
        table.row([money(amount) for _, amount in section.aging] + [money(section.aging_total)])


def _remittance_footer(partner: PartnerDetails | None) -> str:
    """One line at the foot of every page: whom to pay and where (empty without remittance details)."""
    if partner is None or not partner.remittance_lines:
        return ""
    where = [line for line in partner.remittance_lines if not line.startswith("Reference:")]
    return f"Pay to {partner.name}: " + " · ".join(where) if where else ""


def _partner_header(pdf: _StatementPDF, partner: PartnerDetails) -> None:
    """The partner's logo (right), name, address, tax id and contact (left), above the statement's title."""
    top = pdf.get_y()
    if partner.logo:  # checked on save: a PNG or JPEG that decodes
        pdf.image(
            io.BytesIO(partner.logo), x=pdf.w - pdf.r_margin - 40, y=top, w=40, h=18, keep_aspect_ratio=True
        )
    pdf.set_right_margin(pdf.r_margin + 45 if partner.logo else pdf.r_margin)
    pdf.write_line(partner.name, size=12, bold=True, height=6)
    for line in (partner.address or "").splitlines():
        if line.strip():
            pdf.write_line(line.strip(), size=8.5, height=4.2)
    if partner.tax_id:
        pdf.write_line(f"Tax id: {partner.tax_id}", size=8.5, height=4.2)
    if partner.contact_line:
        pdf.write_line(partner.contact_line, size=8.5, height=4.2)
    pdf.set_right_margin(15)
    pdf.set_y(max(pdf.get_y(), top + 20 if partner.logo else 0) + 3)


def _how_to_pay(pdf: _StatementPDF, partner: PartnerDetails) -> None:
    pdf.ln(4)
    pdf.write_line("How to pay", size=11, bold=True, height=7)
    pdf.write_line(f"Pay {partner.name} by bank transfer:")
    for line in partner.remittance_lines:
        pdf.write_line(f"    {line}")
    if partner.contact_line:
        pdf.write_line(f"Questions about this statement: {partner.contact_line}")


def statement_pdf(statement: Statement, *, font_path: Path = UNICODE_FONT) -> bytes:
    """The statement as a PDF a customer can be sent: the partner's logo, name, address, tax id and contact when
    the partner profile is set, customer and period, one table per currency with opening and closing balances,
    unapplied credit apart, the aging of what is open, the date it was generated, and how to pay (remittance
    details at the end and at the foot of every page)."""
    period = f"{day(statement.start)} to {day(statement.end)}"
    partner = statement.partner
    pdf = _StatementPDF(
        f"Statement of account, {statement.customer_id}, {period}, generated {day(statement.generated_on)}",
        font_path,
        _remittance_footer(partner),
    )
    pdf.set_title(pdf.text_of(f"Statement of account - {statement.customer_name} ({statement.customer_id})"))
    if partner is not None:
        pdf.set_author(pdf.text_of(partner.name))
    pdf.add_page()
    if partner is not None:
        _partner_header(pdf, partner)
    pdf.write_line("Statement of account", size=18, bold=True, height=10)
    pdf.write_line(statement.customer_name, size=12, bold=True, height=6)
    pdf.write_line(f"Customer id: {statement.customer_id}")
    contact = ", ".join(c for c in (statement.billing_contact_name, statement.billing_contact_email) if c)
    if contact:
        pdf.write_line(f"Billing contact: {contact}")
    pdf.write_line(f"Period: {period}")
    pdf.write_line(f"Generated: {day(statement.generated_on)}")
    pdf.ln(2)
    pdf.set_text_color(90)
    pdf.write_line(BALANCE_NOTE + " Amounts in different currencies are shown apart and never added.", size=8)
    pdf.set_text_color(0)
    if not statement.sections:
        pdf.ln(3)
        pdf.write_line("Nothing to show: no invoices, payments or credit notes up to the end of this period.")
    for section in statement.sections:
        _pdf_section(pdf, statement, section)
    if partner is not None and partner.remittance_lines:
        _how_to_pay(pdf, partner)
    return bytes(pdf.output())
