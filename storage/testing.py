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
others on the same database should each use their own. A schema is migrated the first time a
process asks for it; after that, while it is still at the newest revision, it is emptied with
one TRUNCATE (which costs a few milliseconds where migrating costs a second). Parallel test
processes each get a database of their own (``worker_database``).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from sqlalchemy import NullPool, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.engine import create_engine, session_factory
from storage.factory import SqlUnitsOfWork, sql_uow_factory
from storage.migrate import head_revisions, migrate

BACKENDS = ("sqlite", "postgres")
_template: Path | None = None  # the migrated SQLite database every test database copies
# (url, schema) -> the tables of a schema this process migrated, with the revisions it had then
_migrated: dict[tuple[str, str], _Migrated] = {}
_made: set[tuple[str, str]] = set()  # every (url, schema) this process wiped and migrated


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
    """An empty ``schema`` at the newest revision; the engine works in it. The first time (or
    when the schema is gone or at another revision) the schema is wiped, alembic_version too,
    and migrated; after that its tables are emptied and their ids start again at 1."""
    engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    if not await _empty_if_migrated(engine, url, schema):
        await reset_postgres(url, schema)
        _made.add((url, schema))
        await migrate(engine)
        await _remember_migrated(engine, url, schema)
    return sql_uow_factory(session_factory(engine)), engine


async def _remember_migrated(engine: AsyncEngine, url: str, schema: str) -> None:
    """Notes the migrated schema's tables in an order to empty them in (a table before those
    it points at), unless a migration left rows in one or the tables point at each other in
    a circle: such a schema is wiped and migrated every time."""
    async with engine.connect() as connection:
        tables = await _tables(connection, schema)
        if await _holding_rows(connection, schema, tables):
            return
        pointers = (await connection.execute(text(
            "SELECT child.relname, parent.relname FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid "
            "JOIN pg_class parent ON parent.oid = c.confrelid "
            "JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = :schema"), {"schema": schema})).all()
    order = TopologicalSorter({table: set() for table in tables})
    for child, parent in pointers:
        if child != parent:
            order.add(parent, child)  # the rows pointing at a parent go first
    try:
        deletion_order = tuple(order.static_order())
    except CycleError:
        return
    _migrated[(url, schema)] = _Migrated(tables, head_revisions(), deletion_order)


async def _empty_if_migrated(engine: AsyncEngine, url: str, schema: str) -> bool:
    """Empties the schema if this process migrated it and it still has the tables and the
    revision it had then: DELETE in the tables that hold rows and sequences set back to their
    start (TRUNCATE would make new files for every table, and cost more than migrating)."""
    known = _migrated.pop((url, schema), None)
    if known is None:
        return False
    schema = _name(schema)
    try:
        async with engine.begin() as connection:
            if await _tables(connection, schema) != known.tables:
                return False
            found = set((await connection.execute(
                text(f"SELECT version_num FROM {schema}.alembic_version"))).scalars())
            if found != known.revisions:
                return False
            await connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            holding = set(await _holding_rows(connection, schema, known.tables))
            for table in (t for t in known.deletion_order if t in holding):
                await connection.execute(text(f'DELETE FROM {schema}."{table}"'))
            await connection.execute(text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                "FROM pg_sequences WHERE schemaname = :schema AND last_value IS NOT NULL"),
                {"schema": schema})
    except DBAPIError:  # alembic_version is gone, or a table is locked by a connection left open
        return False
    _migrated[(url, schema)] = known
    return True


@dataclass(frozen=True)
class _Migrated:
    tables: tuple[str, ...]
    revisions: set[str]
    deletion_order: tuple[str, ...]


async def _tables(connection: AsyncConnection, schema: str) -> tuple[str, ...]:
    """The schema's tables but alembic_version."""
    return tuple((await connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
        "AND tablename <> 'alembic_version' ORDER BY tablename"), {"schema": schema},
    )).scalars())


async def _holding_rows(
    connection: AsyncConnection, schema: str, tables: tuple[str, ...]
) -> list[str]:
    """Those of ``tables`` that hold a row, in one query."""
    if not tables:
        return []
    return list((await connection.execute(text(" UNION ALL ".join(
        f"SELECT '{t}' WHERE EXISTS (SELECT FROM {schema}.\"{t}\")" for t in tables)),
    )).scalars())


async def reset_postgres(url: str, schema: str = "public") -> None:
    schema = _name(schema)
    await _in_postgres(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")


async def drop_postgres_schema(url: str, schema: str) -> None:
    await _in_postgres(url, f"DROP SCHEMA IF EXISTS {_name(schema)} CASCADE")


async def worker_database(url: str, worker: str) -> str:
    """``url`` with its database ``<name>_<worker>``, created when missing: parallel test
    processes (pytest-xdist's ``gw0``, ``gw1`` ...) each wipe and migrate a database of their
    own."""
    parsed = make_url(url)
    name = _name(f"{parsed.database}_{worker}".lower())
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not found:
                await connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def drop_schemas_made() -> None:
    """Drops the schemas this process made but ``public`` (which the next run wipes)."""
    for url, schema in sorted(_made):
        if schema != "public":
            await drop_postgres_schema(url, schema)
    _made.clear()
    _migrated.clear()


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
