"""A private PostgreSQL server (and streaming standbys of it) for tests that stop, start or replicate one.

Never the machine's shared server: each cluster is made by initdb in its own temp folder, listens on a free
loopback port and a socket in that folder, and is stopped (immediate) and removed whatever the test did.
Server binaries refuse to run as root, so as root they run as the postgres OS user on folders it owns.

A test module takes the fixtures by importing them under their function names, which differ from the
fixture names so that test arguments do not shadow an import (ruff F811):
`from tests.pg_cluster import private_cluster_fixture, private_standby_fixture  # noqa: F401`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import psycopg
import pytest
from psycopg import sql

from tests.support.environment import IN_CI

HOST = "127.0.0.1"
SUPERUSER = "postgres"
OS_USER = "postgres"
ENABLE_HINT = "install the server with `apt-get install postgresql` (initdb, pg_ctl, pg_basebackup)"
NEEDED_BINARIES = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SETTINGS_FILE = "private_cluster.conf"
START_TIMEOUT_SECONDS = 30


def _candidate_bindirs() -> list[Path]:
    candidates = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        candidates.append(Path(out.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    return candidates + versions


@cache
def _find_bindir() -> Path | None:
    return next((d for d in _candidate_bindirs() if all((d / b).is_file() for b in NEEDED_BINARIES)), None)


def _runs_as_postgres() -> bool:
    return os.geteuid() == 0


def _command(bindir: Path, program: str, *args: str) -> list[str]:
    argv = [str(bindir / program), *args]
    return ["runuser", "-u", OS_USER, "--", *argv] if _runs_as_postgres() else argv


def _environment() -> dict[str, str]:
    """No libpq variable from the caller may point a tool at another server (CI sets PGHOST and PGPORT)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


@cache
def unavailable_reason() -> str | None:
    """Why private clusters cannot be made here, or None when they can."""
    if _runs_as_postgres():
        if shutil.which("runuser") is None:
            return f"running as root needs `runuser` to start PostgreSQL as {OS_USER}; {ENABLE_HINT}"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root needs the {OS_USER!r} OS user; {ENABLE_HINT}"
    bindir = _find_bindir()
    if bindir is None:
        return f"no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/*/bin): {ENABLE_HINT}"
    probe = subprocess.run(
        _command(bindir, "initdb", "--version"), capture_output=True, text=True, cwd="/", env=_environment()
    )
    if probe.returncode != 0:
        return f"{bindir / 'initdb'} cannot run ({probe.stderr.strip()}): {ENABLE_HINT}"
    return None


def server_bindir() -> Path:
    reason = unavailable_reason()
    bindir = _find_bindir()
    if reason is not None or bindir is None:
        raise RuntimeError(reason)
    return bindir


def skip_or_fail(reason: str, *, in_ci: bool = IN_CI) -> NoReturn:
    """Elsewhere a missing server skips; in CI the tests must run, so it fails."""
    if in_ci:
        pytest.fail(f"CI must run the private PostgreSQL tests: {reason}", pytrace=False)
    pytest.skip(reason)


def require_private_clusters() -> None:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def process_is_running(pid: int) -> bool:
    """Alive and not a zombie: an exited server may wait a while for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def make_folder() -> Path:
    """A fresh folder straight under the system temp dir: pytest's tmp_path (mode 0700) is closed to postgres."""
    return Path(tempfile.mkdtemp(prefix="bd-pg-"))


