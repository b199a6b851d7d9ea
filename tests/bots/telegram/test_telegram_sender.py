"""The one rate-limited path to Telegram, measured by the fake Bot API's clock of arrivals."""

from __future__ import annotations

import asyncio
import time

import pytest

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


async def test_a_burst_of_200_stays_within_the_limits_and_survives_429s(fake_telegram, bot):
    chats = [1000 + i for i in range(100)]
    for chat in chats:
        fake_telegram.user(chat)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=3)
    started = time.monotonic()
    sends = [bot.send(peer(chat), Screen(f"hello {n}"), bulk=True)
             for n in range(2) for chat in chats]
    refs = await asyncio.gather(*sends)
    elapsed = time.monotonic() - started

    assert len({(r.peer.chat_id, r.message_id) for r in refs}) == 200
    calls = fake_telegram.calls_to("sendMessage")
    delivered = [c for c in calls if c.status == 200]
    assert len(delivered) == 200
    for limited in (c for c in calls if c.status == 429):  # nothing new goes out in a pause
        assert not [c for c in calls if limited.at + 0.1 < c.at < limited.at + 0.95]
    assert fake_telegram.max_rate("sendMessage", 1.0) <= 30
    assert fake_telegram.max_rate_per_chat("sendMessage", 1.0) <= 3  # 1/s, short bursts
    assert fake_telegram.max_rate_per_chat("sendMessage", 3.0) <= 3
    assert elapsed >= 200 / 30 - 1  # it really waited: no way around the limits
    assert fake_telegram.violations == []


async def test_a_429_pauses_every_sender_for_its_retry_after(fake_telegram, bot):
    fake_telegram.user(7)
    fake_telegram.user(8)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1)
    first = asyncio.create_task(bot.send(peer(7), Screen("one"), bulk=True))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.send(peer(8), Screen("two"), bulk=True))
    await asyncio.gather(first, second)
    calls = fake_telegram.calls_to("sendMessage")
    assert [c.status for c in calls][0] == 429
    assert calls[1].at - calls[0].at >= 0.95 and calls[2].at - calls[0].at >= 0.95


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


async def test_a_pause_does_not_release_a_burst_to_one_chat(fake_telegram, bot):
    fake_telegram.user(13)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1)
    await asyncio.gather(*(bot.send(peer(13), Screen(f"m{i}"), bulk=True) for i in range(6)))
    assert fake_telegram.max_rate_per_chat("sendMessage", 1.0) <= 3
    ok = [c.at for c in fake_telegram.calls_to("sendMessage") if c.status == 200]
    assert len(ok) == 6 and ok[-1] - ok[0] >= 2.0  # 3 per ~3 s after the pause
