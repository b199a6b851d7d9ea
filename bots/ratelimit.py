"""Sliding-window rate limits with reservations, for a messenger's one sending path.

A limiter gives each send a moment at which it may go: never more than ``limit`` sends in any
``window`` seconds. Reservations are kept in order, so waiting senders are served first come,
first served, and a send reserved for later counts against the window it will land in."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a window allows at least one send in a positive time")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def reserve(self, now: float) -> float:
        """Book the earliest moment at or after ``now`` (and after earlier bookings)."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        moment = now
        if self._times:
            moment = max(moment, self._times[-1])
        if len(self._times) >= self.limit:
            moment = max(moment, self._times[-self.limit] + self.window)
        self._times.append(moment)
        return moment

    def quiet(self, now: float) -> bool:
        """Has nothing been booked within the last window (so forgetting it changes nothing)?"""
        return not self._times or self._times[-1] <= now - self.window


class Pacer:
    """At most ``per_second`` sends in any ``window`` seconds, served first come, first served,
    never closer together than half their even spacing (no bursts).

    The window counts when sends really went: a send counts from the moment it went, or,
    once the caller says it is ``done`` (the answer came), from then on (it arrived by then),
    up to ``hold`` seconds later. So a send held up between its turn and the wire (a busy
    event loop, a stalled process) for up to ``hold`` cannot let the ones after it land in its
    window; and the time a late send lost is made up within the window, so the pace stays at
    the limit."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 window: float = 1.0, hold: float = 1.0) -> None:
        if per_second < 1 or window <= 0:
            raise ValueError("a pace is at least one send in a positive window")
        self.hold = hold  # the longest a send may be held up on its way out, seconds
        self.limit = int(per_second)
        self.window = window
        self.gap = window / self.limit / 2
        self._clock = clock
        self._sent: deque[list[float]] = deque(maxlen=self.limit)  # [went, counted from]
        self._lock = asyncio.Lock()

    def next_moment(self) -> float:
        """The earliest moment the next send may go."""
        moment = self._clock()
        if self._sent:
            moment = max(moment, self._sent[-1][0] + self.gap)
        if len(self._sent) == self.limit:
            moment = max(moment, self._sent[0][1] + self.window)
        return moment

    async def wait(self) -> list[float]:
        """Until this send may go; it then counts as gone. Returns what ``done`` takes."""
        async with self._lock:
            # A loop: a send that did not wait (``take``) may have come meanwhile.
            while (moment := self.next_moment()) > self._clock():  # noqa: ASYNC110
                await sleep_until(moment, self._clock)
            return self.take()

    def take(self) -> list[float]:
        """A send goes now (one that did not wait counts too: the next ones make room)."""
        now = self._clock()
        sent = [now, now]
        self._sent.append(sent)
        return sent

    def done(self, sent: list[float]) -> None:
        """The send ``wait`` or ``take`` returned has been answered: it arrived by now, and
        counts from now, or from ``hold`` after it went if the answer took longer (a slow
        network's round trip must not slow the pace)."""
        sent[1] = min(self._clock(), sent[0] + self.hold)


class Limits:
    """Windows per key (a chat, a group) created on demand and forgotten when idle."""

    def __init__(self, make: Callable[[], SlidingWindow], keep: int = 10_000) -> None:
        self._make = make
        self._keep = keep
        self._windows: dict[object, SlidingWindow] = {}

    def reserve(self, key: object, now: float) -> float:
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self._keep:
                self._forget_idle(now)
            window = self._windows[key] = self._make()
        return window.reserve(now)

    def _forget_idle(self, now: float) -> None:
        for key, window in list(self._windows.items()):
            if window.quiet(now):
                del self._windows[key]


class Pause:
    """A pause for every sender at once, as a messenger's "retry after N seconds" asks."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0

    def extend(self, seconds: float) -> None:
        self._until = max(self._until, self._clock() + seconds)

    @property
    def active(self) -> bool:
        return self._until > self._clock()

    async def wait(self) -> None:
        # A loop, not an Event: another 429 may extend the pause while we sleep.
        while (left := self._until - self._clock()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)


class ChatPauses:
    """Pauses of single chats: a messenger that limits one chat ("retry after N seconds" for a
    message to it) stops only that chat, while the others go on."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, memory: float = 10.0) -> None:
        self._clock = clock
        self._memory = memory  # how long an ended pause is remembered by ``others_limited``
        self._until: dict[object, float] = {}

    def extend(self, key: object, seconds: float) -> None:
        now = self._clock()
        for other, until in list(self._until.items()):
            if until <= now - self._memory:
                del self._until[other]
        self._until[key] = max(self._until.get(key, 0.0), now + seconds)

    def left(self, key: object) -> float:
        """Seconds until the chat may be sent to again (0 when it is not paused)."""
        return max(self._until.get(key, 0.0) - self._clock(), 0.0)

    def others_limited(self, key: object) -> bool:
        """Was a chat other than ``key`` paused within the remembered time?"""
        since = self._clock() - self._memory
        return any(until > since for other, until in self._until.items() if other != key)


class RateMeter:
    """How many requests went out in the last ``window`` seconds, whatever their kind."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def record(self, now: float) -> None:
        self._times.append(now)
        self._drop(now)

    def count(self, now: float) -> int:
        self._drop(now)
        return len(self._times)

    def _drop(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()


class TokenBucket:
    """``burst`` at once, then ``per_second`` on average: ``take`` says if one more may go."""

    def __init__(self, burst: float, per_second: float, now: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def full(self, now: float) -> bool:
        return self._tokens + (now - self._at) * self.per_second >= self.burst


class Buckets:
    """A token bucket per key (a chat), created on demand and forgotten once full again."""

    def __init__(self, burst: float, per_second: float, keep: int = 10_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self._keep = keep
        self._buckets: dict[object, TokenBucket] = {}

    def take(self, key: object, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._keep:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.full(now)}
            bucket = self._buckets[key] = TokenBucket(self.burst, self.per_second, now)
        return bucket.take(now)


async def sleep_until(moment: float, clock: Callable[[], float] = time.monotonic) -> None:
    delay = moment - clock()
    if delay > 0:
        await asyncio.sleep(delay)
