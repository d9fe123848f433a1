"""Load: concurrent signed-in browser sessions clicking through their pages against one server on PostgreSQL.

    .venv/bin/python bench/load.py                              # 20 sessions for 120 s, 2000 demo customers
    .venv/bin/python bench/load.py --sessions 5 --seconds 120
    .venv/bin/python bench/load.py --sessions 20 --browsers 2 --keep

Not run by the tests or CI. Needs PostgreSQL (the `postgres` user on 127.0.0.1:5432, trust auth, allowed to
CREATE DATABASE; `--pg` names another server), Debian's chromium at /usr/bin/chromium and the dev requirements
(playwright). Everything it sends goes to 127.0.0.1.

What it does:

1. Creates a fresh PostgreSQL database `bench_load_<stamp>_<pid>` and fills it with the real CLI:
   `python -m data_access init`, then `seed --demo --customers N --seed S`. The database is dropped at the end
   unless `--keep` is given.
2. Starts ONE `streamlit run dashboard.py` server on a free loopback port, with `DATABASE_URL` pointing at it, a
   temporary copy of auth.yaml (`BILLING_DESK_AUTH_FILE`), a fixed cookie key, `BILLING_DESK_LOGIN_DELAY=0`,
   headless, no usage statistics and no file watcher (as in production; other people editing the checkout must
   not reach the server).
3. Opens one chromium (or `--browsers K`) through playwright's async API, with one browser context (own cookies)
   per session, all in this one process. Sessions start `--ramp` seconds apart and each signs in through the
   real form as a demo user, the roles taken in turn: admin, billing, helpdesk, sales, usermgr. Sign-in time
   (form to first page finished) is reported apart; a submit that a rerun swallowed is sent again and counted.
4. When every session has signed in (or failed to), the measured window of `--seconds` starts. Each session
   then clicks the links its own navigation shows, in a shuffled cycle that never repeats the current page, with
   a think time drawn between `--think-min` and `--think-max` seconds, until the window ends; a page still
   loading then is allowed to finish and counts.

Page time: from the click on the navigation link until the page has finished running. Finished means Streamlit's
script state on the app root (`data-test-script-state`) is `notRunning` (the "running" status gone) and an `h1`
with the page's title is on the page. The wait polls every 50 ms, so times carry up to ~50 ms of polling.

Errors counted:
- an `stException` element on a finished page;
- a page that has not finished within `--page-timeout` seconds; the session then reloads the app (its cookie
  signs it in again) and goes on; if that fails too, the session is lost;
- the app's websocket (`/_stcore/stream`) closing, or the connection state leaving `CONNECTED`, while the
  session is in use;
- a crashed browser tab; a session that cannot sign in (it is then not held);
- each Python traceback in the server's log (a chained one once), reported with its frames in the project and
  its exception and DETAIL lines.
Uncaught JavaScript errors in the pages are counted separately (they are not the server's).

Resources over the measured window, read from /proc: CPU seconds of the server process, of the browser side
(every process this script started except the server: playwright's driver and chromium), of the PostgreSQL
backends connected to the bench database, and of the machine as a whole (the rest is whatever else runs on the
machine, with the load average at the window's start and end). Each is given in cores (CPU seconds per
second of wall time) and as a share of the machine's cores, so a reader can tell server time from client time.
The server's peak resident set is its VmHWM (/proc/<pid>/status), read before it is stopped.

Output: a markdown table per page and overall (count, median, p95, max, errors) with the run's facts below it,
printed and written to bench/results/load-<stamp>.md (git-ignored); the server log is kept beside it, and so is
a screenshot of each failed sign-in or page (load-<stamp>-s<session>-....png).

On 2 cores the browsers compete with the server: 20 chromium tabs take more CPU than the server does, so page
times under load include client time. Read them with the CPU lines, and run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
USERS = ["admin", "billing", "helpdesk", "sales", "usermgr"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

# True once the page has finished running: script state notRunning and the title's h1 drawn (or an exception).
FINISHED_JS = """
title => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return false;
    const exceptions = document.querySelectorAll('[data-testid="stException"]').length;
    const titled = [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title);
    const done = app.getAttribute('data-test-script-state') === 'notRunning';
    const connection = app.getAttribute('data-test-connection-state');
    if (connection !== 'CONNECTED' && connection !== null) return {titled, exceptions, connection};
    if (done && (titled || exceptions > 0)) return {titled, exceptions, connection};
    return false;
}
"""
# "in" once the sidebar's Sign out button is there; "form" while the sign-in form waits, idle, for a submit.
SIGNIN_STATE_JS = """
() => {
    const buttons = [...document.querySelectorAll('[data-testid="stSidebarUserContent"] button')];
    if (buttons.some(b => b.innerText.trim() === 'Sign out')) return 'in';
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
    return idle && document.querySelector('input[aria-label="Username"]') ? 'form' : false;
}
"""
NAVIGATION_JS = """
() => [...document.querySelectorAll('[data-testid="stSidebarNav"] a')].map(a => ({
    href: a.getAttribute('href'),
    title: a.innerText.trim().split('\\n').pop().trim(),
}))
"""


# --- processes and /proc ------------------------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds in user and system mode) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))):
            children[stat[0]].append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def machine_busy_seconds() -> float:
    """CPU seconds every core spent on anything but idle and I/O wait, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    return {pid: stat[1] for pid in pids if (stat := proc_stat(pid))}


