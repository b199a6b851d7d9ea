"""Units of work over a SQLAlchemy session factory, the way each database wants them."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import CachedUnitOfWork, RowCache
from storage.uow import SqlUnitOfWork

# One writer lock and one cache per SQLite engine, however many factories share it.
_SQLITE: weakref.WeakKeyDictionary[Any, tuple[asyncio.Lock, RowCache]] = (
    weakref.WeakKeyDictionary()
)


class SqlUnitsOfWork:
    """``factory()`` opens a unit of work. On SQLite ``factory.optimistic()`` opens one that
    reads cached rows before it locks (``storage.cache``); on PostgreSQL it is a plain one.

    On SQLite every transaction writes (``BEGIN IMMEDIATE``), one at a time: the tasks of
    this process queue on an asyncio lock instead of in SQLite's busy handler, which sleeps in
    steps of up to 100 ms and would turn a queue of 32 presses into seconds. Other processes
    still wait through ``busy_timeout``, but must not write while the platform runs: they
    would not see, nor update, its cache."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        bind = session_factory.kw.get("bind")
        self._sqlite: tuple[asyncio.Lock, RowCache] | None = None
        if bind is not None and bind.dialect.name == "sqlite":
            self._sqlite = _SQLITE.setdefault(bind.sync_engine, (asyncio.Lock(), RowCache()))

    def _plain(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory, self._sqlite[0] if self._sqlite else None)

    def __call__(self) -> SqlUnitOfWork | CachedUnitOfWork:
        if self._sqlite is None:
            return self._plain()
        return CachedUnitOfWork(self._plain, self._sqlite[1], optimistic=False)

    def optimistic(self) -> SqlUnitOfWork | CachedUnitOfWork:
        if self._sqlite is None:
            return self._plain()
        return CachedUnitOfWork(self._plain, self._sqlite[1], optimistic=True)


def sql_uow_factory(session_factory: async_sessionmaker[AsyncSession]) -> SqlUnitsOfWork:
    return SqlUnitsOfWork(session_factory)
