"""The ledger's invariants, computed from the raw rows independently of data_access: what every race test checks
after every round."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def ledger_problems(database_url: str) -> list[str]:
    """Every invoice whose open balance is not amount - allocations - credit notes, and every payment whose
    amount is not its allocations plus unapplied credit (a reversed payment: nothing allocated, nothing left)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            invoices = connection.execute(
                text(
                    "SELECT i.number, i.amount_cents, i.open_cents,"
                    " (SELECT COALESCE(SUM(a.amount_cents), 0) FROM payment_allocations a WHERE a.invoice_id = i.id),"
                    " (SELECT COALESCE(SUM(c.amount_cents), 0) FROM credit_notes c WHERE c.invoice_id = i.id)"
                    " FROM invoices i"
                )
            ).all()
            payments = connection.execute(
                text(
                    "SELECT p.id, p.amount_cents, p.unapplied_cents, p.reversed_on,"
                    " (SELECT COALESCE(SUM(a.amount_cents), 0) FROM payment_allocations a WHERE a.payment_id = p.id)"
                    " FROM payments p"
                )
            ).all()
    finally:
        engine.dispose()
    problems = []
    for number, amount, open_cents, allocated, credited in invoices:
        if open_cents != amount - int(allocated) - int(credited) or not 0 <= open_cents <= amount:
            problems.append(f"invoice {number}: open {open_cents} but {amount} - {allocated} - {credited}")
    for payment_id, amount, unapplied, reversed_on, allocated in payments:
        expected = 0 if reversed_on is not None else amount
        if int(allocated) + unapplied != expected:
            problems.append(
                f"payment {payment_id}: {amount} (reversed {reversed_on}) but {allocated} + {unapplied}"
            )
    return problems
