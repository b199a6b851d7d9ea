"""What the school's staff do to a student's access from the card: grant an offer or a
product with no payment, extend a purchase by days, revoke it, and send the lesson and group
links again. Each goes through the core's own paths (``access.grant`` for a granted order,
``access.revoke`` and its group check, the outbox for messages) and returns what it changed,
for the staff member's answer and the audit line.

A button acting on a purchase carries the purchase's ``stamp`` (its status and end as the
card showed them): a purchase that changed since (a second press, a colleague, a sweep) is
left alone, so days are never added twice by one decision."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from core import errors, notices
from core.models import (
    RENEWED_BY_TELEGRAM,
    MemberStatus,
    Order,
    OrderStatus,
    Purchase,
    PurchaseStatus,
    RenewalStatus,
)
from core.periods import Period
from core.ports import UnitOfWork
from core.school import AccessKind, School
from core.services import access, groups, lessons, upcoming
from core.services.outbox import enqueue

MAX_DAYS = 3650  # one extension by staff: ten years at most
REVOKED = "revoked"  # ``Purchase.end_reason`` of access taken back by staff


class Refused(Exception):
    """Why staff cannot do this to the purchase (shown to them, audited as nothing done)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        # "owned" (lifetime access held already), "lifetime" (no end to move), "revoked",
        # "renewed_outside" (the messenger renews it: its end follows the subscription there),
        # "changed" (since the card showed it), "unknown" (the offer or product is no longer
        # in the school file), "days" (out of range)
        self.reason = reason


def stamp(purchase: Purchase) -> str:
    """The purchase's status and end, as a button carries them: ``a1775000000``."""
    end = int(purchase.ends_at.timestamp()) if purchase.ends_at else 0
    return f"{purchase.status.value[0]}{end}"


# --- grant ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Granted:
    order: Order  # paid, with ``granted_by``; no payment behind it
    purchase: Purchase  # as it is now
    before: Purchase | None  # the purchase it extended, as it was; None: a new purchase


async def grant_offer(uow: UnitOfWork, school: School, user_id: int, offer_code: str, by: str,
                      now: datetime) -> Granted:
    """Give the student what ``offer_code`` sells, as it sells it (its access and period),
    without payment: an order recorded as granted by ``by`` and paid through the grant path
    a payment takes."""
    offer = school.offer(offer_code)
    if offer is None:
        raise Refused("unknown")
    return await _grant(uow, school, Order(
        user_id=user_id, offer_code=offer.code, currency=offer.price.currency,
        products=offer.products, access=offer.access.value,
        period=offer.period.iso if offer.period else None, extends=offer.extends,
    ), by, now)


async def grant_product(uow: UnitOfWork, school: School, user_id: int, product_code: str,
                        days: int | None, by: str, now: datetime) -> Granted:
    """Give the student one product, for life (``days`` None) or for ``days`` days (added to
    a running grant of the same product), without payment. The purchase is named after the
    product (``offer_code`` is the product's code)."""
    product = school.products.get(product_code)
    if product is None:
        raise Refused("unknown")
    if days is not None and not 0 < days <= MAX_DAYS:
        raise Refused("days")
    return await _grant(uow, school, Order(
        user_id=user_id, offer_code=product.code, currency=school.currency,
        products=(product.code,),
        access=(AccessKind.PERIOD if days else AccessKind.LIFETIME).value,
        period=f"P{days}D" if days else None,
    ), by, now)


async def _grant(uow: UnitOfWork, school: School, order: Order, by: str,
                 now: datetime) -> Granted:
    if order.period is None and await access.owns_for_life(uow, order.user_id, order.products):
        raise Refused("owned")
    before = {p.id: p for p in await uow.purchases.for_user(order.user_id)}
    order.token = secrets.token_urlsafe(18)
    order.created_at = now
    order.granted_by = by
    order = await uow.orders.add(order)
    if not await uow.orders.transition(order.id, frozenset({OrderStatus.NEW}),
                                       OrderStatus.PAID, now):
        raise AssertionError(f"order {order.id} was just made: it cannot be taken already")
    paid = await uow.orders.get(order.id)
    assert paid is not None
    purchase = await access.grant(uow, school, paid, now)
    return Granted(paid, purchase, before.get(purchase.id))


# --- extend ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extended:
    purchase: Purchase  # as it is now
    was_end: datetime
    was_status: PurchaseStatus  # EXPIRED: it runs again from now
    invites: tuple[str, ...]  # paid groups whose invitation goes out again (it had ended)


async def extend(uow: UnitOfWork, school: School, purchase_id: int, days: int, seen: str,
                 now: datetime) -> Extended:
    """Add ``days`` to the purchase whose ``stamp`` was ``seen``: from its end while it runs,
    from now if it had ended (it runs again). The student is told."""
    if not 0 < days <= MAX_DAYS:
        raise Refused("days")
    purchase = await _read(uow, purchase_id, seen)
    if purchase.status is PurchaseStatus.REVOKED:
        raise Refused("revoked")
    if purchase.ends_at is None:
        raise Refused("lifetime")
    if purchase.renewal in RENEWED_BY_TELEGRAM:
        raise Refused("renewed_outside")
    was_end, was_status = purchase.ends_at, purchase.status
    purchase.ends_at = access.new_end(purchase, Period(f"P{days}D"), now, school.renewals.grace)
    if was_status is not PurchaseStatus.ACTIVE:
        purchase.status, purchase.ended_at, purchase.end_reason = PurchaseStatus.ACTIVE, None, None
    purchase.updated_at = now
    await lessons.resync(uow, school, purchase, now)  # a lapsed one gets what opened since
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)
    end = int(purchase.ends_at.timestamp())
    await enqueue(uow, now, purchase.user_id,
                  notices.AccessExtended(purchase=purchase.id, days=days,
                                         ends_at=purchase.ends_at),
                  dedupe_key=f"access_extended:{purchase.id}:{end}")
    invites: list[str] = []
    if was_status is not PurchaseStatus.ACTIVE:
        for group in sorted(groups.groups_of(school, purchase.products)):
            await enqueue(uow, now, purchase.user_id,
                          notices.GroupInvite(purchase=purchase.id, group=group),
                          dedupe_key=f"group_invite:extended:{purchase.id}:{group}:{end}")
            invites.append(group)
    return Extended(purchase, was_end, was_status, tuple(invites))