def backend_pids(database_url: str) -> set[int]:
    """PostgreSQL backends connected to the bench database (the server runs on this machine)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (url.database,)
        ).fetchall()
    return {int(pid) for (pid,) in rows}


@dataclass
class CpuSnapshot:
    at: float
    server: float
    clients: dict[int, float]  # pid -> CPU seconds of this script's other descendants
    backends: dict[int, float]  # pid -> CPU seconds of PostgreSQL backends on the bench database
    machine: float
    load: str

    @classmethod
    def take(cls, server_pid: int, database_url: str) -> CpuSnapshot:
        server = proc_stat(server_pid)
        return cls(
            at=time.monotonic(),
            server=server[1] if server else 0.0,
            clients=cpu_seconds(descendants(os.getpid()) - {server_pid}),
            backends=cpu_seconds(backend_pids(database_url)),
            machine=machine_busy_seconds(),
            load=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        )


@dataclass
class CpuUse:
    wall: float
    server: float
    clients: float
    backends: float
    machine: float
    load: tuple[str, str]

    @classmethod
    def between(cls, start: CpuSnapshot, end: CpuSnapshot) -> CpuUse:
        # Processes that ended inside the window lose their last seconds: chromium's stay up throughout, and so
        # do the server's pooled database connections (an overflow connection closed early is not counted).
        def grown(before: dict[int, float], after: dict[int, float]) -> float:
            return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

        return cls(
            wall=end.at - start.at,
            server=end.server - start.server,
            clients=grown(start.clients, end.clients),
            backends=grown(start.backends, end.backends),
            machine=end.machine - start.machine,
            load=(start.load, end.load),
        )

    def cell(self, seconds: float) -> str:
        cores = seconds / self.wall
        return f"{seconds:.0f} CPU s = {cores:.2f} cores ({cores / CORES:.0%} of {CORES})"


# --- database and server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def bench_database(pg_admin: str, *, keep: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards unless `keep`."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"bench_load_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    admin = make_url(pg_admin).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_env(database_url: str, folder: Path, port: int) -> dict[str, str]:
    auth_file = folder / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BILLING_DESK_AUTH_FILE": str(auth_file),
        "BILLING_DESK_COOKIE_KEY": "load-bench-key-" + "7" * 32,
        "BILLING_DESK_LOGIN_DELAY": "0",
        "STREAMLIT_SERVER_PORT": str(port),
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    env.pop("DATABASE_READ_URL", None)
    return env


def seed(env: dict[str, str], customers: int, seed_value: int) -> str:
    """Schema and demo data through the real CLI; returns the CLI's summary line."""
    subprocess.run([sys.executable, "-m", "data_access", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "data_access", "seed", "--demo", "--customers", str(customers),
         "--seed", str(seed_value)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


@contextmanager
def streamlit_server(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    url = f"http://127.0.0.1:{env['STREAMLIT_SERVER_PORT']}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit(
                            f"streamlit did not start:\n{log_path.read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.3)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tracebacks(log_text: str) -> list[str]:
    """Each traceback in the server log (a chained one counts once) as its project frames, innermost last,
    then the final exception line and its DETAIL line if any."""
    found = []
    for record in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", log_text):
        if "Traceback (most recent call last):" not in record:
            continue
        lines = record.splitlines()
        frames = [
            f"{Path(m.group(1)).relative_to(ROOT)}:{m.group(2)}"
            for line in lines
            if (m := re.match(r'\s*File "([^"]+)", line (\d+)', line))
            and m.group(1).startswith(str(ROOT))
            and "/.venv/" not in m.group(1)
        ]
        messages = [
            line.strip()[:160]
            for line in lines
            if re.match(r"\(?[\w.]+(Error|Exception|Violation)\b|DETAIL:", line)
        ]
        found.append(" > ".join(dict.fromkeys(frames)) + ": " + " ".join(messages[-3:]))
    return found


# --- sessions -----------------------------------------------------------------------------------------------------


@dataclass
class Visit:
    title: str
    seconds: float
    error: str | None = None


@dataclass
class Session:
    number: int
    username: str
    signin_seconds: float | None = None
    signin_retries: int = 0
    visits: list[Visit] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    js_errors: int = 0
    lost: str | None = None
    in_use: bool = False
    pages: list[dict[str, str]] = field(default_factory=list)
    context: Any = None


class Finished(Exception):
    pass


async def wait_finished(page: Any, title: str, timeout_s: float) -> dict[str, Any]:
    handle = await page.wait_for_function(FINISHED_JS, arg=title, polling=50, timeout=timeout_s * 1000)
    return dict(await handle.json_value())


def judge(session: Session, visit: Visit, outcome: dict[str, Any]) -> None:
    if outcome.get("connection") not in ("CONNECTED", None):
        visit.error = f"connection {outcome['connection']}"
    elif outcome["exceptions"]:
        visit.error = "stException"
    if visit.error:
        session.errors[visit.error] += 1


async def sign_in(page: Any, url: str, session: Session, timeout_s: float) -> None:
    """Through the real form. A submit that a rerun swallowed (the idle form still there two seconds later, no
    message) is sent again, at most three times in all, and counted; an exception shown is counted as an error."""
    started = time.perf_counter()
    deadline = started + timeout_s

    def left_ms() -> float:
        return max(1.0, deadline - time.perf_counter()) * 1000

    async def state() -> str:
        handle = await page.wait_for_function(SIGNIN_STATE_JS, polling=100, timeout=left_ms())
        return str(await handle.json_value())

    page.set_default_timeout(timeout_s * 1000)
    await page.goto(url, timeout=left_ms())
    for attempt in range(3):
        if await state() == "in":
            break
        if attempt:
            await asyncio.sleep(2)
            if await state() == "in":
                break
            session.signin_retries += 1
        with suppress(Exception):
            await page.get_by_role("textbox", name="Username").fill(session.username, timeout=10_000)
            await page.get_by_role("textbox", name="Password", exact=True).fill(
                f"{session.username}-demo", timeout=10_000
            )
            await page.get_by_role("button", name="Sign in").click(timeout=10_000)
        share = (deadline - time.perf_counter()) / (3 - attempt)
        try:
            await (
                page.locator('[data-testid="stSidebarUserContent"]')
                .get_by_role("button", name="Sign out")
                .wait_for(timeout=max(1.0, share) * 1000)
            )
            break
        except Exception:
            if await page.locator('[data-testid="stException"]').count():
                session.errors["stException at sign-in"] += 1
            elif await page.locator('[data-testid="stAlert"]').count():
                raise
    await page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=left_ms())
    session.pages = await page.evaluate(NAVIGATION_JS)
    outcome = await wait_finished(page, session.pages[0]["title"], timeout_s)
    if outcome.get("exceptions"):
        session.errors["stException at sign-in"] += 1
    session.signin_seconds = time.perf_counter() - started


async def recover(page: Any, url: str, session: Session, timeout_s: float) -> bool:
    """After a page that did not finish: reload the app (the cookie signs the session in again)."""
    try:
        await page.goto(url, timeout=timeout_s * 1000)
        await (
            page.locator('[data-testid="stSidebarUserContent"]')
            .get_by_role("button", name="Sign out")
            .wait_for(timeout=timeout_s * 1000)
        )
        await wait_finished(page, session.pages[0]["title"], timeout_s)
    except Exception as exc:
        session.lost = f"recovery failed: {type(exc).__name__}"
        return False
    return True


async def keep_screenshot(page: Any, args: argparse.Namespace, name: str) -> None:
    """What the session saw when it failed, kept beside the results."""
    with suppress(Exception):
        await page.screenshot(path=str(RESULTS / f"load-{args.stamp}-{name}.png"), timeout=10_000)


async def run_session(
    session: Session,
    browser: Any,
    url: str,
    args: argparse.Namespace,
    go: asyncio.Event,
    window: dict[str, float],
) -> None:
    rng = random.Random(args.seed * 1000 + session.number)
    await asyncio.sleep(session.number * args.ramp)
    session.context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await session.context.new_page()

    def on_close(_: Any) -> None:
        if session.in_use:
            session.errors["websocket closed"] += 1

    def on_websocket(ws: Any) -> None:
        if "/_stcore/stream" in ws.url:
            ws.on("close", on_close)

    def on_crash(_: Any) -> None:
        session.errors["tab crashed"] += 1
        session.lost = "tab crashed"

    def on_page_error(_: Any) -> None:
        session.js_errors += 1

    page.on("websocket", on_websocket)
    page.on("crash", on_crash)
    page.on("pageerror", on_page_error)
    try:
        try:
            session.in_use = True
            await sign_in(page, url, session, args.signin_timeout)
        except Exception as exc:
            session.lost = f"sign-in failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            session.errors["sign-in failed"] += 1
            await keep_screenshot(page, args, f"s{session.number}-signin")
            return
        finally:
            session.in_use = False
        await go.wait()
        session.in_use = True
        current = session.pages[0]["title"]
        cycle: list[dict[str, str]] = []
        while time.monotonic() < window["end"] and not session.lost:
            if len(session.pages) < 2:
                break
            if not cycle:
                cycle = [p for p in session.pages if p["title"] != current]
                rng.shuffle(cycle)
            target = cycle.pop()
            if target["title"] == current:
                continue
            link = page.locator(f'[data-testid="stSidebarNav"] a[href="{target["href"]}"]')
            started = time.perf_counter()
            visit = Visit(target["title"], 0.0)
            try:
                await link.click(timeout=args.page_timeout * 1000)
                outcome = await wait_finished(page, target["title"], args.page_timeout)
                visit.seconds = time.perf_counter() - started
                judge(session, visit, outcome)
            except Exception as exc:
                visit.seconds = time.perf_counter() - started
                visit.error = "timeout" if "Timeout" in type(exc).__name__ else type(exc).__name__
                session.errors[visit.error] += 1
                session.visits.append(visit)
                await keep_screenshot(page, args, f"s{session.number}-{len(session.visits)}-{visit.error}")
                session.in_use = False
                if session.lost or not await recover(page, url, session, args.page_timeout):
                    break
                session.in_use = True
                current = session.pages[0]["title"]
                continue
            session.visits.append(visit)
            current = target["title"]
            await asyncio.sleep(rng.uniform(args.think_min, args.think_max))
        if not session.lost:
            state = await page.evaluate(
                "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-connection-state')"
            )
            if state != "CONNECTED":
                session.errors[f"connection {state} at the end"] += 1
    except Exception as exc:
        session.lost = session.lost or f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        session.in_use = False


async def drive(
    url: str, server_pid: int, database_url: str, args: argparse.Namespace
) -> tuple[list[Session], CpuUse, dict[str, Any]]:
    from playwright.async_api import async_playwright

    sessions = [Session(n, USERS[n % len(USERS)]) for n in range(args.sessions)]
    go = asyncio.Event()
    window = {"end": math.inf}
    async with async_playwright() as playwright:
        browsers = [
            await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _ in range(args.browsers)
        ]
        tasks = [
            asyncio.create_task(run_session(s, browsers[s.number % len(browsers)], url, args, go, window))
            for s in sessions
        ]
        while not all(s.signin_seconds is not None or s.lost for s in sessions):
            await asyncio.sleep(0.2)
        start = CpuSnapshot.take(server_pid, database_url)
        window["end"] = time.monotonic() + args.seconds
        go.set()
        peak_clients_rss = 0
        while not all(t.done() for t in tasks):
            await asyncio.sleep(1)
            if time.monotonic() < window["end"]:
                peak_clients_rss = max(peak_clients_rss, clients_rss_kib(server_pid))
        end = CpuSnapshot.take(server_pid, database_url)
        for session in sessions:
            if session.context is not None:
                with suppress(Exception):
                    await session.context.close()
        for browser in browsers:
            await browser.close()
    facts = {"clients_rss_mib": peak_clients_rss / 1024, "clients": len(end.clients)}
    return sessions, CpuUse.between(start, end), facts


def clients_rss_kib(server_pid: int) -> int:
    total = 0
    for pid in descendants(os.getpid()) - {server_pid}:
        with suppress(OSError):
            total += status_kib(pid, "VmRSS")
    return total


# --- report -------------------------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def row(name: str, visits: list[Visit]) -> str:
    times = [v.seconds for v in visits if v.error is None]
    errors = sum(1 for v in visits if v.error)
    if not times:
        return f"| {name} | {len(visits)} | - | - | - | {errors} |"
    return (
        f"| {name} | {len(visits)} | {statistics.median(times):.2f} | {p95(times):.2f} | {max(times):.2f} "
        f"| {errors} |"
    )


def report(
    sessions: list[Session],
    cpu: CpuUse,
    facts: dict[str, Any],
    server_traces: list[str],
    args: argparse.Namespace,
) -> str:
    visits = [v for s in sessions for v in s.visits]
    by_page: dict[str, list[Visit]] = defaultdict(list)
    for v in visits:
        by_page[v.title].append(v)
    lines = [
        "| page | visits | median s | p95 s | max s | errors |",
        "|---|---|---|---|---|---|",
        *(row(title, by_page[title]) for title in sorted(by_page)),
        row("**all pages**", visits),
    ]
    errors: Counter[str] = Counter()
    for s in sessions:
        errors.update(s.errors)
    errors.update({"server traceback": len(server_traces)} if server_traces else {})
    signed_in = [s for s in sessions if s.signin_seconds is not None]
    held = [s for s in signed_in if not s.lost]
    signin_times = [s.signin_seconds for s in signed_in if s.signin_seconds is not None]
    by_user = Counter(s.username for s in held)
    navigation = {s.username: len(s.pages) for s in signed_in}
    lines += [
        "",
        f"- Sessions: {args.sessions} asked, {len(signed_in)} signed in, {len(held)} held to the end "
        f"({', '.join(f'{u} {by_user[u]}' for u in USERS if by_user[u])}); {args.browsers} chromium process tree(s); "
        f"pages in each user's navigation: {', '.join(f'{u} {n}' for u, n in navigation.items())}.",
        f"- Window: {cpu.wall:.0f} s measured ({args.seconds} s asked, pages in flight at the end allowed to "
        f"finish); {len(visits)} page visits = {len(visits) / cpu.wall:.2f} per second; think time "
        f"{args.think_min}-{args.think_max} s.",
        f"- Sign-in (form to first page finished, before the window; sessions {args.ramp} s apart): median "
        + (f"{statistics.median(signin_times):.2f} s, max {max(signin_times):.2f} s" if signin_times else "-")
        + f"; submits sent again after a swallowed one: {sum(s.signin_retries for s in sessions)}.",
        f"- Errors: {sum(errors.values())}"
        + (" (" + ", ".join(f"{k} {n}" for k, n in errors.most_common()) + ")" if errors else "")
        + f"; uncaught JavaScript errors in the pages: {sum(s.js_errors for s in sessions)}.",
        f"- Server process (streamlit): {cpu.cell(cpu.server)}; peak RSS (VmHWM) {facts['server_hwm_mib']:.0f} MiB.",
        f"- Browser side (playwright driver + chromium, {facts['clients']} processes): {cpu.cell(cpu.clients)}; "
        f"peak RSS sum {facts['clients_rss_mib']:.0f} MiB.",
        f"- PostgreSQL backends serving the bench database: {cpu.cell(cpu.backends)}.",
        f"- Machine: {cpu.cell(cpu.machine)}; anything else on the machine (other users' work included): "
        f"{cpu.cell(max(0.0, cpu.machine - cpu.server - cpu.clients - cpu.backends))}; load average "
        f"{cpu.load[0]} at the window's start, {cpu.load[1]} at its end.",
    ]
    for s in sessions:
        if s.lost:
            lines.append(f"- Session {s.number} ({s.username}) lost: {s.lost}")
    for trace, count in Counter(server_traces).most_common():
        lines.append(f"- Server traceback x{count}: {trace}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent signed-in sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=120, help="measured window (default 120)")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers to seed (default 2000)")
    parser.add_argument("--seed", type=int, default=7, help="demo data and click-order seed (default 7)")
    parser.add_argument("--browsers", type=int, default=1, help="chromium processes to spread sessions over")
    parser.add_argument("--ramp", type=float, default=4, help="seconds between session starts (default 4)")
    parser.add_argument(
        "--think-min", type=float, default=0.5, help="think time lower bound, s (default 0.5)"
    )
    parser.add_argument(
        "--think-max", type=float, default=1.5, help="think time upper bound, s (default 1.5)"
    )
    parser.add_argument("--page-timeout", type=float, default=60, help="a page not done by then is an error")
    parser.add_argument(
        "--signin-timeout", type=float, default=180, help="sign-in time allowed (default 180)"
    )
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help=f"PostgreSQL to create the database on ({DEFAULT_PG})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    stamp = args.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"load-{stamp}-server.log"
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        bench_database(args.pg, keep=args.keep) as db,
    ):
        env = server_env(db, Path(tmp), free_port())
        started = time.perf_counter()
        seeded = seed(env, args.customers, args.seed)
        print(f"seeded in {time.perf_counter() - started:.0f} s: {seeded}", file=sys.stderr)
        with streamlit_server(env, log_path) as (url, process):
            print(f"server at {url}, pid {process.pid}; {args.sessions} sessions", file=sys.stderr)
            sessions, cpu, facts = asyncio.run(drive(url, process.pid, db, args))
            facts["server_hwm_mib"] = status_kib(process.pid, "VmHWM") / 1024
    table = report(sessions, cpu, facts, tracebacks(log_path.read_text()), args)
    header = (
        f"# Load benchmark {stamp}\n\n"
        f"`bench/load.py --sessions {args.sessions} --seconds {args.seconds:g} --customers {args.customers} "
        f"--browsers {args.browsers} --ramp {args.ramp:g}` on PostgreSQL; {seeded}\n"
        f"Machine: {CORES} cores, Python {platform.python_version()}, server log: {log_path.name}.\n\n"
    )
    out = RESULTS / f"load-{stamp}.md"
    out.write_text(header + table + "\n")
    print(header + table)
    print(f"\nwritten to {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
