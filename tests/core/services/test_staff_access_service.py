"""What staff do to access from the student card, on every storage backend: an extension
moves the automatic charge to the new end (nothing is charged at the old one), a revocation
stops the charging, a purchase that changed since the card was shown is left alone, and a
purchase Telegram renews is not touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import START, make_school

from core import jobs
from core.models import (
    RENEWAL_TELEGRAM_STARS,
    Order,
    OrderStatus,
    Purchase,
    PurchaseStatus,
    RenewalStatus,
)
from core.services import checkout, payments, staff_access, users
from core.services.payments import PaymentNotice
from core.services.staff_access import Refused
from payments.testgateway import TestGateway

SECRET = b"staff-access-tests-secret-012345"


class Clock:
    def now(self):
        return START


@pytest.fixture
def gateway():
    return TestGateway(SECRET, "http://127.0.0.1", Clock())


async def _subscriber(uow_factory, school, gateway) -> Purchase:
    """A student on club-month who saved a card: the platform charges it each month."""
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "console", "1", "Anna")
        order = (await checkout.place_order(uow, school, START, user, "club-month")).order
        await payments.confirm(uow, school, PaymentNotice(
            "test", "first", order.token, order.amount, order.currency,
            details={"saved_method": gateway.card_for(order.token, failing=False)}), START)
        [purchase] = await uow.purchases.for_user(user.id)
        await uow.commit()
    assert purchase.renewal == "test"
    return purchase


async def test_an_extension_moves_the_automatic_charge_to_the_new_end(db_uow_factory,
                                                                      gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway)
    old_end = purchase.ends_at
    async with db_uow_factory() as uow:
        done = await staff_access.extend(uow, school, purchase.id, 10,
                                         staff_access.stamp(purchase), START)
        await uow.commit()
    new_end = old_end + timedelta(days=10)
    assert (done.was_end, done.purchase.ends_at) == (old_end, new_end)

    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, old_end) == 0
    assert gateway.charges == []  # nothing at the old end
    async with db_uow_factory() as uow:
        by_end = {r.period_end: r.status for r in await uow.renewals.for_purchase(purchase.id)}
    assert by_end == {old_end: RenewalStatus.CANCELLED, new_end: RenewalStatus.PENDING}
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, new_end) == 1
    assert len(gateway.charges) == 1


async def test_a_revocation_stops_the_charging(db_uow_factory, gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway)
    async with db_uow_factory() as uow:
        done = await staff_access.revoke(uow, school, purchase.id,
                                         staff_access.stamp(purchase), START)
        await uow.commit()
    assert done.before.status is PurchaseStatus.ACTIVE and done.leaving == ()
    async with db_uow_factory() as uow:
        revoked = await uow.purchases.get(purchase.id)
        [renewal] = await uow.renewals.for_purchase(purchase.id)
        assert (await uow.orders.get(purchase.order_id)).status is OrderStatus.PAID
    assert (revoked.status, revoked.renewal, revoked.renewal_method is not None) == (
        PurchaseStatus.REVOKED, None, True)
    assert renewal.status is RenewalStatus.CANCELLED
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway},
                                      purchase.ends_at) == 0
    assert gateway.charges == []


async def test_a_purchase_changed_since_the_card_was_shown_is_left_alone(db_uow_factory,
                                                                         gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway)
    seen = staff_access.stamp(purchase)
    async with db_uow_factory() as uow:
        await staff_access.extend(uow, school, purchase.id, 7, seen, START)
        await uow.commit()
    for act in (lambda uow: staff_access.extend(uow, school, purchase.id, 7, seen, START),
                lambda uow: staff_access.revoke(uow, school, purchase.id, seen, START)):
        async with db_uow_factory() as uow:
            with pytest.raises(Refused, match="changed"):
                await act(uow)
    async with db_uow_factory() as uow:
        now = await uow.purchases.get(purchase.id)
    assert (now.status, now.ends_at) == (PurchaseStatus.ACTIVE,
                                         purchase.ends_at + timedelta(days=7))


async def test_a_purchase_telegram_renews_is_neither_extended_nor_revoked(db_uow_factory):
    school = make_school()
    async with db_uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "console", "1", "Anna")
        order = await uow.orders.add(Order(user_id=user.id, offer_code="python-30",
                                           token="t", currency="XTR", created_at=START))
        purchase = await uow.purchases.add(Purchase(
            user_id=user.id, order_id=order.id, offer_code="python-30",
            products=("python-course",), starts_at=START, ends_at=START + timedelta(days=30),
            renewal=RENEWAL_TELEGRAM_STARS, renewal_method="telegram_stars:1:charge"))
        await uow.commit()
    seen = staff_access.stamp(purchase)
    for act in (lambda uow: staff_access.extend(uow, school, purchase.id, 7, seen, START),
                lambda uow: staff_access.revoke(uow, school, purchase.id, seen, START)):
        async with db_uow_factory() as uow:
            with pytest.raises(Refused, match="renewed_outside"):
                await act(uow)
    async with db_uow_factory() as uow:
        assert await uow.purchases.get(purchase.id) == purchase
