"""A school with both Stripe and YooKassa, run through both official SDKs against their fakes
on 127.0.0.1, in a messenger with no payments of its own (like VK): each pay button opens its
own gateway's page for the same order, and a student who pays on both gets access once while
the second payment is flagged to the admins as money to return."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from fake_yookassa import FakeYooKassa
from harness import Harness

from core.models import OrderStatus
from core.money import Money
from core.school import Offer
from payments.stripe import StripeGateway
from payments.yookassa import YooKassaGateway


@pytest.fixture
async def shop(uow_factory, school, clock):
    rub = Offer("python-rub", {"en": "Python in roubles"}, Money.from_major(4900, "RUB"),
                ("python-course",))
    school = dataclasses.replace(school, offers={**school.offers, rub.code: rub})
    yoo_fake = await FakeYooKassa().start()
    async with FakeStripe() as stripe_fake:
        stripe = StripeGateway(API_KEY, WEBHOOK_SECRET, "http://school.example", clock,
                               api_url=stripe_fake.url, timeout=2, retries=0)
        yookassa = YooKassaGateway(yoo_fake.shop_id, yoo_fake.secret_key, "http://school.example",
                                   api_url=yoo_fake.api_url, timeout=2)
        gateways = {"stripe": stripe, "yookassa": yookassa}
        async with Harness(uow_factory, school, clock, test_payments=False,
                           gateways=gateways) as h:
            h.stripe, h.yookassa = stripe_fake, yoo_fake
            yield h
        await stripe.close()
    await yoo_fake.close()


async def _opened(shop, link: str) -> str:
    async with shop.http.get(shop.url(link), allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        return response.headers["Location"]


async def _post(shop, path: str, body: bytes, headers: dict) -> int:
    async with shop.http.post(shop.server.make_url(path), data=body, headers=headers) as r:
        return r.status


async def test_each_button_opens_its_gateway_and_a_second_payment_is_money_to_return(shop):
    admin = shop.chat("admin", "Staff")
    await admin.send("/start")
    chat = shop.chat()
    await chat.start("python-rub")
    await chat.click("Buy")
    by_card = await chat.click("by card")
    by_yookassa = await chat.click("(YooKassa)")

    session_id = (await _opened(shop, by_card)).rsplit("/", 1)[1]
    price = shop.stripe.sessions[session_id]["_params"]["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"]) == ("rub", "490000")
    payment = shop.yookassa.payment_for(await _opened(shop, by_yookassa))
    assert payment["amount"] == {"value": "4900.00", "currency": "RUB"}

    notification = json.dumps(shop.yookassa.pay(payment["id"])).encode()
    assert await _post(shop, "/payments/yookassa/webhook", notification,
                       {"Content-Type": "application/json"}) == 200
    await shop.deliver()
    assert "Payment received! Order #1: Python in roubles." in chat.last.text
    # The Stripe page the student had opened too is paid as well: it grants nothing more.
    body, signature = FakeStripe.signed(shop.stripe.complete(session_id),
                                        shop.clock.now().timestamp())
    assert await _post(shop, "/payments/stripe/webhook", body,
                       {"Stripe-Signature": signature}) == 200
    await shop.deliver()
    async with shop.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        assert len(await uow.purchases.for_user(2)) == 1
        paid = {p.gateway: p.refund_reason for p in await uow.payments.for_order(1)}
    assert paid.keys() == {"yookassa", "stripe"} and not paid["yookassa"] and paid["stripe"]
    assert "Money to return: 4900 RUB (stripe)" in admin.last.text
