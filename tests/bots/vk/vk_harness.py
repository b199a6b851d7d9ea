"""The platform with its VK bot pointed at the fake VK API (real vk_api, real HTTP), and the
checkout page served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer
from harness import checkout_forms

from app.bootstrap import build_platform
from app.settings import Settings
from bots.vk import WEBHOOK_PATH, VkMessenger
from core.clock import FakeClock

SECRET = "vk-callback-secret-for-tests"
CONFIRMATION = "a1b2c3d4"


class VkHarness:
    def __init__(self, fake, uow_factory, school, clock: FakeClock, *, webhook: bool = False,
                 settings: dict[str, Any] | None = None):
        self.fake = fake
        self.clock = clock
        self.uow_factory = uow_factory
        self.webhook = webhook
        self.bot = VkMessenger(
            fake.token, fake.group_id, api_url=fake.url, callback_secret=SECRET,
            confirmation_code=CONFIRMATION, webhook=webhook, long_poll_wait=5,
        )
        self.platform = build_platform(
            Settings(_env_file=None, secret_key="s" * 32, **(settings or {})), school,
            uow_factory, clock,
            channels={"vk": self.bot},
        )
        if webhook:
            self.bot.add_webhook_route(self.platform.app)
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> VkHarness:
        self.server = TestServer(self.platform.app, host="127.0.0.1")
        await self.server.start_server()
        self.http = aiohttp.ClientSession()
        await self.bot.run(self.platform.flows.handle)
        if not self.webhook:  # the poller asks: updates pushed from now on are read
            for _ in range(500):
                if self.fake.long_polls:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the bot never polled")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.bot.stop()
        await self.http.close()
        await self.server.close()

    @property
    def callback_url(self) -> str:
        return str(self.server.make_url(WEBHOOK_PATH))

    # --- the student -----------------------------------------------------------------------

    async def deliver(self, update: dict[str, Any], secret: str | None = SECRET,
                      retry: int = 0) -> tuple[int, str] | None:
        """VK delivers ``update`` (long poll, or a POST to the callback endpoint); returns once
        the bot has handled it."""
        if not self.webhook:
            self.fake.push(update)
            await self.settle()
            return None
        answer = await self.fake.post_callback(self.callback_url, update, secret=secret,
                                               retry=retry)
        await self.settle()
        return answer

    async def settle(self) -> None:
        """Every update VK gave the bot has been handled. (The poller takes the next batch
        only after handling the last, so the fake seeing it come back means handled.)"""
        if not self.webhook:
            await self.fake.wait_consumed()
        await asyncio.gather(*list(self.bot._tasks))

    async def starts(self, user: dict[str, Any], ref: str | None = None) -> None:
        """The "Start" button of a new dialog (its payload {"command": "start"}); ``ref``: the
        dialog was opened through a vk.me link with ?ref=."""
        update = self.fake.text_update(user, "Начать", payload={"command": "start"})
        if ref is not None:
            update["object"]["message"]["ref"] = ref
        await self.deliver(update)

    async def says(self, user: dict[str, Any], text: str) -> None:
        await self.deliver(self.fake.text_update(user, text))

    def find(self, peer_id: int, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The newest bot message with a button whose label contains ``label``, and it."""
        for message in reversed(self.fake.messages(peer_id)):
            for button in self.fake.buttons(peer_id, message["conversation_message_id"]):
                if label.lower() in button["action"].get("label", "").lower():
                    return message, button
        raise AssertionError(f"no button like {label!r} in {self.labels(peer_id)}")

    def labels(self, peer_id: int, message: dict[str, Any] | None = None) -> list[str]:
        message = message or self.fake.last_message(peer_id)
        return [b["action"].get("label", "") for b in
                self.fake.buttons(peer_id, message["conversation_message_id"])]

    async def presses(self, user: dict[str, Any], label: str) -> dict[str, Any]:
        """The student presses the callback button labelled ``label``; returns the button."""
        message, button = self.find(user["id"], label)
        assert button["action"]["type"] == "callback", button
        await self.deliver(self.fake.press(user, message, button["action"]["payload"]))
        return button

    def action(self, peer_id: int, label: str) -> str:
        return json.loads(self.find(peer_id, label)[1]["action"]["payload"])["a"]

    def link(self, peer_id: int, label: str) -> str:
        _, button = self.find(peer_id, label)
        assert button["action"]["type"] == "open_link", button
        return button["action"]["link"]

    # --- the checkout page -----------------------------------------------------------------

    def url(self, absolute: str) -> str:
        return str(self.server.make_url(urlsplit(absolute).path))

    async def pay(self, link: str, outcome: str = "pay") -> tuple[int, str]:
        async with self.http.get(self.url(link)) as response:
            html = await response.text()
            assert response.status == 200, html
        form = checkout_forms(html, self.url(link))[outcome]
        async with self.http.post(form["url"], data=form["fields"]) as response:
            return response.status, await response.text()

    async def outbox(self) -> int:
        return await self.platform.dispatcher.drain()

    async def sweep(self) -> None:
        await self.platform.run_sweeps()
        await self.outbox()
