"""Buying: the order with its pay button, free orders, cancelling."""

from __future__ import annotations

import dataclasses

from core import errors
from core.models import Order
from core.money import Money
from core.school import pick
from core.services import checkout, star_subscriptions
from flows import catalog, receipts
from flows.engine import Context, Reply, Stale, error_text, parse_id
from flows.start import title_of_offer
from flows.ui import Button, Invoice, screen


async def buy(ctx: Context, code: str) -> Reply:
    return await _buy(ctx, code, stars=False)


async def buy_with_stars(ctx: Context, code: str) -> Reply:
    if not ctx.capabilities.stars:
        raise Stale(code)
    return await _buy(ctx, code, stars=True)


async def _buy(ctx: Context, code: str, stars: bool) -> Reply:
    t = ctx.t
    offer = catalog.offer_for(ctx, code)
    price = offer.price_in(stars)
    if price is None or not (offer.free or ctx.can_pay(price.currency)):
        raise Stale(code)
    if await receipts.must_ask(ctx, offer, stars):
        return receipts.ask(ctx, offer.code)
    promos = ctx.state.data.get("promos", {})
    try:
        placed = await checkout.place_order(
            ctx.uow,
            ctx.school,
            ctx.now,
            ctx.user,
            offer.code,
            promos.get(offer.code),
            messenger=ctx.incoming.peer.messenger,
            unlocked=offer.code in ctx.unlocked,
            stars=stars,
        )
    except errors.PromoInvalid as exc:
        promos.pop(offer.code, None)
        return Reply(await catalog.offer_screen(ctx, offer.code, error_text(t, exc)), edit=True)
    except errors.DomainError as exc:
        return Reply(await catalog.offer_screen(ctx, offer.code, error_text(t, exc)), edit=True)
    order = placed.order
    promos.pop(offer.code, None)
    if placed.completed:
        ctx.queued = True
        return Reply(
            screen(t("order_free", id=order.id), Button(t("btn_my"), action="my")), edit=True
        )
    price_text = Money(order.amount, order.currency).format(t.language)
    assert order.expires_at is not None
    text = t(
        "order_created",
        id=order.id,
        title=title_of_offer(ctx, order.offer_code),
        price=price_text,
        until=t.datetime(order.expires_at),
    )
    bill = invoice(ctx, order) if order.currency in ctx.capabilities.invoices else None
    if bill is not None and bill.renews_every:
        text += "\n\n" + t("stars_subscription_terms", price=price_text)
    pay = ctx.checkout.buttons(t, order) if not (bill and bill.renews_every) else []
    order_screen = screen(
        text,
        *pay,
        Button(t("btn_cancel_order"), action=f"x:{order.id}"),
        Button(t("btn_back"), action=f"o:{offer.code}"),
    )
    if bill is not None:
        order_screen = dataclasses.replace(order_screen, invoice=bill)
    return Reply(order_screen, edit=True)


def invoice(ctx: Context, order: Order) -> Invoice:
    """Telegram allows 32 characters of title and 255 of description. A 30-day subscription
    in Stars is a Telegram Stars subscription: Telegram charges it again every 30 days."""
    offer = ctx.school.offer(order.offer_code)
    description = pick(offer.description, ctx.t.language, ctx.school.default_language) \
        if offer else ""
    price = Money(order.amount, order.currency).format(ctx.t.language)
    recurring = offer is not None and star_subscriptions.sold_as_subscription(
        ctx.school, offer, order.currency)
    return Invoice(
        title=title_of_offer(ctx, order.offer_code)[:32],
        description=(description or ctx.t("order", id=order.id))[:255],
        payload=order.token,
        currency=order.currency,
        amount=order.amount,
        label=ctx.t("btn_subscribe_stars" if recurring else "btn_pay", price=price),
        renews_every=star_subscriptions.PERIOD_SECONDS if recurring else None,
    )


async def cancel(ctx: Context, order_id: str) -> Reply:
    t = ctx.t
    try:
        cancelled = await checkout.cancel(
            ctx.uow, ctx.school, parse_id(order_id), ctx.user.id, ctx.now
        )
    except errors.NotFound:
        raise Stale(order_id) from None
    text = t("order_cancelled", id=order_id) if cancelled else t("order_gone")
    return Reply(
        screen(text, Button(t("btn_catalog"), action="cat"), Button(t("btn_menu"), action="menu")),
        edit=True,
    )