class PrivateCluster:
    """One private PostgreSQL server: its folder holds data/, the socket and server.log."""

    def __init__(self, folder: Path, bindir: Path, port: int) -> None:
        self.folder = folder
        self.bindir = bindir
        self.port = port
        self.standbys: list[PrivateCluster] = []

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    @classmethod
    def create(cls, folder: Path | None = None) -> PrivateCluster:
        """initdb into `folder` (a new temp folder if none), settings written, not yet started."""
        cluster = cls(folder or make_folder(), server_bindir(), free_port())
        try:
            cluster._prepare_folder()
            cluster._run(
                "initdb",
                *("-D", str(cluster.data), "--auth=trust", "-U", SUPERUSER, "-E", "UTF8", "--no-locale"),
                *("--no-sync", "--no-instructions"),
            )
            with (cluster.data / "postgresql.conf").open("a") as conf:
                conf.write(f"\ninclude_if_exists = '{SETTINGS_FILE}'\n")
            cluster._write_settings()
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def _prepare_folder(self) -> None:
        atexit.register(self.destroy)  # an interrupted run (Ctrl-C) leaves no server behind either
        self.folder.mkdir(parents=True, exist_ok=True)
        if _runs_as_postgres():
            shutil.chown(self.folder, OS_USER, OS_USER)

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "fsync": "off",
            "shared_buffers": "16MB",
            "max_connections": "30",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "wal_receiver_status_interval": "1s",
            "logging_collector": "off",
        }
        path = self.data / SETTINGS_FILE
        path.write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
        if _runs_as_postgres():
            shutil.chown(path, OS_USER, OS_USER)

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            _command(self.bindir, program, *args),
            capture_output=True,
            text=True,
            cwd=self.folder,
            env=_environment(),
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        if done.returncode != 0:
            log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}\n{log}"
            )
        return done

    def postmaster_pid(self) -> int | None:
        """The server's process id while it runs (from postmaster.pid), else None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if process_is_running(pid) else None

    def start(self) -> None:
        """Start and wait until it accepts connections (on another free port if its own was taken meanwhile)."""
        wait = ("-w", "-t", str(START_TIMEOUT_SECONDS))
        try:
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_file), *wait)
        except RuntimeError as error:
            if "already in use" not in str(error):
                raise
            self.port = free_port()
            self._write_settings()
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_file), *wait)

    def ensure_running(self) -> None:
        if self.postmaster_pid() is None:
            self.start()

    def stop(self, mode: str = "fast") -> None:
        """Stop (fast: clean shutdown; immediate: like a crash); nothing to do when it is not running."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown stop mode {mode!r}")
        if self.postmaster_pid() is None:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", str(START_TIMEOUT_SECONDS))

    def destroy(self) -> None:
        """Stop immediately (standbys made from it too) and remove the folder: safe to call twice."""
        for standby in self.standbys:
            standby.destroy()
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self.postmaster_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.destroy)

    def __enter__(self) -> PrivateCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection (autocommit unless told otherwise) to this server only."""
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(host=HOST, port=self.port, user=SUPERUSER, dbname=dbname, **kwargs)

    def fetch_value(self, query: str, params: Sequence[Any] = (), dbname: str = "postgres") -> Any:
        with self.connect(dbname) as connection:
            row = connection.execute(query, params).fetchone()
        return None if row is None else row[0]

    def create_database(self, name: str) -> str:
        """Create database `name` and return its SQLAlchemy URL."""
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def standby(self, folder: Path | None = None, timeout: float = 15.0) -> PrivateCluster:
        """A streaming standby of this server (pg_basebackup -R -X stream), on its own port, started."""
        standby = type(self)(folder or make_folder(), self.bindir, free_port())
        try:
            standby._prepare_folder()
            standby._run(
                "pg_basebackup",
                *("-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-D", str(standby.data)),
                *("-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
            )
            standby._write_settings()
            standby.start()
            standby._wait_for(
                lambda: standby.fetch_value("SELECT status FROM pg_stat_wal_receiver") == "streaming",
                timeout,
                "the standby to stream from its primary",
            )
        except BaseException:
            standby.destroy()
            raise
        self.standbys.append(standby)
        return standby

    def is_in_recovery(self) -> bool:
        return bool(self.fetch_value("SELECT pg_is_in_recovery()"))

    def pause_replay(self, timeout: float = 10.0) -> None:
        """Standby only: WAL keeps arriving but is not applied until resume_replay."""
        self.fetch_value("SELECT pg_wal_replay_pause()")
        paused = "SELECT pg_get_wal_replay_pause_state() = 'paused'"
        self._wait_for(lambda: self.fetch_value(paused), timeout, "replay to pause")

    def resume_replay(self) -> None:
        self.fetch_value("SELECT pg_wal_replay_resume()")

    def wait_received(self, primary: PrivateCluster, timeout: float = 10.0) -> None:
        """Standby only: wait until it has received (not necessarily applied) all WAL the primary has written."""
        target = primary.fetch_value("SELECT pg_current_wal_lsn()::text")
        self._wait_for(
            lambda: self.fetch_value("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", [target]),
            timeout,
            f"the standby to receive WAL up to {target}",
        )

    def wait_caught_up(self, primary: PrivateCluster, timeout: float = 10.0) -> None:
        """Standby only: wait until it has replayed all WAL the primary had written when called."""
        target = primary.fetch_value("SELECT pg_current_wal_lsn()::text")
        self._wait_for(
            lambda: self.fetch_value("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]),
            timeout,
            f"the standby to replay WAL up to {target}",
        )

    def _diagnosis(self) -> str:
        """What the server says about itself, for a timeout's message."""
        try:
            with self.connect() as connection:
                recovery = connection.execute(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN "
                    "pg_get_wal_replay_pause_state() END, pg_last_wal_receive_lsn()::text, "
                    "pg_last_wal_replay_lsn()::text"
                ).fetchone()
                activity = connection.execute(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
        except psycopg.Error as error:
            return f"no diagnosis: {error}"
        return f"recovery/pause/received/replayed={recovery}, sessions={activity}"

    def _wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"gave up after {timeout} s waiting for {what} (port {self.port}); {self._diagnosis()}"
                )
            time.sleep(0.05)


@contextlib.contextmanager
def running_cluster(folder: Path | None = None) -> Iterator[PrivateCluster]:
    """A started private cluster, stopped and removed on exit whatever happened inside."""
    with PrivateCluster.create(folder) as cluster:
        cluster.start()
        yield cluster


@pytest.fixture(scope="module", name="private_cluster")
def private_cluster_fixture() -> Iterator[PrivateCluster]:
    """One started private server per test module; a test that stops it starts it again."""
    require_private_clusters()
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(name="private_cluster_factory")
def private_cluster_factory_fixture() -> Iterator[Callable[[], PrivateCluster]]:
    """Makes started private servers of the test's own; all removed when the test ends."""
    require_private_clusters()
    made: list[PrivateCluster] = []

    def make() -> PrivateCluster:
        cluster = PrivateCluster.create()
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in made:
        cluster.destroy()


@pytest.fixture(name="private_standby")
def private_standby_fixture(private_cluster: PrivateCluster) -> Iterator[PrivateCluster]:
    """A streaming standby of `private_cluster`, removed when the test ends."""
    private_cluster.ensure_running()
    standby = private_cluster.standby()
    yield standby
    standby.destroy()
    private_cluster.standbys.remove(standby)
