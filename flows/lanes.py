"""Sending many messages at once while each chat gets its own in order: jobs run ``width`` at a
time (so network round trips overlap and the messenger's limiter is the only brake), and
jobs of the same key (a student) one after another, in the order they were put."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType

Job = Callable[[], Awaitable[None]]


class OrderedLane:
    """``async with OrderedLane(16) as lane: await lane.put(key, job)``; leaving waits for
    every job. ``put`` waits while ``width`` jobs are queued (so a producer never runs far
    ahead). A job that raises takes the lane down (catch inside the job what may fail)."""

    def __init__(self, width: int) -> None:
        if width < 1:
            raise ValueError("a lane runs at least one job at a time")
        self.width = width
        self._queue: asyncio.Queue[tuple[Hashable, Job] | None] = asyncio.Queue(maxsize=width)
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}  # jobs of each key queued or running
        self._group = asyncio.TaskGroup()

    async def __aenter__(self) -> OrderedLane:
        await self._group.__aenter__()
        for _ in range(self.width):
            self._group.create_task(self._work())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if kind is None:
            for _ in range(self.width):
                await self._queue.put(None)
        return await self._group.__aexit__(kind, error, trace)

    async def put(self, key: Hashable, job: Job) -> None:
        await self._queue.put((key, job))

    async def _work(self) -> None:
        while (item := await self._queue.get()) is not None:
            key, job = item
            # Taken at once in queue order: an earlier job of the key holds the lock or
            # waits for it ahead of this one (asyncio's locks are first come, first served).
            lock = self._locks.setdefault(key, asyncio.Lock())
            self._users[key] = self._users.get(key, 0) + 1
            try:
                async with lock:
                    await job()
            finally:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key], self._locks[key]
