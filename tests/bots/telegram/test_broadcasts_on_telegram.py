"""A broadcast through aiogram against the fake Bot API enforcing Telegram's limits (30 a second
overall, 1 a second per chat, 429 beyond them): nothing is refused in a normal run, a 429
pauses every sender, and answers to students do not queue behind the broadcast."""

from __future__ import annotations

import asyncio

import pytest
from factories import make_school

from bots.telegram.adapter import TelegramMessenger
from core.broadcasts import Progress, Recipient, Segment, SegmentKind
from core.services import broadcasts, users
from flows.broadcast_send import BroadcastSender
from flows.ui import Peer, Screen

AUTHOR = 900


@pytest.fixture
async def bot(fake_telegram):
    fake_telegram.limit_overall(30, 1.0, retry_after=1)
    fake_telegram.limit_per_chat(1, 1.0, retry_after=1)
    messenger = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url)
    yield messenger
    await messenger.bot.session.close()


async def _broadcast(uow_factory, clock, fake, n: int) -> int:
    recipients = []
    async with uow_factory() as uow:
        for chat in [AUTHOR, *range(1000, 1000 + n)]:
            fake.user(chat)
            user, identity = await users.resolve(uow, clock.now(), "telegram", str(chat),
                                                 f"S{chat}", "en")
            if chat != AUTHOR:
                recipients.append(Recipient(user.id, identity.id, "telegram"))
        made = await broadcasts.create(
            uow, author=f"telegram:{AUTHOR}", author_messenger="telegram",
            author_chat_id=str(AUTHOR), text="Open day on Saturday",
            segment=Segment(SegmentKind.EVERYONE), recipients=recipients, now=clock.now())
        await uow.commit()
    return made.id


def _sender(uow_factory, clock, bot) -> BroadcastSender:
    return BroadcastSender(uow_factory, clock, lambda: make_school(), {"telegram": bot},
                           progress_every=2.0)


def _to_students(fake):
    return [c for c in fake.calls_to("sendMessage") if c.chat_id != AUTHOR]


async def test_a_broadcast_keeps_telegrams_limits_without_a_single_429(
        fake_telegram, bot, uow_factory, clock):
    broadcast_id = await _broadcast(uow_factory, clock, fake_telegram, 75)
    assert await _sender(uow_factory, clock, bot).drain() == 75

    sends = _to_students(fake_telegram)
    assert [c.status for c in sends] == [200] * 75
    assert sorted(c.chat_id for c in sends) == list(range(1000, 1075))
    assert [c for c in fake_telegram.calls if c.status == 429] == []
    assert fake_telegram.max_rate(None, 1.0) <= 30
    assert fake_telegram.violations == []
    async with uow_factory() as uow:
        assert await broadcasts.progress(uow, broadcast_id) == Progress(total=75, sent=75)
    author = fake_telegram.sent_messages(AUTHOR)
    assert author[-1]["text"].startswith(f"✅ Broadcast #{broadcast_id} done")
    assert fake_telegram.calls_to("editMessageText")  # the progress, edited in place


async def test_a_429_pauses_everything_and_nothing_is_lost(fake_telegram, bot, uow_factory,
                                                          clock):
    broadcast_id = await _broadcast(uow_factory, clock, fake_telegram, 60)
    fake_telegram.fail("sendMessage", code=429, retry_after=1, times=1)
    assert await _sender(uow_factory, clock, bot).drain() == 60

    calls = [c for c in fake_telegram.calls_to("sendMessage")]
    [limited] = [c for c in calls if c.status == 429]
    assert not [c for c in calls if limited.at + 0.1 < c.at < limited.at + 0.95]
    delivered = [c.chat_id for c in _to_students(fake_telegram) if c.status == 200]
    assert sorted(delivered) == list(range(1000, 1060))  # each once
    async with uow_factory() as uow:
        assert await broadcasts.progress(uow, broadcast_id) == Progress(total=60, sent=60)


async def test_answers_to_students_do_not_queue_behind_a_broadcast(fake_telegram, bot,
                                                                  uow_factory, clock):
    await _broadcast(uow_factory, clock, fake_telegram, 60)
    sending = asyncio.create_task(_sender(uow_factory, clock, bot).drain())
    await fake_telegram.wait_for_call("sendMessage", count=10)
    fake_telegram.user(777)
    await bot.send(Peer("telegram", "777"), Screen("Your answer"))  # a reply: not bulk
    answered = len(_to_students(fake_telegram))
    assert await sending == 60
    # The answer went out while most of the broadcast was still to go.
    assert answered < 40
    assert fake_telegram.last_message(777)["text"] == "Your answer"
    delivered = [c.chat_id for c in _to_students(fake_telegram) if c.status == 200]
    assert sorted(delivered) == [777, *range(1000, 1060)]


async def test_a_picture_goes_as_a_photo_with_the_text_as_its_caption(fake_telegram, bot):
    from flows.ui import Button

    fake_telegram.user(31)
    screen = Screen("Open day on Saturday", ((Button("Join", action="bb:1:0"),),),
                    picture="https://school.example/open-day.jpg")
    await bot.send(Peer("telegram", "31"), screen, bulk=True)
    [photo] = fake_telegram.calls_to("sendPhoto")
    assert photo.params["photo"] == "https://school.example/open-day.jpg"
    assert photo.params["caption"] == "Open day on Saturday"
    assert fake_telegram.violations == []
