"""Refunding a paid order revokes what it granted, once."""

from __future__ import annotations

from core.models import OrderStatus, PaymentStatus, PurchaseStatus
from core.services import checkout, payments, users
from core.services.payments import PaymentNotice


async def _paid_order(uow_factory, school, now):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, now, "console", "1", "Anna", "en")
        order = (await checkout.place_order(uow, school, now, user, "python-30")).order
        notice = PaymentNotice("test", "p1", order.token, order.amount, order.currency)
        await payments.confirm(uow, school, notice, now)
        await uow.commit()
    return order


async def test_refund_revokes_the_purchase_and_marks_the_payment(uow_factory, school, clock):
    order = await _paid_order(uow_factory, school, clock.now())
    async with uow_factory() as uow:
        assert await payments.refund(uow, order.id, clock.now()) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.orders.get(order.id)).status is OrderStatus.REFUNDED
        [payment] = await uow.payments.for_order(order.id)
        assert payment.status is PaymentStatus.REFUNDED
        [purchase] = await uow.purchases.for_order(order.id)
        assert (purchase.status, purchase.end_reason) == (PurchaseStatus.REVOKED, "refund")
        kinds = [m.kind for m in await uow.outbox.for_user(order.user_id)]
        assert kinds == ["order_paid", "group_invite", "access_ended"]  # the offer has a group


async def test_refund_twice_or_of_an_unpaid_order_changes_nothing(uow_factory, school, clock):
    order = await _paid_order(uow_factory, school, clock.now())
    async with uow_factory() as uow:
        await payments.refund(uow, order.id, clock.now())
        await uow.commit()
    async with uow_factory() as uow:
        assert await payments.refund(uow, order.id, clock.now()) is False
        user = await uow.users.get(order.user_id)
        unpaid = (await checkout.place_order(uow, school, clock.now(), user, "python-life")).order
        assert await payments.refund(uow, unpaid.id, clock.now()) is False
        assert (await uow.orders.get(unpaid.id)).status is OrderStatus.NEW
        await uow.commit()
    async with uow_factory() as uow:
        kinds = [m.kind for m in await uow.outbox.for_user(order.user_id)]
        assert kinds.count("access_ended") == 1
