"""Refunds through Stripe, in full or a part: ``/refund ORDER AMOUNT`` gives back a part and
keeps the access, never more than is left; Stripe's refund events (a refund made in its
dashboard) record a part once and alert the admins, and the whole payment back withdraws
the access. The official SDK against the fake Stripe, inside the whole platform."""

from __future__ import annotations

import pytest
from stripe_steps import buy, notify, order_state, stripe_shop

from core.models import OrderStatus, PaymentStatus, PurchaseStatus


@pytest.fixture
async def shop(uow_factory, school, clock):
    async with stripe_shop(uow_factory, school, clock) as shop:
        yield shop


@pytest.fixture
async def admin(shop):
    chat = shop.chat("admin", "Staff")
    await chat.send("/start")  # the bot can write only to those who wrote to it
    return chat


async def _paid(shop):
    """Anna's 49 EUR for order #1 (python-life); its PaymentIntent."""
    chat = await buy(shop)
    _status, _purchases, [payment] = await order_state(shop)
    return chat, shop.fake.intents[payment.gateway_payment_id]


def _charge(shop, intent: dict) -> dict:
    return shop.fake.charges[intent["latest_charge"]]


async def test_a_part_goes_back_through_stripe_and_the_access_stays(shop, admin):
    _chat, intent = await _paid(shop)

    await admin.send("/refund 1 10")
    assert admin.last.text == "Order #1: 10 EUR returned; the access stays."
    await admin.send("/refund #1 12,50")
    assert admin.last.text == "Order #1: 12.50 EUR returned; the access stays."

    assert [r["amount"] for r in shop.fake.refunds.values()] == [1000, 1250]
    assert _charge(shop, intent)["amount_refunded"] == 2250
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.SUCCEEDED, 2250)

    # Stripe's events of those refunds come after: recorded already, nobody alerted again.
    before = len(admin.messages)
    for refund in list(shop.fake.refunds):
        assert await notify(shop, shop.fake.refund_event(refund)) == 200
    await shop.deliver()
    assert len(admin.messages) == before
    assert (await order_state(shop))[2][0].refunded_amount == 2250


async def test_a_second_part_cannot_pass_what_is_left(shop, admin):
    await _paid(shop)
    await admin.send("/refund 1 40")

    await admin.send("/refund 1 9.01")
    assert admin.last.text == ("Order #1: 9.01 EUR is more than the 9 EUR left to give back. "
                               "Nothing was refunded.")
    assert len(shop.fake.refunds) == 1
    await admin.send("/refund 1 9")  # exactly what is left: the access still stays
    assert admin.last.text == "Order #1: 9 EUR returned; the access stays."
    await admin.send("/refund 1 1")
    assert admin.last.text.startswith("Order #1: 1 EUR is more than the 0 EUR left")
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status, payment.refunded_amount) == (
        OrderStatus.PAID, PurchaseStatus.ACTIVE, 4900)
    assert len(shop.fake.refunds) == 2


@pytest.mark.parametrize("amount,answer", [
    ("0", "“0” is not an amount in EUR above zero."),
    ("-5", "“-5” is not an amount in EUR above zero."),
    ("ten", "“ten” is not an amount in EUR above zero."),
    ("1.005", "“1.005” is not an amount in EUR above zero."),
    ("49.01", "Order #1: 49.01 EUR is more than the 49 EUR left to give back. "
              "Nothing was refunded."),
    ("5 EUR", "Use: /refund ORDER_NUMBER [AMOUNT]."),
])
async def test_a_bad_amount_is_refused_and_changes_nothing(shop, admin, amount, answer):
    await _paid(shop)
    await admin.send(f"/refund 1 {amount}")
    assert admin.last.text.startswith(answer)
    assert shop.fake.refunds == {}
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status, payment.refunded_amount) == (
        OrderStatus.PAID, PurchaseStatus.ACTIVE, 0)


async def test_a_full_refund_after_a_part_gives_back_the_rest_and_withdraws(shop, admin):
    chat, intent = await _paid(shop)
    await admin.send("/refund 1 10")

    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 39 EUR returned, and the access it gave is withdrawn."

    assert [r["amount"] for r in shop.fake.refunds.values()] == [1000, 3900]
    assert _charge(shop, intent)["refunded"] is True
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 4900)
    await shop.deliver()
    assert "was refunded, so the access it gave was withdrawn" in chat.last.text


async def test_a_refund_stripe_refuses_is_told_and_recorded_nowhere(shop, admin):
    _chat, intent = await _paid(shop)
    shop.fake.refund_outside(intent["id"], 4500)  # given back in the dashboard, not told yet

    await admin.send("/refund 1 10")  # 10 EUR are left here, 4 EUR at Stripe

    assert admin.last.text.startswith("Order #1: stripe did not give the money back (")
    assert "greater than unrefunded amount" in admin.last.text
    assert len(shop.fake.refunds) == 1
    assert (await order_state(shop))[2][0].refunded_amount == 0


@pytest.mark.parametrize("kind", ["charge.refunded", "refund.updated"])
async def test_a_part_given_back_in_stripe_keeps_the_access_and_alerts_the_admins(
        shop, admin, kind):
    chat, intent = await _paid(shop)
    first = shop.fake.refund_outside(intent["id"], 1500)

    assert await notify(shop, shop.fake.refund_event(first, kind)) == 200
    await shop.deliver()
    assert admin.last.text == ("↩️ 15 EUR of the 49 EUR Anna paid for order #1 was given back "
                               "through stripe (15 EUR given back in all); the access stays.")
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.SUCCEEDED, 1500)

    alerts = len(admin.messages)
    assert await notify(shop, shop.fake.refund_event(first, kind)) == 200  # sent again
    await shop.deliver()
    assert len(admin.messages) == alerts

    rest = shop.fake.refund_outside(intent["id"])  # then the rest, in the dashboard too
    assert await notify(shop, shop.fake.refund_event(rest, kind)) == 200
    await shop.deliver()
    assert admin.last.text == ("↩️ The 49 EUR Anna paid for order #1 was given back through "
                               "stripe: the access it gave was withdrawn.")
    status, [purchase], [payment] = await order_state(shop)
    assert (status, purchase.status) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 4900)
    assert "was refunded, so the access it gave was withdrawn" in chat.last.text
