"""Renewing access: the offers that renew a purchase, the automatic-renewal switch, and
the automatic charge at the end of each period.

A purchase paid with a method the gateway can charge again renews by itself
(``Purchase.renewal`` names the gateway) until the student switches it off. Each period has
one ``Renewal`` with one order, reused by every attempt, due at the period's end (indexed).
The charge happens outside any transaction: ``claim`` re-checks the purchase (a student who
renewed by hand, or switched renewal off, is not charged) and leases the renewal; the gateway
is called with the attempt's deterministic key; ``record_success`` / ``record_failure``
write the outcome. A crash after the gateway charged and before the outcome was written
leaves the renewal due with the same key, so the next attempt gets the same charge back and
records it through the one payment path: money is never taken twice, nor lost. The gateway
is told when that key was first sent (``key_sent_at``), so one whose keys expire (Stripe's
after 24 hours) looks the charge up before making it, however long the outage.

A student may renew by hand while a charge is in flight (claimed, the gateway not answered
yet). The two cannot be made exclusive, since the gateway is called outside any transaction
and the student may pay anywhere, so each is honoured: the renewal's order is never the one
the student pays by hand (``checkout`` never reuses it), and whichever payment comes second
extends access by one more period from the end the first one set. When the automatic charge
is the second, the student is told (``renewal_doubled``) that both payments count, until
when, and where to switch automatic renewal off. No money is kept for nothing, and no
refund depends on staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core import errors, notices
from core.models import (
    RENEWAL_TELEGRAM_CHANNEL,
    Order,
    OrderStatus,
    Purchase,
    PurchaseStatus,
    RenewalStatus,
)
from core.ports import ChargeResult, Receipt, UnitOfWork
from core.school import Offer, School
from core.services import access, payments, receipts, star_channels
from core.services.outbox import enqueue
from core.services.payments import Outcome, PaymentNotice
from core.services.upcoming import gateway_of, plan_next, renews_by_charge

LEASE = timedelta(minutes=5)  # a claimed renewal is left alone this long by other sweeps


def options(school: School, purchase: Purchase, now: datetime) -> list[Offer]:
    """What renews ``purchase``: the student's own offer again (the same period, even if it
    is not public), then the school's extension offers for its products."""
    if purchase.ends_at is None or purchase.status is PurchaseStatus.REVOKED:
        return []
    found = []
    own = school.offer(purchase.offer_code)
    if own is not None and own.period is not None and own.on_sale(now) and (
            star_channels.channel_of(school, own) is None):
        found.append(own)
    for offer in school.offers.values():
        if offer is not own and offer.extends and offer.public and offer.on_sale(now) and (
                set(offer.extends) & set(purchase.products)):
            found.append(offer)
    return found


async def switch(
    uow: UnitOfWork, school: School, purchase_id: int, user_id: int, on: bool, now: datetime
) -> Purchase:
    """The student turns automatic renewal on or off; it takes effect at once. Off: access
    lasts to the end of the paid period and nothing more is charged."""
    purchase = await uow.purchases.get_for_update(purchase_id)
    if purchase is None or purchase.user_id != user_id:
        raise errors.NotFound(purchase=purchase_id)
    if purchase.status is not PurchaseStatus.ACTIVE or purchase.renewal_method is None or (
            purchase.renewal == RENEWAL_TELEGRAM_CHANNEL):
        raise errors.NotEligible(purchase=purchase_id)
    purchase.renewal = gateway_of(purchase.renewal_method) if on else None
    purchase.updated_at = now
    if not on:
        for renewal in await uow.renewals.for_purchase(purchase.id):
            if renewal.status is RenewalStatus.PENDING:
                renewal.status, renewal.updated_at = RenewalStatus.CANCELLED, now
                await uow.renewals.update(renewal)
    await plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)
    return purchase


@dataclass(frozen=True)
class Charge:
    """One attempt to make, outside any transaction."""

    renewal_id: int
    gateway: str
    method: str  # the gateway's own reference
    amount: int
    currency: str
    key: str
    receipt: Receipt | None = None  # the fiscal receipt it carries, where the school sends them
    # The school sends receipts but the student has given nowhere to send them: a gateway
    # that issues receipts cannot charge (``NO_RECEIPT_CONTACT``) until they do.
    receipt_missing: bool = False
    sent_at: datetime | None = None  # the key was sent before, at this time; answer unknown


NO_RECEIPT_CONTACT = "receipt_contact_missing"  # a failed charge's reason


