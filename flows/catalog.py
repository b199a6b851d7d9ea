"""The catalog, the offer card and promo codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import errors
from core.money import Money
from core.school import AccessKind, Offer, PromoCode, School, pick
from core.services import catalog as shop
from core.services import star_channels
from flows.channel import Capabilities
from flows.checkout_ways import CheckoutWay, CheckoutWays
from flows.engine import Context, Reply, Stale, error_text
from flows.ui import Button, Screen, screen

STARS = "XTR"  # Telegram Stars: paid only in a chat that takes them


def _title(ctx: Context, offer: Offer) -> str:
    return pick(offer.title, ctx.t.language, ctx.school.default_language)


def _promo_for(ctx: Context, offer_code: str) -> str | None:
    return ctx.state.data.get("promos", {}).get(offer_code)


def offer_for(ctx: Context, code: str) -> Offer:
    """The offer a button names, if this student may see it."""
    offer = ctx.school.offer(code)
    if offer is None or (not offer.public and code not in ctx.unlocked):
        raise Stale(code)
    return offer


async def show_catalog(ctx: Context, _: str) -> Reply:
    t = ctx.t
    offers = await shop.visible_offers(ctx.uow, ctx.school, ctx.user, ctx.now)
    buttons = [
        Button(f"{_title(ctx, offer)} · {_price_text(ctx, offer)}", action=f"o:{offer.code}")
        for offer in offers
    ]
    text = t("catalog_title") if offers else t("catalog_empty")
    return Reply(screen(text, *buttons, Button(t("btn_back"), action="menu")), edit=True)


def _price_text(ctx: Context, offer: Offer) -> str:
    return ctx.t("price_free") if offer.free else offer.price.format(ctx.t.language)


def _access_line(ctx: Context, offer: Offer) -> str:
    t = ctx.t
    if offer.period is None:
        return t("access_lifetime")
    period = t.period(offer.period.iso)
    if offer.extends:
        return t("access_extends", period=period)
    if offer.access is AccessKind.SUBSCRIPTION:
        return t("access_subscription", period=period)
    return t("access_period", period=period)


async def offer_screen(ctx: Context, code: str, notice: str = "") -> Screen:
    t = ctx.t
    offer = offer_for(ctx, code)
    lines = [notice] if notice else []
    lines.append(_title(ctx, offer))
    description = pick(offer.description, t.language, ctx.school.default_language)
    if description:
        lines += ["", description]
    lines.append("")
    price, promo = offer.price, None
    promo_code = _promo_for(ctx, offer.code)
    if promo_code:
        try:
            quote = await shop.quote(ctx.uow, ctx.school, offer, promo_code, ctx.now)
            price, promo = quote.price, quote.promo
            lines.append(
                t("price_discounted",
                  price=price.format(t.language) if price.amount else t("price_free"),
                  old=offer.price.format(t.language), code=promo_code)
            )
        except errors.PromoInvalid:
            ctx.state.data.get("promos", {}).pop(offer.code, None)
            promo_code = None
            lines.append(t("price", price=price.format(t.language)))
    else:
        lines.append(t("price", price=_price_text(ctx, offer)))
    lines.append(_access_line(ctx, offer))
    left = await shop.seats_left(ctx.uow, offer)
    if left is not None:
        lines.append(t("seats_left", n=left))
    rows: list[Button] = []
    try:
        await shop.check_can_buy(
            ctx.uow, ctx.school, ctx.user, offer, ctx.now, offer.code in ctx.unlocked
        )
    except errors.DomainError as exc:
        lines += ["", error_text(t, exc)]
    else:
        if offer.free:  # given away: one button, nothing to pay, no promo code
            rows.append(Button(t("btn_get_free"), action=f"b:{offer.code}"))
            return screen("\n".join(lines), *rows, Button(t("btn_back"), action="cat"))
        channel = star_channels.channel_of(ctx.school, offer) is not None
        if channel:
            rows += await _subscription(ctx, offer, lines)
        ways = by_price(pay_ways(ctx.school, offer, price, promo, ctx.now,
                                 ctx.capabilities, ctx.checkout))
        if not ways and not channel:
            lines += ["", t("pay_not_here")]
            if price.currency == STARS and "telegram" in ctx.messengers:
                lines.append(t("pay_stars_in_telegram"))
        elif price.amount == 0 and not channel:  # a 100 % code: one button, nothing to pay
            rows += _get_free(ctx, offer, ways)
        else:
            for way in ways:
                if way.stars or not channel:
                    rows.append(Button(t("btn_buy", price=way.price.format(t.language)),
                                       action=f"{'bs' if way.stars else 'b'}:{offer.code}"))
        if not promo_code and ways and not channel and (
                await shop.any_promo(ctx.uow, ctx.school)):
            rows.append(Button(t("btn_promo"), action=f"pr:{offer.code}"))
    rows.append(Button(t("btn_back"), action="cat"))
    return screen("\n".join(lines), *rows)


async def _subscription(ctx: Context, offer: Offer, lines: list[str]) -> list[Button]:
    """A channel sold as a Telegram Stars subscription: its link, which Telegram charges."""
    t, price = ctx.t, offer.price.format(ctx.t.language)
    url = await star_channels.link_url(ctx.uow, ctx.school, offer)
    if url is None:
        lines += ["", t("stars_subscription_elsewhere")]
        return []
    lines += ["", t("stars_subscription", price=price)]
    return [Button(t("btn_subscribe", price=price), url=url)]


@dataclass(frozen=True)
class PayWay:
    price: Money
    stars: bool  # the offer's Stars price (bought with ``bs``), not its own price (``b``)
    page: CheckoutWay | None = None  # the web page that takes it; None: an invoice in the chat


def pay_ways(
    school: School, offer: Offer, price: Money, promo: PromoCode | None, now: datetime,
    capabilities: Capabilities, checkout: CheckoutWays,
) -> list[PayWay]:
    """Every way ``offer`` can be paid where the student is: ``price`` (the offer's, after any
    promo code) on each checkout page that takes its currency, then in the chat if the chat
    takes it (Telegram's invoice), then its Stars price where the messenger takes Stars. The
    offer card and every renew button offer exactly these (one button per price,
    ``by_price``); the order then shows every way to pay it."""
    ways = [PayWay(price, stars=False, page=page) for page in checkout.taking(price.currency)]
    if price.currency in capabilities.invoices:
        ways.append(PayWay(price, stars=False))
    stars = _stars_price(offer, promo, now) if capabilities.stars else None
    if stars is not None:
        ways.append(PayWay(stars, stars=True))
    return ways


def by_price(ways: list[PayWay]) -> list[PayWay]:
    """The first way of each price (its own, its Stars price): what a buy button orders."""
    seen: set[tuple[Money, bool]] = set()
    first = []
    for way in ways:
        if (way.price, way.stars) not in seen:
            seen.add((way.price, way.stars))
            first.append(way)
    return first


def _get_free(ctx: Context, offer: Offer, ways: list[PayWay]) -> list[Button]:
    """The free order goes the first way this chat could have paid (it completes at once)."""
    for way in ways:
        if way.price.amount == 0:
            action = f"{'bs' if way.stars else 'b'}:{offer.code}"
            return [Button(ctx.t("btn_get_free"), action=action)]
    return []


def _stars_price(offer: Offer, promo: PromoCode | None, now: datetime) -> Money | None:
    if offer.stars is None:
        return None
    try:
        return shop.discount(offer, promo, now, stars=True).price
    except errors.PromoInvalid:  # a fixed discount in another currency: no Stars price
        return None


async def show_offer(ctx: Context, code: str) -> Reply:
    ctx.state.step = ""
    return Reply(await offer_screen(ctx, code), edit=True)


async def ask_promo(ctx: Context, code: str) -> Reply:
    offer = offer_for(ctx, code)
    ctx.state.step = "promo"
    ctx.state.data["promo_for"] = offer.code
    return Reply(
        screen(ctx.t("promo_prompt"), Button(ctx.t("btn_back"), action=f"o:{offer.code}")),
        edit=True,
    )


async def enter_promo(ctx: Context, text: str) -> Reply:
    """The student typed a promo code for the offer they were looking at."""
    t = ctx.t
    code = ctx.state.data.pop("promo_for", "")
    ctx.state.step = ""
    offer = offer_for(ctx, code)
    typed = text.strip().upper()[:32]
    try:
        quote = await shop.quote(ctx.uow, ctx.school, offer, typed, ctx.now)
    except errors.PromoInvalid:
        return Reply(await offer_screen(ctx, offer.code, t("promo_invalid", code=typed)))
    assert quote.promo is not None
    if not await shop.promo_has_uses(ctx.uow, quote.promo):
        return Reply(await offer_screen(ctx, offer.code, t("promo_exhausted", code=typed)))
    ctx.state.data.setdefault("promos", {})[offer.code] = quote.promo.code
    return Reply(await offer_screen(ctx, offer.code, t("promo_applied", code=quote.promo.code)))
