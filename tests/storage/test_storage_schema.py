"""Migrations build exactly the schema of ``storage.tables``, which matches ``core.models``."""

import os
from dataclasses import fields
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from setuptools import find_packages
from sqlalchemy import inspect, text

from core.models import ChatState, Identity, Order, OutboxMessage, Payment, Purchase, User
from storage import tables
from storage.engine import create_engine
from storage.migrate import MIGRATIONS, alembic_config, migrate
from storage.testing import (
    make_postgres_uow_factory,
    make_sqlite_uow_factory,
    postgres_url,
)

ROOT = Path(__file__).resolve().parents[2]
PG_SCHEMA = f"storage_tests_{os.getpid()}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    if request.param == "sqlite":
        _, engine = await make_sqlite_uow_factory(tmp_path)
    else:
        if not postgres_url():
            pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
        _, engine = await make_postgres_uow_factory(postgres_url(), PG_SCHEMA)
    yield engine
    await engine.dispose()


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, tables.metadata)


def _plain(value):
    """Reflected schema as comparable values (types and clauses have no equality)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def _schema(connection):
    inspector = inspect(connection)
    return _plain(
        {
            name: (
                inspector.get_columns(name),
                sorted(inspector.get_indexes(name), key=lambda i: i["name"]),
                inspector.get_unique_constraints(name),
                inspector.get_foreign_keys(name),
            )
            for name in sorted(inspector.get_table_names())
        }
    )


def _revision(connection):
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrations_build_exactly_the_tables(engine):
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_partial_indexes_exist(engine):
    async with engine.connect() as connection:
        schema = await connection.run_sync(_schema)
    names = {index["name"] for index in schema["purchases"][1]}
    assert schema["alembic_version"]
    assert {"ix_purchases_next_lesson_at_active", "ix_purchases_ends_at_active"} <= names
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            definition = await connection.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                    " AND indexname = 'ix_purchases_ends_at_active'"
                )
            )
        assert "WHERE" in definition and "active" in definition
    else:
        async with engine.connect() as connection:
            sql = await connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_purchases_ends_at_active'")
            )
        assert "WHERE status = 'active'" in sql


async def test_migrating_again_changes_nothing(engine):
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO counters (key, used) VALUES ('k', 3)"))
        await connection.commit()
        before = await connection.run_sync(_schema)
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema) == before
        assert await connection.run_sync(_revision) == _head()
        assert await connection.scalar(text("SELECT used FROM counters")) == 3


async def test_downgrade_to_base_and_back(engine):
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "base"))
        assert await connection.run_sync(lambda sync: inspect(sync).get_table_names()) == [
            "alembic_version"
        ]
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_a_fresh_sqlite_file_is_migrated_in_wal_mode(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 30000
            assert await connection.run_sync(_revision) == _head()
    finally:
        await engine.dispose()


def _head():
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_one_head_and_migrations_ship_as_packages():
    # get_current_head raises when there are two; the head is the newest script
    newest = max((MIGRATIONS / "versions").glob("0*.py")).read_text(encoding="utf-8")
    assert f'revision: str = "{_head()}"' in newest
    assert MIGRATIONS.is_dir() and (MIGRATIONS / "script.py.mako").is_file()
    packages = find_packages(str(ROOT), include=["storage*"])
    assert {"storage", "storage.migrations", "storage.migrations.versions"} <= set(packages)


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (User, tables.UserRow),
        (Identity, tables.IdentityRow),
        (Order, tables.OrderRow),
        (Payment, tables.PaymentRow),
        (Purchase, tables.PurchaseRow),
        (OutboxMessage, tables.OutboxRow),
        (ChatState, tables.ChatStateRow),
    ],
)
def test_every_model_field_has_a_column(model, row):
    assert {f.name for f in fields(model)} == set(row.__table__.c.keys())
