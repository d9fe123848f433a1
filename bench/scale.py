"""Scale: seed, import, aging and every page at 1M and 5M invoices, on SQLite and PostgreSQL, in one run.

    .venv/bin/python bench/scale.py --invoices 1000000 --invoices 5000000 --backends sqlite,postgresql

For each scale (the synthetic ledger of bench/scale_data.py, ~100 invoices per customer) and backend:

- seed: schema (Alembic) + bulk load + index builds into a fresh database (bench/results/scale-<n>.sqlite3 or
  PostgreSQL bench_scale_<n>), whose ledger invariants are then checked;
- aging: `aging_summary` and `aging_by_customer` as of today and a year back (median of --repeat after a warm-up),
  beside two yardsticks whose totals must equal the SQL summary exactly, in cents and invoices:
  the naive way (bench/aging.py: whole tables into pandas) and a DuckDB full scan of the same rows held in
  DuckDB in-memory tables (their load is timed apart and not counted);
- collections: the demo's collections policy is saved, then `python -m data_access collections run` (the CLI)
  times the full run (everybody assessed and stored) twice, and one payment (the app's `record_payment`, which
  refreshes its customer's stored state in its transaction) and one customer's `collections_run.refresh` alone
  time the incremental update (skipped with a note while data_access.actions.collections_run does not exist);
- pages: every page the admin sees, cold and warm (bench/pages.py under AppTest), then the Overview right after
  a payment, in a child process whose peak resident set (VmHWM) is the app process's memory;
- import: bench/import_csv.py's customers and invoices files through the real CLI into another fresh database
  (only for the sizes in --import-sizes; default every size).

The table goes to stdout and to bench/results/scale-<stamp>.md, rewritten after each backend finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.aging import (  # noqa: E402
    DEFAULT_PG,
    RESULTS,
    YEAR_BACK,
    Totals,
    check_equal,
    check_invariants,
    median_ms,
    naive_totals,
    psycopg_conninfo,
    server_versions,
    sql_totals,
)
from bench.import_csv import run_import, write_files  # noqa: E402
from bench.scale_data import Ledger, generate, load_postgresql, load_sqlite  # noqa: E402
from data_access.db import dispose_engines, get_read_engine  # noqa: E402
from data_access.migrate import upgrade  # noqa: E402
from data_access.models import Customer  # noqa: E402
from data_access.queries import aging as report  # noqa: E402
from data_access.queries.aging import AgingFilter  # noqa: E402
from data_access.rules.buckets import DEFAULT_BUCKETS, bucket_labels  # noqa: E402

try:  # the yardstick only: bench/requirements.txt installs it; without it the DuckDB columns say "-"
    import duckdb  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    duckdb = None

# Targets (issues 8 and 15): today's summary >= 100x faster than the naive way and faster than the DuckDB scan; a
# year back within 3x of the DuckDB scan; every page under 1 s cold at 1M invoices and 1.5 s at 5M (above 5M: no
# target), the Overview under 1 s right after a payment; the app's peak memory within 20% from the smallest scale
# to the largest.
NAIVE_SPEEDUP_TODAY = 100.0
DUCKDB_SPEEDUP_TODAY = 1.0
DUCKDB_SPEEDUP_BACK = 1 / 3
PAGE_COLD_LIMITS_S = {1_000_000: 1.0, 5_000_000: 1.5}
AFTER_PAYMENT_LIMIT_S = 1.0
MEMORY_FLAT_RATIO = 1.20


def page_limit(invoices: int) -> float | None:
    """The cold-page target at this scale: the target of the smallest listed scale at or above it."""
    return next((limit for scale, limit in sorted(PAGE_COLD_LIMITS_S.items()) if invoices <= scale), None)


# --- DuckDB yardstick ---------------------------------------------------------------------------------------------

DUCKDB_COLUMNS = {
    "invoices": ("id", "issue_date", "due_date", "amount_cents", "currency"),
    "payment_allocations": ("invoice_id", "applied_on", "amount_cents"),
    "credit_notes": ("invoice_id", "issued_on", "amount_cents"),
}


class DuckScan:
    """The columns the aging needs, held in DuckDB in-memory tables; the aging aggregate as a full scan of them:
    balance at the as-of date per invoice issued by then, bucketed by days past due, summed per currency."""

    def __init__(self, ledger: Ledger) -> None:
        assert duckdb is not None
        started = time.perf_counter()
        self.con = duckdb.connect(":memory:")
        for name, columns in DUCKDB_COLUMNS.items():
            table = getattr(ledger, name)
            frame = pd.DataFrame({column: table.columns[column] for column in columns})
            select_list = ", ".join(
                f"CAST({c} AS DATE) AS {c}" if table.columns[c].dtype.kind == "M" else c for c in columns
            )
            self.con.register("frame", frame)
            self.con.execute(f"CREATE TABLE {name} AS SELECT {select_list} FROM frame")
            self.con.unregister("frame")
        self.load_s = time.perf_counter() - started
        self.threads = int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])  # type: ignore[index, unused-ignore]

    def totals(self, as_of: date, buckets: tuple[int, ...] = DEFAULT_BUCKETS) -> Totals:
        cutoffs = {f"c{i}": as_of - timedelta(days=edge) for i, edge in enumerate((0, *buckets))}
        bucket = " ".join(f"WHEN due_date >= ${name} THEN {i}" for i, name in enumerate(cutoffs))
        rows = self.con.execute(
            f"""
            WITH paid AS (
                SELECT invoice_id, sum(amount_cents) AS cents FROM payment_allocations
                WHERE applied_on <= $as_of GROUP BY invoice_id),
            credited AS (
                SELECT invoice_id, sum(amount_cents) AS cents FROM credit_notes
                WHERE issued_on <= $as_of GROUP BY invoice_id),
            balances AS (
                SELECT i.currency, i.due_date,
                       i.amount_cents - coalesce(p.cents, 0) - coalesce(c.cents, 0) AS balance
                FROM invoices i
                LEFT JOIN paid p ON p.invoice_id = i.id
                LEFT JOIN credited c ON c.invoice_id = i.id
                WHERE i.issue_date <= $as_of)
            SELECT currency, CASE {bucket} ELSE {len(buckets) + 1} END AS bucket, sum(balance), count(*)
            FROM balances WHERE balance > 0 GROUP BY ALL
            """,
            {"as_of": as_of, **cutoffs},
        ).fetchall()
        labels = bucket_labels(buckets)
        return {(currency, labels[index]): (int(cents), int(n)) for currency, index, cents, n in rows}


# --- databases ----------------------------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, name: str, *, keep: bool, pg_admin: str) -> Iterator[str]:
    """An empty database (bench/results/<name>.sqlite3, or PostgreSQL bench_<name>); its URL. Removed afterwards
    unless keep."""
    dispose_engines()
    if backend == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{name}.sqlite3"
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        for stale in files:
            stale.unlink(missing_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            dispose_engines()
            for stale in files if not keep else []:
                stale.unlink(missing_ok=True)
        return
    database_name = f"bench_{name.replace('-', '_')}"
    database = sql.Identifier(database_name)
    admin = psycopg_conninfo(pg_admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
    try:
        yield make_url(pg_admin).set(database=database_name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


def seed(url: str, ledger: Ledger) -> float:
    """Schema, bulk load and index builds (bench/scale_data.py); the seconds they took."""
    started = time.perf_counter()
    upgrade(url)
    dispose_engines()
    if url.startswith("sqlite"):
        load_sqlite(str(make_url(url).database), ledger)
    else:
        load_postgresql(psycopg_conninfo(url), ledger)
    return time.perf_counter() - started


def import_seconds(url: str, files: tuple[Path, Path]) -> tuple[float, float]:
    """Seconds of `import customers` and `import invoices` through the CLI into a freshly initialised database."""
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "data_access", "init"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    customers, invoices = files
    return run_import(env, "customers", customers), run_import(env, "invoices", invoices)


# --- pages, in their own process ----------------------------------------------------------------------------------


def render_pages(
    url: str, repeat: int, after_payment: int
) -> tuple[dict[str, dict[str, float | str]], dict[str, float | str] | None, float | None]:
    """Cold and warm seconds per page (bench/pages.py --json in a child process), the Overview's seconds right
    after a payment, and that process's peak MiB."""
    env = {**os.environ, "DATABASE_URL": url, "BILLING_DESK_LOGIN_DELAY": "0"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pages.py"), "--database-url", url, "--repeat", str(repeat), "--json",
         "--after-payment", str(after_payment)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"  pages failed: {done.stderr.strip()[-800:]}", flush=True)
        return {}, None, None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    pages = {page.pop("page"): page for page in result["pages"]}
    return pages, result.get("after_payment"), float(result["peak_mib"])


