"""The runner: moves automations on as soon as something may have started or answered one,
instead of at the next sweep. It is woken after commits (``wake``, as a ``Notifier``: the
payment desk and the conversation wake it with the outbox's dispatcher, see ``Wakes``), and
looks by itself every few seconds. Work is claimed row by row, so runners in several
processes and the scheduler's sweep never do one step twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from core.automations import jobs
from core.ports import Clock, Notifier, UnitOfWorkFactory
from core.school import School

log = logging.getLogger(__name__)


class AutomationRunner:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 school: Callable[[], School], notifier: Notifier | None = None) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.notifier = notifier  # the outbox's dispatcher: runs record messages
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_now(self) -> int:
        """Events into runs and every due run, now. Returns how much happened."""
        return await self._pass()

    async def after_turn(self) -> int:
        """What a conversation turn started or answered (a few batches: a backlog is the
        loop's and the sweep's)."""
        return await self._pass(batch=25, rounds=4)

    async def _pass(self, batch: int = jobs.BATCH, rounds: int | None = None) -> int:
        count = await jobs.run_now(self.uow_factory, self.school(), self.clock.now(), batch,
                                   rounds)
        if count and self.notifier is not None:
            self.notifier.wake()
        return count

    async def run_forever(self, idle: float = 5.0) -> None:
        while True:
            try:
                await self.run_now()
            except Exception:
                log.exception("automation pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
            self._wake.clear()


class Wakes:
    """Several notifiers woken as one (the dispatcher and the runner)."""

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    def wake(self) -> None:
        for notifier in self.notifiers:
            notifier.wake()
