"""Money and access are granted once, however many confirmations race, on every backend."""

from __future__ import annotations

import asyncio

from core import errors
from core.models import OrderStatus, User
from core.services import checkout, payments, users
from core.services.payments import Outcome, PaymentNotice


async def _student(uow_factory, now, external_id: str) -> User:
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, now, "console", external_id, "Student", "en")
        await uow.commit()
    return user


async def test_100_concurrent_duplicate_confirmations_grant_one_purchase(
    db_uow_factory, school, clock
):
    now = clock.now()
    user = await _student(db_uow_factory, now, "1")
    async with db_uow_factory() as uow:
        placed = await checkout.place_order(uow, school, now, user, "python-30")
        await uow.commit()
    order = placed.order
    notice = PaymentNotice("test", "pay-1", order.token, order.amount, order.currency)

    async def confirm():
        async with db_uow_factory() as uow:
            result = await payments.confirm(uow, school, notice, now)
            await uow.commit()
            return result.outcome

    outcomes = await asyncio.gather(*(confirm() for _ in range(100)))

    assert outcomes.count(Outcome.GRANTED) == 1
    assert outcomes.count(Outcome.DUPLICATE) == 99
    async with db_uow_factory() as uow:
        assert (await uow.orders.get(order.id)).status is OrderStatus.PAID
        assert len(await uow.payments.for_order(order.id)) == 1
        assert len(await uow.purchases.for_user(user.id)) == 1
        kinds = [m.kind for m in await uow.outbox.for_user(user.id)]
        assert kinds.count("order_paid") == 1


async def test_two_different_payments_racing_for_one_order_grant_once(
    db_uow_factory, school, clock
):
    now = clock.now()
    user = await _student(db_uow_factory, now, "1")
    async with db_uow_factory() as uow:
        order = (await checkout.place_order(uow, school, now, user, "python-life")).order
        await uow.commit()

    async def confirm(payment_id: str):
        notice = PaymentNotice("test", payment_id, order.token, order.amount, order.currency)
        async with db_uow_factory() as uow:
            result = await payments.confirm(uow, school, notice, now)
            await uow.commit()
            return result.outcome

    outcomes = await asyncio.gather(*(confirm(f"p{i}") for i in range(20)))

    assert outcomes.count(Outcome.GRANTED) == 1
    assert outcomes.count(Outcome.EXTRA) == 19  # recorded for a refund, never lost
    async with db_uow_factory() as uow:
        assert len(await uow.payments.for_order(order.id)) == 20
        assert len(await uow.purchases.for_user(user.id)) == 1


async def test_single_use_promo_code_raced_by_50_students_is_consumed_once(
    db_uow_factory, school, clock
):
    now = clock.now()
    students = [await _student(db_uow_factory, now, str(i)) for i in range(50)]

    async def order_free(user):
        async with db_uow_factory() as uow:
            try:
                placed = await checkout.place_order(uow, school, now, user, "python-life", "FREE")
            except errors.PromoExhausted:
                return "exhausted"
            await uow.commit()
            return "completed" if placed.completed else "open"

    results = await asyncio.gather(*(order_free(user) for user in students))

    assert results.count("completed") == 1
    assert results.count("exhausted") == 49
    async with db_uow_factory() as uow:
        assert await uow.counters.used("promo:FREE") == 1
        purchases = [p for s in students for p in await uow.purchases.for_user(s.id)]
        assert len(purchases) == 1


async def test_seats_are_never_oversold_under_concurrency(db_uow_factory, school, clock):
    now = clock.now()
    students = [await _student(db_uow_factory, now, str(i)) for i in range(20)]

    async def order(user):
        async with db_uow_factory() as uow:
            try:
                await checkout.place_order(uow, school, now, user, "drawing-seats")
            except errors.SoldOut:
                return False
            await uow.commit()
            return True

    results = await asyncio.gather(*(order(user) for user in students))

    assert results.count(True) == 2  # the offer has two seats
    async with db_uow_factory() as uow:
        assert await uow.counters.used("seats:drawing-seats") == 2
