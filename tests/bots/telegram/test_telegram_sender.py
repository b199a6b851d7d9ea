"""The one rate-limited path to Telegram, measured by the fake Bot API's clock of arrivals, or
by a stand-in for Telegram on virtual time where what is measured is the pacing itself."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from fake_bot_api import FakeBotAPI
from virtual_time import run_in_virtual_time

from bots.base import RetryAfter, UserBlocked
from bots.telegram.adapter import TelegramMessenger
from bots.telegram.sender import TelegramSender
from flows.ui import Peer, Screen


@pytest.fixture
async def bot(fake_telegram):
    messenger = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url)
    yield messenger
    await messenger.bot.session.close()


def peer(chat_id: int) -> Peer:
    return Peer("telegram", str(chat_id))


class StandIn:
    """Telegram as the sender's requests meet it, on virtual time (the sender's clock is the
    loop's, and a sleep takes no real time): the same moments on every run, however busy the
    machine. Notes when each call arrives; answers the first ``limited`` calls with 429."""

    def __init__(self, clock, limited: int = 0) -> None:
        self.clock = clock
        self.limited = limited
        self.arrivals: list[tuple[float, int, int]] = []  # (at, chat, HTTP status)

    def request(self, chat: int, text: str):
        async def call() -> tuple[int, str]:
            if self.limited:
                self.limited -= 1
                self.arrivals.append((self.clock(), chat, 429))
                raise TelegramRetryAfter(SendMessage(chat_id=chat, text=text),
                                         "Too Many Requests: retry after 1", retry_after=1)
            self.arrivals.append((self.clock(), chat, 200))
            return chat, text

        return call

    def delivered(self) -> list[float]:
        return [at for at, _, status in self.arrivals if status == 200]

    def max_rate(self, window: float) -> int:
        return FakeBotAPI.max_in_window((at for at, _, _ in self.arrivals), window)

    def max_rate_per_chat(self, window: float) -> int:
        chats = {chat for _, chat, _ in self.arrivals}
        return max(FakeBotAPI.max_in_window((at for at, to, _ in self.arrivals if to == chat),
                                            window) for chat in chats)


def test_a_burst_of_200_stays_within_the_limits_and_survives_429s():
    chats = [1000 + i for i in range(100)]

    async def burst(clock):
        telegram, sender = StandIn(clock, limited=3), TelegramSender(clock=clock)
        started = clock()
        sent = await asyncio.gather(*(sender.call(chat, telegram.request(chat, f"hello {n}"))
                                      for n in range(2) for chat in chats))
        return telegram, sent, clock() - started

    telegram, sent, elapsed = run_in_virtual_time(burst)

    assert len(set(sent)) == 200
    assert len(telegram.delivered()) == 200
    arrivals = telegram.arrivals
    for limited, _, _ in (a for a in arrivals if a[2] == 429):  # nothing new goes out in a pause
        assert not [at for at, _, _ in arrivals if limited + 0.1 < at < limited + 0.95]
    assert telegram.max_rate(1.0) <= 30
    assert telegram.max_rate_per_chat(1.0) <= 3  # 1/s, short bursts
    assert telegram.max_rate_per_chat(3.0) <= 3
    assert elapsed >= 200 / 30 - 1  # it really waited: no way around the limits


async def test_a_429_while_sending_near_the_overall_limit_pauses_every_sender(fake_telegram):
    # An overall limit of 2 a second: the one send before the 429 is already half of it, so
    # the 429 is the bot's, not the chat's.
    bot = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url,
                            sender=TelegramSender(per_second=2))
    fake_telegram.user(7)
    fake_telegram.user(8)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1)
    try:
        first = asyncio.create_task(bot.send(peer(7), Screen("one"), bulk=True))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(bot.send(peer(8), Screen("two"), bulk=True))
        await asyncio.gather(first, second)
    finally:
        await bot.bot.session.close()
    calls = fake_telegram.calls_to("sendMessage")
    assert [c.status for c in calls][0] == 429
    assert calls[1].at - calls[0].at >= 0.95 and calls[2].at - calls[0].at >= 0.95


async def test_a_429_for_one_chat_of_a_quiet_bot_pauses_only_that_chat(fake_telegram, bot):
    fake_telegram.user(7)
    fake_telegram.user(8)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1, chat_id=7)
    first = asyncio.create_task(bot.send(peer(7), Screen("one"), bulk=True))
    await asyncio.sleep(0.2)
    await bot.send(peer(8), Screen("two"), bulk=True)
    assert not first.done()  # chat 7 still waits out its pause
    await first
    limited, to_8, to_7 = fake_telegram.calls_to("sendMessage")
    assert (limited.chat_id, limited.status, to_8.chat_id, to_7.chat_id) == (7, 429, 8, 7)
    assert to_8.at - limited.at < 0.5 and to_7.at - limited.at >= 0.95


async def test_a_second_chat_limited_meanwhile_means_the_bot_is_limited(fake_telegram, bot):
    for chat in (7, 8, 9):
        fake_telegram.user(chat)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1, chat_id=7)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1, chat_id=8)
    first = asyncio.create_task(bot.send(peer(7), Screen("one"), bulk=True))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.send(peer(8), Screen("two"), bulk=True))
    await asyncio.sleep(0.1)
    await bot.send(peer(9), Screen("three"), bulk=True)
    await asyncio.gather(first, second)
    calls = fake_telegram.calls_to("sendMessage")
    to_9 = next(c for c in calls if c.chat_id == 9)
    limited_8 = next(c for c in calls if c.chat_id == 8)
    assert limited_8.status == 429 and to_9.at - limited_8.at >= 0.95


async def test_a_long_pause_of_one_chat_sends_its_messages_back_to_the_outbox(fake_telegram,
                                                                              bot):
    fake_telegram.user(7)
    fake_telegram.fail("sendMessage", code=429, retry_after=30, times=1, chat_id=7)
    started = time.monotonic()
    with pytest.raises(RetryAfter) as raised:
        await bot.send(peer(7), Screen("one"), bulk=True)
    assert time.monotonic() - started < 1.0 and 29 < raised.value.seconds <= 30
    with pytest.raises(RetryAfter):  # and the next one waits for no answer from Telegram
        await bot.send(peer(7), Screen("two"), bulk=True)
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_one_chat_may_trigger_only_so_many_replies(fake_telegram):
    sender = TelegramSender(reply_burst=3, replies_per_second=1.0)
    assert [sender.admit_reply(7) for _ in range(5)] == [True, True, True, False, False]
    assert sender.admit_reply(8)  # another chat has its own


async def test_a_429_that_never_ends_is_reported(fake_telegram):
    sender = TelegramSender(retries=1)
    messenger = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url, sender=sender)
    fake_telegram.user(9)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=None)
    try:
        with pytest.raises(RetryAfter):
            await messenger.send(peer(9), Screen("never"), bulk=True)
    finally:
        await messenger.bot.session.close()


async def test_groups_get_their_own_per_minute_limit(fake_telegram):
    # 20 a minute in production; 3 a second here, so the test takes a second, not a minute.
    sender = TelegramSender(per_group_minute=3, group_window=1.0)
    messenger = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url, sender=sender)
    group = fake_telegram.group(-100777)["id"]
    try:
        await asyncio.gather(*(messenger.send(peer(group), Screen(f"n{i}")) for i in range(7)))
    finally:
        await messenger.bot.session.close()
    assert fake_telegram.max_rate_per_chat("sendMessage", 1.0, chats="group") <= 3


async def test_a_blocked_student_raises_user_blocked(fake_telegram, bot):
    fake_telegram.user(11)
    fake_telegram.block(11)
    with pytest.raises(UserBlocked):
        await bot.send(peer(11), Screen("hi"))


async def test_answers_to_the_students_own_presses_are_not_paced(fake_telegram, bot):
    fake_telegram.user(12)
    started = time.monotonic()
    await asyncio.gather(*(bot.send(peer(12), Screen(f"reply {i}")) for i in range(10)))
    assert time.monotonic() - started < 1.0  # ten replies to one chat: no 1/s pacing


def test_a_pause_does_not_release_a_burst_to_one_chat():
    async def six_to_one_chat(clock):
        telegram, sender = StandIn(clock, limited=1), TelegramSender(clock=clock)
        await asyncio.gather(*(sender.call(13, telegram.request(13, f"m{i}")) for i in range(6)))
        return telegram

    telegram = run_in_virtual_time(six_to_one_chat)
    assert telegram.max_rate_per_chat(1.0) <= 3
    ok = telegram.delivered()
    assert len(ok) == 6 and ok[-1] - ok[0] >= 2.0  # 3 per ~3 s after the pause
