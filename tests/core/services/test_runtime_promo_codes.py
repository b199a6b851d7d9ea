"""Promo codes made at runtime: found after the school file's, checked when made, counted
like the file's so a limit is never passed, on every storage backend."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from factories import START

from core import errors
from core.money import Money
from core.promo_codes import PromoState
from core.school import PromoCode
from core.services import catalog, checkout, promo_codes, users
from core.services.promo_codes import PromoDraft, PromoRefused


async def _make(uow_factory, school, draft: PromoDraft, now=START):
    async with uow_factory() as uow:
        made = await promo_codes.create(uow, school, draft, "console:mgr", now)
        await uow.commit()
    return made


async def test_a_file_code_is_found_first_then_a_runtime_one(uow_factory, school):
    await _make(uow_factory, school, PromoDraft("SUMMER", percent=20))
    async with uow_factory() as uow:
        assert await catalog.find_promo(uow, school, " summer ") == PromoCode("SUMMER", 20)
        assert await catalog.find_promo(uow, school, "ten") is school.promo_codes["TEN"]
        assert await catalog.find_promo(uow, school, "NOPE") is None
        await promo_codes.disable(uow, school, "SUMMER", "console:mgr", START)
        assert await catalog.find_promo(uow, school, "SUMMER") is None


async def test_the_file_wins_when_it_takes_a_runtime_codes_name_later(uow_factory, school):
    await _make(uow_factory, school, PromoDraft("LATER", percent=20))
    school = dataclasses.replace(
        school, promo_codes={**school.promo_codes, "LATER": PromoCode("LATER", percent=5)})
    async with uow_factory() as uow:
        assert (await catalog.find_promo(uow, school, "LATER")).percent == 5
        listed = [line for line in await promo_codes.listing(uow, school, START)
                  if line.promo.code == "LATER"]
    assert [(line.promo.percent, line.made) for line in listed] == [(5, None)]


async def test_a_fixed_runtime_code_prices_like_a_file_one(uow_factory, school):
    await _make(uow_factory, school, PromoDraft("FIVE", amount=Money(500, "EUR"),
                                                offers=("python-life",)))
    async with uow_factory() as uow:
        quote = await catalog.quote(uow, school, school.offer("python-life"), "five", START)
        assert (quote.list_price, quote.price) == (Money(4900, "EUR"), Money(4400, "EUR"))
        with pytest.raises(errors.PromoInvalid) as caught:
            await catalog.quote(uow, school, school.offer("python-30"), "five", START)
        assert caught.value.params == {"code": "five"}


async def test_a_runtime_code_stops_at_its_end(uow_factory, school):
    await _make(uow_factory, school, PromoDraft("DAY", percent=10,
                                                valid_until=START + timedelta(hours=1)))
    offer = school.offer("python-life")
    async with uow_factory() as uow:
        assert (await catalog.quote(uow, school, offer, "DAY", START)).price.amount == 4410
        with pytest.raises(errors.PromoInvalid):
            await catalog.quote(uow, school, offer, "DAY", START + timedelta(hours=1))
        [line] = [x for x in await promo_codes.listing(uow, school, START + timedelta(hours=1))
                  if x.promo.code == "DAY"]
        assert line.state is PromoState.EXPIRED


@pytest.mark.parametrize(("draft", "reason"), [
    (PromoDraft("TEN", percent=5), "in_file"),
    (PromoDraft("X", percent=5), "bad_code"),
    (PromoDraft("NONE"), "no_discount"),
    (PromoDraft("BOTH", percent=5, amount=Money(100, "EUR")), "no_discount"),
    (PromoDraft("MUCH", percent=101), "bad_percent"),
    (PromoDraft("NEG", amount=Money(-100, "EUR")), "bad_amount"),
    (PromoDraft("WHAT", percent=5, offers=("nope",)), "unknown_offer"),
    (PromoDraft("USD", amount=Money(100, "USD")), "no_offer_in_currency"),
    (PromoDraft("LIM", percent=5, max_uses=0), "bad_limit"),
    (PromoDraft("PAST", percent=5, valid_until=START), "past"),
])
async def test_a_bad_draft_is_refused_and_nothing_is_stored(uow_factory, school, draft, reason):
    async with uow_factory() as uow:
        with pytest.raises(PromoRefused) as caught:
            await promo_codes.create(uow, school, draft, "console:mgr", START)
        await uow.commit()
        assert caught.value.reason == reason
        assert await uow.promo_codes.all() == []


async def test_a_runtime_codes_limit_is_never_passed_under_concurrency(
    db_uow_factory, school, clock
):
    now = clock.now()
    await _make(db_uow_factory, school, PromoDraft("THREE", percent=100, max_uses=3), now)
    students = []
    for i in range(30):
        async with db_uow_factory() as uow:
            user, _ = await users.resolve(uow, now, "console", str(i), "Student", "en")
            await uow.commit()
        students.append(user)

    async def order(user):
        async with db_uow_factory() as uow:
            try:
                placed = await checkout.place_order(uow, school, now, user, "python-life",
                                                    "three")
            except errors.PromoExhausted:
                return "exhausted"
            await uow.commit()
            return "completed" if placed.completed else "open"

    results = await asyncio.gather(*(order(user) for user in students))

    assert results.count("completed") == 3
    assert results.count("exhausted") == 27
    async with db_uow_factory() as uow:
        assert await uow.counters.used(catalog.promo_key("THREE")) == 3
        bought = [p for s in students for p in await uow.purchases.for_user(s.id)]
        assert len(bought) == 3


async def test_two_staff_making_the_same_code_at_once_make_it_once(db_uow_factory, school,
                                                                   clock):
    async def make(percent):
        try:
            await _make(db_uow_factory, school, PromoDraft("RACE", percent=percent),
                        clock.now())
        except PromoRefused as refused:
            return refused.reason
        return "made"

    results = await asyncio.gather(*(make(p) for p in range(10, 20)))

    assert sorted(results) == ["exists"] * 9 + ["made"]
    async with db_uow_factory() as uow:
        [made] = await uow.promo_codes.all()
        assert made.code == "RACE"


async def test_the_name_of_a_file_code_that_was_used_is_not_given_again(shop, school):
    await shop.order(await shop.student(), "python-life", "TEN")
    without_ten = dataclasses.replace(
        school, promo_codes={k: v for k, v in school.promo_codes.items() if k != "TEN"})

    async with shop.uow_factory() as uow:
        with pytest.raises(PromoRefused) as caught:
            await promo_codes.create(uow, without_ten, PromoDraft("TEN", percent=50),
                                     "console:mgr", START)
    assert (caught.value.reason, caught.value.params) == ("was_used", {"code": "TEN"})
