"""Aging at scale: seed a database, time the SQL aging report against the naive pandas way, print a table.

    .venv/bin/python bench/aging.py --invoices 100000 --invoices 1000000 --backends sqlite,postgresql

For each scale and backend: generate the ledger (bench/scale_data.py), load it into a fresh database (a SQLite
file under bench/results/, or a PostgreSQL database bench_aging_<n> that is dropped afterwards unless --keep),
check the ledger invariants, then time with DATABASE_URL pointed at it:

- `aging_summary` and `aging_by_customer` as of today and as of a year back (median of --repeat after a warm-up);
- the naive way: invoices, payment allocations and credit notes read whole into pandas and aggregated there
  (median of --naive-repeat after a warm-up), whose result must equal the SQL summary exactly.

Peak memory is the peak resident set size (VmHWM from /proc/self/status) of a fresh child process that imports the same
modules and runs one naive or one SQL report. The table goes to stdout and to bench/results/aging-<stamp>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.scale_data import INVARIANTS, Ledger, generate, load_postgresql, load_sqlite  # noqa: E402
from data_access.db import dispose_engines, get_read_engine  # noqa: E402
from data_access.migrate import upgrade  # noqa: E402
from data_access.queries import aging as report  # noqa: E402
from data_access.queries.aging import AgingFilter  # noqa: E402
from data_access.rules.buckets import DEFAULT_BUCKETS, bucket_labels  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Speed-up over the naive way required at 1M invoices: (today, a year back).
TARGETS = {"sqlite": (75.0, 5.0), "postgresql": (200.0, 5.0)}
TARGET_SCALE = 1_000_000
YEAR_BACK = timedelta(days=365)

T = TypeVar("T")
Totals = dict[tuple[str, str], tuple[int, int]]


@dataclass
class Row:
    backend: str
    invoices: int
    open_today: int
    open_year_back: int
    seed_s: float
    naive_today_ms: float
    sql_today_ms: float
    naive_back_ms: float
    sql_back_ms: float
    by_customer_today_ms: float
    by_customer_back_ms: float
    rss_naive_mib: float | None = None
    rss_sql_mib: float | None = None

    @property
    def speedup_today(self) -> float:
        return self.naive_today_ms / self.sql_today_ms

    @property
    def speedup_back(self) -> float:
        return self.naive_back_ms / self.sql_back_ms


# --- the naive way ------------------------------------------------------------------------------------------------


def naive_totals(engine: Engine, as_of: date, buckets: tuple[int, ...] = DEFAULT_BUCKETS) -> Totals:
    """Whole tables into pandas; balance at as_of per invoice; bucket by days past due; sum per currency+bucket."""
    with engine.connect() as conn:
        invoices = pd.read_sql(
            text("SELECT id, issue_date, due_date, amount_cents, currency FROM invoices"), conn
        )
        allocations = pd.read_sql(
            text("SELECT invoice_id, applied_on, amount_cents FROM payment_allocations"), conn
        )
        credits = pd.read_sql(text("SELECT invoice_id, issued_on, amount_cents FROM credit_notes"), conn)
    cutoff = pd.Timestamp(as_of)
    paid = allocations.loc[pd.to_datetime(allocations["applied_on"]) <= cutoff]
    paid_per_invoice = paid.groupby("invoice_id")["amount_cents"].sum()
    credited = credits.loc[pd.to_datetime(credits["issued_on"]) <= cutoff]
    credited_per_invoice = credited.groupby("invoice_id")["amount_cents"].sum()
    issued = invoices.loc[pd.to_datetime(invoices["issue_date"]) <= cutoff]
    balance = (
        issued["amount_cents"]
        - issued["id"].map(paid_per_invoice).fillna(0).astype("int64")
        - issued["id"].map(credited_per_invoice).fillna(0).astype("int64")
    )
    still_open = issued.assign(balance=balance).loc[balance > 0]
    days_past_due = (cutoff - pd.to_datetime(still_open["due_date"])).dt.days.to_numpy()
    bucket = np.where(
        days_past_due <= 0, 0, np.searchsorted(np.array(buckets), days_past_due, side="left") + 1
    )
    grouped = (
        still_open.assign(bucket=bucket).groupby(["currency", "bucket"])["balance"].agg(["sum", "count"])
    )
    labels = bucket_labels(buckets)
    return {
        (str(currency), labels[int(index)]): (int(cents), int(count))
        for (currency, index), (cents, count) in zip(grouped.index, grouped.to_numpy().tolist(), strict=True)
    }


def sql_totals(frame: pd.DataFrame) -> Totals:
    """The summary frame as {(currency, bucket): (cents, invoices)}, empty buckets left out."""
    columns = (frame["currency"], frame["bucket"], frame["amount"], frame["invoices"])
    return {
        (str(currency), str(bucket)): (int(amount * 100), int(invoices))
        for currency, bucket, amount, invoices in zip(*columns, strict=True)
        if amount or invoices
    }


def check_equal(naive: Totals, sql_side: Totals, label: str) -> None:
    if naive != sql_side:
        keys = sorted(set(naive) | set(sql_side))
        diff = [
            f"  {k}: naive {naive.get(k)} sql {sql_side.get(k)}"
            for k in keys
            if naive.get(k) != sql_side.get(k)
        ]
        raise SystemExit(f"MISMATCH {label}: the naive result differs from aging_summary\n" + "\n".join(diff))
    print(
        f"  \u2713 naive == SQL summary {label}: {sum(c for c, _ in naive.values())} cents, "
        f"{sum(n for _, n in naive.values())} invoices"
    )


# --- timing -------------------------------------------------------------------------------------------------------


def median_ms(call: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median wall time in ms of `repeat` calls after one warm-up call; also the last result."""
    result = call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def peak_rss_mib(kind: str, url: str, as_of: date) -> float | None:
    """Peak RSS of a fresh child process running one naive or one SQL summary as of `as_of`."""
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe", kind, "--as-of", as_of.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"  (memory probe {kind} failed: {done.stderr.strip()[-300:]})")
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"])