async def _read(uow: UnitOfWork, purchase_id: int, seen: str) -> Purchase:
    purchase = await uow.purchases.get_for_update(purchase_id)
    if purchase is None:
        raise errors.NotFound(purchase=purchase_id)
    if stamp(purchase) != seen:
        raise Refused("changed")
    return purchase


# --- revoke ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revoked:
    before: Purchase
    # Paid groups the student is in and has no access to any more: the group check removes
    # them (the same path as access that ends).
    leaving: tuple[str, ...]


async def revoke(uow: UnitOfWork, school: School, purchase_id: int, seen: str,
                 now: datetime) -> Revoked:
    """Take the purchase back (its payment, if any, is kept: a refund is a separate action).
    Automatic renewal stops; the student is told and removed from the paid groups it gave."""
    before = await _read(uow, purchase_id, seen)
    if before.status is PurchaseStatus.REVOKED:
        raise Refused("revoked")
    if before.status is PurchaseStatus.ACTIVE and before.renewal in RENEWED_BY_TELEGRAM:
        raise Refused("renewed_outside")  # it would go on being charged for nothing
    await access.revoke(uow, purchase_id, now, REVOKED)
    revoked = await uow.purchases.get_for_update(purchase_id)
    assert revoked is not None
    if revoked.renewal is not None:
        revoked.renewal = None
        await uow.purchases.update(revoked)
    for renewal in await uow.renewals.for_purchase(purchase_id):
        if renewal.status is RenewalStatus.PENDING:
            renewal.status, renewal.updated_at = RenewalStatus.CANCELLED, now
            await uow.renewals.update(renewal)
    return Revoked(before, tuple(await _leaving(uow, school, before.user_id, now)))


async def _leaving(uow: UnitOfWork, school: School, user_id: int, now: datetime) -> list[str]:
    identities = await uow.users.identities(user_id)
    accounts = [i.external_id for i in identities if i.messenger == groups.MESSENGER]
    purchases = await uow.purchases.for_user(user_id)
    leaving = set()
    for member in await uow.memberships.of_accounts(accounts):
        group = school.groups.get(member.group)
        if (group is not None and member.status is MemberStatus.MEMBER and member.enforced
                and not groups.exempt(school, group, member.external_id)
                and not groups.granting(school, purchases, group.code, now)):
            leaving.add(group.code)
    return sorted(leaving)


# --- links again ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resent:
    lessons: tuple[tuple[Purchase, int], ...]  # purchases whose open lessons go again: how many
    invites: tuple[tuple[Purchase, str], ...]  # group invitations queued
    inside: tuple[str, ...]  # paid groups the student is in already: no link needed
    unlinkable: tuple[str, ...]  # paid groups no link can be made for here (no Telegram bot)


async def resend(uow: UnitOfWork, school: School, user_id: int, now: datetime,
                 can_link: bool) -> Resent:
    """Send the student again the lessons open now of each running purchase, and a personal
    link into each paid group it gives that they are not in (``can_link``: a Telegram bot
    runs to make one). The next lesson's time is recomputed too (the school file may have
    gained lessons). Presses within the same minute send once."""
    minute = int(now.timestamp()) // 60
    sent_lessons: list[tuple[Purchase, int]] = []
    invites: list[tuple[Purchase, str]] = []
    inside: set[str] = set()
    unlinkable: set[str] = set()
    for listed in await uow.purchases.for_user(user_id):
        if not groups.running(listed, now):
            continue
        purchase = await uow.purchases.get_for_update(listed.id)
        assert purchase is not None
        if await lessons.resync(uow, school, purchase, now):
            await uow.purchases.update(purchase)
        opened = lessons.open_lessons(school, purchase, now)
        if opened and await enqueue(uow, now, user_id, notices.LessonLinks(purchase=purchase.id),
                                    dedupe_key=f"lesson_links:{purchase.id}:{minute}"):
            sent_lessons.append((purchase, len(opened)))
        for group in sorted(groups.groups_of(school, purchase.products)):
            if await groups.inside(uow, user_id, group):
                inside.add(group)
            elif not can_link:
                unlinkable.add(group)
            elif group not in {g for _, g in invites} and await enqueue(
                    uow, now, user_id, notices.GroupInvite(purchase=purchase.id, group=group),
                    dedupe_key=f"group_invite:resent:{purchase.id}:{group}:{minute}"):
                invites.append((purchase, group))
    return Resent(tuple(sent_lessons), tuple(invites), tuple(sorted(inside)),
                  tuple(sorted(unlinkable)))