# --- the collections run ------------------------------------------------------------------------------------------


def save_demo_policy() -> None:
    """The demo's collections policy (its five stages and thresholds), saved through the app's own action."""
    from decimal import Decimal

    from data_access.actions.policies import save_policy
    from data_access.auth.users import actor_for
    from data_access.demo.policy import GRACE_DAYS, MINIMUM_OVERDUE_CENTS, POLICY_STAGES, STATEMENT_INTRO
    from data_access.money import from_cents
    from data_access.rules.policy import Stage

    admin = actor_for("admin")
    assert admin is not None
    stages = [Stage(name=name, days_past_due=days, action=action, message_template=template)
              for days, action, name, template in POLICY_STAGES]  # fmt: skip
    save_policy(admin, stages=stages, minimum_overdue=from_cents(MINIMUM_OVERDUE_CENTS), grace_days=GRACE_DAYS,
                disputes_stop_clock=True, statement_intro=STATEMENT_INTRO)  # fmt: skip
    assert isinstance(MINIMUM_OVERDUE_CENTS, int) and Decimal(MINIMUM_OVERDUE_CENTS) > 0


def time_collections(row: Row, url: str, repeat: int) -> None:
    """The full run through the CLI (twice: from an empty state, then again the same day), and the incremental
    update: a payment that refreshes its customer's state, and one customer's refresh alone (median of `repeat`,
    different customers). Skipped, with a note, while the collections run is not in data_access."""
    try:
        from data_access.actions import collections_run
    except ImportError as exc:
        row.notes.append(f"collections run not timed: {exc}")
        return
    from decimal import Decimal

    from bench import pages as bench_pages
    from data_access import clock
    from data_access.actions.payments import record_payment
    from data_access.auth.users import actor_for
    from data_access.db import transaction

    env = {**os.environ, "DATABASE_URL": url}
    for key in ("run_full_s", "run_again_s"):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "data_access", "collections", "run"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            row.notes.append(f"collections run failed: {done.stderr.strip()[-300:]}")
            return
        row.collections[key] = time.perf_counter() - started
        own = re.search(r"\(([\d.]+) s\)\.?$", done.stdout.strip())  # the run's own time, said by its summary
        if own:
            row.collections[key.replace("_s", "_own_s")] = float(own.group(1))
        print(f"  collections run: {row.collections[key]:.1f} s ({done.stdout.strip()})", flush=True)
    dispose_engines()
    admin = actor_for("admin")
    assert admin is not None
    today = clock.today()
    found = bench_pages.overdue_invoices(2 * repeat)
    payments, refreshes = [], []
    for customer_id, number in found[:repeat]:
        started = time.perf_counter()
        record_payment(admin, customer_id=customer_id, amount=Decimal("0.01"), received_on=today,
                       invoice_number=number, reference="bench/scale.py", today=today)  # fmt: skip
        payments.append(time.perf_counter() - started)
    for customer_id, _number in found[repeat:]:
        started = time.perf_counter()
        with transaction() as session:
            pk = session.scalar(select(Customer.id).where(Customer.external_id == customer_id))
            assert pk is not None
            collections_run.refresh(session, [pk], as_of=today, because="bench/scale.py")
        refreshes.append(time.perf_counter() - started)
    if payments:
        row.collections["payment_ms"] = statistics.median(payments) * 1000
    if refreshes:
        row.collections["refresh_one_ms"] = statistics.median(refreshes) * 1000
    print(f"  incremental: {row.collections}", flush=True)


