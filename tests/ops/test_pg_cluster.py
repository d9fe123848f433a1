"""The private PostgreSQL server and its streaming standby: real servers of the test's own, never port 5432."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from data_access.models import Base
from tests.support.environment import ROOT
from tests.support.pg_cluster import (
    PrivateCluster,
    private_cluster_factory_fixture,  # noqa: F401  (fixture)
    private_cluster_fixture,  # noqa: F401  (fixture)
    private_standby_fixture,  # noqa: F401  (fixture)
    process_is_running,
    require_private_clusters,
    skip_or_fail,
)

SHARED_PORT = 5432


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def make_table(cluster: PrivateCluster) -> str:
    table = unique("t")
    with cluster.connect() as connection:
        connection.execute(f"CREATE TABLE {table} (value text PRIMARY KEY)")
    return table


def insert(cluster: PrivateCluster, table: str) -> str:
    value = uuid.uuid4().hex
    with cluster.connect() as connection:
        connection.execute(f"INSERT INTO {table} VALUES (%s)", [value])
    return value


def has_row(cluster: PrivateCluster, table: str, value: str) -> bool:
    return bool(cluster.fetch_value(f"SELECT count(*) FROM {table} WHERE value = %s", [value]))


def test_private_server_is_its_own_not_the_shared_one(private_cluster: PrivateCluster) -> None:
    assert private_cluster.port != SHARED_PORT
    assert private_cluster.fetch_value("SHOW port") == str(private_cluster.port)
    assert Path(private_cluster.fetch_value("SHOW data_directory")) == private_cluster.data
    assert private_cluster.fetch_value("SHOW server_encoding") == "UTF8"
    assert private_cluster.is_in_recovery() is False


def test_schema_is_made_by_the_cli_in_a_new_database(private_cluster: PrivateCluster) -> None:
    url = private_cluster.create_database(unique("bd"))
    assert f":{private_cluster.port}/" in url
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_READ_URL"}
    env["DATABASE_URL"] = url
    subprocess.run([sys.executable, "-m", "data_access", "init"], cwd=ROOT, env=env, check=True, timeout=60)

    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_standby_receives_rows_and_refuses_writes(
    private_cluster: PrivateCluster, private_standby: PrivateCluster
) -> None:
    assert private_standby.port not in (SHARED_PORT, private_cluster.port)
    assert private_standby.is_in_recovery() is True
    table = make_table(private_cluster)
    value = insert(private_cluster, table)

    private_standby.wait_caught_up(private_cluster, timeout=10)

    assert has_row(private_standby, table, value)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        insert(private_standby, table)


def test_paused_replay_holds_back_a_new_row_until_resumed(
    private_cluster: PrivateCluster, private_standby: PrivateCluster
) -> None:
    table = make_table(private_cluster)
    private_standby.wait_caught_up(private_cluster, timeout=10)
    private_standby.pause_replay()

    value = insert(private_cluster, table)
    private_standby.wait_received(private_cluster, timeout=10)
    assert not has_row(private_standby, table, value)

    private_standby.resume_replay()
    private_standby.wait_caught_up(private_cluster, timeout=10)
    assert has_row(private_standby, table, value)


def test_primary_stops_and_starts_again(private_cluster_factory: Callable[[], PrivateCluster]) -> None:
    cluster = private_cluster_factory()
    table = make_table(cluster)
    value = insert(cluster, table)

    cluster.stop("fast")
    assert cluster.postmaster_pid() is None
    with pytest.raises(psycopg.OperationalError):
        cluster.connect()

    cluster.start()
    assert has_row(cluster, table, value)


def test_a_failing_test_still_leaves_no_server_or_folder_behind() -> None:
    require_private_clusters()
    cluster = PrivateCluster.create()
    with pytest.raises(RuntimeError, match="the test failed"), cluster:
        cluster.start()
        pid = cluster.postmaster_pid()
        assert pid is not None
        raise RuntimeError("the test failed")

    assert not cluster.folder.exists()
    assert not process_is_running(pid)


def test_missing_server_skips_elsewhere_but_fails_in_ci() -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        skip_or_fail("no initdb: apt-get install postgresql", in_ci=False)
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        skip_or_fail("no initdb: apt-get install postgresql", in_ci=True)
