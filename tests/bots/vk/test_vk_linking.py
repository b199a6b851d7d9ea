"""One student across messengers, through both real clients: a student who bought a course in
Telegram (aiogram against the fake Bot API) links VK (vk_api against the fake VK API) with the
one-time code and finds the course there."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from vk_harness import VkHarness

from bots.telegram.adapter import TelegramMessenger

sys.path.insert(0, str(Path(__file__).parents[1] / "telegram"))
from fake_bot_api import FakeBotAPI  # noqa: E402


@pytest.fixture
async def both(fake_vk, uow_factory, school, clock):
    async with FakeBotAPI() as fake_tg:
        async with VkHarness(fake_vk, uow_factory, school, clock) as vk:
            telegram = TelegramMessenger(fake_tg.token, api_url=fake_tg.url)
            vk.platform.channels["telegram"] = telegram
            await telegram.run(vk.platform.flows.handle)
            for _ in range(500):
                if fake_tg.calls_to("getUpdates"):
                    break
                await asyncio.sleep(0.01)
            try:
                yield vk, fake_tg
            finally:
                await telegram.stop()
        assert fake_tg.violations == []


async def _tg(fake_tg, update, method="sendMessage"):
    before = len(fake_tg.calls_to(method))
    fake_tg.push(update)
    await fake_tg.wait_for_call(method, count=before + 1)


async def test_a_course_bought_in_telegram_shows_in_vk_after_linking(both):
    vk, fake_tg = both
    anna = fake_tg.user(801, "Anna")
    await _tg(fake_tg, fake_tg.text_update(anna, "/start python-life"))
    message = fake_tg.last_message(801)
    await _tg(fake_tg, fake_tg.callback_update(anna, message, "bs:python-life"), "sendInvoice")
    invoice = fake_tg.calls_to("sendInvoice")[-1].params
    fake_tg.push(fake_tg.pre_checkout_update(anna, invoice["payload"], "XTR", 250))
    await fake_tg.wait_for_call("answerPreCheckoutQuery")
    fake_tg.push(fake_tg.successful_payment_update(anna, invoice["payload"], "XTR", 250, "c-1"))
    await fake_tg.wait_consumed()
    await vk.outbox()
    assert "Payment received" in fake_tg.last_message(801)["text"]

    await _tg(fake_tg, fake_tg.text_update(anna, "/menu"))
    menu = fake_tg.last_message(801)
    await _tg(fake_tg, fake_tg.callback_update(anna, menu, "lk"), "editMessageText")
    shown = fake_tg.last_message(801)
    code = re.search(r"\b([A-Z2-9]{8})\b", shown["text"]).group(1)
    links = [b["url"] for row in shown["reply_markup"]["inline_keyboard"] for b in row
             if "url" in b]
    assert links == [f"https://vk.me/club{vk.fake.group_id}?ref=link-{code}"]

    # In VK, through the deep link's ref: the accounts join; the course is there.
    student = vk.fake.user(9001, "Anna", "K", "en")
    await vk.starts(student, ref=f"link-{code}")
    assert "now one account" in vk.fake.last_message(9001)["text"]
    await vk.presses(student, "My courses")
    assert any("Python forever" in label for label in vk.labels(9001))
    async with vk.uow_factory() as uow:
        tg_user = (await uow.users.identity("telegram", "801")).user_id
        assert (await uow.users.identity("vk", "9001")).user_id == tg_user
