"""Stars subscriptions to the bot on every storage backend: the first payment keeps the
subscription, each recurring payment extends the purchase once even when Telegram's update
arrives several times at once, and a subscription nobody renewed lapses a day late."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import START, make_school, with_stars_subscription

from core import errors
from core.models import OrderStatus, PurchaseStatus
from core.services import checkout, star_subscriptions, users
from core.services.star_subscriptions import StarsPayment

DAYS_30 = timedelta(days=30)


@pytest.fixture
def school():
    return with_stars_subscription(make_school())


async def _subscribed(uow_factory, school):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "telegram", "42", "Anna")
        placed = await checkout.place_order(uow, school, START, user, "python-stars",
                                            messenger="telegram")
        await star_subscriptions.record(uow, school, StarsPayment(
            "telegram", "first", placed.order.token, 300, "42", START + DAYS_30, True), START)
        await uow.commit()
        [purchase] = await uow.purchases.for_user(user.id)
    return placed.order, purchase


async def _renew(uow_factory, school, token, charge_id, until, now):
    async with uow_factory() as uow:
        confirmation = await star_subscriptions.record(uow, school, StarsPayment(
            "telegram", charge_id, token, 300, "42", until, False), now)
        await uow.commit()
    return confirmation.outcome.value


async def test_the_first_payment_keeps_the_subscription(db_uow_factory, school):
    order, purchase = await _subscribed(db_uow_factory, school)
    assert purchase.ends_at == START + DAYS_30
    assert (purchase.renewal, purchase.renewal_method) == ("telegram_stars",
                                                           "telegram_stars:42:first")
    assert star_subscriptions.subscription_of(purchase.renewal_method) == ("42", "first")
    async with db_uow_factory() as uow:
        # Not the expiry sweep's, nor the platform's to charge: Telegram renews it.
        assert await uow.purchases.due_expiry(START + DAYS_30, 10) == []
        assert await uow.renewals.for_purchase(purchase.id) == []


async def test_a_renewal_arriving_five_times_at_once_extends_once(db_uow_factory, school):
    order, purchase = await _subscribed(db_uow_factory, school)
    end = START + DAYS_30
    outcomes = await asyncio.gather(*(
        _renew(db_uow_factory, school, order.token, "second", end + DAYS_30, end)
        for _ in range(5)), return_exceptions=True)
    assert sorted(o for o in outcomes if isinstance(o, str)).count("granted") == 1
    assert not [o for o in outcomes if isinstance(o, BaseException)
                and not isinstance(o, errors.DomainError)], outcomes
    async with db_uow_factory() as uow:
        [current] = await uow.purchases.for_user(purchase.user_id)
        assert current.ends_at == end + DAYS_30
        orders = await uow.orders.for_user(purchase.user_id)
        assert [o.status for o in orders].count(OrderStatus.PAID) == 2
        assert all(o.status in (OrderStatus.PAID, OrderStatus.CANCELLED) for o in orders)
        payment = await uow.payments.get("telegram", "second")
        assert payment is not None and payment.amount == 300


async def test_an_unrenewed_subscription_lapses_a_day_after_its_end(db_uow_factory, school):
    _, purchase = await _subscribed(db_uow_factory, school)
    end = START + DAYS_30
    async with db_uow_factory() as uow:
        assert await star_subscriptions.lapsed(uow, end + timedelta(hours=23), 10) == []
        [due] = await star_subscriptions.lapsed(uow, end + timedelta(days=1), 10)
        assert due.id == purchase.id and due.status is PurchaseStatus.ACTIVE


async def test_a_payment_for_an_unknown_invoice_is_refused(db_uow_factory, school):
    async with db_uow_factory() as uow:
        with pytest.raises(errors.NotFound):
            await star_subscriptions.record(uow, school, StarsPayment(
                "telegram", "x", "nope", 300, "42", START + DAYS_30, False), START)
