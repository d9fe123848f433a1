"""Time the Partner Center daily rated usage import at scale, through the real CLI, on SQLite (and PostgreSQL).

    .venv/bin/python bench/pc_import.py --lines 100000 --lines 1000000 [--pg postgresql+psycopg://postgres@127.0.0.1:5432]

Writes a file in Microsoft's layout (`partner_center.USAGE_COLUMNS`, every column filled as Partner Center fills
it), streamed to disk, then runs `python -m data_access import partner-center-usage FILE` in a fresh, migrated
database, under `/usr/bin/time` so the peak resident set is the import process's own (`ru_maxrss` of a direct
child would carry this process's peak across fork and exec). The lines stored and the sum of their cost are then
checked against the file, to the 1e-8.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_access.csv_import.partner_center import USAGE_COLUMNS  # noqa: E402
from data_access.models import PartnerCenterLine  # noqa: E402

PLACES = Decimal("0.00000001")
# (category, subcategory, meter, unit, USD per unit, typical daily quantity)
METERS = (
    ("Virtual Machines", "Dsv5 Series", "D4s v5", "1 Hour", Decimal("0.192"), 24),
    ("Virtual Machines", "Dsv5 Series", "D2s v5", "1 Hour", Decimal("0.096"), 48),
    ("Storage", "Premium SSD Managed Disks", "P10 LRS Disk", "1/Month", Decimal("19.71"), 0.0333),
    ("Bandwidth", "Rtn Preference: MGN", "Standard Data Transfer Out", "1 GB", Decimal("0.087"), 40),
    ("SQL Database", "General Purpose - Compute Gen5", "vCore", "1 Hour", Decimal("0.5044"), 48),
    ("Azure App Service", "Premium v3 Plan", "P1 v3 App", "1 Hour", Decimal("0.2"), 24),
)
CURRENCIES = (("USD", Decimal(1)), ("EUR", Decimal("0.9259")), ("GBP", Decimal("0.7874")))


def write_file(path: Path, lines: int, seed: int, month: date) -> Decimal:
    """`lines` daily rated usage lines for one month, written as they are drawn; returns the cost total."""
    rng = random.Random(seed)
    tenants = [
        (str(uuid.UUID(int=rng.getrandbits(128), version=4)), n) for n in range(max(lines // 5_000, 20))
    ]
    days = (month.replace(month=month.month % 12 + 1, year=month.year + month.month // 12) - month).days
    total = Decimal(0)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(USAGE_COLUMNS)
        for n in range(lines):
            tenant, number = tenants[n % len(tenants)]
            subscription = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{seed}:{number}"))
            category, sub_category, meter, unit, price, daily = METERS[rng.randrange(len(METERS))]
            currency, rate = CURRENCIES[number % len(CURRENCIES)]
            quantity = Decimal(str(round(daily * rng.uniform(0.2, 1.8), 6)))
            pricing = (quantity * price).quantize(PLACES)
            billing = (pricing * rate).quantize(PLACES)
            total += billing
            used = month + timedelta(days=n // max(lines // days, 1) % days)
            cells = {
                "PartnerId": "3c2d1e0f-1111-4111-8111-111111111111", "PartnerName": "Bench Partner",
                "CustomerId": tenant, "CustomerName": f"Customer {number}, Ltd",
                "CustomerDomainName": f"customer{number}.onmicrosoft.com", "CustomerCountry": "US",
                "MpnId": "1234567", "Tier2MpnId": "", "InvoiceNumber": "", "ProductId": "DZH318Z0BPS6",
                "SkuId": "0001", "AvailabilityId": "DZH318Z0BPS6", "SkuName": "Azure plan", "ProductName": "Azure plan",
                "PublisherName": "Microsoft", "PublisherId": "", "SubscriptionDescription": "Azure plan",
                "SubscriptionId": subscription, "ChargeStartDate": month.isoformat(),
                "ChargeEndDate": (month + timedelta(days=days - 1)).isoformat(), "UsageDate": used.isoformat(),
                "MeterType": f"1 {unit}", "MeterCategory": category, "MeterId": str(uuid.uuid5(uuid.NAMESPACE_URL, meter)),
                "MeterSubCategory": sub_category, "MeterName": meter, "MeterRegion": "US East", "Unit": unit,
                "ResourceLocation": "eastus", "ConsumedService": "Microsoft.Compute", "ResourceGroup": f"rg-{n % 7}",
                "ResourceURI": f"/subscriptions/{subscription}/resourceGroups/rg-{n % 7}/providers/"
                f"Microsoft.Compute/virtualMachines/vm-{n % 13}",
                "ChargeType": "new", "UnitPrice": str(price), "Quantity": str(quantity), "UnitType": unit,
                "BillingPreTaxTotal": str(billing), "BillingCurrency": currency, "PricingPreTaxTotal": str(pricing),
                "PricingCurrency": "USD", "ServiceInfo1": "", "ServiceInfo2": "", "Tags": '{"env":"prod"}',
                "AdditionalInfo": '{"ServiceType":"Standard_D4s_v5","VCPUs":4}', "EffectiveUnitPrice": str(price),
                "PCToBCExchangeRate": str(rate), "PCToBCExchangeRateDate": month.isoformat(),
                "EntitlementId": subscription, "EntitlementDescription": "Azure plan",
                "PartnerEarnedCreditPercentage": "15", "CreditPercentage": "0", "CreditType": "Credit Not Applied",
                "BenefitId": "", "BenefitOrderId": "", "BenefitType": "",
            }  # fmt: skip
            out.writerow([cells[name] for name in USAGE_COLUMNS])
    return total


def run_import(env: dict[str, str], path: Path, scratch: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB of the import process, and its summary line."""
    peak_file = scratch / "peak.txt"
    command = ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), sys.executable, "-m", "data_access", "import",
               "partner-center-usage", str(path)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak = int(peak_file.read_text().split()[-1]) / 1024
    return seconds, peak, done.stdout.strip().splitlines()[-1]


