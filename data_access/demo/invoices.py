"""Invoices: one a month to each customer for its subscriptions, and the partner's own bill from Microsoft."""

from __future__ import annotations

from datetime import timedelta

from data_access.demo.accounts import DemoCustomer, DemoInvoice
from data_access.demo.draw import MONTHS, Draw, Row


def draw_invoices(draw: Draw, customers: list[DemoCustomer]) -> list[DemoInvoice]:
    """Every customer's invoices from its first month, numbered in order of issue across all customers."""
    invoices: list[DemoInvoice] = []
    for customer in customers:
        terms = timedelta(days=customer.row["payment_terms_days"])
        for month in range(customer.start, MONTHS):
            amount = customer.monthly_charge(month)
            issued = draw.month(month)
            invoice = DemoInvoice(customer, month, issued, issued + terms, amount, amount)
            customer.invoices.append(invoice)
            invoices.append(invoice)
    invoices.sort(key=lambda invoice: (invoice.issue_date, invoice.customer.id))
    for number, invoice in enumerate(invoices, start=1):
        invoice.id = number
        invoice.number = f"INV-{invoice.issue_date.year}-{invoice.issue_date.month:02d}-{number:06d}"
    return invoices


def microsoft_invoices(draw: Draw, invoices: list[DemoInvoice]) -> list[Row]:
    """The partner's monthly bills from Microsoft, one per billing currency (Partner Center invoices each currency
    apart), about 80-85% of what it billed customers in that currency that month."""
    rng = draw.rng
    billed: dict[int, dict[str, int]] = {}
    for invoice in invoices:
        totals = billed.setdefault(invoice.month, {})
        totals[invoice.customer.currency] = totals.get(invoice.customer.currency, 0) + invoice.amount_cents
    rows: list[Row] = []
    numbers: set[str] = set()
    for month in range(MONTHS - 1):
        start = draw.month(month)
        due = start + timedelta(days=60)
        period_end = draw.month(month + 1) - timedelta(days=1)
        paid = max(period_end + timedelta(days=10), due - timedelta(days=rng.randint(0, 5)))
        for currency, cents in sorted(billed.get(month, {}).items()):
            number = ""
            while not number or number in numbers:
                number = f"G{rng.randint(100_000_000, 999_999_999)}"
            numbers.add(number)
            rows.append(
                {
                    "id": len(rows) + 1,
                    "number": number,
                    "period_start": start,
                    "period_end": period_end,
                    "amount_cents": cents * rng.randint(800, 850) // 1000,
                    "currency": currency,
                    "due_date": due,
                    "paid_on": paid if due < draw.today and paid < draw.today else None,
                }
            )
    return rows
