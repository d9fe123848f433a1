"""Sign-in and first password change, timed as a browser sees them (issue 14, item 2).

From the click on "Sign in" (or "Change password") to the last element the page draws: a MutationObserver in the
page notes the time of every DOM change; the page has settled when no script runs (no status widget), no
skeleton placeholder is left, and nothing changed for `--quiet` seconds; the time reported is that of the last
change. Several runs, each in a fresh browser context (no cookie, a new Streamlit session), median reported.

By default the bench makes its own fresh demo database (`python -m data_access init` + `seed --demo`, what
`make run` does), a copy of auth.yaml, and starts `streamlit run dashboard.py` from this checkout with the
settings a user gets: BILLING_DESK_LOGIN_DELAY is taken out of the environment (the default, 0.7 s, applies).
`--url` times a server that is already running instead (repeatable, to compare two trees).

    .venv/bin/python bench/signin.py                       # 7 sign-ins as billing, 3 first password changes
    .venv/bin/python bench/signin.py --user sales --runs 5 --path receivables
    .venv/bin/python bench/signin.py --url http://127.0.0.1:8501 --no-password-change

Needs playwright and Debian's chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Every DOM change stamps window.__lastChange (ms since the document's time origin).
WATCH = """window.__lastChange = performance.now();
new MutationObserver(() => { window.__lastChange = performance.now(); })
  .observe(document, {childList: true, subtree: true, characterData: true, attributes: true});"""
TEMPORARY = re.compile(r"Temporary password \(shown once\): (\S+)")


def settled(page: Any, quiet: float, timeout: float = 60.0) -> float:
    """Wait until the page has settled; the time (performance.now(), ms) of its last DOM change."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        skeletons = page.locator('[data-testid="stSkeleton"]').count()
        now, last = page.evaluate("[performance.now(), window.__lastChange]")
        if not running and not skeletons and now - last > quiet * 1000:
            return float(last)
        page.wait_for_timeout(50)
    raise TimeoutError("the page never settled")


def heading(page: Any) -> str:
    first = page.locator("h1").first
    return first.inner_text() if first.count() else ""


def time_signin(
    browser: Any, url: str, user: str, password: str, path: str, quiet: float
) -> tuple[float, str]:
    """Seconds from the click on "Sign in" to the first page's last change; the page's heading and URL."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    try:
        page.goto(f"{url}/{path}")
        page.get_by_role("button", name="Sign in").wait_for()
        settled(page, 1.0)
        form = page.locator('[data-testid="stForm"]')
        form.get_by_role("textbox", name="Username").fill(user)
        form.get_by_role("textbox", name="Password", exact=True).fill(password)
        clicked = page.evaluate("performance.now()")
        form.get_by_role("button", name="Sign in").click()
        page.wait_for_timeout(300)
        last = settled(page, quiet)
        return (last - clicked) / 1000, f"{heading(page)!r} at {page.url}"
    finally:
        context.close()


def time_password_change(
    browser: Any, url: str, user: str, temporary: str, quiet: float
) -> tuple[float, str]:
    """A new user's first sign-in: with the temporary password, then the change; seconds from the click on
    "Change password" to the first page's last change."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        settled(page, 1.0)
        form = page.locator('[data-testid="stForm"]')
        form.get_by_role("textbox", name="Username").fill(user)
        form.get_by_role("textbox", name="Password", exact=True).fill(temporary)
        form.get_by_role("button", name="Sign in").click()
        page.get_by_role("textbox", name="Current password").wait_for()
        settled(page, 1.0)
        new = "a-long-new-password-" + user
        page.get_by_role("textbox", name="Current password").fill(temporary)
        page.get_by_role("textbox", name="New password (at least", exact=False).fill(new)
        page.get_by_role("textbox", name="New password again").fill(new)
        clicked = page.evaluate("performance.now()")
        page.get_by_role("button", name="Change password").click()
        page.wait_for_timeout(300)
        last = settled(page, quiet)
        return (last - clicked) / 1000, f"{heading(page)!r} at {page.url}"
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_server(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh demo database and user store in `folder`, and `streamlit run dashboard.py` over them with the
    user's default settings; yields its URL and the environment the CLI needs to reach the same data."""
    auth_file = folder / "auth.yaml"
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("BILLING_DESK_", "DATABASE_"))
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{folder / 'billing.sqlite3'}",
        "BILLING_DESK_AUTH_FILE": str(auth_file),
        "BILLING_DESK_COOKIE_KEY": "bench-signin-key-" + "1" * 32,
    }
    for args in (["init"], ["seed", "--demo", "--if-empty"]):
        subprocess.run([sys.executable, "-m", "data_access", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
    port = _free_port()
    server_env = env | {
        "STREAMLIT_SERVER_PORT": str(port),
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    with (folder / "server.log").open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard.py"], cwd=ROOT,
                                   env=server_env, stdout=log, stderr=log)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    time.sleep(0.3)
            yield url, env
        finally:
            process.terminate()
            process.wait(timeout=20)


def new_user(env: dict[str, str], username: str) -> str:
    """Add a Billing admin through the CLI, as a user-management admin would; their temporary password."""
    added = subprocess.run(
        [sys.executable, "-m", "data_access", "users", "add", "--name", f"Bench {username}", "--role",
         "Billing admin", username],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    found = TEMPORARY.search(added.stdout)
    if found is None:
        raise RuntimeError(f"no temporary password in {added.stdout!r}")
    return found.group(1)


def summary(label: str, seconds: list[float]) -> str:
    return (
        f"{label}: median {statistics.median(seconds):.2f} s over {len(seconds)} runs "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", action="append", help="time this running server (repeatable) instead of a fresh one"
    )
    parser.add_argument("--user", default="billing", help="demo user (password <user>-demo); default billing")
    parser.add_argument("--path", default="", help="URL path to sign in on (default: the root)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--changes", type=int, default=3, help="first password changes to time (fresh server)"
    )
    parser.add_argument("--no-password-change", action="store_true")
    parser.add_argument(
        "--quiet", type=float, default=1.5, help="seconds without a DOM change that mean settled"
    )
    options = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-signin-") as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with contextmanager_or_urls(options.url, Path(scratch)) as (urls, env):
            for url in urls:
                times = []
                for run in range(options.runs):
                    seconds, landed = time_signin(browser, url, options.user, f"{options.user}-demo",
                                                  options.path, options.quiet)  # fmt: skip
                    times.append(seconds)
                    print(f"{url} sign-in {run + 1}: {seconds:.2f} s -> {landed}", flush=True)
                print(summary(f"{url} sign-in as {options.user} to a settled page", times), flush=True)
            if env is not None and not options.no_password_change:
                times = []
                for run in range(options.changes):
                    username = f"bench{run + 1}"
                    seconds, landed = time_password_change(browser, urls[0], username, new_user(env, username),
                                                           options.quiet)  # fmt: skip
                    times.append(seconds)
                    print(
                        f"{urls[0]} first password change {run + 1}: {seconds:.2f} s -> {landed}", flush=True
                    )
                print(summary(f"{urls[0]} first password change to a settled page", times), flush=True)
        browser.close()


@contextmanager
def contextmanager_or_urls(
    urls: list[str] | None, scratch: Path
) -> Iterator[tuple[list[str], dict[str, str] | None]]:
    """The servers given, or a fresh demo server (with the environment its CLI needs)."""
    if urls:
        yield urls, None
        return
    with demo_server(scratch) as (url, env):
        yield [url], env


if __name__ == "__main__":
    main()
