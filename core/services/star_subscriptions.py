"""Offers sold as Telegram Stars subscriptions to the bot: a 30-day subscription offer paid
in Stars. The invoice is a subscription link (``createInvoiceLink(subscription_period)``);
Telegram takes the Stars at once and again every 30 days, each time sending the bot a
``successful_payment`` with the first invoice's payload; the platform never charges.

The first payment pays the order like any other and keeps the subscription
(``Purchase.renewal_method = "telegram_stars:<payer>:<first charge id>"``, the pair
``editUserStarSubscription`` needs). Each recurring payment becomes a paid renewal order of
its own, keyed on its charge id (recorded once) and granted through the one payment path,
which extends the purchase from its end. The end never falls before Telegram's
``subscription_expiration_date``. A purchase whose period ended with no recurring payment
(the student cancelled in Telegram, or had too few Stars) lapses ``LAPSE_GRACE`` later."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core import errors
from core.models import RENEWAL_TELEGRAM_STARS, Order, OrderStatus, PaymentStatus, Purchase
from core.periods import Period
from core.ports import UnitOfWork
from core.school import AccessKind, Offer, School
from core.services import payments, star_channels, upcoming
from core.services.payments import Confirmation, Outcome, PaymentNotice

RENEWED_BY = RENEWAL_TELEGRAM_STARS
PERIOD = Period("P30D")
PERIOD_SECONDS = 30 * 86400  # the only period Telegram accepts
LAPSE_GRACE = timedelta(days=1)  # Telegram's charge may come a little after the end
MAX_PRICE = 10000  # Stars


def sold_as_subscription(school: School, offer: Offer, currency: str) -> bool:
    """Is ``offer``, paid in ``currency``, sold as a Stars subscription to the bot? A 30-day
    subscription offer paid in Stars is (a channel's own Stars subscription is not: Telegram
    sells that through the channel's link)."""
    price = offer.price if offer.price.currency == currency else offer.stars
    return (currency == "XTR" and offer.access is AccessKind.SUBSCRIPTION
            and offer.period == PERIOD and price is not None
            and 0 < price.amount <= MAX_PRICE
            and star_channels.channel_of(school, offer) is None)


def subscription_of(method: str) -> tuple[str, str] | None:
    """(payer, charge id) of a Stars subscription kept as a purchase's renewal method."""
    gateway, _, rest = method.partition(":")
    payer, _, charge_id = rest.partition(":")
    return (payer, charge_id) if gateway == RENEWED_BY and payer and charge_id else None


@dataclass(frozen=True)
class StarsPayment:
    """A ``successful_payment`` of a subscription invoice, first or recurring."""

    gateway: str
    charge_id: str
    token: str  # the first invoice's payload, on every payment of the subscription
    amount: int
    payer: str  # the Telegram user id
    until: datetime | None  # subscription_expiration_date
    first: bool
    details: dict[str, Any] = field(default_factory=dict)


async def record(
    uow: UnitOfWork, school: School, paid: StarsPayment, now: datetime
) -> Confirmation:
    """Record one payment of a Stars subscription, once."""
    order = await uow.orders.by_token(paid.token)
    if order is None:
        raise errors.NotFound(order=paid.token)
    if paid.first or order.status in payments.PAYABLE:
        # The first payment; or a renewal that came before the first was recorded.
        return await _pay(uow, school, order, paid, paid.charge_id, now)
    if await uow.payments.get(paid.gateway, paid.charge_id) is not None:
        return Confirmation(Outcome.DUPLICATE, order)
    first_charge = next(
        (p.gateway_payment_id for p in await uow.payments.for_order(order.id)
         if p.gateway == paid.gateway and p.status is not PaymentStatus.FAILED),
        paid.charge_id,
    )
    renewal = await uow.orders.add(Order(
        user_id=order.user_id, offer_code=order.offer_code, token=secrets.token_urlsafe(18),
        amount=paid.amount, list_amount=paid.amount, currency=order.currency,
        created_at=now, expires_at=now, messenger=order.messenger, products=order.products,
        access=order.access, period=order.period, extends=order.extends,
    ))
    confirmation = await _pay(uow, school, renewal, paid, first_charge, now)
    if confirmation.outcome is Outcome.DUPLICATE:  # recorded meanwhile by a twin update
        await uow.orders.transition(renewal.id, payments.PAYABLE, OrderStatus.CANCELLED, now,
                                    "duplicate")
    return confirmation


async def _pay(
    uow: UnitOfWork, school: School, order: Order, paid: StarsPayment, subscription: str,
    now: datetime,
) -> Confirmation:
    details = {**paid.details, "payer": paid.payer, "renewed_by": RENEWED_BY,
               "saved_method": f"{paid.payer}:{subscription}"}
    if paid.until is not None:
        details["until"] = paid.until.isoformat()
    confirmation = await payments.confirm(uow, school, PaymentNotice(
        paid.gateway, paid.charge_id, order.token, paid.amount, order.currency,
        details=details), now)
    if confirmation.outcome is Outcome.GRANTED and paid.until is not None:
        purchase = star_channels.latest_running(
            await uow.purchases.for_user(order.user_id), order.offer_code)
        if purchase is not None and purchase.ends_at is not None \
                and purchase.ends_at < paid.until:
            await _end_at(uow, school, purchase, paid.until, now)
    return confirmation


async def _end_at(
    uow: UnitOfWork, school: School, purchase: Purchase, until: datetime, now: datetime
) -> None:
    """Telegram's end, when it is later than the one computed here."""
    purchase.ends_at = until
    purchase.updated_at = now
    await upcoming.plan_next(uow, school, purchase, now)
    await uow.purchases.update(purchase)


async def lapsed(uow: UnitOfWork, now: datetime, limit: int) -> list[Purchase]:
    """Stars-subscription purchases whose end passed LAPSE_GRACE ago with no payment."""
    return await uow.purchases.due_renewal(RENEWED_BY, now - LAPSE_GRACE, limit)

