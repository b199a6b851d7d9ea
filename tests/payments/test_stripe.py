"""The Stripe gateway through the official SDK against a fake Stripe API on 127.0.0.1, inside
the whole platform (console messenger, real web server, fake clock): a purchase paid on a
Checkout Session, the signed webhook (forged, stale, repeated 200 times at once), a refund
from /refund, and renewals charged off-session (declined, needing the student, timed out)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from fake_stripe import AUTHENTICATION, DECLINED, FakeStripe
from pydantic import ValidationError
from stripe_steps import (
    END,
    MINUTE,
    at,
    buy,
    checkout,
    club,
    notify,
    order_state,
    renewal_intents,
    stripe_shop,
)

from app.settings import Settings
from core.models import OrderStatus, PurchaseStatus


@pytest.fixture
async def shop(uow_factory, school, clock):
    async with stripe_shop(uow_factory, school, clock) as shop:
        yield shop


async def test_a_student_pays_on_stripe_checkout_and_gets_the_course(shop):
    chat, link, session = await checkout(shop)
    params = shop.fake.sessions[session]["_params"]
    assert params["line_items"][0]["price_data"] == {
        "currency": "eur", "unit_amount": "4900", "product_data": {"name": "Python forever"}}
    assert "setup_future_usage" not in params["payment_intent_data"]  # sold once, not renewed
    async with shop.http.get(shop.url(link), allow_redirects=False) as again:
        assert again.headers["Location"].endswith(session)  # one session per order
    async with shop.http.get(shop.url(params["cancel_url"])) as page:
        assert "Go back to the chat" in await page.text()
    assert await notify(shop, shop.fake.complete(session)) == 200
    await shop.deliver()
    assert "Payment received! Order #1: Python forever." in chat.last.text
    status, purchases, [payment] = await order_state(shop)
    assert status is OrderStatus.PAID and len(purchases) == 1
    assert (payment.gateway, payment.amount, payment.currency) == ("stripe", 4900, "EUR")
    assert payment.gateway_payment_id == shop.fake.sessions[session]["payment_intent"]
    async with shop.http.get(shop.url(params["success_url"])) as page:
        assert 'data-status="paid"' in await page.text()
    async with shop.http.get(shop.url(link), allow_redirects=False) as paid:
        assert paid.status == 200  # a paid order opens no new session
    assert len(shop.fake.sessions) == 1


@pytest.mark.parametrize("forgery", ["other secret", "stale", "future", "tampered", "none"])
async def test_a_forged_or_stale_webhook_gets_400_and_changes_nothing(shop, forgery):
    _chat, _link, session = await checkout(shop)
    event = shop.fake.complete(session)
    now = shop.clock.now().timestamp()
    if forgery == "other secret":
        status = await notify(shop, event, secret="whsec_someone_else")
    elif forgery in ("stale", "future"):
        status = await notify(shop, event, at=now + (-301 if forgery == "stale" else 301))
    else:
        body, signature = FakeStripe.signed(event, now)
        if forgery == "tampered":
            body = body.replace(b'"livemode": false', b'"livemode": true')
        async with shop.http.post(shop.server.make_url("/payments/stripe/webhook"), data=body,
                                  headers={"Stripe-Signature": signature}
                                  if forgery == "tampered" else {}) as response:
            status = response.status
    assert status == 400
    status, purchases, payments = await order_state(shop)
    assert (status, purchases, payments) == (OrderStatus.NEW, [], [])
    assert shop.fake.count("GET", "/v1/checkout/sessions/") == 0  # not even looked up


async def test_a_signature_within_the_tolerance_is_good(shop):
    _chat, _link, session = await checkout(shop)
    event = shop.fake.complete(session)
    assert await notify(shop, event, at=shop.clock.now().timestamp() - 299) == 200
    assert (await order_state(shop))[0] is OrderStatus.PAID


async def test_200_concurrent_copies_of_one_webhook_grant_once(shop):
    _chat, _link, session = await checkout(shop)
    body, signature = FakeStripe.signed(shop.fake.complete(session),
                                        shop.clock.now().timestamp())
    url = shop.server.make_url("/payments/stripe/webhook")

    async def post() -> int:
        async with shop.http.post(url, data=body,
                                  headers={"Stripe-Signature": signature}) as response:
            return response.status

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        shop.http, old = http, shop.http
        try:
            statuses = await asyncio.gather(*(post() for _ in range(200)))
        finally:
            shop.http = old
    assert statuses == [200] * 200
    status, purchases, payments = await order_state(shop)
    assert status is OrderStatus.PAID and len(purchases) == 1 and len(payments) == 1
    assert shop.fake.count("GET", "/v1/checkout/sessions/") == 1  # the event handled once


async def test_a_refund_from_the_staff_command_goes_through_stripe_and_withdraws_access(shop):
    admin = shop.chat("admin", "Staff")
    await admin.send("/start")
    await buy(shop)
    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 49 EUR returned, and the access it gave is withdrawn."
    [refund] = shop.fake.refunds.values()
    status, [purchase], [payment] = await order_state(shop)
    assert refund["payment_intent"] == payment.gateway_payment_id and refund["amount"] == 4900
    assert status is OrderStatus.REFUNDED and purchase.status is PurchaseStatus.REVOKED
    await shop.gateway.refund(payment)  # a repeat after a crash is done, not an error
    assert len(shop.fake.refunds) == 1


async def test_a_wrong_amount_grants_nothing_and_alerts_the_admins(shop):
    admin = shop.chat("admin", "Staff")
    await admin.send("/start")
    _chat, _link, session = await checkout(shop)
    event = shop.fake.complete(session)
    shop.fake.sessions[session]["amount_total"] = 100  # what Stripe says was paid
    assert await notify(shop, event) == 200
    await shop.deliver()
    status, purchases, [payment] = await order_state(shop)
    assert status is not OrderStatus.PAID and purchases == [] and payment.refund_reason
    assert "Money to return: 1 EUR (stripe) from Anna for order #1" in admin.last.text


async def test_a_renewable_offer_saves_the_card_and_renews_by_charging_it_once(shop):
    chat = await buy(shop, "club-month")
    purchase = await club(shop)
    customer, method = purchase.renewal_method.removeprefix("stripe:").split("/")
    assert shop.fake.methods[method] == customer and purchase.renewal == "stripe"
    await at(shop, END + MINUTE)
    await shop.sweep()
    [charge] = renewal_intents(shop)
    assert (charge["amount"], charge["currency"], charge["status"]) == (900, "eur", "succeeded")
    purchase = await club(shop)
    assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    assert "Your access lasts until May 2, 2026." in chat.last.text


async def test_a_renewal_whose_answer_times_out_is_charged_once(shop):
    await buy(shop, "club-month")
    shop.fake.stall("/v1/payment_intents")  # charged, but the answer is lost
    await at(shop, END + MINUTE)
    assert (await club(shop)).ends_at == END  # nothing known yet: nothing recorded
    assert len(renewal_intents(shop)) == 1
    await at(shop, END + 6 * MINUTE)  # the lease is over: the same key, Stripe's replay
    [charge] = renewal_intents(shop)
    purchase = await club(shop)
    assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    async with shop.uow_factory() as uow:
        ids = [p.gateway_payment_id for p in await uow.payments.for_order(2)]
    assert ids == [charge["id"]]


@pytest.mark.parametrize("card,words", [
    (DECLINED, "the card was declined"),
    (AUTHENTICATION, "your bank asks you to confirm the payment yourself"),
])
async def test_a_declined_renewal_tells_the_student_and_follows_the_retry_rules(
        shop, card, words):
    chat = await buy(shop, "club-month", card)
    await at(shop, END + MINUTE)
    assert f"We could not renew “Club monthly”: {words}." in chat.last.text
    assert any("Renew" in label for label in chat.last.labels)  # to pay by hand
    purchase = await club(shop)
    assert purchase.status is PurchaseStatus.ACTIVE  # the grace: retried later
    for _ in range(10):
        shop.clock.advance(timedelta(days=1))
        await shop.sweep()
    assert (await club(shop)).status is not PurchaseStatus.ACTIVE
    assert all(i["status"] == "requires_payment_method" for i in renewal_intents(shop))


def test_settings_explain_what_is_missing():
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        Settings(_env_file=None, stripe_secret_key="sk_test_x")
    with pytest.raises(ValidationError, match="publishable"):
        Settings(_env_file=None, stripe_secret_key="pk_test_x",
                 stripe_webhook_secret="whsec_x")
    settings = Settings(_env_file=None, stripe_secret_key="sk_test_x",
                        stripe_webhook_secret="whsec_x")
    assert "sk_test_x" not in repr(settings)
