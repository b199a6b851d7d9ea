"""The platform with its Telegram bot pointed at the fake Bot API (real aiogram, real HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestServer

from app.bootstrap import build_platform
from app.settings import Settings
from bots.telegram.adapter import WEBHOOK_PATH, TelegramMessenger
from bots.telegram.sender import TelegramSender
from core.clock import FakeClock


class TelegramHarness:
    def __init__(self, fake, uow_factory, school, clock: FakeClock, *, provider_token=None,
                 webhook: bool = False, sender: TelegramSender | None = None,
                 settings: Settings | None = None):
        self.fake = fake
        self.clock = clock
        self.uow_factory = uow_factory
        self.bot = TelegramMessenger(
            fake.token,
            api_url=fake.url,
            provider_token=provider_token,
            webhook_url="http://127.0.0.1/set-when-the-server-runs" if webhook else None,
            webhook_secret="s3cret-token-for-tests" if webhook else None,
            sender=sender,
        )
        self.platform = build_platform(
            settings or Settings(_env_file=None, secret_key="s" * 32), school, uow_factory,
            clock,
            channels={"telegram": self.bot},
        )
        self.server: TestServer | None = None
        if webhook:
            self.bot.add_webhook_route(self.platform.app)

    async def __aenter__(self) -> TelegramHarness:
        if self.bot.webhook_url:
            self.server = TestServer(self.platform.app, host="127.0.0.1")
            await self.server.start_server()
            self.bot.webhook_url = str(self.server.make_url(WEBHOOK_PATH))
        await self.bot.run(self.platform.flows.handle)
        if not self.bot.webhook_url:  # polling has begun: updates pushed now are read
            for _ in range(500):
                if self.fake.calls_to("getUpdates"):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the bot never polled")
        await self.platform.started()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.bot.stop()
        if self.server is not None:
            await self.server.close()

    async def says(self, user: dict[str, Any], text: str, wait_for: str = "sendMessage") -> Any:
        """The student writes; waits for the bot's answer (a call to ``wait_for``)."""
        return await self._wait_after(self.fake.text_update(user, text), wait_for)

    async def presses(self, user: dict[str, Any], data: str, wait_for="editMessageText"):
        message = self.fake.last_message(user["id"])
        return await self._wait_after(self.fake.callback_update(user, message, data), wait_for)

    async def _wait_after(self, update: dict[str, Any], method: str) -> Any:
        before = len([c for c in self.fake.calls if c.method == method])
        if self.bot.webhook_url:
            status = await self.fake.post_to_webhook(update)
            assert status == 200, status
        else:
            self.fake.push(update)
        return await self.fake.wait_for_call(method, count=before + 1)

    async def settle(self) -> None:
        """Every pushed update was read and its handler has finished; then the outbox is sent.
        (aiogram handles polled updates as tasks; the test waits for them.)"""
        await self.fake.wait_consumed()
        await asyncio.gather(*list(self.bot.dispatcher._handle_update_tasks))
        await self.platform.dispatcher.drain()

    def keyboard(self, chat_id: int) -> list[dict[str, Any]]:
        markup = self.fake.last_message(chat_id).get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def button_data(self, chat_id: int, label: str) -> str:
        for button in self.keyboard(chat_id):
            if label in button["text"]:
                return button.get("callback_data") or button.get("url") or ""
        raise AssertionError(f"no button like {label!r} in {self.keyboard(chat_id)}")
