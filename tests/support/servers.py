"""Real app servers for browser tests: a free port, the environment, demo data, start and stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.environment import ROOT

CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


ARTIFACTS = ROOT / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, url: str, auth_file: Path, database_url: str) -> None:
        self.url = url
        self.auth_file = auth_file
        self.database_url = database_url


# A developer's own mail settings never reach a test server: its reminders go to its own folder.
_NEVER_INHERITED = frozenset({"BILLING_DESK_SMTP_URL", "BILLING_DESK_MAIL_FROM", "BILLING_DESK_IMAP_URL"})


def server_env(database_url: str, auth_file: Path, port: int, **extra: str) -> dict[str, str]:
    """What a `streamlit run` server of the tests needs: its database, its users and a fixed cookie key (every
    server of a team shares one), no login delay, headless."""
    inherited = {name: value for name, value in os.environ.items() if name not in _NEVER_INHERITED}
    return {
        **inherited,
        "DATABASE_URL": database_url,
        "BILLING_DESK_AUTH_FILE": str(auth_file),
        "BILLING_DESK_COOKIE_KEY": "browser-test-key-" + "1" * 32,
        "BILLING_DESK_LOGIN_DELAY": "0",
        "BILLING_DESK_OUTBOX_DIR": str(auth_file.parent / "outbox"),  # e-mail the server writes stays with it
        "STREAMLIT_SERVER_PORT": str(port),
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **extra,
    }


def seed_demo(database_url: str, auth_file: Path, *, customers: int = 40) -> None:
    env = server_env(database_url, auth_file, 0)
    for args in (["init"], ["seed", "--demo", "--customers", str(customers), "--seed", "3"]):
        subprocess.run([sys.executable, "-m", "data_access", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip


@contextmanager
def running_server(
    folder: Path, database_url: str, auth_file: Path, *, unset: tuple[str, ...] = (), **extra_env: str
) -> Iterator[Server]:
    """`streamlit run dashboard.py` on a free loopback port until the block ends; its log in `folder`. `unset`
    names variables the server must not have at all (BILLING_DESK_LOGIN_DELAY: the default users get)."""
    port = _free_port()
    env = server_env(database_url, auth_file, port, **extra_env)
    for name in unset:
        env.pop(name, None)
    log_path = folder / f"server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py"],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            else:
                pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
            yield Server(url, auth_file, database_url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
