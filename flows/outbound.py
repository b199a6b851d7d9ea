"""The one path for messages the platform starts (payment confirmations, lessons, access
ending): each is recorded in the outbox before sending and marked after, so a crash loses
none and only a message in flight at the crash can go out twice.

Replies to a student's own message or button press are answered directly by the engine
instead: the student is there and repeats the action if a crash swallows the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from core.models import Identity, OutboxMessage, User
from core.ports import Clock, UnitOfWorkFactory
from core.school import School
from core.services import users
from flows import notifications
from flows.channel import Channel, CheckoutUrl, MessengerError, RetryAfter, UserBlocked
from flows.texts import Texts
from flows.ui import Peer
from observability.metrics import Metrics

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)  # a SENDING message older than this lost its sender
MAX_ATTEMPTS = 8
PARKED_FOR = timedelta(hours=1)  # a student nobody can reach now: look again this much later
KEEP_PARKED = timedelta(days=30)  # then give up: the lesson is in "My courses" anyway


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


class OutboundDispatcher:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        school: Callable[[], School],
        channels: dict[str, Channel],
        checkout_url: CheckoutUrl,
        batch: int = 50,
        prepare: dict[str, Callable[[OutboxMessage], Awaitable[None]]] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        # Work a message of some kind needs before it can be rendered, done with no
        # transaction open (a group invite's personal link is made in Telegram).
        self.prepare = dict(prepare or {})
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.channels = channels
        self.checkout_url = checkout_url
        self.batch = batch
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
        """Send everything that is due now. Returns how many messages were claimed."""
        total = 0
        while claimed := await self.dispatch_once():
            total += claimed
        return total

    async def dispatch_once(self) -> int:
        """Claim due messages and send them. Returns how many were claimed."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            claimed = await uow.outbox.claim(now, now - STALE_AFTER, self.batch)
            await uow.commit()
        for message in claimed:
            await self._send_one(message)
        return len(claimed)

    async def _target(self, uow, user: User) -> Identity | None:
        """The messenger the student chose, or else the one they used last, among those
        that can reach them now."""
        reachable = [i for i in await uow.users.identities(user.id)
                     if i.reachable and i.messenger in self.channels]
        chosen = [i for i in reachable if i.messenger == user.preferred_messenger]
        return (chosen or reachable or [None])[0]

    async def _send_one(self, message: OutboxMessage) -> None:
        try:
            await self._try_send(message)
        except Exception as exc:  # one broken message must not hold up the others
            log.exception("outbox message %s failed", message.id)
            await self._finish(message, retry_in=backoff(message.attempts), error=repr(exc))

    async def _try_send(self, message: OutboxMessage) -> None:
        school = self.school()
        if (prepare := self.prepare.get(message.kind)) is not None:
            await prepare(message)
        async with self.uow_factory() as uow:
            user = await uow.users.get(message.user_id)
            identity = await self._target(uow, user) if user is not None else None
            screen = None
            if user is not None and identity is not None:
                t = Texts(school, user.language, user.timezone)
                screen = await notifications.render(
                    uow, school, t, message, self.checkout_url,
                    self.channels[identity.messenger].capabilities, self.clock.now())
        if user is None:
            await self._finish(message, failed="no such student")
            return
        if identity is None:
            # Blocked everywhere, or its messenger is not running now: the message waits for
            # the student to write again, without using up its attempts.
            await self._park(message)
            return
        if screen is None:
            await self._finish(message, failed="what it spoke of is gone")
            return
        channel = self.channels[identity.messenger]
        try:
            await channel.send(Peer(identity.messenger, identity.external_id), screen, bulk=True,
                               key=f"outbox:{message.id}")
        except UserBlocked as exc:
            async with self.uow_factory() as uow:
                await users.mark_unreachable(uow, identity.id)
                await uow.commit()
            await self._finish(message, retry_in=timedelta(0), error=str(exc))
        except RetryAfter as exc:
            self.metrics.rate_limited(identity.messenger)
            await self._postpone(message, timedelta(seconds=exc.seconds), str(exc))
        except MessengerError as exc:
            await self._finish(message, retry_in=backoff(message.attempts), error=str(exc))
        else:
            self.metrics.sent(identity.messenger)
            await self._finish(message, sent_to=identity.id)

    async def _park(self, message: OutboxMessage) -> None:
        await self._postpone(message, PARKED_FOR, "no reachable messenger")

    async def _postpone(self, message: OutboxMessage, wait: timedelta, reason: str) -> None:
        """Send it again after ``wait``, however many attempts it took: nobody can be reached
        now, or the messenger's rate limit says wait (a chat's own pause sends only that
        chat's messages back here, and the rest of the batch goes on). Neither is a failure
        of the message; only 30 days of it give up."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if message.created_at and now - message.created_at > KEEP_PARKED:
                await uow.outbox.mark_failed(message.id, f"{reason} for 30 days")
            else:
                await uow.outbox.mark_retry(message.id, now + wait, reason)
            await uow.commit()

    async def _finish(
        self,
        message: OutboxMessage,
        sent_to: int | None = None,
        retry_in: timedelta | None = None,
        error: str = "",
        failed: str = "",
    ) -> None:
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if retry_in is not None and message.attempts < MAX_ATTEMPTS:
                await uow.outbox.mark_retry(message.id, now + retry_in, error)
            elif retry_in is not None or failed:
                await uow.outbox.mark_failed(message.id, failed or error)
            else:
                await uow.outbox.mark_sent(message.id, sent_to, now)
            await uow.commit()
