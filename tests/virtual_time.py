"""An event loop on virtual time, for code that paces itself with ``asyncio.sleep`` and a
``clock``: whenever nothing is ready to run and no socket has anything to read, the loop's
clock jumps to its next timer instead of waiting for it. Seconds of pacing take no real time,
and what the code under test sees of time no longer depends on how busy the machine is.

Meant for code without I/O (a request stood in for by a coroutine): a socket whose answer is
still on its way would let the clock jump past it.

    def test_pacing():
        async def scenario(clock):
            sender = Sender(clock=clock)
            ...
        run_in_virtual_time(scenario)
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
START = 1000.0  # any moment will do; not 0, so that "before the start" is a time too


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.now = START

    def select(self, timeout: float | None = None):  # type: ignore[override]
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only a socket or another thread can wake us
            return super().select(None)
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


def run_in_virtual_time(main: Callable[[Callable[[], float]], Awaitable[T]]) -> T:
    """Runs ``main(clock)`` to its end on a new virtual-time loop; ``clock`` is its time."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop.time))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
