"""What comes next for a purchase whose end or renewal switch just changed: its reminders,
and the renewal of its current period if a saved method renews it (``core.services.renewals``
charges it). Kept apart so granting access can plan without importing the charging."""

from __future__ import annotations

import secrets
from datetime import datetime

from core.models import (
    RENEWAL_TELEGRAM_CHANNEL,
    RENEWED_BY_TELEGRAM,
    Order,
    Purchase,
    PurchaseStatus,
    Renewal,
    RenewalStatus,
)
from core.ports import UnitOfWork
from core.school import AccessKind, School
from core.services import reminders


def gateway_of(method: str) -> str:
    return method.partition(":")[0]


def renews_by_charge(purchase: Purchase) -> bool:
    """Renewed by the platform charging a saved method (not by Telegram, not by hand)."""
    return purchase.renewal is not None and purchase.renewal not in RENEWED_BY_TELEGRAM \
        and purchase.renewal_method is not None


def renews_automatically(purchase: Purchase) -> bool:
    """Renewed by itself, with a switch the student can turn off here: a saved method the
    platform charges, or a Telegram Stars subscription to the bot (a channel's Stars
    subscription is managed in Telegram only)."""
    return purchase.renewal is not None and purchase.renewal != RENEWAL_TELEGRAM_CHANNEL \
        and purchase.renewal_method is not None


def saved_method(order: Order, gateway: str, method: str | None) -> str | None:
    """The method to keep for a subscription order paid with a reusable method."""
    if method and order.access == AccessKind.SUBSCRIPTION.value and order.period:
        return f"{gateway}:{method}"
    return None


async def plan_next(uow: UnitOfWork, school: School, purchase: Purchase, now: datetime) -> None:
    """After the purchase's end or switch changed: its reminders, and the renewal of its
    current period (made once, with its order) if it renews by charge. The caller stores
    the purchase."""
    await reminders.schedule(uow, school, purchase, now)
    if not renews_by_charge(purchase) or purchase.status is not PurchaseStatus.ACTIVE:
        return
    assert purchase.ends_at is not None
    existing = await uow.renewals.for_period(purchase.id, purchase.ends_at)
    if existing is not None:
        if existing.status is RenewalStatus.CANCELLED:  # switched off, then on again
            existing.status, existing.due_at, existing.updated_at = (
                RenewalStatus.PENDING, max(purchase.ends_at, now), now)
            await uow.renewals.update(existing)
        return
    order = await _renewal_order(uow, school, purchase, now)
    await uow.renewals.add(Renewal(
        purchase_id=purchase.id, period_end=purchase.ends_at, order_id=order.id,
        due_at=purchase.ends_at, created_at=now, updated_at=now))


async def _renewal_order(
    uow: UnitOfWork, school: School, purchase: Purchase, now: datetime
) -> Order:
    """The period's one order: the offer's list price now (a first-order discount does not
    repeat), or what was paid last if the offer is gone."""
    first = await uow.orders.get(purchase.order_id)
    assert first is not None
    offer = school.offer(purchase.offer_code)
    price = offer.price if offer is not None and offer.price.currency == first.currency \
        else None
    assert purchase.ends_at is not None
    rules = school.renewals
    return await uow.orders.add(Order(
        user_id=purchase.user_id, offer_code=purchase.offer_code,
        token=secrets.token_urlsafe(18),
        amount=price.amount if price else first.list_amount,
        list_amount=price.amount if price else first.list_amount,
        currency=first.currency, created_at=now,
        # Open as long as it may still be charged.
        expires_at=purchase.ends_at + rules.grace + rules.retry_every * (rules.retries + 1),
        messenger=first.messenger, products=first.products, access=first.access,
        period=first.period, extends=first.extends,
    ))


