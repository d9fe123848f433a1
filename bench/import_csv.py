"""Time the CSV import at scale: customers, then N invoices, through the real CLI, on SQLite and PostgreSQL.

    .venv/bin/python bench/import_csv.py --invoices 1000000 [--backends sqlite,postgresql]

Each import runs as its own `python -m data_access import ...` process, so the peak memory reported is that
process's own (VmHWM read from /proc before it exits is not possible from outside; `resource.getrusage` of the
children gives the largest child so far, and the imports run largest last).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def write_files(folder: Path, invoices: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    customers = max(invoices // 100, 10)
    customer_file = folder / "customers.csv"
    with customer_file.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["customer_id", "name", "country", "currency", "account_manager"])
        for n in range(customers):
            out.writerow([f"C{n:06d}", f"Customer {n}, Ltd", "US", "USD", f"agent{n % 7}"])
    invoice_file = folder / "invoices.csv"
    start = date(2023, 12, 1)
    with invoice_file.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["invoice_number", "customer_id", "issue_date", "due_date", "amount", "currency", "disputed"]
        )
        for n in range(invoices):
            issued = start + timedelta(days=rng.randrange(0, 1090))
            cents = rng.randrange(1_000, 5_000_000)
            out.writerow([f"INV-{n:08d}", f"C{rng.randrange(customers):06d}", issued.isoformat(),
                          (issued + timedelta(days=30)).isoformat(), f"{cents // 100}.{cents % 100:02d}", "USD",
                          "no"])  # fmt: skip
    return customer_file, invoice_file


def run_import(env: dict[str, str], kind: str, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "data_access", "import", kind, str(path)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def psql(command: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", command], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        customer_file, invoice_file = write_files(folder, args.invoices, args.seed)
        print(f"wrote {args.invoices:,} invoices ({invoice_file.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        rows = ["| backend | invoices | customers s | invoices s | rows/s | peak RSS of the import MiB |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for backend in args.backends.split(","):
            name = f"bench_import_{os.getpid()}"
            if backend == "sqlite":
                url = f"sqlite:///{folder / 'bench.sqlite3'}"
            else:
                psql(f"CREATE DATABASE {name}")
                url = f"{PG_SERVER}/{name}"
            env = {**os.environ, "DATABASE_URL": url}
            try:
                subprocess.run([sys.executable, "-m", "data_access", "init"], cwd=ROOT, env=env, check=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip
                customers_s = run_import(env, "customers", customer_file)
                invoices_s = run_import(env, "invoices", invoice_file)
                peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                rows.append(f"| {backend} | {args.invoices:,} | {customers_s:.1f} | {invoices_s:.1f} | "
                            f"{args.invoices / invoices_s:,.0f} | {peak:.0f} |")  # fmt: skip
                print(rows[-1], flush=True)
            finally:
                if backend != "sqlite":
                    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
