"""Money that grants nothing (an underpayment, a stray currency, a second payment for a paid
order) is marked for a refund, listed, and the school's admins are alerted through the outbox;
on every storage backend."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import Shop

from core.models import OrderStatus, PaymentStatus, PurchaseStatus
from core.services import payments
from core.services.payments import Outcome
from core.staff import Role, StaffRef

ADMIN_ID = "1001"  # the Shop's first student is the school's admin


@pytest.fixture
def admin_school(school):
    return dataclasses.replace(school, staff=(StaffRef("telegram", ADMIN_ID, Role.ADMIN),
                                               StaffRef("telegram", "424242", Role.ADMIN)))


@pytest.fixture
def shop(db_uow_factory, admin_school, clock) -> Shop:
    return Shop(db_uow_factory, admin_school, clock)


async def _listed(shop: Shop) -> list[tuple[int, str, int, str]]:
    async with shop.uow_factory() as uow:
        return [(p.order_id, p.refund_reason, p.amount, p.currency)
                for p in await uow.payments.to_refund(50)]


async def test_an_underpayment_is_marked_listed_and_the_admins_alerted(shop):
    admin = await shop.student("Olga")
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    assert (await shop.pay(placed.order, amount=2000, payment_id="u1")).outcome \
        is Outcome.PARTIAL

    assert await _listed(shop) == [(placed.order.id, "underpaid", 2000, "EUR")]
    [alert] = await shop.outbox(admin.id, "refund_due")
    assert alert.data == {"order": placed.order.id, "gateway": "test", "payment": "u1"}
    assert len(await shop.outbox(anna.id, "payment_partial")) == 1  # the student is told too


async def test_a_payment_in_another_currency_is_marked_for_a_refund(shop):
    admin = await shop.student("Olga")
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    await shop.pay(placed.order, amount=4900, currency="USD")

    assert await _listed(shop) == [(placed.order.id, "currency", 4900, "USD")]
    assert len(await shop.outbox(admin.id, "refund_due")) == 1


async def test_a_second_payment_is_marked_and_returning_it_keeps_the_access(shop, clock):
    admin = await shop.student("Olga")
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="p1")

    assert (await shop.pay(placed.order, payment_id="p2")).outcome is Outcome.EXTRA
    assert await _listed(shop) == [(placed.order.id, "extra", 4900, "EUR")]
    assert len(await shop.outbox(admin.id, "refund_due")) == 1

    extra = next(p for p in await shop.payments(placed.order.id) if p.gateway_payment_id == "p2")
    async with shop.uow_factory() as uow:
        assert await payments.refund(uow, placed.order.id, clock.now(), payment_id=extra.id)
        await uow.commit()
    assert await _listed(shop) == []
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    [purchase] = await shop.purchases(anna.id)
    assert purchase.status is PurchaseStatus.ACTIVE
    statuses = {p.gateway_payment_id: p.status for p in await shop.payments(placed.order.id)}
    assert statuses == {"p1": PaymentStatus.SUCCEEDED, "p2": PaymentStatus.REFUNDED}


async def test_a_top_up_that_completes_the_order_is_not_listed_any_more(shop):
    await shop.student("Olga")
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, amount=2000)

    assert (await shop.pay(placed.order, amount=2900)).outcome is Outcome.GRANTED

    assert await _listed(shop) == []


async def test_a_repeated_notice_alerts_once(shop):
    admin = await shop.student("Olga")
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    notice = shop.notice(placed.order, amount=100, payment_id="u1")

    await shop.confirm(notice)
    await shop.confirm(notice)

    assert len(await shop.outbox(admin.id, "refund_due")) == 1
    assert len(await _listed(shop)) == 1
