"""Money that arrives after the order closed, on Stripe and on YooKassa: the student left the
gateway's page open, and the order expired or was cancelled in the chat meanwhile. The
payment still buys the order while its offer is sold; otherwise it grants nothing, is kept
on record to return (``refund_reason``) and every admin is alerted: never lost silently."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import stripe_steps
import yookassa_steps

from core.models import OrderStatus, PurchaseStatus


@pytest.fixture(params=["stripe", "yookassa"])
async def shop(request, uow_factory, school, clock):
    make = stripe_steps.stripe_shop if request.param == "stripe" \
        else yookassa_steps.yookassa_shop
    async with make(uow_factory, school, clock) as shop:
        shop.gateway_name = request.param
        yield shop


async def _page_left_open(shop, chat):
    """The student orders “Python forever” and opens the gateway's page; returns what paying
    there does (the gateway's notification, answered by the platform)."""
    if shop.gateway_name == "stripe":
        _chat, _link, session = await stripe_steps.checkout(shop, chat=chat)
        return lambda: stripe_steps.notify(shop, shop.fake.complete(session))
    payment = await yookassa_steps.buy(shop, chat, "python-life")
    return lambda: yookassa_steps.notify(shop, shop.fake.pay(payment["id"]))


async def _close(shop, chat, how: str) -> None:
    if how == "cancelled":
        await chat.click("Cancel order")
        assert chat.last.text == "Order #1 is cancelled."
    else:
        shop.clock.advance(timedelta(hours=2))  # past the order's hour
        await shop.sweep()
    async with shop.uow_factory() as uow:
        order = await uow.orders.get(1)
    assert (order.status, order.close_reason) == (OrderStatus.CANCELLED, how)


async def _state(shop):
    async with shop.uow_factory() as uow:
        order = await uow.orders.get(1)
        return order.status, await uow.purchases.for_user(order.user_id), \
            await uow.payments.for_order(1)


@pytest.mark.parametrize("how", ["expired", "cancelled"])
async def test_a_late_payment_still_buys_the_order_while_its_offer_is_sold(shop, how):
    chat = shop.chat()
    pay = await _page_left_open(shop, chat)
    await _close(shop, chat, how)

    assert await pay() == 200
    await shop.deliver()

    assert "Payment received! Order #1: Python forever." in chat.last.text
    status, [purchase], [payment] = await _state(shop)
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (payment.gateway, payment.amount, payment.refund_reason) == (
        shop.gateway_name, 4900, None)


@pytest.mark.parametrize("how", ["expired", "cancelled"])
async def test_a_late_payment_for_an_offer_no_longer_sold_is_flagged_to_the_admins(shop, how):
    admin = shop.chat("admin", "Olga")
    await admin.send("/start")
    chat = shop.chat()
    pay = await _page_left_open(shop, chat)
    await _close(shop, chat, how)
    school = shop.platform.school.school
    offer = school.offers["python-life"]
    shop.platform.school.school = replace(school, offers={
        **school.offers, offer.code: replace(offer, sale_ends=shop.clock.now())})

    assert await pay() == 200
    await shop.deliver()

    status, purchases, [payment] = await _state(shop)
    assert (status, purchases) == (OrderStatus.CANCELLED, [])
    assert (payment.amount, payment.refund_reason) == (4900, "offer_gone")
    assert "The money will be returned." in chat.last.text
    assert admin.last.text.startswith(
        f"⚠️ Money to return: 49 EUR ({shop.gateway_name}) from Anna for order #1 gives "
        "nothing: paid after the order had closed, and its offer is no longer sold.")
    await admin.send("/refunds")
    assert "offer is no longer sold" in admin.last.text
    await admin.send("/refund 1")  # returned through the gateway; nothing to withdraw
    assert admin.last.text == "Order #1: 49 EUR returned; the access the order gives stays."
    assert len(shop.fake.refunds) == 1
