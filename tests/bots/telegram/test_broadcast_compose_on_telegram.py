"""Composing a broadcast on Telegram, through aiogram against the fake Bot API: the author's
formatting (bold, a link) is kept, in the preview and in what the students get; the buttons
are Telegram's inline buttons and the pressed ones are counted."""

from __future__ import annotations

import dataclasses

import pytest
from telegram_harness import TelegramHarness

from core.services import broadcasts
from core.staff import Role, StaffRef

MANAGER, STUDENT = {"id": 902, "is_bot": False, "first_name": "Max"}, \
    {"id": 905, "is_bot": False, "first_name": "Anna"}
PICTURE = "https://example.com/sale.png"


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    for user in (MANAGER, STUDENT):
        fake_telegram.user(user["id"], user["first_name"])
    school = dataclasses.replace(school, staff=(StaffRef("telegram", str(MANAGER["id"]),
                                                         Role.MANAGER),))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness
    assert fake_telegram.violations == []


async def _press(tg, label: str, wait_for: str = "editMessageText"):
    return await tg.presses(MANAGER, tg.button_data(MANAGER["id"], label), wait_for)


async def test_a_formatted_broadcast_keeps_its_formatting_on_telegram(tg):
    await tg.says(STUDENT, "/start")
    await tg.says(MANAGER, "/broadcast")
    typed = tg.fake.text_update(MANAGER, "Big sale & more: see our site")
    typed["message"]["entities"] = [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "text_link", "offset": 25, "length": 4, "url": "https://example.com/sale"}]
    await tg._wait_after(typed, "sendMessage")
    draft = tg.fake.last_message(MANAGER["id"])
    assert draft["text"].startswith("📣 Broadcast draft\n\nBig sale & more: see our site")
    assert {"type": "bold", "offset": 20, "length": 8} in draft["entities"]

    await _press(tg, "Picture")
    await tg.says(MANAGER, PICTURE)
    await _press(tg, "➕ Offer")
    await _press(tg, "Python forever")
    await _press(tg, "Preview", wait_for="sendPhoto")
    await tg.settle()
    [preview] = [m for m in tg.fake.sent_messages(MANAGER["id"]) if "photo" in m]
    assert preview["caption"] == "Big sale & more: see our site"
    assert preview["caption_entities"][0] == {"type": "bold", "offset": 0, "length": 8}

    await _press(tg, "Estimate and send")
    await _press(tg, "Send now")
    await tg.platform.broadcasts.drain()
    got = tg.fake.last_message(STUDENT["id"])
    assert got["caption"] == "Big sale & more: see our site"
    assert got["caption_entities"] == [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "text_link", "offset": 25, "length": 4, "url": "https://example.com/sale"}]
    labels = [b["text"] for row in got["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Python forever", "🔕 Stop promotions"]

    await tg.presses(STUDENT, tg.button_data(STUDENT["id"], "Python forever"), "sendMessage")
    async with tg.uow_factory() as uow:
        assert await broadcasts.presses(uow, 1) == [1]
