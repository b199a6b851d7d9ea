"""The one sender of broadcasts. It takes the broadcasts being sent, oldest first, and for each
runs a lane per messenger: a producer claims recipient rows in batches (the next batch while
the last is still going out), a few workers send them concurrently through the messenger's
channel, whose own limiter paces them (Telegram's 30 a second overall, 1 a second per chat),
so network round trips overlap and the limit itself is the only brake. Outcomes are written
back in batches, at most every ``flush_every`` seconds; the status is read back then too, so a
pause or a cancel stops the lane within that time (rows claimed and not yet sent go back).

A crash (``kill -9``) loses nothing: rows claimed and not written back are claimed again
once ``core.services.broadcasts.STALE_AFTER`` has passed; only those already sent among
them go out twice (at most the workers' messages in flight plus one flush interval's).

The author's chat shows a progress message edited in place at most every
``progress_every`` seconds (a messenger that cannot edit gets a new one at each quarter),
and a summary at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.broadcasts import Broadcast, BroadcastStatus, Claimed, Outcome, RecipientStatus
from core.ports import Clock, UnitOfWorkFactory
from core.school import School
from core.services import broadcasts
from flows.broadcast_view import message_screen, progress_screen, summary_screen
from flows.channel import Channel, MessengerError, RetryAfter, UserBlocked
from flows.texts import Texts
from flows.ui import MessageRef, Peer, Screen
from observability.metrics import Metrics

log = logging.getLogger(__name__)

# Messages in flight at once per messenger: enough to cover the round trips at its limit.
# VK's client sends one call at a time anyway: more would only queue answers to students.
WORKERS = {"telegram": 16, "vk": 2, "viber": 8}
DEFAULT_WORKERS = 8
MILESTONES = 4  # where the author's progress cannot be edited: a new message each quarter
AUTHOR_GAP = 1.05  # seconds between messages and edits in the author's chat


@dataclass(eq=False)
class _Run:
    """One broadcast being sent by this process."""

    broadcast: Broadcast
    started: float = field(default_factory=time.monotonic)
    done: int = 0  # rows settled by this run (for the pace, hence the time left)
    screens: dict[tuple[str, str], Screen] = field(default_factory=dict)
    flush_now: asyncio.Event = field(default_factory=asyncio.Event)
    last_report: float = 0.0
    milestone: int | None = None  # the last quarter reported, where edits are impossible

    @property
    def sending(self) -> bool:
        return self.broadcast.status is BroadcastStatus.SENDING


class BroadcastSender:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        school: Callable[[], School],
        channels: dict[str, Channel],
        *,
        batch: int = 100,
        workers: dict[str, int] | None = None,
        flush_every: float = 0.5,
        progress_every: float = 5.0,
        author_gap: float = AUTHOR_GAP,
        metrics: Metrics | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.channels = channels
        self.batch = batch
        self.workers = WORKERS | (workers or {})
        self.flush_every = flush_every
        self.progress_every = progress_every
        self.author_gap = author_gap
        self.metrics = metrics or Metrics()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._in_hand: dict[int, Claimed] = {}  # claimed, no outcome written yet
        self._outcomes: list[Outcome] = []
        self._blocked: list[int] = []  # identities that blocked the bot, to mark
        self._writing = 0  # flushes under way
        self._runs: set[_Run] = set()  # the broadcasts being sent now
        self._last_to_author: dict[Peer, float] = {}

    def wake(self) -> None:
        """Something changed (a broadcast made, paused, resumed): look again now."""
        self._wake.set()
        for run in self._runs:  # a pause or a cancel stops what is being sent at once
            run.flush_now.set()

    def start(self, may_send: Callable[[], Awaitable[bool]] | None = None,
              idle: float = 5.0) -> None:
        """Send in the background until ``stop``; ``may_send``: does this process send now
        (the one holding the scheduler lease does)?"""
        self._task = asyncio.create_task(self._run_forever(may_send, idle),
                                         name="broadcast sender")

    async def _run_forever(self, may_send: Callable[[], Awaitable[bool]] | None,
                           idle: float) -> None:
        while not self._stopping:
            try:
                if may_send is None or await may_send():
                    await self.drain()
            except Exception:
                log.exception("broadcast sending failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
            self._wake.clear()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop at once: messages in flight finish, claimed rows not sent yet go back to
        waiting, outcomes are written."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            except TimeoutError:
                log.warning("the broadcast sender did not stop within %s s", grace)
                self._task.cancel()
        await self._flush(None)
        if self._in_hand:
            async with self.uow_factory() as uow:
                await uow.broadcasts.release(list(self._in_hand))
                await uow.commit()
            self._in_hand.clear()

    async def drain(self) -> int:
        """Send every broadcast being sent, until none has a row to claim now. Returns how
        many messages went out."""
        async with self.uow_factory() as uow:
            sending = await broadcasts.sending(uow)
        sent = 0
        for broadcast in sending:
            if self._stopping:
                break
            sent += await self._send(_Run(broadcast))
        return sent

    # --- one broadcast --------------------------------------------------------------------

    async def _send(self, run: _Run) -> int:
        await self._report(run, force=run.broadcast.progress_message_id is None)
        async with self.uow_factory() as uow:  # claimed ones: a dead sender's, maybe
            waiting = {m for status in (RecipientStatus.PENDING, RecipientStatus.CLAIMED)
                       for m in await uow.broadcasts.counts_by_messenger(run.broadcast.id,
                                                                         status)}
        gone = [m for m in waiting if m not in self.channels]
        if gone:  # a messenger the school no longer runs: nobody can be reached there
            await self._skip_messengers(run, gone)
        lanes = [asyncio.create_task(self._lane(run, m), name=f"broadcast {m}")
                 for m in sorted(waiting) if m in self.channels]
        flusher = asyncio.create_task(self._flush_loop(run, lanes))
        self._runs.add(run)
        try:
            results = await asyncio.gather(*lanes)
        finally:
            self._runs.discard(run)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self._flush(run)
        await self._finish(run)
        return sum(results)

    async def _skip_messengers(self, run: _Run, messengers: list[str]) -> None:
        now = self.clock.now()
        async with self.uow_factory() as uow:
            for messenger in messengers:
                claimed = await broadcasts.claim(uow, run.broadcast, messenger, now, 10**9)
                await broadcasts.record(uow, [broadcasts.skipped(c, "messenger not running")
                                              for c in claimed], [], now)
            await uow.commit()

    async def _lane(self, run: _Run, messenger: str) -> int:
        channel = self.channels[messenger]
        queue: asyncio.Queue[Claimed | None] = asyncio.Queue(maxsize=self.batch)
        sent = [0]
        async with asyncio.TaskGroup() as group:  # a worker that dies takes the lane down
            workers = [group.create_task(self._work(run, channel, queue, sent))
                       for _ in range(self.workers.get(messenger, DEFAULT_WORKERS))]
            await self._produce(run, messenger, queue)
            for _ in workers:
                await queue.put(None)
        return sent[0]

    async def _produce(self, run: _Run, messenger: str,
                       queue: asyncio.Queue[Claimed | None]) -> None:
        while run.sending and not self._stopping:
            async with self.uow_factory() as uow:
                claimed = await broadcasts.claim(uow, run.broadcast, messenger,
                                                 self.clock.now(), self.batch)
                await uow.commit()
            if not claimed:
                if not self._busy(messenger):
                    return
                # Rows still going out may come back (a failure to try again): once they
                # are written back they can be claimed.
                await asyncio.sleep(self.flush_every)
                await self._flush(run)
                continue
            for c in claimed:
                if c.recipient.id in self._in_hand:
                    continue  # still queued here since before the stale bound
                self._in_hand[c.recipient.id] = c
                await queue.put(c)

    async def _work(self, run: _Run, channel: Channel, queue: asyncio.Queue[Claimed | None],
                    sent: list[int]) -> None:
        while (c := await queue.get()) is not None:
            if self._stopping or run.broadcast.status is BroadcastStatus.PAUSED:
                outcome = broadcasts.later(c, "paused")
            elif not run.sending:
                outcome = broadcasts.skipped(c, "cancelled")
            else:
                outcome = await self._deliver(run, channel, c)
                sent[0] += outcome.status is RecipientStatus.SENT
            self._settle(run, c, outcome)

    async def _deliver(self, run: _Run, channel: Channel, c: Claimed) -> Outcome:
        recipient = c.recipient
        try:
            await channel.send(Peer(recipient.messenger, c.external_id),
                               self._screen(run, channel, c.language), bulk=True,
                               key=f"broadcast:{run.broadcast.id}:{recipient.id}")
        except UserBlocked as exc:
            self._blocked.append(recipient.identity_id)
            return broadcasts.blocked(c, str(exc))
        except RetryAfter as exc:  # the channel paused all sending; this one goes again
            self.metrics.rate_limited(recipient.messenger)
            return broadcasts.later(c, str(exc))
        except MessengerError as exc:
            return broadcasts.failed(c, str(exc))
        except Exception as exc:  # one broken message must not stop the broadcast
            log.exception("broadcast %s to %s failed", run.broadcast.id, recipient.id)
            return broadcasts.failed(c, repr(exc))
        self.metrics.sent(recipient.messenger)
        return broadcasts.sent(c)

    def _screen(self, run: _Run, channel: Channel, language: str) -> Screen:
        key = (channel.name, language)
        if key not in run.screens:
            t = Texts(self.school(), language)
            run.screens[key] = message_screen(run.broadcast, t, channel.capabilities)
        return run.screens[key]

    def _busy(self, messenger: str) -> bool:
        """Are rows of ``messenger`` still going out, or outcomes not written yet?"""
        return bool(self._outcomes) or self._writing > 0 or any(c.recipient.messenger == messenger
                                           for c in self._in_hand.values())

    def _settle(self, run: _Run, c: Claimed, outcome: Outcome) -> None:
        self._in_hand.pop(c.recipient.id, None)
        self._outcomes.append(outcome)
        if outcome.status is not RecipientStatus.PENDING:
            run.done += 1
        if len(self._outcomes) >= self.batch:
            run.flush_now.set()

    # --- writing back and reporting -------------------------------------------------------

    async def _flush_loop(self, run: _Run, lanes: list[asyncio.Task]) -> None:
        while not all(lane.done() for lane in lanes):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.flush_now.wait(), self.flush_every)
            run.flush_now.clear()
            try:
                await self._flush(run)
                await self._report(run)
            except Exception:  # the next flush writes them
                log.exception("writing broadcast outcomes failed")

    async def _flush(self, run: _Run | None) -> None:
        """Write the outcomes so far in one transaction, and read the status back."""
        outcomes, self._outcomes = self._outcomes, []
        blocked, self._blocked = self._blocked, []
        self._writing += 1
        try:
            async with self.uow_factory() as uow:
                await broadcasts.record(uow, outcomes, blocked, self.clock.now())
                if run is not None:
                    found = await uow.broadcasts.statuses([run.broadcast.id])
                    run.broadcast.status = found.get(run.broadcast.id, run.broadcast.status)
                await uow.commit()
        except BaseException:
            self._outcomes[:0], self._blocked[:0] = outcomes, blocked
            raise
        finally:
            self._writing -= 1

    async def _finish(self, run: _Run) -> None:
        broadcast = run.broadcast
        if broadcast.status is BroadcastStatus.SENDING:
            async with self.uow_factory() as uow:
                finished = await broadcasts.finish_if_done(uow, broadcast.id, self.clock.now())
                await uow.commit()
            if not finished:
                return  # rows of a dead sender wait for the stale bound: a later drain
            broadcast.status = BroadcastStatus.DONE
        elif broadcast.status is not BroadcastStatus.CANCELLED:
            await self._report(run, force=True)  # paused: the buttons say resume
            return
        author = self.channels.get(broadcast.author_messenger)
        if author is not None and author.capabilities.can_edit:
            await self._report(run, force=True)  # the last counts, without buttons
        await self._summary(run)

    async def _author(self, broadcast: Broadcast) -> tuple[Channel, Peer, Texts] | None:
        channel = self.channels.get(broadcast.author_messenger)
        if channel is None:
            return None
        async with self.uow_factory() as uow:
            identity = await uow.users.identity(broadcast.author_messenger,
                                                broadcast.author_chat_id)
            user = await uow.users.get(identity.user_id) if identity else None
        school = self.school()
        t = Texts(school, user.language if user else school.default_language,
                  user.timezone if user else None)
        return channel, Peer(broadcast.author_messenger, broadcast.author_chat_id), t

    async def _report(self, run: _Run, force: bool = False) -> None:
        """The progress message: edited in place, not more often than ``progress_every``."""
        now = time.monotonic()
        if not force and now - run.last_report < self.progress_every:
            return
        author = await self._author(run.broadcast)
        if author is None:
            return
        channel, peer, t = author
        async with self.uow_factory() as uow:
            progress = await broadcasts.progress(uow, run.broadcast.id)
        elapsed = now - run.started
        left = progress.remaining * elapsed / run.done if run.done else None
        screen = progress_screen(run.broadcast, progress, t, left)
        run.last_report = now
        message_id = run.broadcast.progress_message_id
        try:
            if message_id is not None and channel.capabilities.can_edit:
                await self._to_author(peer, lambda: channel.edit(
                    MessageRef(peer, message_id), screen, bulk=True))
                return
            if message_id is not None:  # no edits here: a new message at each quarter
                reached = (progress.total - progress.remaining) * MILESTONES \
                    // max(progress.total, 1)
                last, run.milestone = run.milestone, max(reached, run.milestone or 0)
                if last is None or reached <= last:
                    return
            ref = await self._to_author(peer, lambda: channel.send(peer, screen, bulk=True))
        except MessengerError as exc:
            log.warning("broadcast %s: progress not shown: %s", run.broadcast.id, exc)
            return
        if ref.message_id != message_id:
            run.broadcast.progress_message_id = ref.message_id
            async with self.uow_factory() as uow:
                await broadcasts.set_progress_message(uow, run.broadcast.id, ref.message_id)
                await uow.commit()

    async def _to_author(self, peer: Peer,
                         call: Callable[[], Awaitable[MessageRef]]) -> MessageRef:
        """One message or edit a second in the author's chat (a chat's own limit)."""
        wait = self._last_to_author.get(peer, 0.0) + self.author_gap - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            return await call()
        finally:
            self._last_to_author[peer] = time.monotonic()

    async def _summary(self, run: _Run) -> None:
        author = await self._author(run.broadcast)
        if author is None:
            return
        channel, peer, t = author
        async with self.uow_factory() as uow:
            broadcast = await broadcasts.get(uow, run.broadcast.id)
            progress = await broadcasts.progress(uow, run.broadcast.id)
            presses = await broadcasts.presses(uow, run.broadcast.id)
        assert broadcast is not None
        began = broadcast.start_at or broadcast.created_at
        ended = broadcast.finished_at or self.clock.now()
        took = ended - began if began else ended - ended
        try:
            summary = summary_screen(broadcast, progress, presses, t, took)
            await self._to_author(peer, lambda: channel.send(peer, summary, bulk=True))
        except MessengerError as exc:
            log.warning("broadcast %s: summary not sent: %s", broadcast.id, exc)
