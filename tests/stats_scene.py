"""A school's month, seeded through the core's own use cases with a moving clock, for the
figures, the chart and the exports. "Today" is START's local day (Europe/Berlin, UTC+1).

- Anna (35 days ago) buys Python 30 days (19.90 EUR); it runs out 5 days ago, not renewed.
- Boris (20 days ago) buys the monthly club (9 EUR) with a card saved for renewal, and
  2 days ago extends it by hand (Club +30 days, 8 EUR): a renewal.
- Chen (yesterday) buys Python forever (49 EUR); it is refunded an hour ago.
- Dana (2 hours ago) orders the secret drawing offer and does not pay.
- Emil (2 hours ago) buys Python forever for 250 Telegram Stars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from factories import START

from core import jobs
from core.services import checkout, payments, users
from core.services.payments import PaymentNotice

DAY = timedelta(days=1)


@dataclass
class Scene:
    anna: int
    boris: int
    chen: int
    dana: int
    emil: int
    chen_order: int


async def _student(uow_factory, clock, at, external_id, name):
    clock.set(at)
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, at, "console", external_id, name, "en")
        await uow.commit()
    return user


async def _buy(uow_factory, school, clock, user, offer, at, *, pay=True, stars=False,
               details=None, unlocked=False):
    clock.set(at)
    async with uow_factory() as uow:
        placed = await checkout.place_order(uow, school, at, user, offer, None,
                                            messenger="console", unlocked=unlocked,
                                            stars=stars)
        await uow.commit()
    order = placed.order
    if pay:
        gateway = "telegram" if stars else "test"
        async with uow_factory() as uow:
            await payments.confirm(uow, school, PaymentNotice(
                gateway, f"{gateway}-{order.id}", order.token, order.amount, order.currency,
                details=details or {}), at)
            await uow.commit()
    return order


async def seed(uow_factory, school, clock) -> Scene:
    anna = await _student(uow_factory, clock, START - 35 * DAY, "anna", "Anna")
    await _buy(uow_factory, school, clock, anna, "python-30", START - 35 * DAY)
    boris = await _student(uow_factory, clock, START - 20 * DAY, "boris", "Boris")
    await _buy(uow_factory, school, clock, boris, "club-month", START - 20 * DAY,
               details={"saved_method": "card-1"})
    clock.set(START - 5 * DAY + timedelta(minutes=1))  # Anna's 30 days are over
    assert await jobs.expire_purchases(uow_factory, clock.now()) == 1
    await _buy(uow_factory, school, clock, boris, "club-extend", START - 2 * DAY)
    chen = await _student(uow_factory, clock, START - DAY, "chen", "Chen")
    chen_order = await _buy(uow_factory, school, clock, chen, "python-life", START - DAY)
    dana = await _student(uow_factory, clock, START - timedelta(hours=2), "dana", "Dana")
    await _buy(uow_factory, school, clock, dana, "secret", START - timedelta(hours=2),
               pay=False, unlocked=True)
    emil = await _student(uow_factory, clock, START - timedelta(hours=2), "emil", "Emil")
    await _buy(uow_factory, school, clock, emil, "python-life", START - timedelta(hours=2),
               stars=True)
    clock.set(START - timedelta(hours=1))
    async with uow_factory() as uow:
        assert await payments.refund(uow, chen_order.id, clock.now())
        await uow.commit()
    clock.set(START)
    return Scene(anna.id, boris.id, chen.id, dana.id, emil.id, chen_order.id)
