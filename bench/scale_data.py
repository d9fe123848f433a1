"""Synthetic receivables at scale, generated with numpy and bulk-loaded (executemany on SQLite, COPY on PostgreSQL).

The rows keep the invariants that `data_access.ledger` keeps:

- `invoices.open_cents` = amount - payment allocations - credit notes, and 0 <= open <= amount;
- an allocation's `applied_on` = max(payment.received_on, invoice.issue_date), and its copied columns
  (customer_id, currency, issue_date, due_date) equal its invoice's; the same copies on credit notes;
- `payments.amount_cents` = unapplied + the sum of its allocations, in the invoices' currency; no payment is
  dated after today and no credit note before its invoice.

What the data looks like: 36 months of monthly invoices (each customer bills on its own day of the month, with
its own payment terms and currency), about 100 invoices per customer, about 7% open today. Most invoices are paid
in full by one payment around the due date; some in two instalments, some late (up to ~10 months), some by
customers who pay a month's invoices with one transfer (a payment with several allocations and no invoice
number); some carry a correction credit note and some are written off. Open invoices are mostly recent; a long
tail of old ones stays open. Not simulated: the oldest-first choice of invoices for a payment without an invoice
number (it does not change any aging figure).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

MONTHS = 36
INVOICES_PER_CUSTOMER = 100
CURRENCIES = np.array(["USD", "EUR", "GBP", "CAD", "AUD"])
CURRENCY_WEIGHTS = np.array([0.55, 0.20, 0.10, 0.08, 0.07])
COUNTRIES = np.array(["US", "DE", "GB", "CA", "AU"])
TERMS_DAYS = np.array([14, 30, 30, 30, 45, 60])
MANAGERS = np.array([f"sales{i:02d}" for i in range(1, 21)])
# Chance that an invoice still has something open today, by days past due (not yet due, 1-30, 31-60, 61-90,
# 91-120, older): tuned so that about 7% of 36 months of invoices are open.
OPEN_EDGES = np.array([0, 30, 60, 90, 120])
OPEN_CHANCE = np.array([0.75, 0.35, 0.18, 0.12, 0.08, 0.032])
BATCH_SIZE = 50_000

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Table:
    """Columns of one table, in load order; dates are datetime64[D], nullable columns are object arrays."""

    name: str
    columns: dict[str, Array]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def batches(self, size: int = BATCH_SIZE) -> Iterator[list[tuple[Any, ...]]]:
        """Rows as tuples of plain Python values (ints, ISO date strings, bools, None)."""
        for start in range(0, len(self), size):
            values = [_plain(column[start : start + size]) for column in self.columns.values()]
            yield list(zip(*values, strict=True))


@dataclass(frozen=True)
class Ledger:
    customers: Table
    invoices: Table
    payments: Table
    payment_allocations: Table
    credit_notes: Table
    today: date

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.customers, self.invoices, self.payments, self.payment_allocations, self.credit_notes)

    @property
    def open_today(self) -> int:
        return int(np.count_nonzero(self.invoices.columns["open_cents"] > 0))


def _plain(column: Array) -> list[Any]:
    if column.dtype.kind == "M":
        return np.datetime_as_string(column.astype("datetime64[D]")).tolist()  # type: ignore[no-any-return]
    return column.tolist()  # type: ignore[no-any-return]


def _days(values: Array) -> Array:
    return values.astype("timedelta64[D]")


def _fraction(rng: np.random.Generator, low: float, high: float, amounts: Array) -> Array:
    """Whole cents, at least 1 and at most amount - 1, of about low..high of each amount."""
    cents = np.floor(amounts * rng.uniform(low, high, len(amounts))).astype(np.int64)
    return np.clip(cents, 1, amounts - 1)


def _between(rng: np.random.Generator, first: Array, last: Array) -> Array:
    """A date drawn uniformly from first..last inclusive (last >= first)."""
    span = (last - first).astype(np.int64) + 1
    return first + _days(np.floor(rng.random(len(first)) * span).astype(np.int64))


def generate(invoices: int, *, seed: int, today: date) -> Ledger:
    """The whole ledger for `invoices` invoices; the same arguments always give the same rows."""
    rng = np.random.default_rng(seed)
    n = invoices
    today_d = np.datetime64(today, "D")
    this_month = np.datetime64(today, "M")

    # Customers: currency, terms, billing day, and whether (and how late) they pay a month's invoices at once.
    n_customers = max(1, round(n / INVOICES_PER_CUSTOMER))
    currency_of = rng.choice(len(CURRENCIES), n_customers, p=CURRENCY_WEIGHTS)
    terms_of = rng.choice(TERMS_DAYS, n_customers)
    billing_day_of = rng.integers(1, 29, n_customers)
    batch_payer = rng.random(n_customers) < 0.35
    batch_lag_of = rng.integers(-7, 25, n_customers)
    customer_ids = np.arange(1, n_customers + 1)
    customers = Table(
        "customers",
        {
            "id": customer_ids,
            "external_id": np.char.add("C", np.char.zfill(customer_ids.astype(str), 7)),
            "name": np.char.add("Customer ", customer_ids.astype(str)),
            "domain": np.char.add(np.char.add("customer", customer_ids.astype(str)), ".example.com"),
            "country": COUNTRIES[currency_of],
            "currency": CURRENCIES[currency_of],
            "account_manager": MANAGERS[customer_ids % len(MANAGERS)],
            "payment_terms_days": terms_of,
            "exempt_from_collections": rng.random(n_customers) < 0.01,
            "created_at": np.full(n_customers, f"{this_month - MONTHS - 1}-01 09:00:00"),
        },
    )

    # Invoices: one month of the last 36 on the customer's billing day (this month's only if that day has come).
    cust = rng.integers(0, n_customers, n)
    months_back = rng.integers(0, MONTHS, n)
    day_offset = _days(billing_day_of[cust] - 1)
    issue = (this_month - months_back).astype("datetime64[D]") + day_offset
    not_yet = issue > today_d
    issue[not_yet] = (this_month - MONTHS).astype("datetime64[D]") + day_offset[not_yet]
    order = np.lexsort((cust, issue))
    cust, issue = cust[order], issue[order]
    due = issue + _days(terms_of[cust])
    amount = np.clip(np.round(rng.lognormal(np.log(150_000), 1.0, n)), 1_000, 50_000_000).astype(np.int64)
    days_past_due = (today_d - due).astype(np.int64)
    is_open = rng.random(n) < OPEN_CHANCE[np.searchsorted(OPEN_EDGES, days_past_due, side="left")]
    kind = rng.random(n)

    alloc_inv: list[Array] = []
    alloc_cents: list[Array] = []
    alloc_received: list[Array] = []
    alloc_batch: list[Array] = []
    credit_inv: list[Array] = []
    credit_cents: list[Array] = []
    credit_issued: list[Array] = []
    credit_reason: list[Array] = []

    def pay(idx: Array, cents: Array, received: Array, batch: Array | None = None) -> None:
        alloc_inv.append(idx)
        alloc_cents.append(cents)
        alloc_received.append(received)
        alloc_batch.append(np.zeros(len(idx), bool) if batch is None else batch)

    def credit(idx: Array, cents: Array, issued: Array, reason: str) -> None:
        credit_inv.append(idx)
        credit_cents.append(cents)
        credit_issued.append(issued)
        credit_reason.append(np.full(len(idx), reason))

    # When a settled invoice was paid: around the due date, sometimes early (before issue: applied on the issue
    # date), 6% late; batch payers on their own fixed lag; never after today (then some day since issue).
    lag = np.round(rng.normal(-3, 12, n)).astype(np.int64)
    slow = rng.random(n) < 0.06
    lag[slow] = rng.integers(30, 300, int(slow.sum()))
    batched = batch_payer[cust] & (kind < 0.80)
    lag[batched] = batch_lag_of[cust[batched]]
    paid_on = np.maximum(due + _days(lag), issue - np.timedelta64(10, "D"))
    too_late = paid_on > today_d
    paid_on[too_late] = _between(rng, issue[too_late], np.full(int(too_late.sum()), today_d))
    batched &= ~too_late

    settled = ~is_open
    # 80%: one payment in full.
    idx = np.flatnonzero(settled & (kind < 0.80))
    pay(idx, amount[idx], paid_on[idx], batched[idx])
    # 12%: two instalments, the first halfway to the final payment.
    idx = np.flatnonzero(settled & (kind >= 0.80) & (kind < 0.92))
    first = _fraction(rng, 0.3, 0.7, amount[idx])
    halfway = issue[idx] + (np.maximum(paid_on[idx], issue[idx]) - issue[idx]) // 2
    pay(idx, first, np.minimum(halfway, paid_on[idx]))
    pay(idx, amount[idx] - first, paid_on[idx])
    # 4%: a correction credit note within a month of issue, the rest paid.
    idx = np.flatnonzero(settled & (kind >= 0.92) & (kind < 0.96))
    corrected = _fraction(rng, 0.02, 0.3, amount[idx])
    credit(
        idx, corrected, np.minimum(issue[idx] + _days(rng.integers(1, 31, len(idx))), today_d), "correction"
    )
    pay(idx, amount[idx] - corrected, paid_on[idx])
    # 4%: written off 3-10 months after due, some of it paid first.
    idx = np.flatnonzero(settled & (kind >= 0.96))
    partly = rng.random(len(idx)) < 0.5
    paid_part = np.where(partly, _fraction(rng, 0.1, 0.5, amount[idx]), 0)
    part_on = np.minimum(due[idx] + _days(rng.integers(0, 60, len(idx))), today_d)
    pay(idx[partly], paid_part[partly], part_on[partly])
    written_off_on = np.minimum(due[idx] + _days(rng.integers(90, 300, len(idx))), today_d)
    credit(idx, amount[idx] - paid_part, np.maximum(written_off_on, part_on), "write-off")

    # Open invoices: 60% untouched, 35% partly paid, 5% partly credited, on some day since issue.
    idx = np.flatnonzero(is_open & (kind >= 0.60) & (kind < 0.95))
    pay(idx, _fraction(rng, 0.1, 0.9, amount[idx]), _between(rng, issue[idx], np.full(len(idx), today_d)))
    idx = np.flatnonzero(is_open & (kind >= 0.95))
    when = _between(rng, issue[idx], np.full(len(idx), today_d))
    credit(idx, _fraction(rng, 0.02, 0.3, amount[idx]), when, "correction")

    a_inv = np.concatenate(alloc_inv)
    a_cents = np.concatenate(alloc_cents)
    a_received = np.concatenate(alloc_received)
    a_batch = np.concatenate(alloc_batch)
    c_inv = np.concatenate(credit_inv)
    c_cents = np.concatenate(credit_cents)
    c_issued = np.concatenate(credit_issued)
    c_reason = np.concatenate(credit_reason)

    open_cents = (
        amount
        - np.bincount(a_inv, weights=a_cents, minlength=n).astype(np.int64)
        - np.bincount(c_inv, weights=c_cents, minlength=n).astype(np.int64)
    )
    if (open_cents < 0).any() or ((open_cents > 0) != is_open).any():
        raise AssertionError("generator bug: open balances do not match the plan")

    # Payments: a batch payer's allocations on one day form one transfer; every other allocation its own payment.
    # Payment ids follow the date received.
    a_cust = cust[a_inv]
    day_number = (a_received - np.datetime64("1970-01-01", "D")).astype(np.int64)
    group_key = np.where(a_batch, a_cust * 100_000 + day_number, -1 - np.arange(len(a_inv)))
    keys, first_of_group, payment_of = np.unique(group_key, return_index=True, return_inverse=True)
    n_payments = len(keys)
    group_received = a_received[first_of_group]
    by_date = np.lexsort((np.arange(n_payments), group_received))
    rank = np.empty(n_payments, np.int64)
    rank[by_date] = np.arange(n_payments)
    payment_of = rank[payment_of]
    p_received = group_received[by_date]
    p_cust = a_cust[first_of_group][by_date]
    allocations_per_payment = np.bincount(payment_of, minlength=n_payments)
    p_single_invoice = np.zeros(n_payments, np.int64)
    p_single_invoice[payment_of] = a_inv + 1
    p_invoice = np.where(allocations_per_payment == 1, p_single_invoice, 0).astype(object)
    p_invoice[allocations_per_payment != 1] = None
    p_unapplied = np.where(
        (allocations_per_payment == 1) & (rng.random(n_payments) < 0.01),
        rng.integers(100, 50_000, n_payments),
        0,
    )
    p_amount = np.bincount(payment_of, weights=a_cents, minlength=n_payments).astype(np.int64) + p_unapplied
    payment_ids = np.arange(1, n_payments + 1)
    payments = Table(
        "payments",
        {
            "id": payment_ids,
            "customer_id": p_cust + 1,
            "invoice_id": p_invoice,
            "received_on": p_received,
            "amount_cents": p_amount,
            "currency": CURRENCIES[currency_of[p_cust]],
            "unapplied_cents": p_unapplied,
            "reference": np.char.add("TRF-", payment_ids.astype(str)),
            "recorded_at": np.char.add(np.datetime_as_string(p_received), " 12:00:00"),
        },
    )

    a_order = np.lexsort((a_inv, payment_of))
    a_inv, a_cents, payment_of = a_inv[a_order], a_cents[a_order], payment_of[a_order]
    allocations = Table(
        "payment_allocations",
        {
            "id": np.arange(1, len(a_inv) + 1),
            "payment_id": payment_of + 1,
            "invoice_id": a_inv + 1,
            "applied_on": np.maximum(p_received[payment_of], issue[a_inv]),
            "amount_cents": a_cents,
            "customer_id": cust[a_inv] + 1,
            "currency": CURRENCIES[currency_of[cust[a_inv]]],
            "issue_date": issue[a_inv],
            "due_date": due[a_inv],
        },
    )

    c_order = np.lexsort((c_inv, c_issued))
    c_inv, c_cents, c_issued, c_reason = (
        c_inv[c_order],
        c_cents[c_order],
        c_issued[c_order],
        c_reason[c_order],
    )
    credit_ids = np.arange(1, len(c_inv) + 1)
    credit_notes = Table(
        "credit_notes",
        {
            "id": credit_ids,
            "number": np.char.add("CN-", np.char.zfill(credit_ids.astype(str), 8)),
            "invoice_id": c_inv + 1,
            "issued_on": c_issued,
            "amount_cents": c_cents,
            "reason": c_reason,
            "customer_id": cust[c_inv] + 1,
            "currency": CURRENCIES[currency_of[cust[c_inv]]],
            "issue_date": issue[c_inv],
            "due_date": due[c_inv],
        },
    )

    invoice_ids = np.arange(1, n + 1)
    invoice_table = Table(
        "invoices",
        {
            "id": invoice_ids,
            "number": np.char.add("INV-", np.char.zfill(invoice_ids.astype(str), 8)),
            "customer_id": cust + 1,
            "issue_date": issue,
            "due_date": due,
            "amount_cents": amount,
            "open_cents": open_cents,
            "currency": CURRENCIES[currency_of[cust]],
            "disputed": is_open & (rng.random(n) < 0.04),
        },
    )
    return Ledger(customers, invoice_table, payments, allocations, credit_notes, today)


# --- loading --------------------------------------------------------------------------------------------------

LEDGER_TABLES = ("customers", "invoices", "payments", "payment_allocations", "credit_notes")


def load_sqlite(path: str, ledger: Ledger) -> None:
    """executemany in big batches, one transaction, secondary indexes dropped during the load and rebuilt, then
    ANALYZE."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("PRAGMA temp_store=MEMORY")
        marks = ",".join("?" * len(LEDGER_TABLES))
        indexes = con.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            LEDGER_TABLES,
        ).fetchall()
        con.execute("BEGIN")
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        for table in ledger.tables:
            columns = list(table.columns)
            statement = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            )
            for rows in table.batches():
                con.executemany(statement, rows)
        for _, create in indexes:
            con.execute(create)
        con.execute("COMMIT")
        con.execute("ANALYZE")  # as the app does after an import or demo data (data_access.db.analyze)
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def load_postgresql(conninfo: str, ledger: Ledger) -> None:
    """COPY with write_row, foreign-key triggers off (session_replication_role) and secondary indexes rebuilt
    after the load; then the id sequences are moved past the loaded ids and the tables VACUUM ANALYZEd."""
    with psycopg.connect(conninfo) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                [list(LEDGER_TABLES)],
            ).fetchall()
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            with conn.cursor() as cursor:
                for table in ledger.tables:
                    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
                    )
                    with cursor.copy(statement) as copy:
                        for rows in table.batches():
                            for row in rows:
                                copy.write_row(row)
            for _, create in indexes:
                conn.execute(create)
            for table in ledger.tables:
                conn.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))"
                    ).format(sql.Literal(table.name), sql.Identifier(table.name))
                )
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


