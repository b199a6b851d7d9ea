"""Placing, reusing, cancelling and expiring orders; the seats and promo uses they hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import START

from core import errors
from core.models import OrderStatus, PurchaseStatus
from core.services import checkout

SEATS = "seats:drawing-seats"


async def cancel(shop, order_id: int, user_id: int) -> bool:
    async with shop.uow_factory() as uow:
        done = await checkout.cancel(uow, shop.school, order_id, user_id, shop.clock.now())
        await uow.commit()
    return done


async def test_order_snapshots_the_offer(shop):
    anna = await shop.student()

    placed = await shop.order(anna, "python-30")

    assert placed.completed is False and placed.reused is False
    order = await shop.get_order(placed.order.id)
    assert order.user_id == anna.id
    assert order.status is OrderStatus.NEW
    assert (order.offer_code, order.amount, order.list_amount, order.currency) == (
        "python-30", 1990, 1990, "EUR"
    )
    assert order.promo_code is None
    assert (order.products, order.access, order.period, order.extends) == (
        ("python-course", "club"), "period", "P30D", ()
    )
    assert order.messenger == "telegram"
    assert order.created_at == START
    assert order.expires_at == START + timedelta(hours=1)
    assert order.paid_at is None


async def test_renewal_order_snapshots_what_it_extends(shop):
    anna = await shop.student()
    await shop.buy(anna, "club-month")

    placed = await shop.order(anna, "club-extend")

    order = await shop.get_order(placed.order.id)
    assert (order.products, order.extends, order.period) == (("club",), ("club",), "P30D")


async def test_lifetime_order_has_no_period(shop):
    placed = await shop.order(await shop.student(), "python-life")
    order = await shop.get_order(placed.order.id)
    assert (order.access, order.period, order.amount) == ("lifetime", None, 4900)


async def test_order_with_promo_keeps_list_and_discounted_amounts(shop):
    placed = await shop.order(await shop.student(), "python-30", " ten ")

    order = await shop.get_order(placed.order.id)
    assert (order.amount, order.list_amount, order.promo_code) == (1791, 1990, "TEN")


async def test_order_tokens_are_unique_and_long(shop):
    first = await shop.order(await shop.student(), "python-life")
    second = await shop.order(await shop.student(), "python-life")
    assert first.order.token != second.order.token
    assert len(first.order.token) >= 24


async def test_unknown_offer_is_not_found(shop):
    with pytest.raises(errors.NotFound):
        await shop.order(await shop.student(), "no-such-offer")


async def test_an_unbuyable_offer_creates_no_order(shop):
    anna = await shop.student()
    with pytest.raises(errors.OfferUnavailable):
        await shop.order(anna, "secret")
    assert await shop.orders(anna.id) == []


# --- reuse -------------------------------------------------------------------------------------


async def test_open_identical_order_is_reused(shop, clock):
    anna = await shop.student()
    first = await shop.order(anna, "python-life", "TEN")
    clock.advance(timedelta(minutes=59))

    again = await shop.order(anna, "python-life", "ten")

    assert again.reused is True and again.completed is False
    assert again.order.id == first.order.id
    assert len(await shop.orders(anna.id)) == 1
    assert await shop.used("promo:TEN") == 1


async def test_order_with_another_promo_is_a_new_order(shop):
    anna = await shop.student()
    first = await shop.order(anna, "python-life")

    again = await shop.order(anna, "python-life", "TEN")

    assert again.reused is False and again.order.id != first.order.id


async def test_order_past_its_time_is_not_reused(shop, clock):
    anna = await shop.student()
    first = await shop.order(anna, "python-life")
    clock.advance(timedelta(hours=1))

    again = await shop.order(anna, "python-life")

    assert again.reused is False and again.order.id != first.order.id


async def test_another_students_order_is_not_reused(shop):
    first = await shop.order(await shop.student(), "python-life")
    other = await shop.order(await shop.student(), "python-life")
    assert other.reused is False and other.order.id != first.order.id


async def test_student_holding_the_last_seat_gets_their_open_order_back(shop):
    anna = await shop.student()
    first = await shop.order(anna, "drawing-seats")
    await shop.order(await shop.student(), "drawing-seats")  # the last seat

    again = await shop.order(anna, "drawing-seats")

    assert again.reused is True and again.order.id == first.order.id


# --- promo uses --------------------------------------------------------------------------------


async def test_order_takes_a_promo_use(shop):
    await shop.order(await shop.student(), "python-life", "TEN")
    await shop.order(await shop.student(), "python-30", "TEN")
    assert await shop.used("promo:TEN") == 2


async def test_exhausted_promo_is_refused_and_changes_nothing(shop):
    await shop.order(await shop.student(), "python-life", "FREE")
    bob = await shop.student("Bob")

    with pytest.raises(errors.PromoExhausted) as caught:
        await shop.order(bob, "python-30", "FREE")

    assert caught.value.code == "promo_exhausted"
    assert await shop.orders(bob.id) == []
    assert await shop.used("promo:FREE") == 1


async def test_cancel_gives_the_promo_use_back(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life", "TEN")

    assert await cancel(shop, placed.order.id, anna.id)

    order = await shop.get_order(placed.order.id)
    assert (order.status, order.close_reason, order.closed_at) == (
        OrderStatus.CANCELLED, "cancelled", clock.now()
    )
    assert await shop.used("promo:TEN") == 0


async def test_expiry_gives_the_promo_use_back(shop, clock):
    await shop.order(await shop.student(), "python-life", "TEN")
    clock.advance(timedelta(hours=1))

    assert await shop.expire_orders() == 1

    assert await shop.used("promo:TEN") == 0


# --- cancel ------------------------------------------------------------------------------------


async def test_cancel_gives_the_seat_back(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")

    assert await cancel(shop, placed.order.id, anna.id) is True

    assert await shop.used(SEATS) == 0


async def test_cancel_twice_gives_back_only_once(shop):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats", "TEN")
    await shop.order(await shop.student(), "drawing-seats", "TEN")
    await cancel(shop, placed.order.id, anna.id)

    assert await cancel(shop, placed.order.id, anna.id) is False

    assert await shop.used(SEATS) == 1
    assert await shop.used("promo:TEN") == 1


async def test_cancelling_someone_elses_order_is_not_found(shop, clock):
    placed = await shop.order(await shop.student(), "python-life")
    bob = await shop.student("Bob")

    async with shop.uow_factory() as uow:
        with pytest.raises(errors.NotFound):
            await checkout.cancel(uow, shop.school, placed.order.id, bob.id, clock.now())

    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW


async def test_paid_order_cannot_be_cancelled(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    await shop.pay(placed.order)

    assert await cancel(shop, placed.order.id, anna.id) is False

    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PAID
    assert await shop.used(SEATS) == 1


# --- seats -------------------------------------------------------------------------------------


async def test_each_order_holds_a_seat(shop):
    await shop.order(await shop.student(), "drawing-seats")
    assert await shop.used(SEATS) == 1
    await shop.order(await shop.student(), "drawing-seats")
    assert await shop.used(SEATS) == 2


async def test_offer_is_sold_out_at_its_limit(shop):
    for _ in range(2):
        await shop.order(await shop.student(), "drawing-seats")
    carl = await shop.student("Carl")

    with pytest.raises(errors.SoldOut):
        await shop.order(carl, "drawing-seats")

    assert await shop.orders(carl.id) == []
    assert await shop.used(SEATS) == 2


async def test_sold_out_with_a_promo_leaves_the_promo_untouched(shop, uow_factory, clock):
    for _ in range(2):
        await shop.order(await shop.student(), "drawing-seats")
    carl = await shop.student("Carl")

    async with uow_factory() as uow:
        with pytest.raises(errors.SoldOut):
            await checkout.place_order(uow, shop.school, clock.now(), carl, "drawing-seats", "TEN")
        await uow.commit()  # even a caller that commits after the error changes nothing

    assert await shop.used("promo:TEN") == 0
    assert await shop.used(SEATS) == 2


class SeatsTakenMeanwhile:
    """Counters whose seat reads are stale: another buyer took the last seat between our check
    and our take (what a concurrent transaction does on PostgreSQL)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    async def used(self, key: str) -> int:
        return 0 if key.startswith("seats:") else await self._inner.used(key)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


