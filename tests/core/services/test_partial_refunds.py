"""A part of a payment given back: recorded as a running total, once, and the access stays;
the whole of it back withdraws the access as a full refund does (on every backend)."""

from __future__ import annotations

import pytest

from core.models import OrderStatus, Payment, PaymentStatus, PurchaseStatus
from core.services import checkout, payments, users
from core.services.payments import PaymentNotice, Returned


async def _paid(factory, school, now, offer="python-life", payment_id="p1"):
    async with factory() as uow:
        user, _ = await users.resolve(uow, now, "console", "1", "Anna", "en")
        order = (await checkout.place_order(uow, school, now, user, offer)).order
        await payments.confirm(uow, school, PaymentNotice(
            "card", payment_id, order.token, order.amount, order.currency), now)
        await uow.commit()
    return order


async def _reported(factory, now, refunded, payment_id="p1"):
    async with factory() as uow:
        result = await payments.returned_by_gateway(uow, "card", payment_id, now, refunded)
        await uow.commit()
    return result.outcome


async def _state(factory, order):
    async with factory() as uow:
        [payment] = await uow.payments.for_order(order.id)
        [purchase] = await uow.purchases.for_order(order.id)
        return (await uow.orders.get(order.id)).status, payment, purchase


async def test_a_part_reported_is_recorded_once_and_keeps_the_access(db_uow_factory, school,
                                                                    clock):
    now = clock.now()
    order = await _paid(db_uow_factory, school, now)

    assert await _reported(db_uow_factory, now, 1000) is Returned.PARTIAL
    assert await _reported(db_uow_factory, now, 1000) is Returned.DUPLICATE  # a repeat
    assert await _reported(db_uow_factory, now, 2500) is Returned.PARTIAL  # a second part
    assert await _reported(db_uow_factory, now, 1000) is Returned.DUPLICATE  # late, stale

    status, payment, purchase = await _state(db_uow_factory, order)
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.SUCCEEDED, 2500)
    assert payment.refundable_amount == 2400


async def test_the_whole_payment_reported_back_withdraws_the_access(db_uow_factory, school,
                                                                   clock):
    now = clock.now()
    order = await _paid(db_uow_factory, school, now)
    await _reported(db_uow_factory, now, 1000)

    assert await _reported(db_uow_factory, now, 4900) is Returned.WITHDRAWN
    assert await _reported(db_uow_factory, now, 4900) is Returned.DUPLICATE

    status, payment, purchase = await _state(db_uow_factory, order)
    assert (status, purchase.status) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 4900)


async def test_parts_given_back_from_here_are_not_taken_for_a_full_refund(db_uow_factory,
                                                                         school, clock):
    """``/refund ORDER AMOUNT`` gave everything back in two parts, keeping the access: the
    gateway's later report of the whole amount is old news."""
    now = clock.now()
    order = await _paid(db_uow_factory, school, now)
    async with db_uow_factory() as uow:
        [payment] = await uow.payments.for_order(order.id)

    given: list[int | None] = []

    async def give_back(paid: Payment, amount: int | None) -> int | None:
        given.append(amount)
        return None  # a gateway that does not say the total

    assert await payments.refund_through(db_uow_factory, give_back, payment, now, 4000)
    async with db_uow_factory() as uow:
        [payment] = await uow.payments.for_order(order.id)
    assert await payments.refund_through(db_uow_factory, give_back, payment, now, 900)
    assert await _reported(db_uow_factory, now, 4900) is Returned.DUPLICATE

    status, payment, purchase = await _state(db_uow_factory, order)
    assert given == [4000, 900]
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.SUCCEEDED, 4900)


async def test_a_full_refund_after_parts_gives_back_only_the_rest(db_uow_factory, school,
                                                                 clock):
    now = clock.now()
    order = await _paid(db_uow_factory, school, now)
    await _reported(db_uow_factory, now, 1900)
    async with db_uow_factory() as uow:
        [payment] = await uow.payments.for_order(order.id)
    asked: list[tuple[int, int | None]] = []

    async def give_back(paid: Payment, amount: int | None) -> int | None:
        asked.append((paid.refundable_amount, amount))
        return paid.amount

    assert await payments.refund_through(db_uow_factory, give_back, payment, now)

    status, payment, purchase = await _state(db_uow_factory, order)
    assert asked == [(3000, None)]
    assert (status, purchase.status) == (OrderStatus.REFUNDED, PurchaseStatus.REVOKED)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, 4900)


async def test_money_that_granted_nothing_all_back_in_parts_is_refunded(db_uow_factory, school,
                                                                       clock):
    now = clock.now()
    order = await _paid(db_uow_factory, school, now)
    async with db_uow_factory() as uow:  # paid twice: the second payment grants nothing
        await payments.confirm(uow, school, PaymentNotice(
            "card", "p2", order.token, order.amount, order.currency), now)
        await uow.commit()

    assert await _reported(db_uow_factory, now, 4000, "p2") is Returned.PARTIAL
    async with db_uow_factory() as uow:
        assert [p.refundable_amount for p in await uow.payments.to_refund(5)] == [900]
        result = await payments.returned_in_part(uow, "card", "p2", 4900)
        await uow.commit()
    assert result.outcome is Returned.PARTIAL
    async with db_uow_factory() as uow:
        assert await uow.payments.to_refund(5) == []
        assert (await uow.payments.get("card", "p2")).status is PaymentStatus.REFUNDED
        assert (await uow.orders.get(order.id)).status is OrderStatus.PAID


@pytest.mark.parametrize("refunded", [None, 100])
async def test_a_return_of_an_unknown_payment_changes_nothing(db_uow_factory, clock, refunded):
    assert await _reported(db_uow_factory, clock.now(), refunded, "nope") is Returned.UNKNOWN
