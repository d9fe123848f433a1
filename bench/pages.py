"""Time each page's render under Streamlit's AppTest, cold (caches empty) and warm, against a database.

    .venv/bin/python bench/pages.py --database-url sqlite:///bench/results/aging-1000000.sqlite3

Build the database first with `bench/aging.py --invoices 1000000 --keep` (SQLite file under bench/results/,
PostgreSQL database bench_aging_1000000). Runs as the `admin` demo user, over every page of dashboard.py's
PAGES that user may open, so every figure on a page is drawn. With `--json` it prints one JSON document instead
of the table: each page's cold and warm times and this process's peak resident set (bench/scale.py reads it).
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
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("BILLING_DESK_LOGIN_DELAY", "0")
    results = []
    if not args.json:
        print("| page | cold median s | warm median s |")
        print("|---|---|---|")
    for page in args.pages.split(","):
        result = measure(page, args.repeat)
        results.append(result)
        if not args.json:
            cells = (
                [str(result["error"]), ""]
                if "error" in result
                else [f"{result['cold_s']:.2f}", f"{result['warm_s']:.2f}"]
            )
            print(f"| {page} | {' | '.join(cells)} |", flush=True)
    if args.json:
        print(json.dumps({"pages": results, "peak_mib": round(peak_rss_kib() / 1024, 1)}))


if __name__ == "__main__":
    main()
