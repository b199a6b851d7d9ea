"""The one path by which money becomes access. Every gateway's webhook, the test checkout
page and free orders end here.

Exactly-once: the payment row is unique on ``(gateway, gateway_payment_id)`` and the order's
move to PAID is a compare-and-set in the same transaction that grants the purchase, so a
repeated or concurrent confirmation finds either the payment or the order already taken and
grants nothing."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core import errors, notices
from core.models import Order, OrderStatus, Payment, PaymentStatus
from core.periods import Period
from core.ports import PaymentNotice, UnitOfWork, UnitOfWorkFactory
from core.school import School
from core.services import access, catalog, upcoming
from core.services.outbox import enqueue

log = logging.getLogger(__name__)
PAYABLE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_PAID})
# Why money must go back (``Payment.refund_reason``).
EXTRA = "extra"  # the order was already settled, or it gives nothing the student lacks
UNDERPAID = "underpaid"  # less than the price: no access
WRONG_CURRENCY = "currency"  # not the order's currency: it cannot count towards the price


class Outcome(enum.StrEnum):
    GRANTED = "granted"  # this notice paid the order and granted access
    DUPLICATE = "duplicate"  # this payment was reported before: nothing changed
    PARTIAL = "partial"  # money arrived but not enough: recorded, no access
    EXTRA = "extra"  # the order was already settled: recorded for a refund, no access
    FAILED = "failed"  # the gateway reports a failed attempt: recorded, the order stays open


@dataclass(frozen=True)
class Confirmation:
    outcome: Outcome
    order: Order


class Returned(enum.StrEnum):
    """What a gateway's word that it gave a payment back changed here."""

    WITHDRAWN = "withdrawn"  # the access the payment gave was withdrawn
    RECORDED = "recorded"  # the payment had granted nothing: only marked refunded
    TANGLED = "tangled"  # marked refunded; its access is tangled with other periods: by hand
    DUPLICATE = "duplicate"  # recorded before (a repeat, or the school's own refund)
    UNKNOWN = "unknown"  # no such successful payment here: nothing changed


@dataclass(frozen=True)
class GatewayRefund:
    outcome: Returned
    payment: Payment | None = None
    order: Order | None = None


def _late_but_honoured(order: Order) -> bool:
    """An order cancelled only because time ran out is still paid when money arrives."""
    return order.status is OrderStatus.CANCELLED and order.close_reason == "expired"


async def confirm(uow: UnitOfWork, school: School, notice: PaymentNotice, now: datetime):
    order = await uow.orders.by_token(notice.order_token)
    if order is None:
        raise errors.NotFound(order=notice.order_token)
    order = await uow.orders.get_for_update(order.id)
    assert order is not None
    payment = Payment(
        order_id=order.id,
        gateway=notice.gateway,
        gateway_payment_id=notice.gateway_payment_id,
        amount=notice.amount,
        currency=notice.currency,
        status=PaymentStatus.SUCCEEDED if notice.succeeded else PaymentStatus.FAILED,
        created_at=now,
        details=notice.details,
    )
    if not await uow.payments.add(payment):
        known = await uow.payments.get(notice.gateway, notice.gateway_payment_id)
        if not (notice.succeeded and known and known.status is PaymentStatus.FAILED):
            return Confirmation(Outcome.DUPLICATE, order)
        # Some gateways report a failed attempt, then success, under one payment id.
        known.status, known.amount, known.currency = (
            PaymentStatus.SUCCEEDED, notice.amount, notice.currency)
        await uow.payments.update(known)
        payment = known
    if not notice.succeeded:
        if order.status is OrderStatus.NEW:
            await enqueue(
                uow, now, order.user_id, notices.PaymentFailed(order=order.id),
                dedupe_key=f"payment_failed:{notice.gateway}:{notice.gateway_payment_id}",
            )
        return Confirmation(Outcome.FAILED, order)

    received = sum(
        p.amount
        for p in await uow.payments.for_order(order.id)
        if p.status is PaymentStatus.SUCCEEDED and p.currency == order.currency
    )
    late = _late_but_honoured(order)
    expected = PAYABLE | {OrderStatus.CANCELLED} if late else PAYABLE
    if received < order.amount:
        if await uow.orders.transition(order.id, expected, OrderStatus.PARTIALLY_PAID, now):
            if late:
                await _retake_holds(uow, school, order)
            await enqueue(
                uow, now, order.user_id,
                notices.PaymentPartial(order=order.id, received=received, currency=order.currency),
                dedupe_key=f"payment_partial:{notice.gateway}:{notice.gateway_payment_id}",
            )
            reason = UNDERPAID if payment.currency == order.currency else WRONG_CURRENCY
            await mark_for_refund(uow, school, order, payment, reason, now)
            return Confirmation(Outcome.PARTIAL, order)
        return await _extra(uow, school, order, payment, now)
    if order.period is None and await access.owns_for_life(uow, order.user_id, order.products):
        # Paid twice for the same lifetime access (two open orders, say): keep the money on
        # record for a refund, grant nothing more.
        await uow.orders.transition(order.id, expected, OrderStatus.CANCELLED, now,
                                    "already_owned")
        return await _extra(uow, school, order, payment, now)
    if not await uow.orders.transition(order.id, expected, OrderStatus.PAID, now):
        return await _extra(uow, school, order, payment, now)
    await _count_towards_order(uow, order)
    if late:
        await _retake_holds(uow, school, order)
    # A method saved for renewal is charged again by ``renewed_by`` (the gateway, or Telegram
    # itself for a Stars subscription).
    method = upcoming.saved_method(order, notice.details.get("renewed_by", notice.gateway),
                                   notice.details.get("saved_method"))
    await access.grant(uow, school, order, now, method)
    return Confirmation(Outcome.GRANTED, order)


