"""Units of work over a SQLAlchemy session factory, the way each database wants them."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.cache import CachedUnitOfWork, RowCache
from storage.invalidation import Invalidations
from storage.seen import SeenBuffer
from storage.uow import SqlUnitOfWork


@dataclass
class _PerEngine:
    """What every factory over one engine shares: the cache, "last seen" written behind,
    and on SQLite the writer lock, on PostgreSQL the invalidation listener."""

    cache: RowCache
    writers: asyncio.Lock | None = None
    seen: SeenBuffer | None = None
    invalidations: Invalidations | None = None


_ENGINES: weakref.WeakKeyDictionary[Any, _PerEngine] = weakref.WeakKeyDictionary()


class SqlUnitsOfWork:
    """``factory()`` opens a unit of work; ``factory.optimistic()`` opens one for a
    conversation turn, which reads cached rows before it opens a transaction
    (``storage.cache``).

    On SQLite every transaction writes (``BEGIN IMMEDIATE``), one at a time: the tasks of
    this process queue on an asyncio lock instead of in SQLite's busy handler, which sleeps in
    steps of up to 100 ms and would turn a queue of 32 presses into seconds. Other processes
    still wait through ``busy_timeout``, but must not write while the platform runs: they
    would not see, nor update, its cache.

    On PostgreSQL several processes may share the database: each keeps its cache fresh from
    the others' reports (``storage.invalidation``) and checks cached rows before it writes."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        bind = session_factory.kw.get("bind")
        self._engine: _PerEngine | None = None
        if bind is not None and bind.dialect.name in ("sqlite", "postgresql"):
            self._engine = _ENGINES.get(bind.sync_engine)
            if self._engine is None:
                self._engine = _ENGINES[bind.sync_engine] = self._start(bind)

    def _start(self, bind: Any) -> _PerEngine:
        if bind.dialect.name == "sqlite":
            shared = _PerEngine(RowCache(), writers=asyncio.Lock())
        else:
            cache = RowCache(shared=True)
            shared = _PerEngine(cache, invalidations=Invalidations(bind, cache))
        shared.seen = SeenBuffer()

        @event.listens_for(bind.sync_engine, "engine_disposed")
        def _disposed(_engine: Any) -> None:
            shared.seen.cancel()
            if shared.invalidations is not None:
                shared.invalidations.terminate()

        return shared

    def _plain(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory,
                             self._engine.writers if self._engine else None)

    def _cached(
        self, optimistic: bool, seen: Callable[[str, str, datetime], None] | None
    ) -> CachedUnitOfWork:
        assert self._engine is not None
        if self._engine.invalidations is not None:
            self._engine.invalidations.start_soon()
        return CachedUnitOfWork(self._plain, self._engine.cache, optimistic, seen)

    def _writer(self) -> CachedUnitOfWork:
        return self._cached(optimistic=False, seen=None)

    def _seen(self, messenger: str, external_id: str, at: datetime) -> None:
        assert self._engine is not None and self._engine.seen is not None
        self._engine.seen.add(messenger, external_id, at, self._writer)

    def __call__(self) -> SqlUnitOfWork | CachedUnitOfWork:
        if self._engine is None:
            return self._plain()
        return self._cached(optimistic=False, seen=self._seen)

    def optimistic(self) -> SqlUnitOfWork | CachedUnitOfWork:
        if self._engine is None:
            return self._plain()
        return self._cached(optimistic=True, seen=self._seen)

    async def ready(self) -> bool:
        """PostgreSQL: wait until this process hears the others' changes (until then its
        cache holds nothing; the first unit of work starts listening anyway). Is the cache
        in use?"""
        if self._engine is not None and self._engine.invalidations is not None:
            return await self._engine.invalidations.ready()
        return self._engine is not None

    async def flush(self) -> None:
        """Write now what is written behind ("last seen")."""
        if self._engine is not None and self._engine.seen is not None:
            await self._engine.seen.flush()

    async def close(self) -> None:
        """At shutdown, before the engine is disposed: write what is pending, stop listening."""
        if self._engine is not None:
            await self.flush()
            if self._engine.invalidations is not None:
                await self._engine.invalidations.close()


def sql_uow_factory(session_factory: async_sessionmaker[AsyncSession]) -> SqlUnitsOfWork:
    return SqlUnitsOfWork(session_factory)
