"""Placing, cancelling and expiring orders. Seats and promo-code uses are held by an unpaid
order until it is paid, cancelled or expires (``School.order_ttl``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from core import errors
from core.automations import events
from core.models import Order, OrderStatus, User
from core.ports import UnitOfWork
from core.school import School
from core.services import catalog, payments, star_channels


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    completed: bool  # a free order (100 % promo code) is paid at once
    reused: bool = False


async def _open_order(
    uow: UnitOfWork, user_id: int, offer: str, promo: str | None, currency: str, now: datetime
) -> Order | None:
    for order in await uow.orders.for_user(user_id):
        if (
            order.status is OrderStatus.NEW
            and order.offer_code == offer
            and order.promo_code == promo
            and order.currency == currency
            and order.expires_at
            and order.expires_at > now
            # An automatic renewal's order is the gateway's to charge, never paid by hand:
            # both could succeed (see core.services.renewals).
            and await uow.renewals.for_order(order.id) is None
        ):
            return order
    return None


async def place_order(
    uow: UnitOfWork,
    school: School,
    now: datetime,
    user: User,
    offer_code: str,
    promo_code: str | None = None,
    messenger: str | None = None,
    unlocked: bool = False,
    stars: bool = False,
) -> PlacedOrder:
    """Create an order for ``offer_code``, priced in Telegram Stars with ``stars`` (or return
    the student's still-open identical one). Raises a DomainError, changing nothing, when the
    offer cannot be bought."""
    offer = school.offer(offer_code)
    if offer is None:
        raise errors.NotFound(offer=offer_code)
    if star_channels.channel_of(school, offer) is not None:
        raise errors.OfferUnavailable(offer=offer.code)  # Telegram sells it, by its link
    price = await catalog.quote(uow, school, offer, promo_code, now, stars)
    promo = price.promo.code if price.promo else None
    existing = await _open_order(uow, user.id, offer.code, promo, price.price.currency, now)
    if existing is not None:  # it already holds its seat and promo use
        return PlacedOrder(existing, completed=False, reused=True)
    await catalog.check_can_buy(uow, school, user, offer, now, unlocked)
    if price.promo is not None and not await uow.counters.take(
        catalog.promo_key(price.promo.code), price.promo.max_uses
    ):
        raise errors.PromoExhausted(code=price.promo.code)
    if offer.seats is not None and not await uow.counters.take(
        catalog.seats_key(offer.code), offer.seats
    ):
        if price.promo is not None:  # leave nothing changed, even in a caller that commits
            await uow.counters.release(catalog.promo_key(price.promo.code))
        raise errors.SoldOut(offer=offer.code)
    order = await uow.orders.add(
        Order(
            user_id=user.id,
            offer_code=offer.code,
            token=secrets.token_urlsafe(18),
            amount=price.price.amount,
            list_amount=price.list_price.amount,
            currency=price.price.currency,
            promo_code=promo,
            created_at=now,
            expires_at=now + school.order_ttl,
            messenger=messenger,
            products=offer.products,
            access=offer.access.value,
            period=offer.period.iso if offer.period else None,
            extends=offer.extends,
            seat_taken=offer.seats is not None,
            free=offer.free,
        )
    )
    await events.order_placed(uow, user.id, offer.code, order.id, now)
    if order.amount == 0:
        await payments.complete_free(uow, school, order, now)
        paid = await uow.orders.get(order.id)
        assert paid is not None
        return PlacedOrder(paid, completed=True)
    return PlacedOrder(order, completed=False)


async def _release(uow: UnitOfWork, school: School, order: Order) -> None:
    if order.promo_code:
        await uow.counters.release(catalog.promo_key(order.promo_code))
    if order.seat_taken:
        await uow.counters.release(catalog.seats_key(order.offer_code))


async def cancel(
    uow: UnitOfWork, school: School, order_id: int, user_id: int, now: datetime
) -> bool:
    """The student cancels their unpaid order: its seat and promo use go back."""
    order = await uow.orders.get_for_update(order_id)
    if order is None or order.user_id != user_id:
        raise errors.NotFound(order=order_id)
    if not await uow.orders.transition(
        order.id, frozenset({OrderStatus.NEW}), OrderStatus.CANCELLED, now, "cancelled"
    ):
        return False
    await _release(uow, school, order)
    return True


async def expire_unpaid(uow: UnitOfWork, school: School, now: datetime, limit: int = 200) -> int:
    """Cancel unpaid orders past their time and give back what they held."""
    count = 0
    for order in await uow.orders.expired_unpaid(now, limit):
        if await uow.orders.transition(
            order.id, frozenset({OrderStatus.NEW}), OrderStatus.CANCELLED, now, "expired"
        ):
            await _release(uow, school, order)
            count += 1
    return count
