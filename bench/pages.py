"""Time each page's render under Streamlit's AppTest, cold (caches empty) and warm, against a database.

    .venv/bin/python bench/pages.py --database-url sqlite:///bench/results/aging-1000000.sqlite3

Build the database first with `bench/aging.py --invoices 1000000 --keep` (SQLite file under bench/results/,
PostgreSQL database bench_aging_1000000). Runs as the `admin` demo user, over every page of dashboard.py's
PAGES that user may open, so every figure on a page is drawn. Every page is run once, untimed, first: a server
imports a page's libraries once, not on every cold cache. With `--json` it prints one JSON document instead
of the table: each page's cold and warm times and this process's peak resident set (bench/scale.py reads it).

With `--after-payment N` it also times the Overview N times right after a payment is recorded (one cent on an
overdue invoice, through the app's own `record_payment`, as the admin): the page has been drawn warm just before,
and nothing is cleared by hand, so what the payment made stale is what the run reads again.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.aging import peak_rss_kib  # noqa: E402
from data_access.auth.users import actor_for  # noqa: E402
from data_access.permissions import allowed  # noqa: E402

USERNAME = "admin"


def navigation(username: str = USERNAME) -> dict[str, str]:
    """URL path -> module of each page in dashboard.py's PAGES (read from its source, which cannot be imported
    outside Streamlit) that `username` may open, in navigation order."""
    tree = ast.parse((ROOT / "dashboard.py").read_text(encoding="utf-8"))
    entries = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets)
    )
    actor = actor_for(username)
    if actor is None:
        raise SystemExit(f"{username} is not an enabled user in the user store")
    return {path: module for module, _title, _icon, path, permission in entries if allowed(actor, permission)}


PAGES = navigation()


def render_seconds(page: str, *, cold: bool) -> tuple[float, float]:
    """Wall and CPU seconds (this process's, all threads) of one run of the page, cold or warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = USERNAME
    if page != "overview" or not cold:
        app.run()  # signs in and lands on the first page, untimed; caches are emptied after it when cold
    if page != "overview":
        app.switch_page(PAGES[page])
    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
    started, started_cpu = time.perf_counter(), time.process_time()
    app.run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    if app.exception:
        raise RuntimeError(f"{page}: {app.exception[0].message}")
    return elapsed, cpu


def overdue_invoices(count: int) -> list[tuple[str, str]]:
    """(customer id, invoice number) of `count` overdue invoices of different customers, most overdue first."""
    from sqlalchemy import func, select

    from data_access import clock
    from data_access.db import read_session
    from data_access.models import Customer, Invoice

    first = (
        select(Invoice.customer_id, func.min(Invoice.id).label("invoice_id"))
        .where(
            Invoice.open_cents > 1, Invoice.due_date < clock.today(), Invoice.currency == Customer.currency
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .group_by(Invoice.customer_id)
        .order_by(Invoice.customer_id)
        .limit(count)
        .subquery()
    )
    query = (
        select(Customer.external_id, Invoice.number)
        .join(first, first.c.invoice_id == Invoice.id)
        .join(Customer, Customer.id == Invoice.customer_id)
    )
    with read_session() as session:
        return [(row.external_id, row.number) for row in session.execute(query)]


def overview_after_payment(rounds: int) -> dict[str, object]:
    """Median wall and CPU seconds of the Overview's run right after a payment, its warm run just before."""
    from decimal import Decimal

    from streamlit.testing.v1 import AppTest

    from data_access import clock
    from data_access.actions.payments import record_payment

    actor = actor_for(USERNAME)
    assert actor is not None
    times: list[tuple[float, float]] = []
    for customer_id, number in overdue_invoices(rounds):
        app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
        app.session_state["authentication_status"] = True
        app.session_state["username"] = USERNAME
        app.run()  # the Overview, its caches filled
        app.run()
        record_payment(actor, customer_id=customer_id, amount=Decimal("0.01"), received_on=clock.today(),
                       invoice_number=number, reference="bench/pages.py", today=clock.today())  # fmt: skip
        started, started_cpu = time.perf_counter(), time.process_time()
        app.run()
        times.append((time.perf_counter() - started, time.process_time() - started_cpu))
        if app.exception:
            return {"error": app.exception[0].message}
    if not times:
        return {"error": "no overdue invoice to pay"}
    return {
        "wall_s": statistics.median(wall for wall, _ in times),
        "cpu_s": statistics.median(cpu for _, cpu in times),
        "rounds": len(times),
    }


def measure(page: str, repeat: int) -> dict[str, object]:
    """Median cold and warm seconds of one page (wall, and CPU of this process), or the error its render raised."""
    try:
        cold = [render_seconds(page, cold=True) for _ in range(repeat)]
        warm = [render_seconds(page, cold=False) for _ in range(repeat)]
    except RuntimeError as exc:
        return {"page": page, "error": str(exc)}
    return {
        "page": page,
        "cold_s": statistics.median(wall for wall, _ in cold),
        "cold_cpu_s": statistics.median(cpu for _, cpu in cold),
        "warm_s": statistics.median(wall for wall, _ in warm),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--json", action="store_true", help="one JSON document: pages and peak memory")
    parser.add_argument(
        "--after-payment", type=int, default=0, help="time the Overview right after N payments (median)"
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("BILLING_DESK_LOGIN_DELAY", "0")
    results = []
    if not args.json:
        print("| page | cold median s | warm median s |")
        print("|---|---|---|")
    pages = args.pages.split(",")
    for (
        page
    ) in pages:  # untimed: the first run of a page in a process imports its modules (altair, plotly...)
        render_seconds(page, cold=False)
    for page in pages:
        result = measure(page, args.repeat)
        results.append(result)
        if not args.json:
            cells = (
                [str(result["error"]), ""]
                if "error" in result
                else [f"{result['cold_s']:.2f}", f"{result['warm_s']:.2f}"]
            )
            print(f"| {page} | {' | '.join(cells)} |", flush=True)
    after = overview_after_payment(args.after_payment) if args.after_payment else None
    if after is not None and not args.json:
        print(f"| overview right after a payment | {after} |")
    if args.json:
        print(
            json.dumps(
                {"pages": results, "after_payment": after, "peak_mib": round(peak_rss_kib() / 1024, 1)}
            )
        )


if __name__ == "__main__":
    main()
