"""Recording the partner's Microsoft invoice from a billed Partner Center reconciliation file: the amount is the
sum of the file's Total for that InvoiceNumber (Subtotal plus TaxTotal, as Microsoft bills it), the period the
months its lines cover. Guarded, in one transaction with its audit event; an invoice number recorded already is
refused (checking it against the file is the Margin page's "Microsoft invoices in the files")."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP

from sqlalchemy import func, select

from data_access.audit import MicrosoftInvoiceRecorded, record_event
from data_access.csv_import.partner_center import from_units, units_sum
from data_access.db import hold_lock, transaction
from data_access.errors import InvalidAction
from data_access.models import MicrosoftInvoice, PartnerCenterLine
from data_access.money import CENT, to_cents
from data_access.permissions import Actor, requires


@requires("data.import")
def record_microsoft_invoice_from_files(
    actor: Actor, invoice_number: str, *, due_date: date
) -> MicrosoftInvoice:
    """Create the Microsoft invoice `invoice_number` from its billed reconciliation lines, due on `due_date`."""
    number = invoice_number.strip()
    if not number:
        raise InvalidAction("Choose an invoice number from the reconciliation files.")
    if not date(2000, 1, 1) <= due_date <= date(2099, 12, 31):
        raise InvalidAction("The due date must be between 2000-01-01 and 2099-12-31.")
    with transaction() as session:
        hold_lock(session, "import:microsoft-invoices")
        if session.scalar(select(MicrosoftInvoice.id).where(MicrosoftInvoice.number == number)) is not None:
            raise InvalidAction(f"Microsoft invoice {number} is recorded already; nothing was changed.")
        rows = session.execute(
            select(
                PartnerCenterLine.currency,
                func.count().label("lines"),
                units_sum(PartnerCenterLine.cost_units).label("cost"),
                units_sum(func.coalesce(PartnerCenterLine.tax_units, 0)).label("tax"),
                func.min(PartnerCenterLine.period).label("first"),
                func.max(PartnerCenterLine.period).label("last"),
            )
            .where(PartnerCenterLine.invoice_number == number)
            .group_by(PartnerCenterLine.currency)
        ).all()
        if not rows:
            raise InvalidAction(f"No billed reconciliation lines carry invoice number {number}.")
        if len(rows) > 1:
            listed = ", ".join(row.currency for row in rows)
            raise InvalidAction(
                f"Invoice {number} has lines in several currencies ({listed}); record it by hand."
            )
        row = rows[0]
        total = (from_units(row.cost) + from_units(row.tax)).quantize(CENT, rounding=ROUND_HALF_UP)
        if total < 0:
            raise InvalidAction(
                f"Invoice {number} totals {total} {row.currency}: a credit, not a bill to record."
            )
        last: date = row.last
        period_end = last.replace(day=calendar.monthrange(last.year, last.month)[1])
        invoice = MicrosoftInvoice(
            number=number,
            period_start=row.first,
            period_end=period_end,
            amount_cents=to_cents(total),
            currency=row.currency,
            due_date=due_date,
            paid_on=None,
        )
        session.add(invoice)
        session.flush()
        event = MicrosoftInvoiceRecorded(
            number=number,
            amount=str(total),
            currency=row.currency,
            period_start=row.first.isoformat(),
            period_end=period_end.isoformat(),
            due_date=due_date.isoformat(),
            lines=int(row.lines),
        )
        record_event(session, actor, event, target=f"microsoft_invoice:{number}")
        session.expunge(invoice)
    return invoice
