"""The whole platform with the Stripe gateway against the fake Stripe, and the steps the
Stripe tests take through it: a student checks out, Stripe posts a signed webhook, the clock
moves and the sweeps run."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from harness import Harness

from payments.stripe import StripeGateway

END = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)  # club-month bought at the clock's start
MINUTE = timedelta(minutes=1)


@asynccontextmanager
async def stripe_shop(uow_factory, school, clock):
    """The platform selling through Stripe only (``shop.fake``: the fake Stripe, on the
    platform's clock; ``shop.gateway``)."""
    async with FakeStripe(clock) as fake:
        fake.stall_seconds = 1.5
        gateway = StripeGateway(API_KEY, WEBHOOK_SECRET, "http://127.0.0.1:8080", clock,
                                api_url=fake.url, timeout=0.5, retries=0)
        async with Harness(uow_factory, school, clock, test_payments=False,
                           gateways={"stripe": gateway}) as shop:
            shop.fake, shop.gateway = fake, gateway
            yield shop
        await gateway.close()


async def checkout(shop, offer: str = "python-life", chat=None) -> tuple:
    """The student orders ``offer`` and opens the pay link: (chat, link, session id)."""
    chat = chat or shop.chat()
    await chat.start(offer)
    await chat.click("Buy")
    link = await chat.click("Pay")
    assert "/payments/stripe/pay/" in link
    async with shop.http.get(shop.url(link), allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        location = response.headers["Location"]
    assert location.startswith(shop.fake.url + "/c/pay/cs_test_")
    return chat, link, location.rsplit("/", 1)[1]


async def notify(shop, event: dict, at: float | None = None,
                 secret: str = WEBHOOK_SECRET) -> int:
    """Stripe posts ``event`` to the webhook, signed at ``at`` (default: now)."""
    stamp = shop.clock.now().timestamp() if at is None else at
    body, signature = FakeStripe.signed(event, stamp, secret)
    async with shop.http.post(shop.server.make_url("/payments/stripe/webhook"), data=body,
                              headers={"Stripe-Signature": signature}) as response:
        return response.status


async def order_state(shop, order_id: int = 1):
    """(status, the student's purchases, the order's payments)."""
    async with shop.uow_factory() as uow:
        order = await uow.orders.get(order_id)
        return order.status, await uow.purchases.for_user(order.user_id), \
            await uow.payments.for_order(order_id)


async def buy(shop, offer: str = "python-life", card: str = "pm_card_visa", chat=None):
    """Order and pay on Stripe Checkout; the student's chat."""
    chat, _link, session = await checkout(shop, offer, chat)
    assert await notify(shop, shop.fake.complete(session, card)) == 200
    await shop.deliver()
    return chat


async def club(shop, user_id: int = 1):
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(user_id)
        return purchase


async def at(shop, moment: datetime) -> None:
    """The clock at ``moment``, and the sweeps run."""
    shop.clock.set(moment)
    await shop.sweep()


def renewal_intents(shop) -> list[dict]:
    return [i for i in shop.fake.intents.values() if "charge_key" in i["metadata"]]
