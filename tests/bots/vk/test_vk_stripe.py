"""A school on VK with Stripe and no test gateway (``TEST_PAYMENTS=0``): configured from its
settings as in production, a student buys in VK, pays on Stripe Checkout (the fake Stripe on
127.0.0.1, through the official SDK) and gets the confirmation back in VK."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from vk_harness import VkHarness

# The fake Stripe lives with the gateway's tests (pytest puts a test's folder on the path).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "payments"))
from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe  # noqa: E402

from core.models import OrderStatus


async def test_a_vk_school_with_stripe_only_sells_and_confirms_in_vk(fake_vk, uow_factory,
                                                                     school, clock):
    async with FakeStripe() as stripe_fake:
        harness = VkHarness(fake_vk, uow_factory, school, clock, settings={
            "test_payments": False, "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET, "stripe_api_url": stripe_fake.url})
        assert list(harness.platform.gateways) == ["stripe"]
        async with harness as vk:
            anna = vk.fake.user(601, "Anna", "Smith", "en")
            await vk.starts(anna, ref="python-life")
            await vk.presses(anna, "Buy for 49 EUR")
            link = vk.link(601, "Pay 49 EUR")
            assert urlsplit(link).path.startswith("/payments/stripe/pay/")
            async with vk.http.get(vk.server.make_url(urlsplit(link).path),
                                   allow_redirects=False) as response:
                assert response.status == 303
                session = response.headers["Location"].rsplit("/", 1)[1]
            body, signature = FakeStripe.signed(stripe_fake.complete(session),
                                                clock.now().timestamp())
            async with vk.http.post(vk.server.make_url("/payments/stripe/webhook"), data=body,
                                    headers={"Stripe-Signature": signature}) as response:
                assert response.status == 200
            await vk.platform.dispatcher.drain()
            await vk.settle()
            assert "Payment received! Order #1: Python forever." in \
                vk.fake.last_message(601)["text"]
        await harness.platform.gateways["stripe"].close()
    async with uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
    assert fake_vk.violations == []