def stored(url: str) -> tuple[int, Decimal]:
    engine = create_engine(url)
    with engine.connect() as connection:
        count, units = connection.execute(
            select(func.count(), func.sum(PartnerCenterLine.cost_units)).select_from(PartnerCenterLine)
        ).one()
    engine.dispose()
    return int(count), (Decimal(units or 0) / 100_000_000).quantize(PLACES)


def psql(server: str, command: str) -> None:
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(command)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="repeatable; default 100000 and 1000000")
    parser.add_argument("--pg", help="a PostgreSQL server URL (no database) to run on as well")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", type=date.fromisoformat, default=date(2026, 11, 1))
    args = parser.parse_args()
    sizes = args.lines or [100_000, 1_000_000]
    backends = ["sqlite", "postgresql"] if args.pg else ["sqlite"]
    rows = ["| backend | lines | file MiB | write file s | import s | lines/s | peak RSS of the import MiB |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pc-") as scratch_name:
        scratch = Path(scratch_name)
        for lines in sizes:
            path = scratch / f"usage-{lines}.csv"
            started = time.perf_counter()
            total = write_file(path, lines, args.seed, args.month)
            written = time.perf_counter() - started
            size = path.stat().st_size / 2**20
            print(f"wrote {lines:,} lines ({size:.0f} MiB) in {written:.1f} s", flush=True)
            for backend in backends:
                name = f"bench_pc_{os.getpid()}_{lines}"
                if backend == "sqlite":
                    url = f"sqlite:///{scratch / f'{name}.sqlite3'}"
                else:
                    psql(args.pg, f"CREATE DATABASE {name}")
                    url = f"{args.pg}/{name}"
                env = {**os.environ, "DATABASE_URL": url}
                try:
                    subprocess.run([sys.executable, "-m", "data_access", "init"], cwd=ROOT, env=env, check=True,
                                   capture_output=True)  # fmt: skip
                    seconds, peak, summary = run_import(env, path, scratch)
                    count, cost = stored(url)
                    if (count, cost) != (lines, total):
                        raise SystemExit(
                            f"{backend}: stored {count} lines, {cost}; the file has {lines}, {total}"
                        )
                    rows.append(f"| {backend} | {lines:,} | {size:.0f} | {written:.1f} | {seconds:.1f} | "
                                f"{lines / seconds:,.0f} | {peak:.0f} |")  # fmt: skip
                    print(summary, flush=True)
                    print(rows[-1], flush=True)
                finally:
                    if backend == "sqlite":
                        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
                    else:
                        psql(args.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            path.unlink()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
