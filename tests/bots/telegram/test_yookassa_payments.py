"""A school on Telegram that takes money through YooKassa only (no test gateway): the real
aiogram against the fake Bot API, the official YooKassa SDK against a fake YooKassa API."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from telegram_harness import TelegramHarness

from app.settings import Settings
from core.models import OrderStatus

# The fake YooKassa lives with the payments' tests.
_spec = importlib.util.spec_from_file_location(
    "fake_yookassa", Path(__file__).parents[2] / "payments" / "fake_yookassa.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
FakeYooKassa = _module.FakeYooKassa


async def test_a_student_on_telegram_buys_and_pays_through_yookassa(fake_telegram, uow_factory,
                                                                     school, clock):
    fake = await FakeYooKassa().start()
    settings = Settings(_env_file=None, secret_key="s" * 32, test_payments=False,
                        yookassa_shop_id=fake.shop_id, yookassa_secret_key=fake.secret_key,
                        yookassa_api_url=fake.api_url)
    tg = TelegramHarness(fake_telegram, uow_factory, school, clock, settings=settings)
    assert list(tg.platform.gateways) == ["telegram", "yookassa"]  # Stars, and cards
    server = TestServer(tg.platform.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with tg, ClientSession() as http:
            anna = fake_telegram.user(504)
            await tg.says(anna, "/start python-life")
            await tg.presses(anna, tg.button_data(504, "Buy for 49 EUR"))
            # A local address is no button for Telegram: the link is in the text.
            text = fake_telegram.last_message(504)["text"]
            link = text.rsplit("Pay 49 EUR: ", 1)[1].split()[0]
            assert "/payments/yookassa/pay/" in link
            path = link.split("://", 1)[1].split("/", 1)[1]
            async with http.get(server.make_url("/" + path), allow_redirects=False) as page:
                assert page.status == 303
                payment = fake.payment_for(page.headers["Location"])
            notification = json.dumps(fake.pay(payment["id"])).encode()
            for _ in range(2):
                async with http.post(server.make_url("/payments/yookassa/webhook"),
                                     data=notification) as response:
                    assert response.status == 200
            await tg.settle()
            confirmations = [m for m in fake_telegram.messages(504)
                             if "Payment received" in m.get("text", "")]
            assert len(confirmations) == 1
    finally:
        await server.close()
        await fake.close()
    assert fake_telegram.violations == []
    async with uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        assert len(await uow.purchases.for_user(1)) == 1