async def test_sold_out_at_the_take_gives_back_the_promo_it_took(shop, uow_factory, clock):
    for _ in range(2):
        await shop.order(await shop.student(), "drawing-seats")
    carl = await shop.student("Carl")

    async with uow_factory() as uow:
        uow.counters = SeatsTakenMeanwhile(uow.counters)
        with pytest.raises(errors.SoldOut):
            await checkout.place_order(uow, shop.school, clock.now(), carl, "drawing-seats", "TEN")
        await uow.commit()

    assert await shop.used("promo:TEN") == 0
    assert await shop.used(SEATS) == 2
    assert await shop.orders(carl.id) == []


async def test_cancelled_order_frees_its_seat_for_the_next_student(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "drawing-seats")
    await shop.order(await shop.student(), "drawing-seats")
    await cancel(shop, placed.order.id, anna.id)

    carl = await shop.order(await shop.student("Carl"), "drawing-seats")

    assert carl.order.id > placed.order.id
    assert await shop.used(SEATS) == 2


async def test_paid_seat_stays_taken_after_the_order_time(shop, clock):
    placed = await shop.order(await shop.student(), "drawing-seats")
    await shop.pay(placed.order)
    clock.advance(timedelta(days=1))

    assert await shop.expire_orders() == 0

    assert await shop.used(SEATS) == 1


