"""Renewing: the one-tap renew buttons (in reminders and "My courses") and the switch for
automatic renewal."""

from __future__ import annotations

from datetime import datetime

from core.models import Purchase, PurchaseStatus
from core.school import Offer, School, pick
from core.services import renewals
from core.services.upcoming import renews_automatically
from flows import checkout
from flows.catalog import by_price, pay_ways
from flows.channel import Capabilities
from flows.checkout_ways import CheckoutWays
from flows.engine import Context, Reply, Stale, parse_id
from flows.texts import Texts
from flows.ui import Button

MAX_OFFERS = 3


def renew_buttons(
    t: Texts, school: School, purchase: Purchase, now: datetime,
    capabilities: Capabilities, checkout: CheckoutWays, offers: int = MAX_OFFERS,
) -> list[Button]:
    """One tap per offer that renews ``purchase``, the student's own period first, and per
    price it can be paid in here (``catalog.pay_ways``, as on the offer card): its own price
    (``rn``) and its Stars price (``rs``); the order then offers every way to pay it."""
    buttons = []
    for offer in renewals.options(school, purchase, now)[:offers]:
        title = pick(offer.title, t.language, school.default_language)
        ways = pay_ways(school, offer, offer.price, None, now, capabilities, checkout)
        for way in by_price(ways):
            buttons.append(Button(t("btn_renew", title=title,
                                    price=way.price.format(t.language)),
                                  action=f"{'rs' if way.stars else 'rn'}:{purchase.id}:"
                                         f"{offer.code}"))
    return buttons


def switch_button(t: Texts, purchase: Purchase) -> Button | None:
    """Automatic renewal's switch, where a saved method can renew the purchase."""
    if purchase.status is not PurchaseStatus.ACTIVE or purchase.renewal_method is None \
            or purchase.ends_at is None:
        return None
    if renews_automatically(purchase):
        return Button(t("btn_auto_off"), action=f"ar:{purchase.id}:off")
    if purchase.renewal is None:
        return Button(t("btn_auto_on"), action=f"ar:{purchase.id}:on")
    return None


async def _own(ctx: Context, purchase_id: str) -> Purchase:
    purchase = await ctx.uow.purchases.get(parse_id(purchase_id))
    if purchase is None or purchase.user_id != ctx.user.id:
        raise Stale(purchase_id)
    return purchase


async def renew_with_stars(ctx: Context, arg: str) -> Reply:
    """Renew with the offer's Stars price: the order, with its invoice."""
    offer = await _renewing(ctx, arg)
    return await checkout.buy_with_stars(ctx, offer.code)


async def renew(ctx: Context, arg: str) -> Reply:
    """Buy an offer that renews the purchase: the order, with its pay button. (A button
    from before Stars had their own falls back to Stars where the price cannot be paid.)"""
    offer = await _renewing(ctx, arg)
    stars = not ctx.can_pay(offer.price.currency) and offer.stars is not None \
        and ctx.capabilities.stars
    return await checkout.buy_with_stars(ctx, offer.code) if stars \
        else await checkout.buy(ctx, offer.code)


async def _renewing(ctx: Context, arg: str) -> Offer:
    """The offer a renew button names, if it still renews the student's purchase."""
    purchase_id, _, code = arg.partition(":")
    purchase = await _own(ctx, purchase_id)
    offer: Offer | None = next(
        (o for o in renewals.options(ctx.school, purchase, ctx.now) if o.code == code), None)
    if offer is None:
        raise Stale(arg)
    if offer.code not in ctx.unlocked:  # their own plan, even if no longer listed
        ctx.unlocked.append(offer.code)
    return offer
