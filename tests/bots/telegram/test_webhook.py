"""The webhook endpoint: presses answered in the webhook reply, bad requests refused."""

from __future__ import annotations

import aiohttp
import pytest
from telegram_harness import TelegramHarness

from storage.testing import make_sqlite_uow_factory


@pytest.fixture
async def tg_hook(fake_telegram, school, clock, tmp_path):
    uow_factory, engine = await make_sqlite_uow_factory(tmp_path)
    async with TelegramHarness(fake_telegram, uow_factory, school, clock, webhook=True) as h:
        yield h
    await engine.dispose()
    assert fake_telegram.violations == []


async def test_a_press_is_answered_in_the_webhook_reply_and_edits_in_place(tg_hook):
    anna = tg_hook.fake.user(601)
    await tg_hook.says(anna, "/start")
    menu = tg_hook.fake.last_message(601)
    await tg_hook.presses(anna, "cat")
    [answer] = tg_hook.fake.calls_to("answerCallbackQuery")
    assert answer.via == "webhook-reply"
    assert tg_hook.fake.last_message(601)["message_id"] == menu["message_id"]
    offers = [b["callback_data"] for b in tg_hook.keyboard(601)
              if b.get("callback_data", "").startswith("o:")]
    assert offers, "the catalog replaced the menu"


async def test_polling_answers_a_press_with_a_call(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        anna = tg.fake.user(602)
        await tg.says(anna, "/start")
        await tg.presses(anna, "cat")
        await tg.settle()
        [answer] = tg.fake.calls_to("answerCallbackQuery")
        assert answer.via == "http"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"update_id": "x"}'])
async def test_a_body_that_is_not_an_update_gets_400_and_changes_nothing(tg_hook, body):
    calls = len(tg_hook.fake.calls)
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token-for-tests",
               "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(
            tg_hook.bot.webhook_url, data=body, headers=headers) as response:
        assert response.status == 400
    assert len(tg_hook.fake.calls) == calls
    async with tg_hook.uow_factory() as uow:
        assert await uow.users.get(1) is None
