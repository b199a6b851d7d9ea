"""The school on Viber: the platform's Viber client against the fake Viber API on 127.0.0.1,
its callbacks posted, signed, to the platform's real webhook endpoint."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from harness import checkout_forms

from app.bootstrap import build_platform
from app.settings import Settings
from bots.viber.adapter import WEBHOOK_PATH, ViberMessenger
from bots.viber.render import ACTION
from core.models import PurchaseStatus


class ViberHarness:
    def __init__(self, fake, uow_factory, school, clock):
        self.fake, self.clock, self.uow_factory = fake, clock, uow_factory
        self.bot = ViberMessenger(fake.token, sender_name="Test School and its very long name",
                                  api_url=fake.api_url)
        self.platform = build_platform(Settings(_env_file=None, secret_key="s" * 32), school,
                                       uow_factory, clock, channels={"viber": self.bot})
        self.bot.add_webhook_route(self.platform.app)
        self.server = TestServer(self.platform.app, host="127.0.0.1")

    async def __aenter__(self):
        await self.server.start_server()
        self.bot.webhook_url = str(self.server.make_url(WEBHOOK_PATH))
        await self.bot.run(self.platform.flows.handle)
        for _ in range(200):
            if self.fake.webhook:
                break
            await asyncio.sleep(0.01)
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc):
        await self.http.close()
        await self.bot.stop()
        await self.server.close()

    async def press(self, user_id, label):
        action = next(b["ActionBody"] for b in self.fake.buttons(user_id) if label in b["Text"])
        status, _ = await self.fake.press(user_id, action)
        assert status == 200
        return action

    def link(self, user_id, label):
        return next(b["ActionBody"] for b in self.fake.buttons(user_id) if label in b["Text"])

    async def pay(self, link):
        url = str(self.server.make_url(urlsplit(link).path))
        async with self.http.get(url) as response:
            html = await response.text()
        form = checkout_forms(html, url)["pay"]
        async with self.http.post(form["url"], data=form["fields"]) as response:
            assert response.status == 200


@pytest.fixture
async def viber(fake_viber, uow_factory, school, clock):
    async with ViberHarness(fake_viber, uow_factory, school, clock) as harness:
        yield harness
    assert fake_viber.violations == []


async def test_a_student_buys_in_viber_through_the_checkout_page_and_gets_lessons(viber, clock):
    fake = viber.fake
    fake.user("anna==", "Anna")
    status, _ = await fake.starts("anna==", context="python-life")
    assert status == 200
    welcome = fake.last_message("anna==")
    assert welcome["via"] == "welcome" and welcome["text"].startswith("Python forever")
    assert welcome["sender"]["name"] == "Test School and its very lon"  # 28, Viber's limit
    await viber.press("anna==", "Buy for 49 EUR")  # a press subscribes them too
    assert "Order #1" in fake.last_message("anna==")["text"]
    pay = next(b for b in fake.buttons("anna==") if "Pay 49 EUR" in b["Text"])
    assert pay["ActionType"] == "open-url"
    await viber.pay(pay["ActionBody"])
    await viber.platform.dispatcher.drain()
    confirmation = fake.last_message("anna==")
    assert "Payment received" in confirmation["text"]
    assert any(b["ActionBody"] == "https://school.example/intro" for b in fake.buttons("anna=="))
    clock.advance(timedelta(days=1, minutes=1))
    await viber.platform.run_sweeps()
    await viber.platform.dispatcher.drain()
    assert "Variables" in fake.last_message("anna==")["text"]
    async with viber.uow_factory() as uow:
        identity = await uow.users.identity("viber", "anna==")
        [purchase] = await uow.purchases.for_user(identity.user_id)
        assert purchase.status is PurchaseStatus.ACTIVE


async def test_a_forged_or_repeated_callback_changes_nothing(viber):
    fake = viber.fake
    fake.user("boris==", "Boris")
    await fake.says("boris==", "/start")
    sent = len(fake.calls_to("send_message"))
    status, _ = await fake.post({"event": "message", "sender": {"id": "boris=="},
                                 "message": {"type": "text", "text": ACTION + "cat"}},
                                signature="bad")
    assert status == 403
    status, _ = await fake.post({"event": "message", "sender": {"id": "mallory=="},
                                 "message": {"type": "text", "text": "/start"}},
                                signature="missing")
    assert status == 403
    assert len(fake.calls_to("send_message")) == sent
    async with viber.uow_factory() as uow:
        assert await uow.users.identity("viber", "mallory==") is None

    # Viber repeats a callback it thinks was lost: one answer.
    status, _ = await fake.post({"event": "message", "sender": {"id": "boris==",
                                                                "name": "Boris"},
                                 "message": {"type": "text", "text": ACTION + "cat"}},
                                retries=2)
    assert status == 200
    assert len(fake.calls_to("send_message")) == sent + 1
    assert "Choose what you'd like to learn" in fake.last_message("boris==")["text"]


async def test_unsubscribing_marks_the_student_unreachable_and_back(viber):
    fake = viber.fake
    fake.user("vera==", "Vera")
    await fake.says("vera==", "/start")
    await fake.unsubscribes("vera==")
    async with viber.uow_factory() as uow:
        assert (await uow.users.identity("viber", "vera==")).reachable is False
    await fake.subscribes("vera==")
    async with viber.uow_factory() as uow:
        assert (await uow.users.identity("viber", "vera==")).reachable is True


async def test_a_non_zero_status_is_an_error_not_a_success(viber):
    fake = viber.fake
    fake.user("gleb==", "Gleb")
    await fake.says("gleb==", "/start")
    fake.fail("send_message", status=3, times=1)
    with pytest.raises(Exception, match="status 3"):
        await viber.bot.call("send_message", {"receiver": "gleb==", "type": "text",
                                              "text": "x", "sender": {"name": "S"}})
    assert viber.bot.deep_link("link-ABC") == "viber://pa?chatURI=testschool&context=link-ABC"


async def test_a_screen_with_a_picture_goes_as_a_picture_message_then_its_text(viber):
    from flows.ui import Button, Peer, Screen

    viber.fake.user("pic-1", "Anna")
    await viber.fake.subscribes("pic-1")
    screen = Screen("Open day on Saturday", ((Button("Join", action="bb:1:0"),),),
                    picture="https://school.example/open-day.jpg")
    await viber.bot.send(Peer("viber", "pic-1"), screen, bulk=True)
    picture, text = viber.fake.messages("pic-1")[-2:]
    assert picture["type"] == "picture"
    assert picture["body"]["media"] == "https://school.example/open-day.jpg"
    assert text["type"] == "text" and text["text"] == "Open day on Saturday"
    assert [b["Text"] for b in viber.fake.buttons("pic-1")] == ["Join"]