# --- one scale on one backend -------------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    invoices: int
    customers: int
    seed_s: float
    open_today: int = 0
    open_back: int = 0
    ms: dict[str, float] = field(default_factory=dict)  # {sql,by_customer,naive,duckdb}_{today,back}
    duckdb_load_s: float = 0.0
    pages: dict[str, dict[str, float | str]] = field(default_factory=dict)
    app_peak_mib: float | None = None
    import_customers_s: float | None = None
    import_invoices_s: float | None = None
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average at each step
    collections: dict[str, float] = field(default_factory=dict)  # run_full_s, run_again_s, payment_ms, ...
    after_payment: dict[str, float | str] | None = None  # the Overview right after a payment: wall_s, cpu_s
    notes: list[str] = field(default_factory=list)

    def speedup(self, yardstick: str, when: str) -> float | None:
        if f"{yardstick}_{when}" not in self.ms:
            return None
        return self.ms[f"{yardstick}_{when}"] / self.ms[f"sql_{when}"]


def time_aging(row: Row, ledger: Ledger, scan: DuckScan | None, args: argparse.Namespace) -> None:
    engine = get_read_engine()
    check_invariants(engine)
    naive_repeat = args.naive_repeat or (args.repeat if row.invoices <= 200_000 else 2)
    for when, as_of in (("today", ledger.today), ("back", ledger.today - YEAR_BACK)):
        flt = AgingFilter(as_of=as_of)
        row.ms[f"sql_{when}"], frame = median_ms(partial(report.aging_summary, flt), args.repeat)
        row.ms[f"by_customer_{when}"], _ = median_ms(partial(report.aging_by_customer, flt), args.repeat)
        first_screen = partial(report.aging_by_customer_largest_overdue_first, flt, limit=200)
        row.ms[f"first_screen_{when}"], _ = median_ms(first_screen, args.repeat)
        summary = sql_totals(frame)
        if scan is not None:
            row.ms[f"duckdb_{when}"], duck = median_ms(partial(scan.totals, as_of), args.repeat)
            if duck != summary:
                raise SystemExit(
                    f"MISMATCH as of {as_of}: DuckDB {sorted(duck.items())} != SQL {sorted(summary.items())}"
                )
            print(f"  \u2713 DuckDB == SQL summary as of {as_of}", flush=True)
        if not args.no_yardsticks:
            row.ms[f"naive_{when}"], naive = median_ms(partial(naive_totals, engine, as_of), naive_repeat)
            check_equal(naive, summary, f"as of {as_of}")
        row.load.append(os.getloadavg()[0])
        open_invoices = int(frame["invoices"].sum())
        if when == "today":
            row.open_today = open_invoices
        else:
            row.open_back = open_invoices
        print(f"  as of {as_of}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in row.ms.items() if k.endswith(when)),
              flush=True)  # fmt: skip


