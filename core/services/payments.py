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
OFFER_GONE = "offer_gone"  # paid after the order closed, and its offer is no longer sold
# Why an order closed unpaid that a late payment still pays (if its offer is still sold).
REOPENED_BY_PAYMENT = frozenset({"expired", "cancelled"})


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
    PARTIAL = "partial"  # a part of the payment went back: recorded, the access stays
    DUPLICATE = "duplicate"  # recorded before (a repeat, or the school's own refund)
    UNKNOWN = "unknown"  # no such successful payment here: nothing changed


@dataclass(frozen=True)
class GatewayRefund:
    outcome: Returned
    payment: Payment | None = None
    order: Order | None = None
    returned: int = 0  # minor units of the payment this report newly recorded as given back


def _closed_unpaid(order: Order) -> bool:
    """An order that closed unpaid because time ran out or the student cancelled it: money
    arriving for it after all (a payment page left open) still pays it if it can."""
    return order.status is OrderStatus.CANCELLED and order.close_reason in REOPENED_BY_PAYMENT


async def _still_grantable(uow: UnitOfWork, school: School, order: Order, now: datetime
                           ) -> bool:
    """The order's offer is still in the school and sold now; a renewal's own order (its
    charge caught up after downtime) renews what the student has, sold or not."""
    offer = school.offer(order.offer_code)
    if offer is None:
        return False
    return offer.on_sale(now) or await uow.renewals.for_order(order.id) is not None


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
    late = _closed_unpaid(order)
    if late and not await _still_grantable(uow, school, order, now):
        return await _extra(uow, school, order, payment, now, OFFER_GONE)
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
    uow: UnitOfWork, school: School, order: Order, payment: Payment, now: datetime,
    reason: str = EXTRA,
) -> Confirmation:
    """Money that grants nothing: marked for a refund, the student told it will be returned
    and the school's admins asked to return it."""
    await enqueue(
        uow, now, order.user_id,
        notices.PaymentExtra(order=order.id, amount=payment.amount, currency=payment.currency),
        dedupe_key=f"payment_extra:{payment.gateway}:{payment.gateway_payment_id}",
    )
    await mark_for_refund(uow, school, order, payment, reason, now)
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
    await alert_admins(uow, school, notices.RefundDue(
        order=order.id, gateway=payment.gateway, payment=payment.gateway_payment_id),
        f"refund_due:{{admin}}:{payment.id}", now)


async def alert_admins(
    uow: UnitOfWork, school: School, notice: notices.Notice, key: str, now: datetime
) -> None:
    """``notice`` to every admin the bot can reach, through the outbox, once per ``key``
    (its ``{admin}`` is the admin's user id)."""
    for admin in school.admins:
        identity = await uow.users.identity(admin.messenger, admin.external_id)
        if identity is None:
            log.warning("admin %s:%s has never written to the bot: not alerted",
                        admin.messenger, admin.external_id)
            continue
        await enqueue(uow, now, identity.user_id, notice,
                      dedupe_key=key.format(admin=identity.user_id))


async def _count_towards_order(uow: UnitOfWork, order: Order) -> None:
    """The order is paid at last: earlier partial payments in its currency paid for it and
    are no longer to be returned."""
    for paid in await uow.payments.for_order(order.id):
        if paid.refund_reason == UNDERPAID and paid.status is PaymentStatus.SUCCEEDED:
            paid.refund_reason = None
            await uow.payments.update(paid)


