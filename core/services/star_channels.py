"""Channels sold as Telegram Stars subscriptions. Telegram takes the Stars when someone joins
through the channel's subscription link and again every 30 days; the platform never charges.

Each paid period becomes a paid order of the subscription offer, keyed on the member and the
subscription's end, so the purchase ends exactly when the member's subscription does
(``ChatMemberMember.until_date``), a repeated update records nothing twice, and the school's
revenue shows every period. Telegram renews on its own, so the expiry sweep leaves these
purchases alone; once one's end has come, ``flows.groups`` asks Telegram and reports here
whether it was renewed or has lapsed."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime, timedelta

from core.models import (
    RENEWAL_TELEGRAM_CHANNEL,
    Order,
    Purchase,
    PurchaseStatus,
    SubscriptionLink,
)
from core.periods import Period
from core.ports import UnitOfWork
from core.school import AccessKind, Group, JoinMode, Offer, ProductKind, School
from core.services import access, groups, payments, upcoming, users
from core.services.payments import Outcome, PaymentNotice

GATEWAY = RENEWAL_TELEGRAM_CHANNEL
PERIOD = Period("P30D")
PERIOD_SECONDS = 30 * 86400  # the only period Telegram accepts
# Telegram may report a renewal a little after the old end; past this the subscription lapsed.
LAPSE_GRACE = timedelta(days=1)


def channel_of(school: School, offer: Offer) -> Group | None:
    """The channel ``offer`` is sold as a Stars subscription of, if it is (the school file
    makes sure such an offer is 30 days, in Stars, and nothing but the channel)."""
    if offer.price.currency != "XTR" or offer.access is not AccessKind.SUBSCRIPTION:
        return None
    if len(offer.products) != 1:
        return None
    product = school.products.get(offer.products[0])
    if product is None or product.kind is not ProductKind.GROUP or product.group is None:
        return None
    group = school.groups.get(product.group)
    return group if group is not None and group.join is JoinMode.STARS_SUBSCRIPTION else None


def offers_of(school: School, group: str) -> list[Offer]:
    return [o for o in school.offers.values() if (c := channel_of(school, o)) and c.code == group]


async def links_to_make(uow: UnitOfWork, school: School) -> list[tuple[Group, Offer]]:
    """Subscription offers with no open link at their current price."""
    wanted = []
    for offer in school.offers.values():
        group = channel_of(school, offer)
        if group is None:
            continue
        link = await uow.subscription_links.current(group.code, offer.code)
        if link is None or link.price != offer.price.amount:
            wanted.append((group, offer))
    return wanted


async def record_link(
    uow: UnitOfWork, group: Group, offer: Offer, url: str, now: datetime
) -> SubscriptionLink | None:
    """Keep a new link; returns the one it replaces (at an old price), now marked revoked
    (the caller revokes it in Telegram; its subscribers keep their price)."""
    older = await uow.subscription_links.current(group.code, offer.code)
    if older is not None:
        older.revoked_at = now
        await uow.subscription_links.update(older)
    await uow.subscription_links.add(SubscriptionLink(
        group=group.code, offer_code=offer.code, price=offer.price.amount, url=url,
        created_at=now))
    return older


async def link_url(uow: UnitOfWork, school: School, offer: Offer) -> str | None:
    """Where a student subscribes to ``offer``: None unless it is a subscription offer and
    the Telegram bot has made its link."""
    group = channel_of(school, offer)
    if group is None:
        return None
    link = await uow.subscription_links.current(group.code, offer.code)
    return link.url if link is not None and link.price == offer.price.amount else None


def _offer_for(school: School, group: Group, price: int, link_name: str | None) -> Offer | None:
    offers = offers_of(school, group.code)
    named = [o for o in offers if o.code == link_name]
    priced = [o for o in offers if o.price.amount == price]
    return next(iter(named or priced or offers), None)


async def paid_until(
    uow: UnitOfWork, school: School, group: Group, external_id: str, name: str,
    until: datetime, price: int, now: datetime, link_name: str | None = None,
) -> Purchase | None:
    """Telegram says the member's subscription is paid up to ``until`` (they joined through a
    subscription link, or it was renewed). Records that period once: a paid order of the
    subscription offer and a purchase ending at ``until``. None if it was known already, or
    the channel is sold by no subscription offer."""
    offer = _offer_for(school, group, price, link_name)
    if offer is None or price <= 0:
        return None
    payment_id = f"{group.chat_id}:{external_id}:{int(until.timestamp())}"
    if await uow.payments.get(GATEWAY, payment_id) is not None:
        return None
    identity = await uow.users.identity(groups.MESSENGER, external_id)
    user_id = identity.user_id if identity is not None else (
        await users.resolve(uow, now, groups.MESSENGER, external_id, name))[0].id
    order = await uow.orders.add(Order(
        user_id=user_id, offer_code=offer.code, token=secrets.token_urlsafe(18),
        amount=price, list_amount=price, currency="XTR", created_at=now, expires_at=now,
        messenger=groups.MESSENGER, products=offer.products, access=AccessKind.SUBSCRIPTION.value,
        period=PERIOD.iso,
    ))
    notice = PaymentNotice(GATEWAY, payment_id, order.token, price, "XTR",
                           details={"member": external_id, "until": until.isoformat()})
    if (await payments.confirm(uow, school, notice, now)).outcome is not Outcome.GRANTED:
        return None
    purchase = latest_running(await uow.purchases.for_user(user_id), offer.code)
    assert purchase is not None, "a granted subscription order left no purchase"
    purchase.ends_at = until  # Telegram's end, not one computed here
    purchase.renewal = GATEWAY
    purchase.updated_at = now
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)
    return purchase


async def renewed(
    uow: UnitOfWork, school: School, group: Group, external_id: str, until: datetime,
    now: datetime,
) -> Purchase | None:
    """Telegram moved a subscriber's end to ``until``: the period is paid at the price of
    their running subscription. None if they have none here, or it was known already."""
    identity = await uow.users.identity(groups.MESSENGER, external_id)
    if identity is None:
        return None
    codes = {o.code for o in offers_of(school, group.code)}
    running = [p for p in await uow.purchases.for_user(identity.user_id)
               if p.offer_code in codes and p.status is PurchaseStatus.ACTIVE]
    current = max(running, key=lambda p: (p.ends_at or now, p.id), default=None)
    if current is None or current.ends_at is None or until <= current.ends_at:
        return None
    order = await uow.orders.get(current.order_id)
    if order is None:
        return None
    return await paid_until(uow, school, group, external_id, "", until, order.amount, now,
                            current.offer_code)


def latest_running(purchases: list[Purchase], offer_code: str) -> Purchase | None:
    running = [p for p in purchases
               if p.offer_code == offer_code and p.status is PurchaseStatus.ACTIVE]
    return max(running, key=lambda p: (p.ends_at or p.starts_at, p.id), default=None)


async def due(uow: UnitOfWork, now: datetime, limit: int = 50) -> list[Purchase]:
    """Subscription purchases whose end has come: to be compared with Telegram."""
    return await uow.purchases.due_renewal(GATEWAY, now, limit)


class Sync(enum.StrEnum):
    RENEWED = "renewed"
    ENDED = "ended"
    WAITING = "waiting"  # Telegram has not renewed yet, and may still


async def synced(
    uow: UnitOfWork, school: School, purchase_id: int, external_id: str, member: bool,
    until: datetime | None, now: datetime,
) -> Sync:
    """What Telegram says of the member behind a due subscription purchase: in (``member``)
    with a subscription paid up to ``until``, or not in the channel any more."""
    purchase = await uow.purchases.get_for_update(purchase_id)
    if purchase is None or purchase.status is not PurchaseStatus.ACTIVE or (
            purchase.ends_at is None or purchase.ends_at > now):
        return Sync.RENEWED  # someone else moved it on meanwhile
    offer = school.offer(purchase.offer_code)
    group = channel_of(school, offer) if offer is not None else None
    renewed = member and until is not None and until > purchase.ends_at
    if renewed and offer is not None and group is not None:
        assert until is not None
        order = await uow.orders.get(purchase.order_id)
        price = order.amount if order is not None else offer.price.amount
        await paid_until(uow, school, group, external_id, "", until, price, now, offer.code)
        return Sync.RENEWED
    if member and now < purchase.ends_at + LAPSE_GRACE:
        return Sync.WAITING
    await access.expire(uow, purchase, now)
    return Sync.ENDED
