"""The schema comes from Alembic alone, works on an empty SQLite file and an empty PostgreSQL database, and
matches the models (a model change without a migration fails here)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from data_access.db import dispose_engines
from data_access.migrate import upgrade
from data_access.models import Base
from tests.support.cli import cli
from tests.support.databases import postgres_server_url


def test_init_creates_the_schema_on_an_empty_sqlite_file_and_is_repeatable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'billing.sqlite3'}"
    for _ in range(2):
        result = cli("init", database_url=url)
        assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_sqlite_connections_enforce_foreign_keys(database: str) -> None:
    from data_access.db import DatabaseRefused, transaction
    from data_access.models import Subscription

    with pytest.raises(DatabaseRefused, match=r"FOREIGN KEY|foreign key"), transaction() as session:
        session.add(Subscription(external_id="S-1", customer_id=999, product="M365", sku="E3", quantity=1,
                                 unit_price_cents=100))  # fmt: skip


def test_models_and_migrations_agree(database: str) -> None:
    engine = create_engine(database)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


@pytest.mark.postgres
def test_init_on_an_empty_postgresql_database(postgres_url: str) -> None:
    name = f"bd_init_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server_url(postgres_url, name)
    try:
        upgrade(url)
        upgrade(url)
        tables = set(inspect(create_engine(url)).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _round_trip(url: str) -> None:
    """Up to the newest revision, down past master data (0008) and up again: the models still match, and a voided
    invoice and the partner profile survive in the schema they need."""
    from alembic import command

    from data_access.migrate import alembic_config

    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (external_id, name, currency, payment_terms_days, "
                                "exempt_from_collections, created_at) VALUES ('C-1', 'C', 'USD', 30, false, "
                                "'2026-01-01 00:00:00')"))  # fmt: skip
    command.downgrade(alembic_config(url), "0007")
    columns = {c["name"] for c in inspect(engine).get_columns("invoices")}
    assert "voided_on" not in columns and "partner_profile" not in inspect(engine).get_table_names()
    upgrade(url)
    inspector = inspect(engine)
    assert {"voided_on", "voided_by", "void_reason", "voided_amount_cents"} <= {
        c["name"] for c in inspector.get_columns("invoices")
    }
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.execute(text("SELECT count(*) FROM customers")).scalar() == 1
    engine.dispose()


def test_master_data_migrates_down_and_up_on_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'round-trip.sqlite3'}")
    dispose_engines()


@pytest.mark.postgres
def test_master_data_migrates_down_and_up_on_postgresql(postgres_url: str) -> None:
    name = f"bd_round_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _round_trip(postgres_server_url(postgres_url, name))
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
