"""Time each page's render under Streamlit's AppTest, cold (caches empty) and warm, against a database.

    .venv/bin/python bench/pages.py --database-url sqlite:///bench/results/aging-1000000.sqlite3

Build the database first with `bench/aging.py --invoices 1000000 --keep` (SQLite file under bench/results/,
PostgreSQL database bench_aging_1000000). Runs as the `admin` demo user, so every figure on a page is drawn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "overview": "app_pages/overview.py",
    "receivables": "app_pages/receivables.py",
    "customers": "app_pages/customers.py",
    "microsoft-payables": "app_pages/microsoft_payables.py",
}


def render_seconds(page: str, *, cold: bool) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    app.session_state["authentication_status"] = True
    app.session_state["username"] = "admin"
    if page != "overview":
        app.run()
        if cold:
            st.cache_data.clear()
        app.switch_page(PAGES[page])
    elif not cold:
        app.run()
    started = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"{page}: {app.exception[0].message}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("BILLING_DESK_LOGIN_DELAY", "0")
    print("| page | cold median s | warm median s |")
    print("|---|---|---|")
    for page in args.pages.split(","):
        if not (ROOT / PAGES[page]).exists():
            continue
        cold = [render_seconds(page, cold=True) for _ in range(args.repeat)]
        warm = [render_seconds(page, cold=False) for _ in range(args.repeat)]
        print(f"| {page} | {statistics.median(cold):.2f} | {statistics.median(warm):.2f} |", flush=True)


if __name__ == "__main__":
    main()
