"""Refunds through YooKassa, in full or a part: ``/refund ORDER AMOUNT`` gives back a part and
keeps the access; ``refund.succeeded`` for a refund made in YooKassa's dashboard records a
part once (checked with the API) and alerts the admins, the whole payment back withdraws the
access. The official SDK against the fake YooKassa, inside the whole platform."""

from __future__ import annotations

import pytest
from yookassa_steps import buy, notify, yookassa_shop

from core.models import OrderStatus, PaymentStatus, PurchaseStatus


@pytest.fixture
async def shop(uow_factory, school, clock):
    async with yookassa_shop(uow_factory, school, clock) as shop:
        yield shop


@pytest.fixture
async def admin(shop):
    chat = shop.chat("admin", "Olga")
    await chat.send("/start")
    return chat


async def _paid(shop) -> tuple:
    """Anna pays 49 EUR for order #1 (python-life): her chat and YooKassa's payment."""
    chat = shop.chat()
    payment = await buy(shop, chat, "python-life")
    assert await notify(shop, shop.fake.pay(payment["id"])) == 200
    await shop.deliver()
    return chat, payment


async def _state(shop):
    async with shop.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(2)
        [payment] = await uow.payments.for_order(1)
        return (await uow.orders.get(1)).status, purchase.status, payment


async def test_a_part_goes_back_through_yookassa_and_the_access_stays(shop, admin):
    _chat, payment = await _paid(shop)

    await admin.send("/refund 1 10.50")
    assert admin.last.text == "Order #1: 10.50 EUR returned; the access stays."
    [refund] = shop.fake.refunds.values()
    assert refund["amount"] == {"value": "10.50", "currency": "EUR"}
    assert shop.fake.payments[payment["id"]]["refunded_amount"]["value"] == "10.50"
    status, access, paid = await _state(shop)
    assert (status, access) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (paid.status, paid.refunded_amount) == (PaymentStatus.SUCCEEDED, 1050)

    # YooKassa's word of that refund comes after: recorded already, nobody alerted again.
    before = len(admin.messages)
    assert await notify(shop, shop.fake.notifications[-1]) == 200
    await shop.deliver()
    assert len(admin.messages) == before

    await admin.send("/refund 1 40")
    assert admin.last.text == ("Order #1: 40 EUR is more than the 38.50 EUR left to give back. "
                               "Nothing was refunded.")
    await admin.send("/refund 1")  # the rest, and the access goes
    assert admin.last.text == ("Order #1: 38.50 EUR returned, and the access it gave is "
                               "withdrawn.")
    assert [r["amount"]["value"] for r in shop.fake.refunds.values()] == ["10.50", "38.50"]
    status, access, paid = await _state(shop)
    assert (status, access, paid.status) == (
        OrderStatus.REFUNDED, PurchaseStatus.REVOKED, PaymentStatus.REFUNDED)


async def test_a_part_given_back_in_yookassa_keeps_the_access_and_alerts_the_admins(
        shop, admin):
    chat, payment = await _paid(shop)
    notification = shop.fake.refund_outside(payment["id"], "20.00")

    for _ in range(2):  # YooKassa repeats a notification until it gets 200
        assert await notify(shop, notification) == 200
    await shop.deliver()

    assert admin.last.text == ("↩️ 20 EUR of the 49 EUR Anna paid for order #1 was given back "
                               "through yookassa (20 EUR given back in all); the access stays.")
    assert sum("was given back" in m.text for m in admin.messages) == 1
    status, access, paid = await _state(shop)
    assert (status, access) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (paid.status, paid.refunded_amount) == (PaymentStatus.SUCCEEDED, 2000)

    assert await notify(shop, shop.fake.refund_outside(payment["id"])) == 200  # the rest
    await shop.deliver()
    assert admin.last.text == ("↩️ The 49 EUR Anna paid for order #1 was given back through "
                               "yookassa: the access it gave was withdrawn.")
    status, access, paid = await _state(shop)
    assert (status, access) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    assert (paid.status, paid.refunded_amount) == (PaymentStatus.REFUNDED, 4900)
    assert "was refunded, so the access it gave was withdrawn" in chat.last.text
