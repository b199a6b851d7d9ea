"""Every call that sends to a Telegram chat goes through here. Messages the platform starts
(lessons, confirmations, reminders, broadcasts) keep Telegram's limits: about 30 a second
overall, one a second per chat (short bursts allowed), 20 a minute per group. An answer to
the student's own message or button press is not a bulk notification and is not paced, but
it too waits out a 429 pause, which stops all sending for ``retry_after`` before retrying.
Telegram's errors become the messenger error tree."""

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
from bots.ratelimit import Limits, Pause, SlidingWindow, sleep_until

log = logging.getLogger(__name__)
T = TypeVar("T")

UNREACHABLE = ("chat not found", "PEER_ID_INVALID")  # 400s; 403s are all "blocked"
# Telegram counts arrivals, which jitter: windows are kept a little longer than the limit says.
MARGIN = 1.05


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
    ) -> None:
        """Overall sends are evenly spaced (a burst of 30 at a second's edge would land next to
        the next second's); a chat may have ``chat_burst`` quick replies, one a second on
        average; a group its ``per_group_minute`` in any minute."""
        self.clock = clock
        self.retries = retries
        self.pause = Pause(clock)
        self._overall = SlidingWindow(1, MARGIN / per_second)
        chat_window = MARGIN * chat_burst / per_chat_second
        self._chats = Limits(lambda: SlidingWindow(chat_burst, chat_window))
        self._groups = Limits(lambda: SlidingWindow(per_group_minute, MARGIN * group_window))

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
            while True:  # a pause may begin while this send waits for its slots
                await self.pause.wait()
                if paced:  # slots are taken after a pause, so it cannot release a burst
                    await sleep_until(chat_limit.reserve(chat_id, self.clock()), self.clock)
                    await sleep_until(self._overall.reserve(self.clock()), self.clock)
                if not self.pause.active:
                    break
            try:
                return await request()
            except TelegramRetryAfter as exc:
                log.warning("Telegram asks to wait %s s; all sending pauses", exc.retry_after)
                self.pause.extend(exc.retry_after)
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
        raise AssertionError("unreachable")


def _is_group(chat_id: int | str) -> bool:
    return str(chat_id).startswith("-")
