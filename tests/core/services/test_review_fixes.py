"""Money that grants nothing is never silent, renewals extend what they name, and a sweep
never writes over a renewal (on every backend)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

from core import jobs
from core.models import OrderStatus
from core.money import Money
from core.periods import Period
from core.school import AccessKind, Offer, Product, ProductKind
from core.services import checkout, payments, users
from core.services.payments import Outcome, PaymentNotice


async def _student(factory, now, external_id="1"):
    async with factory() as uow:
        user, _ = await users.resolve(uow, now, "console", external_id, "S", "en")
        await uow.commit()
    return user


async def _order(factory, school, now, user, offer, promo=None):
    async with factory() as uow:
        order = (await checkout.place_order(uow, school, now, user, offer, promo)).order
        await uow.commit()
    return order


async def _pay(factory, school, now, order, payment_id=None):
    notice = PaymentNotice("test", payment_id or f"p{order.id}", order.token, order.amount,
                           order.currency)
    async with factory() as uow:
        result = await payments.confirm(uow, school, notice, now)
        await uow.commit()
    return result.outcome


async def _kinds(factory, user_id):
    async with factory() as uow:
        return [m.kind for m in await uow.outbox.for_user(user_id)]


async def test_paying_two_open_orders_for_one_lifetime_course_grants_once(
    uow_factory, school, clock
):
    now = clock.now()
    user = await _student(uow_factory, now)
    plain = await _order(uow_factory, school, now, user, "python-life")
    discounted = await _order(uow_factory, school, now, user, "python-life", "TEN")
    assert await _pay(uow_factory, school, now, plain) is Outcome.GRANTED
    assert await _pay(uow_factory, school, now, discounted) is Outcome.EXTRA
    async with uow_factory() as uow:
        assert len(await uow.purchases.for_user(user.id)) == 1
        second = await uow.orders.get(discounted.id)
        assert (second.status, second.close_reason) == (OrderStatus.CANCELLED, "already_owned")
        assert len(await uow.payments.for_order(discounted.id)) == 1  # kept for the refund
    assert (await _kinds(uow_factory, user.id)).count("payment_extra") == 1


async def test_a_payment_for_a_cancelled_order_tells_the_student(uow_factory, school, clock):
    now = clock.now()
    user = await _student(uow_factory, now)
    order = await _order(uow_factory, school, now, user, "python-life")
    async with uow_factory() as uow:
        await checkout.cancel(uow, school, order.id, user.id, now)
        await uow.commit()
    gone = replace(school, offers={k: v for k, v in school.offers.items()
                                   if k != "python-life"})  # taken out of the school file
    assert await _pay(uow_factory, gone, now, order) is Outcome.EXTRA
    assert await _kinds(uow_factory, user.id) == ["payment_extra"]


async def test_decline_after_pay_does_not_say_the_payment_failed(uow_factory, school, clock):
    now = clock.now()
    user = await _student(uow_factory, now)
    order = await _order(uow_factory, school, now, user, "python-life")
    await _pay(uow_factory, school, now, order)
    declined = PaymentNotice("test", "decline", order.token, order.amount, order.currency,
                             succeeded=False)
    async with uow_factory() as uow:
        assert (await payments.confirm(uow, school, declined, now)).outcome is Outcome.FAILED
        await uow.commit()
    assert "payment_failed" not in await _kinds(uow_factory, user.id)


async def test_renewal_sold_as_an_external_product_extends_the_group(uow_factory, school, clock):
    products = {**school.products,
                "plus30": Product("plus30", ProductKind.EXTERNAL, {"en": "+30 days"})}
    offers = {**school.offers, "club-plus": Offer(
        "club-plus", {"en": "+30 days of club"}, Money(800, "EUR"), ("plus30",),
        access=AccessKind.PERIOD, period=Period.parse("P30D"), extends=("club",))}
    school = type(school)(**{**school.__dict__, "products": products, "offers": offers})
    now = clock.now()
    user = await _student(uow_factory, now)
    await _pay(uow_factory, school, now, await _order(uow_factory, school, now, user,
                                                      "club-month"))
    later = now + timedelta(days=10)
    await _pay(uow_factory, school, later, await _order(uow_factory, school, later, user,
                                                        "club-plus"))
    async with uow_factory() as uow:
        [club] = await uow.purchases.for_user(user.id)
    assert club.offer_code == "club-month"
    assert club.ends_at == Period.parse("P30D").add_to(Period.parse("P1M").add_to(now))


async def test_a_sweep_running_beside_a_renewal_never_undoes_it(db_uow_factory, school, clock):
    """The sweep holds its due purchase while the renewal's payment arrives: the renewal
    waits for it, then extends the end the sweep left."""
    start = clock.now()
    user = await _student(db_uow_factory, start)
    await _pay(db_uow_factory, school, start,
               await _order(db_uow_factory, school, start, user, "python-30"))
    now = start + timedelta(days=1)  # the Variables lesson is due
    renewal = await _order(db_uow_factory, school, now, user, "python-30")

    sweep_holds_rows = asyncio.Event()
    real_lessons = jobs.lessons

    async def slow_deliver(uow, school_, purchase, now_, notify=True):
        sweep_holds_rows.set()
        await asyncio.sleep(0.3)  # the renewal's payment arrives meanwhile
        return await real_lessons.deliver_open(uow, school_, purchase, now_, notify)

    jobs.lessons = SimpleNamespace(deliver_open=slow_deliver)  # only the sweep is slowed
    try:
        sweep = asyncio.create_task(jobs.open_lessons(db_uow_factory, school, now))
        await sweep_holds_rows.wait()
        outcome = await _pay(db_uow_factory, school, now, renewal)
        assert await sweep == 1  # the renewal waited for the sweep's transaction
    finally:
        jobs.lessons = real_lessons
    assert outcome is Outcome.GRANTED
    async with db_uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(user.id)
    assert purchase.ends_at == start + timedelta(days=60)
    assert purchase.next_lesson_at == start + timedelta(days=3)
