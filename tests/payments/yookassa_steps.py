"""The whole platform with the YooKassa gateway against the fake YooKassa, and the steps the
YooKassa tests take through it: a student orders and opens YooKassa's page, YooKassa posts a
notification."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

from fake_yookassa import FakeYooKassa
from harness import Harness

from app.settings import Settings
from payments import yookassa
from payments.registry import GatewayContext


def gateway_for(fake: FakeYooKassa, clock, **settings) -> yookassa.YooKassaGateway:
    configured = Settings(_env_file=None, test_payments=False,
                          yookassa_shop_id=fake.shop_id, yookassa_secret_key=fake.secret_key,
                          yookassa_api_url=fake.api_url, **settings)
    return yookassa.build(configured, GatewayContext("http://school.example", clock, b"s" * 32))


@asynccontextmanager
async def yookassa_shop(uow_factory, school, clock):
    """The platform selling through YooKassa only (``shop.fake``, ``shop.gateway``)."""
    fake = await FakeYooKassa().start()
    try:
        gateway = gateway_for(fake, clock, yookassa_timeout=2)
        async with Harness(uow_factory, school, clock, test_payments=False,
                           gateways={"yookassa": gateway}) as shop:
            shop.fake, shop.gateway = fake, gateway
            yield shop
    finally:
        await fake.close()


async def open_pay_link(shop, link: str) -> str:
    """The pay button's link: YooKassa's page the student is sent to."""
    async with shop.http.get(shop.url(link), allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        return response.headers["Location"]


async def notify(shop, body: dict | bytes) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with shop.http.post(shop.server.make_url("/payments/yookassa/webhook"),
                              data=data, headers={"Content-Type": "application/json"}) as r:
        return r.status


async def buy(shop, chat, offer: str) -> dict:
    """The student orders ``offer`` and opens the pay link; returns YooKassa's payment."""
    await chat.start(offer)
    await chat.click("Buy")
    link = await chat.click("Pay")
    assert link == f"http://school.example/payments/yookassa/pay/{link.rsplit('/', 1)[1]}"
    return shop.fake.payment_for(await open_pay_link(shop, link))
