"""Staff files on Telegram, through the real aiogram client and the fake Bot API: ``/stats``
sends its chart as a photo (multipart upload) with the figures as its caption and the period
buttons, ``/export`` sends the CSV as a document; a text longer than a caption goes first."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from fake_bot_methods import image_size
from stats_scene import seed
from telegram_harness import TelegramHarness

from core.staff import Role, StaffRef
from flows.chart import HEIGHT, WIDTH
from flows.ui import Attachment, Button, Peer, Screen

OWNER = 900


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(StaffRef("telegram", str(OWNER), Role.OWNER),))


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness
    assert fake_telegram.violations == []


async def test_stats_sends_the_chart_as_a_photo(tg, school, clock):
    await seed(tg.uow_factory, school, clock)
    owner = tg.fake.user(OWNER, "Olga", "en")

    tg.fake.push(tg.fake.text_update(owner, "/stats 30"))
    # The first chart of a process imports matplotlib: give it time on a busy machine.
    call = await tg.fake.wait_for_call("sendPhoto", within=60)

    assert call.status == 200
    upload = call.params["photo"]
    assert upload.filename == "stats-30d.png" and image_size(upload.data) == (WIDTH, HEIGHT)
    message = tg.fake.last_message(OWNER)
    assert message["caption"].startswith("📊 Last 30 days, Feb 1, 2026 – Mar 2, 2026\n"
                                         "Revenue: 17 EUR · 250 ⭐")
    assert message["photo"][-1]["width"] == WIDTH and message["photo"][-1]["height"] == HEIGHT
    assert [b["callback_data"] for b in tg.keyboard(OWNER)] == ["st:today", "st:7d", "st:30d",
                                                               "st:all"]
    assert not tg.fake.calls_to("sendMessage")

    tg.fake.push(tg.fake.callback_update(owner, tg.fake.last_message(OWNER), "st:7d"))
    await tg.fake.wait_for_call("sendPhoto", count=2, within=60)  # a photo is never edited in

    assert tg.fake.last_message(OWNER)["caption"].startswith("📊 Last 7 days")
    assert len(tg.fake.calls_to("answerCallbackQuery")) == 1


async def test_export_sends_a_csv_document(tg, school, clock):
    await seed(tg.uow_factory, school, clock)
    owner = tg.fake.user(OWNER, "Olga", "en")

    call = await tg.says(owner, "/export payments", wait_for="sendDocument")

    document = tg.fake.last_message(OWNER)["document"]
    assert (document["file_name"], document["mime_type"]) == ("payments-2026-03-02.csv",
                                                              "text/csv")
    data = tg.fake.files[document["file_id"]].data
    assert document["file_size"] == len(data) and call.params["document"].data == data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["amount"] for r in rows] == ["19.90", "9.00", "8.00", "49.00", "250"]
    assert tg.fake.last_message(OWNER)["caption"] == "payments-2026-03-02.csv: 5 rows."
    [preparing] = tg.fake.calls_to("sendMessage")
    assert preparing.params["text"] == "⏳ Preparing payments-2026-03-02.csv…"


async def test_a_text_longer_than_a_caption_goes_first(tg):
    owner = tg.fake.user(OWNER, "Olga", "en")
    await tg.says(owner, "/start")
    text = "figures " * 200  # 1600 characters
    csv_file = Attachment("document", "long.csv", b"a,b\r\n1,2\r\n")

    ref = await tg.bot.send(Peer("telegram", str(OWNER)),
                            Screen(text.strip(), ((Button("OK", action="menu"),),),
                                   attachment=csv_file))

    text_message, file_message = tg.fake.sent_messages(OWNER)[-2:]
    assert text_message["text"] == text.strip() and "reply_markup" not in text_message
    assert "caption" not in file_message and file_message["document"]["file_name"] == "long.csv"
    assert file_message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "menu"
    assert ref.message_id == str(file_message["message_id"])


async def test_the_fake_refuses_what_telegram_refuses(tg):
    owner = tg.fake.user(OWNER, "Olga", "en")
    await tg.says(owner, "/start")
    bot = tg.bot.bot
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.types import BufferedInputFile

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(OWNER, BufferedInputFile(b"not a picture", "x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong remote file identifier"):
        await bot.send_document(OWNER, "no-such-file-id")
    tg.fake.violations.clear()  # the two calls above were made on purpose