def run_one(
    backend: str,
    ledger: Ledger,
    scan: DuckScan | None,
    args: argparse.Namespace,
    csv: tuple[Path, Path] | None,
) -> Row:
    n = len(ledger.invoices)
    with fresh_database(backend, f"scale-{n}", keep=args.keep, pg_admin=args.pg) as url:
        seed_s = seed(url, ledger)
        print(f"{backend}, {n:,} invoices: seeded in {seed_s:.1f} s ({url})", flush=True)
        row = Row(backend, n, len(ledger.customers), seed_s, duckdb_load_s=scan.load_s if scan else 0.0)
        os.environ["DATABASE_URL"] = url
        dispose_engines()
        time_aging(row, ledger, scan, args)
        dispose_engines()
        save_demo_policy()
        if not args.no_collections:
            time_collections(row, url, args.repeat)
            row.load.append(os.getloadavg()[0])
        dispose_engines()
        if not args.no_pages:
            started = time.perf_counter()
            row.pages, row.after_payment, row.app_peak_mib = render_pages(
                url, args.page_repeat, args.after_payment
            )
            row.load.append(os.getloadavg()[0])
            print(
                f"  pages rendered in {time.perf_counter() - started:.0f} s, peak {row.app_peak_mib} MiB",
                flush=True,
            )
    if csv is not None:
        with fresh_database(backend, f"scale-import-{n}", keep=False, pg_admin=args.pg) as url:
            row.import_customers_s, row.import_invoices_s = import_seconds(url, csv)
            row.load.append(os.getloadavg()[0])
        print(
            f"  import: customers {row.import_customers_s:.1f} s, invoices {row.import_invoices_s:.1f} s",
            flush=True,
        )
    return row