async def _retake_holds(uow: UnitOfWork, school: School, order: Order) -> None:
    """The closed order gave its seat and promo use back; paid after all, it takes them again
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


# Gives back (a part of) a payment through its gateway: ``Refunder.refund``.
GiveBack = Callable[[Payment, int | None], Awaitable[int | None]]


async def refund_through(
    uow_factory: UnitOfWorkFactory,
    give_back: GiveBack,
    payment: Payment,
    now: datetime,
    amount: int | None = None,
) -> bool:
    """Have the gateway return ``payment`` (outside any transaction; a gateway answers a
    repeated refund as done), then record it: in full (``amount`` None: what is left of it)
    withdrawing the access it gave, or ``amount`` of it, keeping the access. False if
    nothing new was recorded."""
    if amount is None:
        if payment.refundable_amount > 0:
            await give_back(payment, None)
        async with uow_factory() as uow:
            done = await refund(uow, payment.order_id, now, payment_id=payment.id)
            await uow.commit()
        return done
    total = await give_back(payment, amount)
    async with uow_factory() as uow:
        result = await returned_in_part(
            uow, payment.gateway, payment.gateway_payment_id,
            payment.refunded_amount + amount if total is None else total, now)
        await uow.commit()
    return result.outcome is Returned.PARTIAL


async def returned_in_part(
    uow: UnitOfWork, gateway: str, gateway_payment_id: str, total: int,
    now: datetime | None = None,
) -> GatewayRefund:
    """``total`` of the payment has gone back by now, in all (the school's ``/refund ORDER
    AMOUNT``, or a gateway's report): recorded once, the access untouched. A total at or
    below what is recorded is a repeat. Money that granted nothing and is all back is
    refunded: nothing more to return."""
    payment, order = await _locked(uow, gateway, gateway_payment_id)
    if payment is None or order is None:
        return GatewayRefund(Returned.UNKNOWN)
    if payment.status is not PaymentStatus.SUCCEEDED:
        return GatewayRefund(Returned.DUPLICATE if payment.status is PaymentStatus.REFUNDED
                             else Returned.UNKNOWN, payment, order)
    return await _part_back(uow, payment, order, total, now)


async def _part_back(uow: UnitOfWork, payment: Payment, order: Order, total: int,
                     now: datetime | None) -> GatewayRefund:
    """(The figures count what a payment gave back at its latest return, ``refunded_at``.)"""
    total = min(total, payment.amount)
    if total <= payment.refunded_amount:
        return GatewayRefund(Returned.DUPLICATE, payment, order)
    returned, payment.refunded_amount = total - payment.refunded_amount, total
    payment.refunded_at = now or payment.refunded_at
    if payment.refund_reason and total >= payment.amount:
        payment.status = PaymentStatus.REFUNDED
    await uow.payments.update(payment)
    log.info("payment %s/%s of order %s: %s of %s %s given back so far", payment.gateway,
             payment.gateway_payment_id, order.id, total, payment.amount, payment.currency)
    return GatewayRefund(Returned.PARTIAL, payment, order, returned)


async def _locked(
    uow: UnitOfWork, gateway: str, gateway_payment_id: str
) -> tuple[Payment | None, Order | None]:
    """The payment and its order, the order locked first and the payment read under it."""
    payment = await uow.payments.get(gateway, gateway_payment_id)
    order = await uow.orders.get_for_update(payment.order_id) if payment else None
    if payment is not None:
        payment = await uow.payments.get(gateway, gateway_payment_id)
    return payment, order


async def returned_by_gateway(
    uow: UnitOfWork, gateway: str, gateway_payment_id: str, now: datetime,
    refunded: int | None = None,
) -> GatewayRefund:
    """The gateway reports it gave ``gateway_payment_id`` back (Telegram's refunded_payment: a
    refund made in Telegram, or the school's own refund whose recording a crash lost; a card
    gateway's refund notification), ``refunded`` of it in all (None: all of it).
    Recorded through the path ``/refund`` takes, once: the order is locked first, so a
    repeated report, or one after the school's own refund was recorded, changes nothing.
    A part given back is only recorded: the access stays (admins may give back some money
    and keep the student); the whole payment back withdraws what it gave."""
    payment, order = await _locked(uow, gateway, gateway_payment_id)
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
    if refunded is not None and refunded < payment.amount:
        return await _part_back(uow, payment, order, refunded, now)
    if refunded is not None and payment.refunded_amount >= payment.amount:
        # Given back in parts by ``/refund ORDER AMOUNT``, which keeps the access.
        return GatewayRefund(Returned.DUPLICATE, payment, order)
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
        returned = payment.refundable_amount
        await refund(uow, order.id, now, payment_id=payment.id)
        payment.status, payment.refunded_amount, payment.refunded_at = (
            PaymentStatus.REFUNDED, payment.amount, now)
        return GatewayRefund(Returned.WITHDRAWN, payment, order, returned)
    returned = payment.refundable_amount
    payment.status, payment.refunded_amount, payment.refunded_at = (
            PaymentStatus.REFUNDED, payment.amount, now)
    await uow.payments.update(payment)
    return GatewayRefund(outcome, payment, order, returned)


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
        payment.status, payment.refunded_amount, payment.refunded_at = (
            PaymentStatus.REFUNDED, payment.amount, now)
        await uow.payments.update(payment)
    if returned and all(p.refund_reason for p in returned):
        return True  # money that granted nothing: returning it takes no access away
    if await uow.orders.transition(
        order_id, frozenset({OrderStatus.PAID}), OrderStatus.REFUNDED, now, reason
    ):
        for purchase in await uow.purchases.for_order(order_id):
            await access.revoke(uow, purchase.id, now, reason)
    return bool(returned)
