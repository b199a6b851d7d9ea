"""Every call that sends to a Telegram chat goes through here. Messages the platform starts
(lessons, confirmations, reminders, broadcasts) keep Telegram's limits: about 30 a second
overall, one a second per chat (short bursts allowed), 20 a minute per group. An answer to
the student's own message or button press (or an edit) is not a bulk notification and is not
paced, though it takes its place in the overall pace (the paced sends after it make room); what
one chat may trigger is bounded instead (``admit_reply``: a token bucket per chat, beyond
which a press gets only its toast). Telegram's errors become the messenger error tree.

A 429 does not say which limit was hit. It is taken for the bot's overall limit, and pauses
all sending for ``retry_after``, when the bot sent at least half its overall rate in the last
second, or when another chat was limited too meanwhile (two chats limited at once is not
about either chat: another chat limited within the last 10 s counts). Otherwise only the
chat the call went to pauses: one student pressing buttons fast never holds up another's
lesson. A message to a paused chat waits if the pause ends within ``chat_patience`` seconds
and otherwise raises RetryAfter at once, so the outbox sends it again later; a reply to a
paused chat raises at once (it would hold up the updates behind it, and its press was
answered with a toast)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bots.base import MessengerError, RetryAfter, UserBlocked
from bots.ratelimit import (
    Buckets,
    ChatPauses,
    Limits,
    Pacer,
    Pause,
    RateMeter,
    SlidingWindow,
    sleep_until,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

UNREACHABLE = ("chat not found", "PEER_ID_INVALID")  # 400s; 403s are all "blocked"
# Telegram counts arrivals, which jitter: windows are kept a little longer than the limit says.
MARGIN = 1.05
# The overall pace counts each send from its answer (``Pacer``): it cannot have arrived later,
# so a small margin is enough there, for the clocks' jitter.
OVERALL_WINDOW = 1.005
BUSY_SHARE = 0.5  # of the overall rate: sending this much, a 429 is the bot's, not a chat's


class NotModified(MessengerError):
    """An edit that changes nothing: the message already shows it."""


class TelegramSender:
    def __init__(
        self,
        per_second: int = 30,
        per_chat_second: int = 1,
        per_group_minute: int = 20,
        retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        chat_burst: int = 3,
        group_window: float = 60.0,
        reply_burst: int = 10,
        replies_per_second: float = 2.0,
        chat_patience: float = 1.0,
    ) -> None:
        """Overall sends are evenly spaced (a burst of 30 at a second's edge would land next to
        the next second's); a chat may have ``chat_burst`` quick messages, one a second on
        average; a group its ``per_group_minute`` in any minute. A chat's own actions may
        trigger ``reply_burst`` answers at once, then ``replies_per_second``."""
        self.clock = clock
        self.retries = retries
        self.per_second = per_second
        self.chat_patience = chat_patience
        self.pause = Pause(clock)
        self.chat_pauses = ChatPauses(clock)
        self._recent = RateMeter(1.0)
        self._replies = Buckets(reply_burst, replies_per_second)
        self._overall = Pacer(per_second, clock, OVERALL_WINDOW)
        chat_window = MARGIN * chat_burst / per_chat_second
        self._chats = Limits(lambda: SlidingWindow(chat_burst, chat_window))
        self._groups = Limits(lambda: SlidingWindow(per_group_minute, MARGIN * group_window))

    def admit_reply(self, chat_id: int | str) -> bool:
        """May the chat's own action (a press, a message) be answered with a message now?"""
        return self._replies.take(chat_id, self.clock())

    async def call(
        self, chat_id: int | str, request: Callable[[], Awaitable[T]], reply: bool = False,
        admin: bool = False,
    ) -> T:
        """Run ``request`` (one Bot API call to ``chat_id``) within the limits; a ``reply``
        to the student's own action only waits out pauses (groups keep their limit), and so
        does an ``admin`` call (a link, a ban), which is no message."""
        paced = not admin and (not reply or _is_group(chat_id))
        chat_limit = self._groups if _is_group(chat_id) else self._chats
        for attempt in range(self.retries + 1):
            sent = None
            while True:  # a pause may begin while this send waits for its slots
                await self.pause.wait()
                await self._wait_for_chat(chat_id, 0.0 if reply else self.chat_patience)
                if paced:  # slots are taken after a pause, so it cannot release a burst
                    await sleep_until(chat_limit.reserve(chat_id, self.clock()), self.clock)
                    sent = await self._overall.wait()
                if not self.pause.active and not self.chat_pauses.left(chat_id):
                    break
            if not paced and not admin:  # a reply goes at once; paced sends make room for it
                sent = self._overall.take()
            try:
                self._recent.record(self.clock())
                return await request()
            except TelegramRetryAfter as exc:
                self._limited(chat_id, exc.retry_after)
                if attempt == self.retries:
                    raise RetryAfter(exc.retry_after) from exc
            except TelegramForbiddenError as exc:
                raise UserBlocked(exc.message) from exc
            except TelegramBadRequest as exc:
                if "message is not modified" in exc.message:
                    raise NotModified(exc.message) from exc
                if any(marker in exc.message for marker in UNREACHABLE):
                    raise UserBlocked(exc.message) from exc
                raise MessengerError(exc.message) from exc
            except (TelegramNetworkError, TelegramServerError, TelegramAPIError) as exc:
                raise MessengerError(str(exc)) from exc
            finally:
                if sent is not None:
                    self._overall.done(sent)
        raise AssertionError("unreachable")

    async def _wait_for_chat(self, chat_id: int | str, patience: float) -> None:
        left = self.chat_pauses.left(chat_id)
        if left > patience:
            raise RetryAfter(left)
        if left:
            await sleep_until(self.clock() + left, self.clock)

    def _limited(self, chat_id: int | str, seconds: float) -> None:
        """A 429 for a call to ``chat_id``: the whole bot's limit, or only that chat's?"""
        busy = self._recent.count(self.clock()) >= BUSY_SHARE * self.per_second
        if busy or self.chat_pauses.others_limited(chat_id):
            log.warning("Telegram asks to wait %s s; all sending pauses", seconds)
            self.pause.extend(seconds)
        else:
            log.info("Telegram limits chat %s for %s s; only that chat pauses", chat_id, seconds)
            self.chat_pauses.extend(chat_id, seconds)


def _is_group(chat_id: int | str) -> bool:
    return str(chat_id).startswith("-")