async def check_payable(
    uow: UnitOfWork,
    school: School,
    token: str,
    amount: int,
    currency: str,
    now: datetime,
    user_id: int | None = None,
) -> Order:
    """The order behind ``token`` if it may be paid now, by this user, at exactly this price;
    otherwise the DomainError that says why not. Changes nothing."""
    order = await uow.orders.by_token(token)
    if order is None or (user_id is not None and order.user_id != user_id):
        raise errors.NotFound(order=token)
    if order.status is not OrderStatus.NEW or (order.expires_at and order.expires_at <= now):
        raise errors.OrderNotPayable(order=order.id)
    if (amount, currency) != (order.amount, order.currency):
        raise errors.PriceChanged(order=order.id)
    offer = school.offer(order.offer_code)
    if offer is None or not offer.on_sale(now):
        raise errors.OfferUnavailable(offer=order.offer_code)
    base = offer.price_in(stars=order.currency == "XTR" and offer.price.currency != "XTR")
    if base is None or (base.amount, base.currency) != (order.list_amount, order.currency):
        raise errors.PriceChanged(order=order.id)
    if not order.seat_taken and offer.seats is not None:
        if await uow.counters.used(catalog.seats_key(offer.code)) >= offer.seats:
            raise errors.SoldOut(offer=offer.code)
    if order.period is None and await access.owns_for_life(uow, order.user_id, order.products):
        raise errors.AlreadyOwned(offer=order.offer_code)
    return order


async def _extra(
    uow: UnitOfWork, school: School, order: Order, payment: Payment, now: datetime
) -> Confirmation:
    """Money that grants nothing: marked for a refund, the student told it will be returned
    and the school's admins asked to return it."""
    await enqueue(
        uow, now, order.user_id,
        notices.PaymentExtra(order=order.id, amount=payment.amount, currency=payment.currency),
        dedupe_key=f"payment_extra:{payment.gateway}:{payment.gateway_payment_id}",
    )
    await mark_for_refund(uow, school, order, payment, EXTRA, now)
    return Confirmation(Outcome.EXTRA, order)


async def mark_for_refund(
    uow: UnitOfWork, school: School, order: Order, payment: Payment, reason: str,
    now: datetime,
) -> None:
    """Money that grants nothing is kept on record with why it must go back (``/refunds``
    lists it until it is refunded) and every admin the bot can reach is alerted through the
    outbox. An admin who never wrote to the bot cannot be messaged: logged, and listed."""
    payment.refund_reason = reason
    await uow.payments.update(payment)
    log.warning("payment %s/%s (%s %s) for order %s grants nothing (%s): refund it",
                payment.gateway, payment.gateway_payment_id, payment.amount,
                payment.currency, order.id, reason)
    for admin in school.admins:
        identity = await uow.users.identity(admin.messenger, admin.external_id)
        if identity is None:
            log.warning("admin %s:%s has never written to the bot: not alerted",
                        admin.messenger, admin.external_id)
            continue
        await enqueue(
            uow, now, identity.user_id,
            notices.RefundDue(order=order.id, gateway=payment.gateway,
                              payment=payment.gateway_payment_id),
            dedupe_key=f"refund_due:{identity.user_id}:{payment.id}",
        )


async def _count_towards_order(uow: UnitOfWork, order: Order) -> None:
    """The order is paid at last: earlier partial payments in its currency paid for it and
    are no longer to be returned."""
    for paid in await uow.payments.for_order(order.id):
        if paid.refund_reason == UNDERPAID and paid.status is PaymentStatus.SUCCEEDED:
            paid.refund_reason = None
            await uow.payments.update(paid)


async def _retake_holds(uow: UnitOfWork, school: School, order: Order) -> None:
    """The expired order gave its seat and promo use back; paid after all, it takes them again
    even past the limit: money is never refused."""
    if order.promo_code:
        await uow.counters.force_take(catalog.promo_key(order.promo_code))
    if order.seat_taken:
        await uow.counters.force_take(catalog.seats_key(order.offer_code))


