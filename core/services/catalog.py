"""What a student may see and buy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import errors
from core.models import User
from core.money import Money
from core.ports import UnitOfWork
from core.school import Offer, PromoCode, School
from core.services import access


def seats_key(offer_code: str) -> str:
    return f"seats:{offer_code}"


def promo_key(code: str) -> str:
    return f"promo:{code.upper()}"


async def visible_offers(uow: UnitOfWork, school: School, user: User, now: datetime) -> list[Offer]:
    """Public offers on sale, in file order. Renewal offers only for those who may buy them."""
    result = []
    for offer in school.offers.values():
        if not offer.public or not offer.on_sale(now):
            continue
        if offer.extends and not await access.holds_any(uow, user.id, offer.extends):
            continue
        result.append(offer)
    return result


async def seats_left(uow: UnitOfWork, offer: Offer) -> int | None:
    if offer.seats is None:
        return None
    return max(offer.seats - await uow.counters.used(seats_key(offer.code)), 0)


async def check_can_buy(
    uow: UnitOfWork, school: School, user: User, offer: Offer, now: datetime, unlocked: bool
) -> None:
    """Raise the reason this student cannot buy ``offer`` now. ``unlocked``: the student
    reached a hidden offer through its deep link."""
    if not offer.public and not unlocked:
        raise errors.OfferUnavailable(offer=offer.code)
    if not offer.on_sale(now):
        raise errors.OfferUnavailable(offer=offer.code)
    if offer.extends and not await access.holds_any(uow, user.id, offer.extends):
        raise errors.NotEligible(offer=offer.code)
    if offer.period is None and await access.owns_for_life(uow, user.id, offer.products):
        raise errors.AlreadyOwned(offer=offer.code)
    if await seats_left(uow, offer) == 0:
        raise errors.SoldOut(offer=offer.code)


@dataclass(frozen=True)
class Quote:
    offer: Offer
    list_price: Money
    price: Money
    promo: PromoCode | None = None


async def find_promo(uow: UnitOfWork, school: School, code: str) -> PromoCode | None:
    """The code a student typed: the school file's first, then one staff made in the chat
    and did not disable."""
    in_file = school.promo(code)
    if in_file is not None:
        return in_file
    wanted = code.strip().upper()
    for made in await uow.promo_codes.all():
        if made.code == wanted and made.disabled_at is None:
            return made.promo()
    return None


async def any_promo(uow: UnitOfWork, school: School) -> bool:
    """Is there any code a student could type (the offer card then asks for one)?"""
    return bool(school.promo_codes) or any(
        made.disabled_at is None for made in await uow.promo_codes.all())


async def quote(
    uow: UnitOfWork, school: School, offer: Offer, promo_code: str | None, now: datetime,
    stars: bool = False,
) -> Quote:
    """The price of ``offer`` (in Telegram Stars with ``stars``) with ``promo_code``; raises
    PromoInvalid for a code that does not exist, has run out of time or does not apply, and
    OfferUnavailable for a Stars price the offer does not have. Usage limits are checked when
    ordering."""
    promo = await find_promo(uow, school, promo_code) if promo_code else None
    if promo_code and promo is None:
        raise errors.PromoInvalid(code=promo_code)
    try:
        return discount(offer, promo, now, stars)
    except errors.PromoInvalid:
        raise errors.PromoInvalid(code=promo_code) from None  # as the student typed it


def discount(offer: Offer, promo: PromoCode | None, now: datetime, stars: bool = False) -> Quote:
    """``quote`` with the code already found."""
    base = offer.price_in(stars)
    if base is None:
        raise errors.OfferUnavailable(offer=offer.code)
    if promo is None:
        return Quote(offer, base, base)
    if not promo.applies_to(offer.code):
        raise errors.PromoInvalid(code=promo.code)
    if promo.valid_until is not None and now >= promo.valid_until:
        raise errors.PromoInvalid(code=promo.code)
    if promo.amount is not None and promo.amount.currency != base.currency:
        raise errors.PromoInvalid(code=promo.code)
    return Quote(offer, base, promo.discounted(base), promo)


async def promo_has_uses(uow: UnitOfWork, promo: PromoCode) -> bool:
    if promo.max_uses is None:
        return True
    return await uow.counters.used(promo_key(promo.code)) < promo.max_uses
