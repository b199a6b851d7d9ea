"""payments.confirm: the one path by which money becomes access, exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core import errors
from core.models import Identity, OrderStatus, PaymentStatus, PurchaseStatus
from core.services import checkout, payments
from core.services.payments import Outcome, PaymentNotice

SEATS = "seats:drawing-seats"


async def test_full_payment_grants_access(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await shop.pay(placed.order, payment_id="p1")

    assert result.outcome is Outcome.GRANTED
    order = await shop.get_order(placed.order.id)
    assert (order.status, order.paid_at) == (OrderStatus.PAID, clock.now())
    [purchase] = await shop.purchases(anna.id)
    assert (purchase.order_id, purchase.offer_code, purchase.status) == (
        order.id, "python-life", PurchaseStatus.ACTIVE
    )
    [payment] = await shop.payments(order.id)
    assert (payment.gateway, payment.gateway_payment_id, payment.amount, payment.status) == (
        "test", "p1", 4900, PaymentStatus.SUCCEEDED
    )
    assert [m.data["order"] for m in await shop.outbox(anna.id, "order_paid")] == [order.id]


async def test_duplicate_notice_changes_nothing(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    notice = shop.notice(placed.order, payment_id="p1")
    await shop.confirm(notice)
    before = (await shop.purchases(anna.id), await shop.payments(placed.order.id),
              await shop.outbox(anna.id))
    clock.advance(timedelta(minutes=5))

    result = await shop.confirm(notice)

    assert result.outcome is Outcome.DUPLICATE
    after = (await shop.purchases(anna.id), await shop.payments(placed.order.id),
             await shop.outbox(anna.id))
    assert after == before
    assert (await shop.get_order(placed.order.id)).paid_at == clock.now() - timedelta(minutes=5)


async def test_partial_payment_gives_no_access(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await shop.pay(placed.order, amount=2000)

    assert result.outcome is Outcome.PARTIAL
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PARTIALLY_PAID
    assert await shop.purchases(anna.id) == []
    [message] = await shop.outbox(anna.id, "payment_partial")
    assert message.data == {"order": placed.order.id, "received": 2000, "currency": "EUR"}


async def test_second_partial_payment_counts_both(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, amount=1000)

    result = await shop.pay(placed.order, amount=1000)

    assert result.outcome is Outcome.PARTIAL
    received = [m.data["received"] for m in await shop.outbox(anna.id, "payment_partial")]
    assert received == [1000, 2000]
    assert await shop.purchases(anna.id) == []


async def test_top_up_completes_a_partially_paid_order(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, amount=2000)

    result = await shop.pay(placed.order, amount=2900)

    assert result.outcome is Outcome.GRANTED
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    assert len(await shop.purchases(anna.id)) == 1


async def test_payment_in_another_currency_does_not_count(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await shop.pay(placed.order, amount=4900, currency="USD")

    assert result.outcome is Outcome.PARTIAL
    assert await shop.purchases(anna.id) == []


async def test_failed_payment_is_recorded_and_the_order_stays_open(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")

    result = await shop.pay(placed.order, payment_id="declined-1", succeeded=False)

    assert result.outcome is Outcome.FAILED
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW
    [payment] = await shop.payments(placed.order.id)
    assert (payment.gateway_payment_id, payment.status) == ("declined-1", PaymentStatus.FAILED)
    [message] = await shop.outbox(anna.id, "payment_failed")
    assert message.data == {"order": placed.order.id}
    assert await shop.purchases(anna.id) == []


async def test_failed_payment_does_not_count_towards_the_amount(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, succeeded=False)

    result = await shop.pay(placed.order, amount=2000)

    assert result.outcome is Outcome.PARTIAL


async def test_success_after_a_failed_attempt_grants(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="try-1", succeeded=False)

    result = await shop.pay(placed.order, payment_id="try-2")

    assert result.outcome is Outcome.GRANTED
    assert len(await shop.purchases(anna.id)) == 1


async def test_extra_payment_after_paid_is_recorded_without_a_second_purchase(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="p1")

    result = await shop.pay(placed.order, payment_id="p2")

    assert result.outcome is Outcome.EXTRA
    assert [p.gateway_payment_id for p in await shop.payments(placed.order.id)] == ["p1", "p2"]
    assert len(await shop.purchases(anna.id)) == 1
    assert len(await shop.outbox(anna.id, "order_paid")) == 1
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID


async def test_payment_for_an_order_the_student_cancelled_still_pays_it(shop, clock):
    """The payment page stayed open after the student cancelled in the chat: the money
    they paid buys what the order sold, while the offer is still sold."""
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    async with shop.uow_factory() as uow:
        await checkout.cancel(uow, shop.school, placed.order.id, anna.id, clock.now())
        await uow.commit()
    assert await shop.used(SEATS) == 0

    result = await shop.pay(placed.order)

    assert result.outcome is Outcome.GRANTED
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    assert len(await shop.purchases(anna.id)) == 1
    assert await shop.used(SEATS) == 1  # the seat it gave back is taken again
    [payment] = await shop.payments(placed.order.id)
    assert payment.refund_reason is None


@pytest.mark.parametrize("close", ["cancelled", "expired"])
async def test_late_payment_when_the_offer_is_no_longer_sold_is_flagged(shop, clock, close):
    admin = await shop.student("Olga")
    async with shop.uow_factory() as uow:
        await uow.users.add_identity(Identity(user_id=admin.id, messenger="console",
                                              external_id="admin"))
        await uow.commit()
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    if close == "cancelled":
        async with shop.uow_factory() as uow:
            await checkout.cancel(uow, shop.school, placed.order.id, anna.id, clock.now())
            await uow.commit()
    else:
        clock.advance(timedelta(hours=2))
        await shop.expire_orders()
    offer = shop.school.offers["drawing-seats"]
    shop.school = replace(shop.school, offers={
        **shop.school.offers, offer.code: replace(offer, sale_ends=clock.now())})

    result = await shop.pay(placed.order)

    assert result.outcome is Outcome.EXTRA
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.CANCELLED
    assert await shop.purchases(anna.id) == []
    [payment] = await shop.payments(placed.order.id)
    assert payment.refund_reason == payments.OFFER_GONE
    assert [m.kind for m in await shop.outbox(anna.id)] == ["payment_extra"]
    [alert] = await shop.outbox(admin.id, "refund_due")
    assert alert.data["payment"] == payment.gateway_payment_id


async def test_late_payment_of_an_expired_order_is_honoured(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats", "TEN")
    clock.advance(timedelta(hours=2))
    await shop.expire_orders()
    assert (await shop.used(SEATS), await shop.used("promo:TEN")) == (0, 0)

    result = await shop.pay(placed.order)

    assert result.outcome is Outcome.GRANTED
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    assert len(await shop.purchases(anna.id)) == 1
    assert (await shop.used(SEATS), await shop.used("promo:TEN")) == (1, 1)


async def test_late_payment_retakes_the_seat_even_past_the_limit(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    clock.advance(timedelta(hours=2))
    await shop.expire_orders()
    for _ in range(2):
        await shop.order(await shop.student(), "drawing-seats")

    result = await shop.pay(placed.order)

    assert result.outcome is Outcome.GRANTED
    assert len(await shop.purchases(anna.id)) == 1
    assert await shop.used(SEATS) == 3


async def test_late_payment_in_two_parts_retakes_the_seat(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    clock.advance(timedelta(hours=2))
    await shop.expire_orders()

    await shop.pay(placed.order, amount=1000)
    result = await shop.pay(placed.order, amount=2000)

    assert result.outcome is Outcome.GRANTED
    assert await shop.used(SEATS) == 1


async def test_unknown_order_token_is_not_found_and_records_nothing(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    notice = PaymentNotice("test", "p1", "no-such-token", 4900, "EUR")

    async with shop.uow_factory() as uow:
        with pytest.raises(errors.NotFound):
            await payments.confirm(uow, shop.school, notice, clock.now())
        await uow.commit()

    assert await shop.payments(placed.order.id) == []
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW


async def test_complete_free_refuses_an_order_that_costs_money(shop, clock):
    placed = await shop.order(await shop.student(), "python-life")

    async with shop.uow_factory() as uow:
        with pytest.raises(errors.OrderNotPayable):
            await payments.complete_free(uow, shop.school, placed.order, clock.now())

    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW


# --- a gateway's word that it gave a payment back (Telegram's refunded_payment) ---------------


async def _returned(shop, payment_id: str):
    async with shop.uow_factory() as uow:
        result = await payments.returned_by_gateway(uow, "test", payment_id, shop.clock.now())
        await uow.commit()
    return result


async def test_a_payment_the_gateway_returned_withdraws_its_access_once(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="p1")

    first = await _returned(shop, "p1")
    again = await _returned(shop, "p1")

    assert (first.outcome, first.order.id) == (payments.Returned.WITHDRAWN, placed.order.id)
    assert again.outcome is payments.Returned.DUPLICATE
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.REFUNDED
    [payment] = await shop.payments(placed.order.id)
    assert payment.status is PaymentStatus.REFUNDED
    [purchase] = await shop.purchases(anna.id)
    assert (purchase.status, purchase.end_reason) == (PurchaseStatus.REVOKED, "refund")
    assert len(await shop.outbox(anna.id, "access_ended")) == 1


async def test_a_return_after_the_schools_own_refund_changes_nothing(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="p1")
    async with shop.uow_factory() as uow:
        await payments.refund(uow, placed.order.id, shop.clock.now())
        await uow.commit()
    before = await shop.outbox(anna.id)

    assert (await _returned(shop, "p1")).outcome is payments.Returned.DUPLICATE
    assert await shop.outbox(anna.id) == before


async def test_an_unknown_or_failed_payment_returned_changes_nothing(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await shop.pay(placed.order, payment_id="failed", succeeded=False)

    assert (await _returned(shop, "never-seen")).outcome is payments.Returned.UNKNOWN
    assert (await _returned(shop, "failed")).outcome is payments.Returned.UNKNOWN
    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW
    [payment] = await shop.payments(placed.order.id)
    assert payment.status is PaymentStatus.FAILED


async def test_money_that_granted_nothing_is_only_marked_returned(shop):
    anna = await shop.student()
    first = await shop.order(anna, "python-life")
    await shop.pay(first.order, payment_id="p1")
    await shop.pay(first.order, payment_id="p2")  # paid twice: the second grants nothing

    result = await _returned(shop, "p2")

    assert result.outcome is payments.Returned.RECORDED
    assert (await shop.get_order(first.order.id)).status is OrderStatus.PAID
    statuses = {p.gateway_payment_id: p.status for p in await shop.payments(first.order.id)}
    assert statuses == {"p1": PaymentStatus.SUCCEEDED, "p2": PaymentStatus.REFUNDED}
    [purchase] = await shop.purchases(anna.id)
    assert purchase.status is PurchaseStatus.ACTIVE


async def test_a_returned_renewal_is_recorded_and_left_to_staff(shop):
    anna = await shop.student()
    await shop.buy(anna, "python-30")
    renewal = await shop.order(anna, "python-30")
    await shop.pay(renewal.order, payment_id="renewal")  # extends the first purchase

    result = await _returned(shop, "renewal")

    assert result.outcome is payments.Returned.TANGLED
    [payment] = await shop.payments(renewal.order.id)
    assert payment.status is PaymentStatus.REFUNDED
    assert (await shop.get_order(renewal.order.id)).status is OrderStatus.PAID
    [purchase] = await shop.purchases(anna.id)
    assert purchase.status is PurchaseStatus.ACTIVE