# --- free orders -------------------------------------------------------------------------------


async def test_hundred_percent_promo_completes_without_payment(shop, clock):
    anna = await shop.student()

    placed = await shop.order(anna, "python-life", "FREE")

    assert placed.completed is True
    order = await shop.get_order(placed.order.id)
    assert (order.status, order.amount, order.paid_at) == (OrderStatus.PAID, 0, clock.now())
    assert await shop.payments(order.id) == []
    [purchase] = await shop.purchases(anna.id)
    assert (purchase.order_id, purchase.status, purchase.ends_at) == (
        order.id, PurchaseStatus.ACTIVE, None
    )
    [message] = await shop.outbox(anna.id, "order_paid")
    assert message.data["order"] == order.id and message.data["purchase"] == purchase.id


async def test_free_order_keeps_its_promo_use(shop):
    await shop.order(await shop.student(), "python-life", "FREE")
    assert await shop.used("promo:FREE") == 1


# --- expire_unpaid -----------------------------------------------------------------------------


async def test_expire_unpaid_cancels_only_past_due_new_orders(shop, clock):
    due = await shop.order(await shop.student(), "drawing-seats", "TEN")
    paid = await shop.order(await shop.student(), "python-life")
    await shop.pay(paid.order)
    clock.advance(timedelta(minutes=50))
    fresh = await shop.order(await shop.student(), "drawing-seats")
    clock.set(START + timedelta(hours=1))

    assert await shop.expire_orders() == 1

    expired = await shop.get_order(due.order.id)
    assert (expired.status, expired.close_reason, expired.closed_at) == (
        OrderStatus.CANCELLED, "expired", clock.now()
    )
    assert (await shop.get_order(fresh.order.id)).status is OrderStatus.NEW
    assert (await shop.get_order(paid.order.id)).status is OrderStatus.PAID
    assert await shop.used(SEATS) == 1
    assert await shop.used("promo:TEN") == 0


async def test_expire_unpaid_before_the_time_changes_nothing(shop, clock):
    placed = await shop.order(await shop.student(), "drawing-seats")
    clock.advance(timedelta(minutes=59))

    assert await shop.expire_orders() == 0

    assert (await shop.get_order(placed.order.id)).status is OrderStatus.NEW
    assert await shop.used(SEATS) == 1


async def test_expire_unpaid_leaves_partially_paid_orders_alone(shop, clock):
    placed = await shop.order(await shop.student(), "drawing-seats")
    await shop.pay(placed.order, amount=1000)
    clock.advance(timedelta(hours=2))

    assert await shop.expire_orders() == 0

    assert (await shop.get_order(placed.order.id)).status is OrderStatus.PARTIALLY_PAID
    assert await shop.used(SEATS) == 1


async def test_expire_unpaid_leaves_user_cancelled_orders_alone(shop, clock):
    anna = await shop.student()
    placed = await shop.order(anna, "python-life")
    await cancel(shop, placed.order.id, anna.id)
    clock.advance(timedelta(hours=2))

    assert await shop.expire_orders() == 0

    assert (await shop.get_order(placed.order.id)).close_reason == "cancelled"
