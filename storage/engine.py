"""Engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=30000",  # first: switching to WAL may itself wait for a lock
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

UNICODE_LOWER = "unicode_lower"  # on SQLite connections: lower() beyond ASCII, as PostgreSQL's


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for ``sqlite+aiosqlite:///path.db`` or ``postgresql+asyncpg://...``.
    ``kwargs`` go to SQLAlchemy's ``create_async_engine`` (e.g. ``echo=True``)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = _create_async_engine(url, **kwargs)
        _serialize_sqlite_writes(engine)
        return engine
    if backend == "postgresql":
        options: dict[str, Any] = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        return _create_async_engine(url, **(options | kwargs))
    raise ValueError(f"unsupported database {url!r}: use sqlite+aiosqlite or postgresql+asyncpg")


def _serialize_sqlite_writes(engine: AsyncEngine) -> None:
    """Every transaction starts with BEGIN IMMEDIATE: it takes the write lock up front and
    waits for it (busy_timeout) instead of failing with "database is locked" when a
    transaction that began as a reader later tries to write."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not emit its own BEGIN
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()
        # SQLite's own lower() folds ASCII only: staff look names up in any alphabet.
        dbapi_connection.create_function(UNICODE_LOWER, 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