# --- invariants -------------------------------------------------------------------------------------------------

INVARIANTS: dict[str, str] = {
    "open balance = amount - allocations - credit notes": """
        SELECT count(*) FROM invoices i
        LEFT JOIN (SELECT invoice_id, sum(amount_cents) AS s FROM payment_allocations GROUP BY invoice_id) a
            ON a.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, sum(amount_cents) AS s FROM credit_notes GROUP BY invoice_id) c
            ON c.invoice_id = i.id
        WHERE i.open_cents <> i.amount_cents - coalesce(a.s, 0) - coalesce(c.s, 0)""",
    "allocation = invoice's copies, applied on max(received, issued)": """
        SELECT (SELECT count(*) FROM payment_allocations) - count(*) FROM payment_allocations a
        JOIN invoices i ON i.id = a.invoice_id
        JOIN payments p ON p.id = a.payment_id
        WHERE a.customer_id = i.customer_id AND a.currency = i.currency AND a.issue_date = i.issue_date
          AND a.due_date = i.due_date AND p.customer_id = i.customer_id AND p.currency = i.currency
          AND a.applied_on = CASE WHEN p.received_on > i.issue_date THEN p.received_on ELSE i.issue_date END""",
    "credit note = invoice's copies, not before the invoice": """
        SELECT (SELECT count(*) FROM credit_notes) - count(*) FROM credit_notes c
        JOIN invoices i ON i.id = c.invoice_id
        WHERE c.customer_id = i.customer_id AND c.currency = i.currency AND c.issue_date = i.issue_date
          AND c.due_date = i.due_date AND c.issued_on >= i.issue_date""",
    "payment = unapplied + allocations": """
        SELECT count(*) FROM payments p
        LEFT JOIN (SELECT payment_id, sum(amount_cents) AS s FROM payment_allocations GROUP BY payment_id) a
            ON a.payment_id = p.id
        WHERE p.amount_cents <> p.unapplied_cents + coalesce(a.s, 0)""",
    "customer foreign keys": """
        SELECT count(*) FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id WHERE c.id IS NULL""",
}
