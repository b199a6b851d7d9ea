"""The scheduler lease: with several platform processes on one PostgreSQL database, only the
one holding a session-level advisory lock runs the sweeps; the others serve webhooks and
take over when it goes (its connection closes, the lock is released). SQLite means one
process, which always holds the lease."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

LOCK_KEY = 0x5C4001  # any constant of this platform's own: "the sweeps"


class SchedulerLease:
    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._connection: AsyncConnection | None = None
        # Sweeps ask at the same moment (all of them at start): one question at a time, or
        # each would open a session of its own and all but one would find the lock taken.
        self._asking = asyncio.Lock()

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def held(self) -> bool:
        """Do we hold the lease? Tries to take it if not; a lost connection loses it."""
        if not self.shared:
            return True
        async with self._asking:
            return await self._held()

    async def _held(self) -> bool:
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection (and so the lock) is gone
                log.warning("the scheduler lease was lost with its connection")
                await self._drop()
        connection = await self.engine.connect()
        got = (await connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar_one()
        await connection.commit()  # keep no transaction open; the lock is the session's
        if got:
            self._connection = connection
            log.info("this process now runs the sweeps")
            return True
        await connection.close()
        return False

    async def release(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._connection.commit()
            finally:
                await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # already broken: nothing more to release
                log.debug("closing the lease connection failed", exc_info=True)
