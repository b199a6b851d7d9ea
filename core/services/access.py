"""Purchases: granting an order's access, extending, expiring and revoking it."""

from __future__ import annotations

from datetime import datetime, timedelta

from core import notices
from core.automations import events
from core.models import Order, Purchase, PurchaseStatus
from core.periods import Period
from core.ports import UnitOfWork
from core.school import School
from core.services import groups, lessons, upcoming
from core.services.outbox import enqueue

HOLDER_STATUSES = (PurchaseStatus.ACTIVE, PurchaseStatus.EXPIRED)


def new_end(purchase: Purchase, period: Period, now: datetime, grace: timedelta) -> datetime:
    """Running access grows from its current end, never from now (also when that end passed
    less than ``grace`` ago while an automatic renewal was being retried); lapsed access
    restarts now. So does a renewal caught up after downtime past the grace: the period paid
    for starts at the charge, and a payment never buys time already gone."""
    if purchase.status is PurchaseStatus.ACTIVE and purchase.ends_at and (
            purchase.ends_at > now
            or (purchase.renewal is not None and now - purchase.ends_at <= grace)):
        grown = period.add_to(purchase.ends_at)
        if grown > now:
            return grown
    return period.add_to(now)


async def holds_any(uow: UnitOfWork, user_id: int, products: tuple[str, ...]) -> bool:
    """Is the user a current or former holder (refunds excluded) of any of ``products``?"""
    return any(
        p.status in HOLDER_STATUSES and set(p.products) & set(products)
        for p in await uow.purchases.for_user(user_id)
    )


async def owns_for_life(uow: UnitOfWork, user_id: int, products: tuple[str, ...]) -> bool:
    """Do the user's running lifetime purchases already give every one of ``products``?"""
    owned: set[str] = set()
    for purchase in await uow.purchases.for_user(user_id):
        if purchase.status is PurchaseStatus.ACTIVE and purchase.ends_at is None:
            owned |= set(purchase.products)
    return bool(products) and set(products) <= owned


async def _extension_target(uow: UnitOfWork, order: Order) -> Purchase | None:
    """The purchase an order extends: the holder's latest purchase of the ``extends``
    products, or their running purchase of the same period offer."""
    candidates = []
    for purchase in await uow.purchases.for_user(order.user_id):
        if purchase.status not in HOLDER_STATUSES or purchase.ends_at is None:
            continue
        if order.extends:
            if set(purchase.products) & set(order.extends):
                candidates.append(purchase)
        elif purchase.offer_code == order.offer_code and purchase.status is PurchaseStatus.ACTIVE:
            candidates.append(purchase)
    return max(candidates, key=lambda p: p.ends_at, default=None)


async def grant(
    uow: UnitOfWork, school: School, order: Order, now: datetime, method: str | None = None
) -> Purchase:
    """Give the access a paid order bought. Called once per order, inside the transaction
    whose compare-and-set moved the order to PAID. Queues the confirmation with the lessons
    open now. ``method``: a saved payment method ("<gateway>:<ref>") that renews it."""
    period = Period(order.period) if order.period else None
    target = await _extension_target(uow, order) if period else None
    if target is not None:  # read it again under a lock: a sweep may be changing it
        target = await uow.purchases.get_for_update(target.id)
    # A renewal may be sold as an external product ("+30 days") that extends a group.
    granted = tuple(dict.fromkeys(order.products + order.extends))

    async def new_purchase(ends_at: datetime | None) -> Purchase:
        return await uow.purchases.add(
            Purchase(
                user_id=order.user_id,
                order_id=order.id,
                offer_code=order.offer_code,
                products=granted,
                access=order.access,
                starts_at=now,
                ends_at=ends_at,
                updated_at=now,
            )
        )

    # Access starts with a new purchase, or one that had ended running again; not when a
    # running one only grows.
    starts = target is None or period is None or target.status is not PurchaseStatus.ACTIVE
    if target is None or period is None:
        purchase = await new_purchase(period.add_to(now) if period else None)
        extended = False
    elif not set(target.products) <= set(granted):
        # A renewal of part of a bundle (the club of a course+club plan) continues that part
        # from the bundle's end in a purchase of its own; the rest of the bundle ends as sold.
        purchase = await new_purchase(new_end(target, period, now, school.renewals.grace))
        extended = True
    else:
        target.ends_at = new_end(target, period, now, school.renewals.grace)
        if target.status is not PurchaseStatus.ACTIVE:
            target.status = PurchaseStatus.ACTIVE
            target.ended_at = None
            target.end_reason = None
        target.updated_at = now
        purchase = target
        extended = True
    opened = await lessons.deliver_open(uow, school, purchase, now, notify=False)
    if method is not None and purchase.ends_at is not None:
        purchase.renewal_method = method
        purchase.renewal = upcoming.gateway_of(method)
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)
    await enqueue(
        uow,
        now,
        order.user_id,
        notices.OrderPaid(
            order=order.id,
            purchase=purchase.id,
            extended=extended,
            lessons=tuple((item.course.code, item.lesson.id) for item in opened),
        ),
        dedupe_key=f"order_paid:{order.id}",
    )
    for group in sorted(groups.groups_of(school, purchase.products)):
        await enqueue(uow, now, order.user_id,
                      notices.GroupInvite(purchase=purchase.id, group=group),
                      dedupe_key=f"group_invite:{order.id}:{group}")
    if starts:
        await events.access_started(uow, order.user_id, purchase.products, purchase.id, now)
    if order.amount > 0 or order.promo_code:  # paid: money, or a promo code's whole price
        await events.offer_paid(uow, order.user_id, order.offer_code, order.id, now)
    return purchase


async def _end(
    uow: UnitOfWork, purchase: Purchase, status: PurchaseStatus, reason: str, now: datetime,
    dedupe_key: str,
) -> None:
    """End ``purchase`` (read under lock by the caller) and tell the student, once."""
    purchase.status = status
    purchase.ended_at = now
    purchase.end_reason = reason
    purchase.next_lesson_at = None
    purchase.updated_at = now
    await uow.purchases.update(purchase)
    await groups.access_ended(uow, purchase.user_id, now)
    await enqueue(uow, now, purchase.user_id,
                  notices.AccessEnded(purchase=purchase.id, reason=reason), dedupe_key=dedupe_key)
    await events.access_ended(uow, purchase.user_id, purchase.products, purchase.id, reason, now)


async def expire(uow: UnitOfWork, purchase: Purchase, now: datetime) -> bool:
    """End a purchase whose time is up. False if it was not due (already renewed or ended)."""
    current = await uow.purchases.get_for_update(purchase.id)
    if (
        current is None
        or current.status is not PurchaseStatus.ACTIVE
        or current.ends_at is None
        or current.ends_at > now
    ):
        return False
    await _end(uow, current, PurchaseStatus.EXPIRED, "expired", now,
               f"ended:{current.id}:{current.ends_at.isoformat()}")
    return True


async def end_now(uow: UnitOfWork, purchase: Purchase, reason: str, now: datetime) -> None:
    """End a running purchase before or after its time (read under lock by the caller)."""
    await _end(uow, purchase, PurchaseStatus.EXPIRED, reason, now, f"ended:{purchase.id}:{reason}")


async def revoke(uow: UnitOfWork, purchase_id: int, now: datetime, reason: str) -> bool:
    purchase = await uow.purchases.get_for_update(purchase_id)
    if purchase is None or purchase.status is PurchaseStatus.REVOKED:
        return False
    purchase.remind_at = None
    await _end(uow, purchase, PurchaseStatus.REVOKED, reason, now, f"revoked:{purchase.id}")
    return True