def probe(kind: str, as_of: date) -> None:
    engine = get_read_engine()
    if kind == "naive":
        naive_totals(engine, as_of)
    else:
        report.aging_summary(AgingFilter(as_of=as_of))
    print(json.dumps({"peak_mib": round(peak_rss_kib() / 1024, 1)}))


def peak_rss_kib() -> int:
    """This process's peak resident set size: VmHWM on Linux (ru_maxrss would carry over the parent's peak across
    fork and exec), ru_maxrss elsewhere."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- databases ----------------------------------------------------------------------------------------------------


def psycopg_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def bench_database(backend: str, ledger: Ledger, *, keep: bool, pg_admin: str) -> Iterator[tuple[str, float]]:
    """A fresh, migrated, loaded database; yields its URL and the seconds schema + load took."""
    n = len(ledger.invoices)
    dispose_engines()
    if backend == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"aging-{n}.sqlite3"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        start = time.perf_counter()
        upgrade(url)
        dispose_engines()
        load_sqlite(str(path), ledger)
        seconds = time.perf_counter() - start
        try:
            yield url, seconds
        finally:
            dispose_engines()
            if not keep:
                for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    stale.unlink(missing_ok=True)
        return
    name = f"bench_aging_{n}"
    admin = psycopg_conninfo(pg_admin)
    url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    start = time.perf_counter()
    upgrade(url)
    dispose_engines()
    load_postgresql(psycopg_conninfo(url), ledger)
    seconds = time.perf_counter() - start
    try:
        yield url, seconds
    finally:
        dispose_engines()
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def check_invariants(engine: Engine) -> None:
    with engine.connect() as conn:
        for label, query in INVARIANTS.items():
            broken = conn.execute(text(query)).scalar_one()
            if broken:
                raise SystemExit(f"INVARIANT BROKEN ({broken} rows): {label}")
    print(f"  \u2713 ledger invariants hold ({len(INVARIANTS)} checks)")


def explain(engine: Engine, as_of: date) -> list[str]:
    """The SQL aging_summary and aging_by_customer send, as captured on the engine, and its plan.

    Each report's session settings (on PostgreSQL, `_aging_session`'s `SET LOCAL max_parallel_workers_per_gather
    = 0`) are shown with its statement and applied, in a transaction of their own, before the plan is taken."""
    reports: list[tuple[str, list[tuple[str, Any]]]] = []
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for name, call in (
            ("aging_summary", report.aging_summary),
            ("aging_by_customer", report.aging_by_customer),
        ):
            captured.clear()
            call(AgingFilter(as_of=as_of))
            reports.append((name, list(captured)))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    out: list[str] = []
    raw = engine.raw_connection()
    try:
        for name, statements in reports:
            cursor = raw.cursor()
            settings: list[str] = []
            for statement, parameters in statements:
                if statement.lstrip().upper().startswith("SET "):
                    cursor.execute(statement, parameters)
                    settings.append(statement.strip() + ";")
                    continue
                out.append(f"#### {name}, as of {as_of}\n")
                shown = "\n".join(line.rstrip() for line in [*settings, *statement.strip().splitlines()])
                out.append(f"```sql\n{shown};\n```\n\nParameters: `{json.dumps(parameters, default=str)}`\n")
                if engine.dialect.name == "sqlite":
                    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                    depth: dict[int, int] = {0: 0}
                    lines = []
                    for node, parent, _unused, detail in cursor.fetchall():
                        depth[node] = depth.get(parent, 0) + 1
                        lines.append("  " * (depth[node] - 1) + detail)
                else:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                    lines = [line for (line,) in cursor.fetchall()]
                out.append("```\n" + "\n".join(lines) + "\n```\n")
            cursor.close()
            raw.rollback()  # ends the report's transaction and with it any SET LOCAL
    finally:
        raw.close()
    return out


# --- one run ------------------------------------------------------------------------------------------------------


def run_one(backend: str, ledger: Ledger, args: argparse.Namespace, plans: list[str]) -> Row:
    n = len(ledger.invoices)
    today = ledger.today
    back = today - YEAR_BACK
    naive_repeat = args.naive_repeat or (args.repeat if n <= 200_000 else 2)
    with bench_database(backend, ledger, keep=args.keep, pg_admin=args.pg) as (url, seed_s):
        print(f"{backend}, {n} invoices: schema + load {seed_s:.1f} s ({url})")
        os.environ["DATABASE_URL"] = url
        dispose_engines()
        engine = get_read_engine()
        check_invariants(engine)
        timings: dict[str, float] = {}
        open_counts: dict[str, int] = {}
        for label, as_of in (("today", today), ("back", back)):
            flt = AgingFilter(as_of=as_of)
            timings[f"sql_{label}"], frame = median_ms(partial(report.aging_summary, flt), args.repeat)
            timings[f"naive_{label}"], naive = median_ms(partial(naive_totals, engine, as_of), naive_repeat)
            timings[f"by_customer_{label}"], _ = median_ms(
                partial(report.aging_by_customer, flt), args.repeat
            )
            check_equal(naive, sql_totals(frame), f"as of {as_of}")
            open_counts[label] = int(frame["invoices"].sum())
            print(
                f"  as of {as_of}: naive {timings[f'naive_{label}']:.0f} ms, SQL {timings[f'sql_{label}']:.1f} ms, "
                f"by customer {timings[f'by_customer_{label}']:.1f} ms"
            )
        row = Row(
            backend=backend,
            invoices=n,
            open_today=open_counts["today"],
            open_year_back=open_counts["back"],
            seed_s=seed_s,
            naive_today_ms=timings["naive_today"],
            sql_today_ms=timings["sql_today"],
            naive_back_ms=timings["naive_back"],
            sql_back_ms=timings["sql_back"],
            by_customer_today_ms=timings["by_customer_today"],
            by_customer_back_ms=timings["by_customer_back"],
        )
        if not args.no_memory:
            row.rss_naive_mib = peak_rss_mib("naive", url, today)
            row.rss_sql_mib = peak_rss_mib("sql", url, today)
        if args.explain:
            plans.append(f"### {backend}, {n} invoices\n")
            for as_of in (today, back):
                plans.extend(explain(engine, as_of))
        dispose_engines()
    return row


# --- output -------------------------------------------------------------------------------------------------------


def speedup_cell(row: Row, value: float, which: int) -> str:
    cell = f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"
    if row.invoices >= TARGET_SCALE and row.backend in TARGETS:
        target = TARGETS[row.backend][which]
        cell += f" {'✓' if value >= target else '✗'} (≥{target:g}x)"
    return cell


def markdown_table(rows: list[Row]) -> str:
    header = [
        "backend", "invoices", "open today", "open a year back", "seed s",
        "naive today ms", "SQL today ms", "speed-up today",
        "naive year-back ms", "SQL year-back ms", "speed-up year back",
        "by-customer today ms", "by-customer year-back ms", "peak RSS naive MiB", "peak RSS SQL MiB",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [
            r.backend, f"{r.invoices:,}", f"{r.open_today:,}", f"{r.open_year_back:,}", f"{r.seed_s:.1f}",
            f"{r.naive_today_ms:.0f}", f"{r.sql_today_ms:.1f}", speedup_cell(r, r.speedup_today, 0),
            f"{r.naive_back_ms:.0f}", f"{r.sql_back_ms:.1f}", speedup_cell(r, r.speedup_back, 1),
            f"{r.by_customer_today_ms:.1f}", f"{r.by_customer_back_ms:.1f}",
            "-" if r.rss_naive_mib is None else f"{r.rss_naive_mib:.0f}",
            "-" if r.rss_sql_mib is None else f"{r.rss_sql_mib:.0f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def server_versions(args: argparse.Namespace) -> str:
    import sqlite3

    parts = [f"SQLite {sqlite3.sqlite_version}"]
    if "postgresql" in args.backends:
        with psycopg.connect(psycopg_conninfo(args.pg)) as conn:
            parts.append(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}")  # type: ignore[index]
    return ", ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, action="append", help="scale (repeatable); default 100000")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each SQL report (median)")
    parser.add_argument(
        "--naive-repeat", type=int, default=0, help="timed naive runs (default: --repeat, 2 >200k)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the synthetic ledger")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="as-of 'today' (ISO)")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help="URL of a PostgreSQL database to create bench DBs from"
    )
    parser.add_argument(
        "--explain", action="store_true", help="append the SQL and its plans to the results file"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS child processes")
    parser.add_argument("--probe", choices=("naive", "sql"), help=argparse.SUPPRESS)
    parser.add_argument("--as-of", type=date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    args.invoices = args.invoices or [100_000]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.probe:
        probe(args.probe, args.as_of)
        return
    rows: list[Row] = []
    plans: list[str] = []
    notes: list[str] = []
    for n in args.invoices:
        start = time.perf_counter()
        ledger = generate(n, seed=args.seed, today=args.today)
        generated = time.perf_counter() - start
        sizes = ", ".join(f"{t.name} {len(t):,}" for t in ledger.tables)
        note = f"{n:,} invoices: generated in {generated:.1f} s ({sizes}); {ledger.open_today:,} open today"
        print(note)
        notes.append(note)
        for backend in args.backends:
            rows.append(run_one(backend, ledger, args, plans))
        del ledger
    table = markdown_table(rows)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    header = (
        f"# Aging benchmark {stamp}\n\n"
        f"Command: `{' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}`  \n"
        f"Today: {args.today}, a year back: {args.today - YEAR_BACK}, seed {args.seed}, "
        f"median of {args.repeat} SQL runs after a warm-up.  \n"
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pandas {pd.__version__}, "
        f"{server_versions(args)}.  \n"
        "Seed s = schema (Alembic) + bulk load + index builds + ANALYZE (VACUUM ANALYZE on PostgreSQL). "
        "Peak RSS = VmHWM of a fresh child process (imports alone: ~145 MiB) running one report as of today.\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n\n"
    )
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"aging-{stamp}.md"
    out.write_text(header + table + "\n" + ("\n## Plans\n\n" + "\n".join(plans) if plans else ""))
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
