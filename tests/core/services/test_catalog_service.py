"""What a student may see and buy, and at what price."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from factories import START

from core import errors
from core.money import Money
from core.school import PromoCode
from core.services import access, catalog


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


async def visible(shop, user) -> list[str]:
    async with shop.uow_factory() as uow:
        offers = await catalog.visible_offers(uow, shop.school, user, shop.clock.now())
    return [offer.code for offer in offers]


async def reason_not_to_buy(shop, user, offer_code: str, unlocked: bool = False):
    """The error check_can_buy raises, or None."""
    async with shop.uow_factory() as uow:
        try:
            await catalog.check_can_buy(
                uow, shop.school, user, shop.school.offer(offer_code), shop.clock.now(), unlocked
            )
        except errors.DomainError as exc:
            return exc
    return None


# --- visible_offers ----------------------------------------------------------------------------


async def test_new_student_sees_public_offers_on_sale_in_file_order(shop):
    anna = await shop.student()
    assert await visible(shop, anna) == ["python-life", "python-30", "club-month", "drawing-seats"]


async def test_hidden_offer_is_never_listed_even_to_its_buyer(shop):
    anna = await shop.student()
    await shop.buy(anna, "secret")
    assert "secret" not in await visible(shop, anna)


async def test_offer_appears_when_its_sale_starts(shop, clock):
    anna = await shop.student()
    clock.advance(timedelta(days=60) - timedelta(seconds=1))
    assert "later" not in await visible(shop, anna)

    clock.advance(timedelta(seconds=1))
    assert "later" in await visible(shop, anna)


async def test_offer_disappears_when_its_sale_ends(shop, clock):
    offer = replace(shop.school.offers["python-life"], sale_ends=START + timedelta(days=7))
    shop.school = replace(shop.school, offers={**shop.school.offers, offer.code: offer})
    anna = await shop.student()
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert "python-life" in await visible(shop, anna)

    clock.advance(timedelta(seconds=1))
    assert "python-life" not in await visible(shop, anna)


async def test_renewal_offer_is_listed_for_a_holder(shop):
    anna = await shop.student()
    await shop.buy(anna, "club-month")
    assert "club-extend" in await visible(shop, anna)


async def test_renewal_offer_is_listed_for_a_former_holder(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "club-month")
    clock.set(purchase.ends_at)
    async with shop.uow_factory() as uow:
        assert await access.expire(uow, purchase, clock.now())
        await uow.commit()

    assert "club-extend" in await visible(shop, anna)


async def test_renewal_offer_is_not_listed_after_a_revoke(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "club-month")
    async with shop.uow_factory() as uow:
        assert await access.revoke(uow, purchase.id, clock.now(), "refunded")
        await uow.commit()

    assert "club-extend" not in await visible(shop, anna)


async def test_renewal_offer_is_listed_for_holder_of_a_bundle_with_the_product(shop):
    anna = await shop.student()
    await shop.buy(anna, "python-30")  # python-course + club
    assert "club-extend" in await visible(shop, anna)


# --- check_can_buy -----------------------------------------------------------------------------


async def test_anyone_can_buy_a_public_offer_on_sale(shop):
    anna = await shop.student()
    assert await reason_not_to_buy(shop, anna, "python-life") is None


async def test_hidden_offer_is_unavailable_without_its_link(shop):
    anna = await shop.student()
    reason = await reason_not_to_buy(shop, anna, "secret")
    assert isinstance(reason, errors.OfferUnavailable) and reason.code == "offer_unavailable"


async def test_hidden_offer_can_be_bought_through_its_link(shop):
    anna = await shop.student()
    assert await reason_not_to_buy(shop, anna, "secret", unlocked=True) is None


async def test_offer_before_its_sale_is_unavailable_even_through_its_link(shop):
    anna = await shop.student()
    reason = await reason_not_to_buy(shop, anna, "later", unlocked=True)
    assert type(reason) is errors.OfferUnavailable


async def test_renewal_without_holding_the_product_is_not_eligible(shop):
    anna = await shop.student()
    reason = await reason_not_to_buy(shop, anna, "club-extend")
    assert isinstance(reason, errors.NotEligible) and reason.params == {"offer": "club-extend"}


async def test_owned_lifetime_offer_is_already_owned(shop):
    anna = await shop.student()
    await shop.buy(anna, "python-life")
    reason = await reason_not_to_buy(shop, anna, "python-life")
    assert isinstance(reason, errors.AlreadyOwned)


async def test_period_offer_can_be_bought_again_while_running(shop):
    anna = await shop.student()
    await shop.buy(anna, "python-30")
    assert await reason_not_to_buy(shop, anna, "python-30") is None


async def test_offer_with_no_seats_left_is_sold_out(shop):
    for _ in range(2):
        await shop.order(await shop.student(), "drawing-seats")
    late = await shop.student()

    reason = await reason_not_to_buy(shop, late, "drawing-seats")

    assert isinstance(reason, errors.SoldOut) and reason.code == "sold_out"


async def test_seats_left_counts_held_seats(shop):
    async with shop.uow_factory() as uow:
        assert await catalog.seats_left(uow, shop.school.offers["drawing-seats"]) == 2
        assert await catalog.seats_left(uow, shop.school.offers["python-life"]) is None
    await shop.order(await shop.student(), "drawing-seats")
    async with shop.uow_factory() as uow:
        assert await catalog.seats_left(uow, shop.school.offers["drawing-seats"]) == 1


# --- quote -------------------------------------------------------------------------------------


async def quote(uow_factory, school, offer_code: str, promo: str | None, now=START):
    async with uow_factory() as uow:
        return await catalog.quote(uow, school, school.offer(offer_code), promo, now)


@pytest.mark.parametrize("promo", [None, ""])
async def test_quote_without_code_is_the_list_price(uow_factory, school, promo):
    price = await quote(uow_factory, school, "python-30", promo)
    assert (price.list_price, price.price, price.promo) == (eur(1990), eur(1990), None)


async def test_quote_with_percent_code(uow_factory, school):
    price = await quote(uow_factory, school, "python-30", "TEN")
    assert (price.list_price, price.price) == (eur(1990), eur(1791))
    assert price.promo is school.promo_codes["TEN"]


async def test_quote_code_is_case_and_space_insensitive(uow_factory, school):
    assert (await quote(uow_factory, school, "python-life", "  ten ")).price == eur(4410)


async def test_quote_with_fixed_code_larger_than_price_is_the_minimum(uow_factory, school):
    assert (await quote(uow_factory, school, "python-life", "MINUS100")).price == eur(100)


async def test_quote_with_hundred_percent_code_is_free(uow_factory, school):
    assert (await quote(uow_factory, school, "python-life", "FREE")).price == eur(0)


async def test_quote_with_code_for_this_offer(uow_factory, school):
    assert (await quote(uow_factory, school, "python-life", "PYONLY")).price == eur(3920)


@pytest.mark.parametrize(
    ("offer_code", "promo"),
    [("python-life", "NOPE"), ("python-30", "PYONLY"), ("python-life", "OLD")],
    ids=["unknown", "other-offer", "expired"],
)
async def test_quote_rejects_code(uow_factory, school, offer_code, promo):
    with pytest.raises(errors.PromoInvalid) as caught:
        await quote(uow_factory, school, offer_code, promo)
    assert caught.value.params == {"code": promo}


async def test_code_stops_working_at_its_valid_until(uow_factory, school):
    promo = PromoCode("SPRING", percent=10, valid_until=START + timedelta(days=1))
    school = replace(school, promo_codes={**school.promo_codes, "SPRING": promo})
    day = START + timedelta(hours=23)
    assert (await quote(uow_factory, school, "python-life", "SPRING", day)).price == eur(4410)
    with pytest.raises(errors.PromoInvalid):
        await quote(uow_factory, school, "python-life", "SPRING", START + timedelta(days=1))


async def test_fixed_code_in_another_currency_is_invalid(uow_factory, school):
    promo = PromoCode("USD5", amount=Money(500, "USD"))
    school = replace(school, promo_codes={**school.promo_codes, "USD5": promo})
    with pytest.raises(errors.PromoInvalid):
        await quote(uow_factory, school, "python-life", "USD5")


async def test_promo_has_uses_until_the_limit_is_reached(shop):
    free = shop.school.promo_codes["FREE"]
    async with shop.uow_factory() as uow:
        assert await catalog.promo_has_uses(uow, free)
    await shop.order(await shop.student(), "python-life", "FREE")
    async with shop.uow_factory() as uow:
        assert not await catalog.promo_has_uses(uow, free)
        assert await catalog.promo_has_uses(uow, shop.school.promo_codes["TEN"])
