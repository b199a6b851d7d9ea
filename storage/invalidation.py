"""PostgreSQL: each process tells the others which cached rows its commits changed (NOTIFY,
sent inside the transaction, so it goes out only if the commit does), and drops the rows the
others report (LISTEN, on a connection of its own). A report keeps a cache fresh; it does not
make it safe, since it may arrive after a decision: ``storage.cache`` compares the rows again
before it writes.

While the listening connection is down, reports may be missed, so the cache holds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncEngine

    from storage.cache import Key, RowCache

log = logging.getLogger(__name__)

CHANNEL = "school_rows"
MAX_PAYLOAD = 7000  # PostgreSQL refuses a payload of 8000 bytes or more
RETRY_AFTER = 5.0  # seconds between attempts to listen again


def report(origin: str, keys: set[Key]) -> str:
    """The payload telling other processes that ``keys`` changed."""
    payload = orjson.dumps({"from": origin, "keys": list(keys)}).decode()
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = orjson.dumps({"from": origin, "keys": None}).decode()  # "drop everything"
    return payload


class Invalidations:
    """Listens for other processes' reports and applies them to ``cache``."""

    def __init__(self, engine: AsyncEngine, cache: RowCache) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._cache = cache
        self._connection: asyncpg.Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._failed_at = float("-inf")
        self._closed = False

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def start_soon(self) -> None:
        """Begin listening in the background, unless listening or recently failed."""
        if self._connection is not None or self._connecting is not None or self._closed:
            return
        if time.monotonic() - self._failed_at < RETRY_AFTER:
            return
        self._connecting = asyncio.get_running_loop().create_task(
            self._listen(), name="cache invalidations")

    async def ready(self) -> bool:
        """Wait for an attempt under way; are we listening?"""
        self.start_soon()
        if self._connecting is not None:
            await asyncio.shield(self._connecting)
        return self.listening

    async def _listen(self) -> None:
        try:
            import asyncpg  # only a PostgreSQL school needs the driver

            connection = await asyncpg.connect(self._dsn, timeout=10)
            connection.add_termination_listener(self._lost)
            await connection.add_listener(CHANNEL, self._on_report)
        except Exception:
            self._failed_at = time.monotonic()
            log.warning("cannot listen for cache invalidations; reading the database every "
                        "time until it works", exc_info=True)
            return
        finally:
            self._connecting = None
        if self._closed:
            connection.terminate()
            return
        self._connection = connection
        self._cache.enable()

    def _on_report(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            if message["from"] == self._cache.origin:
                return
            keys = message["keys"]
            self._cache.invalidate(None if keys is None else [tuple(key) for key in keys])
        except Exception:  # unreadable: drop everything rather than trust anything
            log.warning("unreadable cache report %r", payload[:200])
            self._cache.invalidate(None)

    def _lost(self, _connection: Any) -> None:
        if self._connection is not None:
            log.warning("the cache invalidation connection was lost; listening again soon")
        self._connection = None
        self._failed_at = time.monotonic()
        self._cache.disable()

    async def close(self) -> None:
        self._closed = True
        connection, self._connection = self._connection, None
        self._cache.disable()
        if connection is not None:
            try:
                await connection.close(timeout=5)
            except Exception:
                connection.terminate()

    def terminate(self) -> None:
        """Synchronous close, for when the engine is disposed."""
        self._closed = True
        connection, self._connection = self._connection, None
        self._cache.disable()
        if self._connecting is not None:
            self._connecting.cancel()
        if connection is not None:
            connection.terminate()