async def claim(uow: UnitOfWork, now: datetime, limit: int = 50,
                school: School | None = None) -> list[Charge]:
    """Renewals due now that still apply, leased for LEASE; the rest are settled here.
    ``school``: its receipt rules give each charge its receipt."""
    charges = []
    for renewal in await uow.renewals.due(now, limit):
        purchase = await uow.purchases.get_for_update(renewal.purchase_id)
        order = await uow.orders.get(renewal.order_id)
        assert purchase is not None and order is not None
        renewal.updated_at = now
        if order.status is OrderStatus.PAID:
            renewal.status = RenewalStatus.SUCCEEDED  # recorded by an earlier attempt
        elif (purchase.status is not PurchaseStatus.ACTIVE or not renews_by_charge(purchase)
              or purchase.ends_at != renewal.period_end):
            renewal.status = RenewalStatus.CANCELLED  # ended, switched off, renewed by hand
        else:
            assert purchase.renewal_method is not None
            renewal.due_at = now + LEASE
            gateway, _, method = purchase.renewal_method.partition(":")
            receipt = await _receipt(uow, school, order) if school is not None else None
            charges.append(Charge(renewal.id, gateway, method, order.amount, order.currency,
                                  renewal.charge_key(), receipt, receipt_missing=(
                                      school is not None and school.receipts is not None
                                      and receipt is None),
                                  sent_at=renewal.key_sent_at))
            renewal.key_sent_at = renewal.key_sent_at or now
        await uow.renewals.update(renewal)
    return charges


async def _receipt(uow: UnitOfWork, school: School, order: Order) -> Receipt | None:
    if school.receipts is None:
        return None
    user = await uow.users.get(order.user_id)
    return receipts.receipt_for(school, order, user.receipt_contact if user else None)


async def record_success(
    uow: UnitOfWork, school: School, charge: Charge, result: ChargeResult, now: datetime
) -> None:
    """The gateway charged: the order is paid through the one payment path, which extends
    the purchase from its end. A repeated charge id records nothing twice."""
    renewal = await uow.renewals.get(charge.renewal_id)
    assert renewal is not None
    order = await uow.orders.get(renewal.order_id)
    assert order is not None
    before = await uow.purchases.get(renewal.purchase_id)
    confirmation = await payments.confirm(uow, school, PaymentNotice(
        charge.gateway, result.payment_id, order.token, charge.amount, charge.currency,
        details={"renewal": renewal.id, "key": charge.key}), now)
    if confirmation.outcome in (Outcome.GRANTED, Outcome.DUPLICATE):
        renewal.status = RenewalStatus.SUCCEEDED
    renewal.updated_at = now
    await uow.renewals.update(renewal)
    if confirmation.outcome is Outcome.GRANTED and before is not None and (
            before.status is PurchaseStatus.ACTIVE and before.ends_at != renewal.period_end):
        # Renewed by hand while this charge was in flight: it added a second period.
        await enqueue(uow, now, before.user_id,
                      notices.RenewalDoubled(purchase=before.id, order=order.id),
                      dedupe_key=f"renewal_doubled:{renewal.id}")


async def record_failure(
    uow: UnitOfWork, school: School, charge: Charge, result: ChargeResult, now: datetime
) -> bool:
    """The gateway declined: tell the student why, try again on schedule, and after the
    last attempt (or the grace) end the access. Returns True when access ended."""
    renewal = await uow.renewals.get(charge.renewal_id)
    assert renewal is not None and renewal.period_end is not None
    if renewal.status is not RenewalStatus.PENDING or renewal.charge_key() != charge.key:
        return False  # this attempt's outcome is already written
    rules = school.renewals
    renewal.attempts += 1  # the next attempt is a new charge, with a key not sent yet
    renewal.key_sent_at = None
    renewal.last_error = result.reason or "declined"
    renewal.updated_at = now
    retry_at = now + rules.retry_every
    last = renewal.attempts > rules.retries or retry_at > renewal.period_end + rules.grace
    renewal.status = RenewalStatus.FAILED if last else RenewalStatus.PENDING
    renewal.due_at = None if last else retry_at
    await uow.renewals.update(renewal)
    await enqueue(uow, now, _user_of(await uow.purchases.get(renewal.purchase_id)),
                  notices.RenewalFailed(purchase=renewal.purchase_id, order=renewal.order_id,
                                        reason=renewal.last_error,
                                        retry_at=None if last else retry_at),
                  dedupe_key=f"renewal_failed:{renewal.id}:{renewal.attempts}")
    if last:
        purchase = await uow.purchases.get_for_update(renewal.purchase_id)
        assert purchase is not None
        if purchase.status is PurchaseStatus.ACTIVE:
            await access.end_now(uow, purchase, "renewal_failed", now)
    return last


def _user_of(purchase: Purchase | None) -> int:
    assert purchase is not None
    return purchase.user_id