async def complete_free(uow: UnitOfWork, school: School, order: Order, now: datetime) -> bool:
    """A zero-price order (100 % promo code) is paid with no payment."""
    if order.amount != 0:
        raise errors.OrderNotPayable(order=order.id)
    if not await uow.orders.transition(order.id, PAYABLE, OrderStatus.PAID, now):
        return False
    await access.grant(uow, school, order, now)
    return True


async def refund_through(
    uow_factory: UnitOfWorkFactory,
    give_back: Callable[[Payment], Awaitable[None]],
    payment: Payment,
    now: datetime,
) -> bool:
    """Have the gateway return ``payment`` (outside any transaction; a gateway answers a
    repeated refund as done), then record the refund and withdraw the access."""
    await give_back(payment)
    async with uow_factory() as uow:
        done = await refund(uow, payment.order_id, now, payment_id=payment.id)
        await uow.commit()
    return done


async def returned_by_gateway(
    uow: UnitOfWork, gateway: str, gateway_payment_id: str, now: datetime
) -> GatewayRefund:
    """The gateway reports it gave ``gateway_payment_id`` back (Telegram's refunded_payment: a
    refund made in Telegram, or the school's own refund whose recording a crash lost).
    Recorded through the path ``/refund`` takes, once: the order is locked first, so a
    repeated report, or one after the school's own refund was recorded, changes nothing."""
    payment = await uow.payments.get(gateway, gateway_payment_id)
    order = await uow.orders.get_for_update(payment.order_id) if payment else None
    if payment is not None:  # read again under the order's lock
        payment = await uow.payments.get(gateway, gateway_payment_id)
    if payment is None or order is None:
        log.error("gateway %s returned payment %s, which is not recorded here",
                  gateway, gateway_payment_id)
        return GatewayRefund(Returned.UNKNOWN)
    if payment.status is PaymentStatus.REFUNDED:
        return GatewayRefund(Returned.DUPLICATE, payment, order)
    if payment.status is not PaymentStatus.SUCCEEDED:
        log.error("gateway %s returned payment %s, recorded here as %s",
                  gateway, gateway_payment_id, payment.status.value)
        return GatewayRefund(Returned.UNKNOWN, payment, order)
    still_paid = sum(
        p.amount for p in await uow.payments.for_order(order.id)
        if p.status is PaymentStatus.SUCCEEDED and p.currency == order.currency
        and p.id != payment.id
    ) >= order.amount
    if order.status is not OrderStatus.PAID or still_paid:  # it granted nothing
        outcome = Returned.RECORDED
    elif not await refundable(uow, order):
        log.warning("payment %s/%s returned; order %s is tangled with other periods: by hand",
                    gateway, gateway_payment_id, order.id)
        outcome = Returned.TANGLED
    else:
        await refund(uow, order.id, now, payment_id=payment.id)
        payment.status, payment.refunded_at = PaymentStatus.REFUNDED, now
        return GatewayRefund(Returned.WITHDRAWN, payment, order)
    payment.status, payment.refunded_at = PaymentStatus.REFUNDED, now
    await uow.payments.update(payment)
    return GatewayRefund(outcome, payment, order)


async def refundable(uow: UnitOfWork, order: Order) -> bool:
    """Can a refund of ``order`` withdraw exactly what it bought? Not when it only extended an
    earlier purchase, nor when later orders extended the purchase it made: those periods are
    tangled, and an admin settles them by hand."""
    if order.status is not OrderStatus.PAID:
        return True  # money that granted nothing: returning it takes nothing away
    made = await uow.purchases.for_order(order.id)
    if not made:
        return False
    for purchase in made:
        if order.period and purchase.starts_at and purchase.ends_at:
            if purchase.ends_at > Period(order.period).add_to(purchase.starts_at):
                return False
    return True


async def refund(
    uow: UnitOfWork,
    order_id: int,
    now: datetime,
    reason: str = "refund",
    payment_id: int | None = None,
) -> bool:
    """Record that the gateway returned ``payment_id`` (default: every successful payment of
    the order). A paid order becomes refunded and the access it created is revoked; a payment
    that granted nothing is only marked. False if nothing was left to refund."""
    returned = [
        p for p in await uow.payments.for_order(order_id)
        if p.status is PaymentStatus.SUCCEEDED and payment_id in (None, p.id)
    ]
    for payment in returned:
        payment.status, payment.refunded_at = PaymentStatus.REFUNDED, now
        await uow.payments.update(payment)
    if returned and all(p.refund_reason for p in returned):
        return True  # money that granted nothing: returning it takes no access away
    if await uow.orders.transition(
        order_id, frozenset({OrderStatus.PAID}), OrderStatus.REFUNDED, now, reason
    ):
        for purchase in await uow.purchases.for_order(order_id):
            await access.revoke(uow, purchase.id, now, reason)
    return bool(returned)
