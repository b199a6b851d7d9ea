"""The one path for messages the platform starts (payment confirmations, lessons, access
ending): each is recorded in the outbox before sending and marked after, so a crash loses
none and only a message in flight at the crash can go out twice. Who gets each message and
what becomes of it after a try is ``core.services.delivery``'s to say; this sends and renders.

Replies to a student's own message or button press are answered directly by the engine
instead: the student is there and repeats the action if a crash swallows the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from core import notices
from core.models import OutboxMessage
from core.notices import Notice
from core.ports import Clock, UnitOfWorkFactory
from core.school import School
from core.services import delivery
from flows import notifications
from flows.channel import Channel, MessengerError, RetryAfter, UserBlocked
from flows.checkout_ways import CheckoutWays
from flows.lanes import OrderedLane
from flows.texts import Texts
from flows.ui import Peer, Screen
from observability.metrics import Metrics

log = logging.getLogger(__name__)


class OutboundDispatcher:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        school: Callable[[], School],
        channels: dict[str, Channel],
        checkout: CheckoutWays,
        batch: int = 100,
        prepare: Mapping[type[Notice], Callable[[Any], Awaitable[None]]] | None = None,
        metrics: Metrics | None = None,
        width: int = 16,
    ) -> None:
        # Work a notice of some kind needs before it can be rendered, done with no
        # transaction open (a group invite's personal link is made in Telegram).
        self.prepare: dict[type[Notice], Callable[[Any], Awaitable[None]]] = dict(prepare or {})
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.channels = channels
        self.checkout = checkout
        self.batch = batch
        self.width = width  # messages in flight at once; each student's go in order
        self._wake = asyncio.Event()
        self.metrics = metrics or Metrics()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, idle: float = 5.0) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("outbound dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
            self._wake.clear()

    async def drain(self) -> int:
        """Send everything that is due now, ``width`` messages at a time (the next batch is
        claimed while the last one is going out). Returns how many messages were claimed."""
        total = 0
        while True:  # again once all went: a try may have made a message due at once
            claimed_now = 0
            async with OrderedLane(self.width) as lane:
                while claimed := await self._claim():
                    claimed_now += len(claimed)
                    for message in claimed:
                        await lane.put(message.user_id, self._job(message))
            if not claimed_now:
                return total
            total += claimed_now

    async def dispatch_once(self) -> int:
        """Claim one batch of due messages and send it. Returns how many were claimed."""
        async with OrderedLane(self.width) as lane:
            claimed = await self._claim()
            for message in claimed:
                await lane.put(message.user_id, self._job(message))
        return len(claimed)

    async def _claim(self) -> list[OutboxMessage]:
        async with self.uow_factory() as uow:
            claimed = await delivery.claim(uow, self.clock.now(), self.batch)
            await uow.commit()
        return claimed

    def _job(self, message: OutboxMessage) -> Callable[[], Awaitable[None]]:
        return lambda: self._send_one(message)

    async def _send_one(self, message: OutboxMessage) -> None:
        try:
            await self._try_send(message)
        except Exception as exc:  # one broken message must not hold up the others
            log.exception("outbox message %s failed", message.id)
            await self._record(delivery.failed, message, repr(exc))

    async def _try_send(self, message: OutboxMessage) -> None:
        school = self.school()
        kind = notices.KINDS.get(message.kind)  # an unknown one fails in rendering
        if kind is not None and (prepare := self.prepare.get(kind)) is not None:
            await prepare(kind.from_data(message.data))
        async with self.uow_factory() as uow:
            user, identity = await delivery.recipient(uow, message, self.channels)
            screen = None
            if user is not None and identity is not None:
                t = Texts(school, user.language, user.timezone)
                screen = await notifications.render(
                    uow, school, t, message, self.checkout,
                    self.channels[identity.messenger].capabilities, self.clock.now())
        if user is None:
            await self._record(delivery.dropped, message, "no such student")
        elif identity is None:
            await self._record(delivery.parked, message)
        elif screen is None:
            await self._record(delivery.dropped, message, "what it spoke of is gone")
        else:
            await self._send(message, identity.messenger, identity.external_id, identity.id,
                             screen)

    async def _send(self, message: OutboxMessage, messenger: str, external_id: str,
                    identity_id: int, screen: Screen) -> None:
        try:
            ref = await self.channels[messenger].send(Peer(messenger, external_id), screen,
                                                      bulk=True, key=f"outbox:{message.id}")
        except UserBlocked as exc:
            await self._record(delivery.blocked, message, identity_id, str(exc))
        except RetryAfter as exc:
            self.metrics.rate_limited(messenger)
            await self._record(delivery.postponed, message, timedelta(seconds=exc.seconds),
                               str(exc))
        except MessengerError as exc:
            await self._record(delivery.failed, message, str(exc))
        else:
            self.metrics.sent(messenger)
            await self._record(delivery.sent, message, identity_id, ref.message_id)

    async def _record(
        self, outcome: Callable[..., Awaitable[None]], message: OutboxMessage, *args: object
    ) -> None:
        """What became of the try, in its own transaction (no send is in flight)."""
        async with self.uow_factory() as uow:
            await outcome(uow, message, *args, self.clock.now())
            await uow.commit()