# --- output -------------------------------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "\u2713" if ok else "\u2717"


def ratio_cell(value: float | None, target: float | None = None, *, strict: bool = False) -> str:
    if value is None:
        return "-"
    cell = f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"
    if target is not None:
        ok = value > target if strict else value >= target
        cell += f" {mark(ok)}"
    return cell


def ms_cell(row: Row, key: str, digits: int = 0) -> str:
    return f"{row.ms[key]:.{digits}f}" if key in row.ms else "-"


def aging_table(rows: list[Row]) -> str:
    header = [
        "backend", "invoices", "customers", "seed s", "import s (customers + invoices)",
        "SQL today ms", "by-customer today ms", "first screen today ms", "naive today ms", "DuckDB today ms",
        "naive/SQL today (≥100x)", "DuckDB/SQL today (>1x)",
        "SQL year-back ms", "by-customer year-back ms", "first screen year-back ms", "naive year-back ms",
        "DuckDB year-back ms", "DuckDB/SQL year back (≥0.33x)", "DuckDB load s", "app peak MiB", "load avg (2 CPUs)",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        imported = (
            "-" if r.import_invoices_s is None else f"{r.import_customers_s:.1f} + {r.import_invoices_s:.1f}"
        )
        cells = [
            r.backend, f"{r.invoices:,}", f"{r.customers:,}", f"{r.seed_s:.1f}", imported,
            ms_cell(r, "sql_today", 1), ms_cell(r, "by_customer_today"), ms_cell(r, "first_screen_today"),
            ms_cell(r, "naive_today"), ms_cell(r, "duckdb_today", 1),
            ratio_cell(r.speedup("naive", "today"), NAIVE_SPEEDUP_TODAY),
            ratio_cell(r.speedup("duckdb", "today"), DUCKDB_SPEEDUP_TODAY, strict=True),
            ms_cell(r, "sql_back", 1), ms_cell(r, "by_customer_back"), ms_cell(r, "first_screen_back"),
            ms_cell(r, "naive_back"), ms_cell(r, "duckdb_back", 1),
            ratio_cell(r.speedup("duckdb", "back"), DUCKDB_SPEEDUP_BACK),
            f"{r.duckdb_load_s:.1f}" if r.duckdb_load_s else "-",
            "-" if r.app_peak_mib is None else f"{r.app_peak_mib:.0f}",
            "-".join(f"{load:.0f}" for load in (min(r.load), max(r.load))) if r.load else "-",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def collections_table(rows: list[Row]) -> str:
    measured = [r for r in rows if r.collections or r.after_payment]
    if not measured:
        return "Not measured."
    header = ["backend", "invoices", "customers", "collections run, full s (the run's own)", "the same day again s",
              "payment with its customer's refresh ms", "one customer's refresh ms",
              "Overview right after a payment s (CPU)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in measured:
        seconds = [
            f"{r.collections[k]:.1f} ({r.collections.get(k.replace('_s', '_own_s'), float('nan')):.1f})"
            if k in r.collections
            else "-"
            for k in ("run_full_s", "run_again_s")
        ]
        ms = [
            f"{r.collections[k]:.0f}" if k in r.collections else "-" for k in ("payment_ms", "refresh_one_ms")
        ]
        after = r.after_payment or {}
        if "error" in after:
            overview = f"error: {after['error']}"
        elif after:
            wall = float(after["wall_s"])
            overview = f"{wall:.2f} ({float(after['cpu_s']):.2f}) {mark(wall < AFTER_PAYMENT_LIMIT_S)}"
        else:
            overview = "-"
        lines.append("| " + " | ".join([r.backend, f"{r.invoices:,}", f"{r.customers:,}", *seconds, *ms, overview])
                     + " |")  # fmt: skip
    return "\n".join(lines)


def page_cell(row: Row, page: str) -> str:
    measured = row.pages.get(page)
    if measured is None:
        return "-"
    if "error" in measured:
        return f"error: {measured['error']}"
    cold = float(measured["cold_s"])
    cell = f"{cold:.2f} ({float(measured['cold_cpu_s']):.2f}) / {float(measured['warm_s']):.2f}"
    limit = page_limit(row.invoices)
    if limit is not None:
        cell += f" {mark(cold < limit)}"
    return cell


def pages_table(rows: list[Row]) -> str:
    measured = [r for r in rows if r.pages]
    if not measured:
        return ""
    pages = list(dict.fromkeys(page for r in measured for page in r.pages))
    header = ["page", *(f"{r.backend} {r.invoices:,}" for r in measured)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([page, *(page_cell(r, page) for r in measured)]) + " |" for page in pages]
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        label = f"{r.backend} {r.invoices:,}"
        naive, duck_today, duck_back = r.speedup("naive", "today"), r.speedup("duckdb", "today"), None
        if naive is not None:
            out.append(f"{mark(naive >= NAIVE_SPEEDUP_TODAY)} {label}: today's aging {naive:.0f}x faster than the "
                       "naive way (target ≥100x)")  # fmt: skip
        if duck_today is not None:
            out.append(f"{mark(duck_today > DUCKDB_SPEEDUP_TODAY)} {label}: the DuckDB scan takes {duck_today:.2f}x "
                       "the time of today's aging (target: more than 1x)")  # fmt: skip
            duck_back = r.speedup("duckdb", "back")
        if duck_back is not None:
            out.append(f"{mark(duck_back >= DUCKDB_SPEEDUP_BACK)} {label}: aging a year back takes {1 / duck_back:.2f}x "
                       "the DuckDB scan's time (target ≤3x)")  # fmt: skip
        limit = page_limit(r.invoices)
        if limit is not None and r.pages:
            slow = [
                f"{page} error" if "error" in m else f"{page} {float(m['cold_s']):.2f} s"
                for page, m in r.pages.items()
                if "error" in m or float(m["cold_s"]) >= limit
            ]
            out.append(
                f"{mark(not slow)} {label}: every page under {limit:g} s cold"
                + (f" (not: {', '.join(slow)})" if slow else f" ({len(r.pages)} pages)")
            )
        if r.after_payment and "wall_s" in r.after_payment:
            wall = float(r.after_payment["wall_s"])
            out.append(f"{mark(wall < AFTER_PAYMENT_LIMIT_S)} {label}: the Overview right after a payment in "
                       f"{wall:.2f} s (target under {AFTER_PAYMENT_LIMIT_S:g} s)")  # fmt: skip
        out += [f"{label}: {note}" for note in r.notes]
    for backend in dict.fromkeys(r.backend for r in rows):
        peaks = [(r.invoices, r.app_peak_mib) for r in rows if r.backend == backend and r.app_peak_mib]
        if len(peaks) >= 2:
            (small_n, small), (large_n, large) = min(peaks), max(peaks)
            out.append(
                f"{mark(large <= small * MEMORY_FLAT_RATIO)} {backend}: app peak memory {small:.0f} MiB at "
                f"{small_n:,} invoices, {large:.0f} MiB at {large_n:,} ({large / small:.2f}x; target ≤"
                f"{MEMORY_FLAT_RATIO:g}x)"
            )
    return [f"- {line}" for line in out]


def write_results(
    path: Path, args: argparse.Namespace, argv: list[str], notes: list[str], rows: list[Row]
) -> str:
    header = (
        f"# Scale benchmark {path.stem.removeprefix('scale-')}\n\n"
        f"Command: `{' '.join(['bench/scale.py', *argv])}`  \n"
        f"Today: {args.today}, a year back: {args.today - YEAR_BACK}, seed {args.seed}, median of {args.repeat} "
        f"runs after a warm-up (naive: {args.naive_repeat or 'as many at 200k and below, 2 above'}), pages: median "
        f"of {args.page_repeat} cold and {args.page_repeat} warm renders, the Overview after {args.after_payment} "
        f"payments.  \n"
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pandas {pd.__version__}, DuckDB "
        f"{duckdb.__version__ if duckdb else 'not installed'}, {server_versions(args)}.\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n\n"
    )
    body = (
        "## Aging, seed, import, memory\n\n" + aging_table(rows)
        + "\n\n## Collections run, incremental refresh, the Overview after a payment\n\n" + collections_table(rows)
        + "\n\n## Pages: cold (CPU of the app process) / warm seconds (AppTest, admin)\n\n" + pages_table(rows)
        + "\n\n## Verdicts\n\n" + "\n".join(verdicts(rows)) + "\n"
    )  # fmt: skip
    path.write_text(header + body)
    return body


# --- main ---------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, action="append", help="scale (repeatable); default 1M and 5M")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument(
        "--import-sizes",
        help="comma-separated scales that also time the CSV import (default: all, 'none': none)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs of each report and DuckDB scan (median)"
    )
    parser.add_argument(
        "--naive-repeat", type=int, default=0, help="timed naive runs (default: --repeat, 2 >200k)"
    )
    parser.add_argument(
        "--page-repeat", type=int, default=3, help="cold and warm renders of each page (median)"
    )
    parser.add_argument("--no-pages", action="store_true", help="skip the pages and the app's peak memory")
    parser.add_argument(
        "--no-yardsticks",
        action="store_true",
        help="skip the naive and DuckDB yardsticks (pages and runs only)",
    )
    parser.add_argument("--no-collections", action="store_true", help="skip timing the collections run")
    parser.add_argument(
        "--after-payment", type=int, default=3, help="Overview renders right after a payment (median)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the synthetic ledger")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="as-of 'today' (ISO)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help="URL of a PostgreSQL database to create bench DBs from"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    args.invoices = args.invoices or [1_000_000, 5_000_000]
    if args.import_sizes is None:
        args.import_sizes = set(args.invoices)
    elif args.import_sizes == "none":
        args.import_sizes = set()
    else:
        args.import_sizes = {int(size) for size in args.import_sizes.split(",")}
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scale-{datetime.now().strftime('%Y%m%d-%H%M%S')}.md"
    rows: list[Row] = []
    notes: list[str] = []
    for n in args.invoices:
        started = time.perf_counter()
        ledger = generate(n, seed=args.seed, today=args.today)
        sizes = ", ".join(f"{t.name} {len(t):,}" for t in ledger.tables)
        scan = DuckScan(ledger) if duckdb is not None and not args.no_yardsticks else None
        load_s = scan.load_s if scan else 0.0
        notes.append(
            f"{n:,} invoices: generated in {time.perf_counter() - started - load_s:.1f} s ({sizes}); "
            f"{ledger.open_today:,} open today; "
            + (
                f"DuckDB tables loaded in {scan.load_s:.1f} s, {scan.threads} threads"
                if scan
                else "no DuckDB scan"
            )
        )
        print(notes[-1], flush=True)
        with tempfile.TemporaryDirectory(prefix="scale-import-", dir=RESULTS) as scratch:
            csv = None
            if n in args.import_sizes:
                started = time.perf_counter()
                csv = write_files(Path(scratch), n, args.seed)
                notes.append(f"{n:,} invoices: import files written in {time.perf_counter() - started:.0f} s")
                print(notes[-1], flush=True)
            for backend in args.backends:
                rows.append(run_one(backend, ledger, scan, args, csv))
                write_results(out, args, argv, notes, rows)
        del ledger, scan
    print("\n" + write_results(out, args, argv, notes, rows))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
