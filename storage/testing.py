"""Ready-made storage for test suites: SQLite and PostgreSQL, migrated and empty.

    factory, engine = await make_uow_factory(backend, tmp_path)
    try:
        async with factory() as uow: ...
    finally:
        await engine.dispose()

SQLite databases are copies of one template file, migrated once per process: a copy costs a
file copy where migrating costs alembic. PostgreSQL is used only when ``TEST_DATABASE_URL``
is set (for example ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). Its ``public``
schema is wiped, or another ``schema`` when given: suites that may run at the same time as
others on the same database should each use their own.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.engine import create_engine, session_factory
from storage.factory import SqlUnitsOfWork, sql_uow_factory
from storage.migrate import migrate

BACKENDS = ("sqlite", "postgres")
_template: Path | None = None  # the migrated SQLite database every test database copies


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def available_backends() -> list[str]:
    """``sqlite`` always; ``postgres`` when ``TEST_DATABASE_URL`` is set."""
    return [b for b in BACKENDS if b != "postgres" or postgres_url()]


async def sqlite_template() -> Path:
    """A migrated, empty SQLite database file, made on first use and removed at exit."""
    global _template
    if _template is None:
        directory = Path(tempfile.mkdtemp(prefix="school-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        engine = create_engine(f"sqlite+aiosqlite:///{directory / 'template.db'}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()  # the last connection out checkpoints the WAL into the file
        _template = directory / "template.db"
    return _template


async def make_sqlite_uow_factory(
    tmp_path: Path, fresh: bool = False
) -> tuple[SqlUnitsOfWork, AsyncEngine]:
    """A migrated SQLite file database in ``tmp_path``: a copy of the template, or migrated
    there and then when ``fresh``."""
    path = Path(tmp_path) / "school.db"
    if not fresh:
        shutil.copyfile(await sqlite_template(), path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    if fresh:
        await migrate(engine)
    return sql_uow_factory(session_factory(engine)), engine


async def make_postgres_uow_factory(
    url: str, schema: str = "public"
) -> tuple[SqlUnitsOfWork, AsyncEngine]:
    """Wipes ``schema`` (alembic_version too) and migrates it; the engine works in it."""
    await reset_postgres(url, schema)
    engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    await migrate(engine)
    return sql_uow_factory(session_factory(engine)), engine


async def reset_postgres(url: str, schema: str = "public") -> None:
    schema = _name(schema)
    await _in_postgres(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")


async def drop_postgres_schema(url: str, schema: str) -> None:
    await _in_postgres(url, f"DROP SCHEMA IF EXISTS {_name(schema)} CASCADE")


def _name(schema: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"schema name {schema!r}: use lowercase letters, digits and _")
    return schema


async def _in_postgres(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def make_uow_factory(
    backend: str, tmp_path: Path, pg_schema: str = "public"
) -> tuple[SqlUnitsOfWork, AsyncEngine]:
    """``backend`` is one of ``BACKENDS``."""
    if backend == "sqlite":
        return await make_sqlite_uow_factory(tmp_path)
    if backend == "postgres":
        url = postgres_url()
        if url is None:
            raise RuntimeError("TEST_DATABASE_URL is not set")
        return await make_postgres_uow_factory(url, pg_schema)
    raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
