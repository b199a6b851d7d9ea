""""Last seen", written behind: a press records the moment in memory, and the moments of a
few seconds go to the database together, in one transaction, in the background. A press
that changes nothing else then opens no transaction at all.

What a crash can lose is the last few seconds of "last seen", which only orders a student's
messengers for delivery; nothing about money, access or a conversation waits here. Writing
is idempotent (``last_seen_at`` only moves forward), so a failed flush is simply retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.cache import CachedUnitOfWork

log = logging.getLogger(__name__)

FLUSH_EVERY = 3.0  # seconds


class SeenBuffer:
    def __init__(self, every: float = FLUSH_EVERY) -> None:
        # opens the unit of work that writes; held only while something is pending, so
        # that the buffer, kept per engine, does not keep its engine alive
        self._open_uow: Callable[[], CachedUnitOfWork] | None = None
        self.every = every
        self._pending: dict[tuple[str, str], datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, messenger: str, external_id: str, at: datetime,
        open_uow: Callable[[], CachedUnitOfWork],
    ) -> None:
        self._open_uow = open_uow
        key = (messenger, external_id)
        if key not in self._pending or self._pending[key] < at:
            self._pending[key] = at
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._flush_later(), name="last seen, written behind")

    async def _flush_later(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self.every)
                try:
                    await self.flush()
                except Exception:
                    log.warning("writing last seen failed; trying again in %s s", self.every,
                                exc_info=True)
        finally:
            self._task = None

    async def flush(self) -> None:
        """Write what is pending, in one transaction; what fails stays pending."""
        async with self._flushing:
            pending, self._pending = self._pending, {}
            if not pending or self._open_uow is None:
                return
            try:
                async with self._open_uow() as uow:
                    await uow.users.record_seen_many(pending)
                    await uow.commit()
            except BaseException:
                for key, at in pending.items():
                    if key not in self._pending or self._pending[key] < at:
                        self._pending[key] = at
                raise
            if not self._pending:
                self._open_uow = None

    def cancel(self) -> None:
        """Stop the background writer (the engine is going away); pending moments stay."""
        if self._task is not None:
            self._task.cancel()
