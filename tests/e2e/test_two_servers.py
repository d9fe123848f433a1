"""Two real app servers on one PostgreSQL database, as a team runs them behind a proxy: a ticket opened through
one server shows on the other server's next rerun, well inside its cache's TTL, and a sign-in made on one server
is honoured by the other (a server going away costs a user a reload, not a sign-in)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from data_access.enums import TicketStatus
from data_access.models import Ticket
from tests.e2e.helpers import (
    open_expander,
    pick_in,
    read,
    screenshots,
    settle,
    sign_in,
    wait_for_heading,
    wait_for_session_cookie,
)
from tests.support.databases import postgres_server_url
from tests.support.environment import IN_CI, POSTGRES_HINT, ROOT, TEST_DATABASE_URL
from tests.support.servers import Server, _free_port, running_server, seed_demo

pytestmark = pytest.mark.browser

shot = screenshots("two-servers")
# Well under ui/cache.py's TTL (5 minutes): only the data version can explain a refresh this soon.
OVERVIEW_TTL_SECONDS = 60


@pytest.fixture(scope="module")
def two_servers(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[tuple[Server, Server]]:
    if not TEST_DATABASE_URL:
        pytest.skip(POSTGRES_HINT)
    name = f"bd_two_servers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_server_url(TEST_DATABASE_URL, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = postgres_server_url(TEST_DATABASE_URL, name)
    folder = tmp_path_factory.mktemp("two-servers")
    auth_file = folder / "auth.yaml"  # one user store for both, as shared storage gives a team
    shutil.copyfile(ROOT / "auth.yaml", auth_file)
    try:
        seed_demo(database_url, auth_file)
        with (
            running_server(folder, database_url, auth_file) as first,
            running_server(folder, database_url, auth_file) as second,
        ):
            yield first, second
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_tickets(server: Server) -> int:
    def query() -> int:
        from data_access.db import read_session

        closed = [TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value]
        with read_session() as session:
            return int(session.scalar(select(func.count()).where(Ticket.status.not_in(closed))) or 0)

    return read(server, query)


def metric(page: Any, label: str) -> int:
    card = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return int(card.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def test_a_ticket_opened_on_one_server_shows_on_the_others_next_rerun(
    two_servers: tuple[Server, Server], browser: Any, page: Any
) -> None:
    first, second = two_servers
    assert first.url != second.url and first.database_url == second.database_url

    # A helpdesk agent on the first server gets the new-ticket form ready.
    page.goto(f"{first.url}/tickets")
    sign_in(page, "helpdesk")
    wait_for_heading(page, "Tickets")
    wait_for_session_cookie(page)
    settle(page)
    open_expander(page, "New ticket", "Create ticket")
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_role("button", name="Create ticket"))
    customer_id = read(first, lambda: _first_customer())
    title = f"Two servers {uuid.uuid4().hex[:8]}: invoice total looks wrong"
    form.get_by_role("textbox", name="Customer ID").fill(customer_id)
    form.get_by_role("textbox", name="Title").fill(title)
    form.get_by_role("textbox", name="Description").fill("Opened on the first server.")
    pick_in(form, page, "Category", "billing question")

    # A global admin on the second server reads the overview: it caches its figures.
    other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = other_context.new_page()
        other.set_default_timeout(30_000)
        other.goto(f"{second.url}/overview")
        sign_in(other, "admin")
        wait_for_heading(other, "Overview")
        settle(other)
        cached_at = time.monotonic()
        before = metric(other, "Open tickets")
        assert before == open_tickets(second)
        shot(other, "1-second-server-before")

        form.get_by_role("button", name="Create ticket").click()
        page.locator('[data-testid="stAlert"]').filter(has_text="created.").first.wait_for()
        shot(page, "2-first-server-ticket-created")
        assert open_tickets(first) == before + 1

        # The next rerun on the second server (a click in its navigation) shows it.
        other.locator('[data-testid="stSidebarNav"] a').filter(has_text="Overview").click()
        other.wait_for_function(
            """([label, expected]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
                 .some(m => m.innerText.includes(label)
                       && m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === String(expected))""",
            arg=["Open tickets", before + 1],
            timeout=15_000,
        )
        assert time.monotonic() - cached_at < OVERVIEW_TTL_SECONDS, (
            "too slow to tell the version from the TTL"
        )
        shot(other, "3-second-server-after")
    finally:
        shot(other, "second-server-last")
        other_context.close()

    # The helpdesk agent's sign-in cookie works on the second server too (shared cookie key, users in the database).
    page.goto(f"{second.url}/tickets")
    wait_for_heading(page, "Tickets")
    assert page.get_by_role("button", name="Sign in").count() == 0
    shot(page, "4-same-user-on-second-server")


def _first_customer() -> str:
    from data_access.db import read_session
    from data_access.models import Customer

    with read_session() as session:
        return str(session.scalar(select(Customer.external_id).order_by(Customer.id).limit(1)))


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def proxy(
    two_servers: tuple[Server, Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """deploy/nginx.conf in front of the two servers, changed only as a test must: the upstream addresses are the
    test servers, plain HTTP on a free port instead of TLS (no certificate here), no Secure flag on the route
    cookie (plain HTTP), and an access log that records which server each request went to. Yields the proxy's
    URL and that log."""
    if not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("CI needs nginx for the proxy test (.ci/run installs nginx-core).")
        pytest.skip("The proxy test needs nginx: apt-get install nginx-core")
    folder = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    upstreams = "".join(f"    server {server.url.removeprefix('http://')};\n" for server in two_servers)
    config = re.sub(r"(?m)^    server 10\.0\.0\.\d+:8501[^\n]*\n", "", config)
    config = config.replace("    keepalive 32;", upstreams + "    keepalive 32;")
    config = re.sub(r"server \{\n    listen 80;.*?\n\}\n", "", config, count=1, flags=re.S)
    config = config.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    config = re.sub(r"(?m)^    ssl_certificate.*\n", "", config)
    config = config.replace("HttpOnly; Secure;", "HttpOnly;")
    assert "10.0.0." not in config and "ssl" not in config.split("map $cookie", 1)[1].replace("ssl_", "")
    (folder / "billing-desk.conf").write_text(config)
    temp = folder / "temp"
    temp.mkdir()
    access_log = folder / "access.log"
    (folder / "nginx.conf").write_text(
        f"""pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format routes '$cookie_billing_desk_route $upstream_addr $request_uri';
    access_log {access_log} routes;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {folder}/billing-desk.conf;
}}
"""
    )
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        yield url, access_log
    finally:
        process.terminate()
        process.wait(timeout=10)


def upstreams_by_route(log: Path) -> dict[str, set[str]]:
    """Route cookie -> the app servers its requests went to (requests that carried a route cookie)."""
    seen: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        cookie, upstream, _uri = line.split(" ", 2)
        if cookie != "-" and upstream != "-":
            seen.setdefault(cookie, set()).add(upstream)
    return seen


def test_the_example_nginx_config_keeps_each_browser_on_one_server_and_spreads_browsers_over_both(
    two_servers: tuple[Server, Server], proxy: tuple[str, Path], browser: Any
) -> None:
    url, log = proxy
    servers = {server.url.removeprefix("http://") for server in two_servers}

    # Browsers sign in and work through the proxy: the form, the websocket, a reload with the sign-in cookie.
    routes = []
    for number in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            tab = context.new_page()
            tab.set_default_timeout(45_000)
            tab.goto(f"{url}/tickets")
            sign_in(tab, "helpdesk")
            wait_for_heading(tab, "Tickets")
            wait_for_session_cookie(tab)
            settle(tab)
            tab.locator('[data-testid="stSidebarNav"] a').filter(has_text="Customers").click()
            wait_for_heading(tab, "Customers")
            settle(tab)
            tab.reload()
            wait_for_heading(tab, "Customers")
            assert tab.get_by_role("button", name="Sign in").count() == 0
            if number == 0:
                shot(tab, "5-through-nginx")
            routes.append(next(c["value"] for c in context.cookies() if c["name"] == "billing_desk_route"))
        finally:
            context.close()

    # Many more browsers, each with its own route cookie, asking three times.
    for number in range(40):
        for _ in range(3):
            request = urllib.request.Request(f"{url}/_stcore/health")
            request.add_header("Cookie", f"billing_desk_route=browser-{number}")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        routes.append(f"browser-{number}")

    seen = upstreams_by_route(log)
    for route in routes:
        assert len(seen[route]) == 1, (route, seen[route])  # sticky: one browser, one server, every request
        assert seen[route] <= servers, seen[route]
    assert set().union(*(seen[route] for route in routes)) == servers, seen  # and both servers take browsers
