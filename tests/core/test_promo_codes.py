"""PromoCode.discounted: what a code does to a price."""

from __future__ import annotations

import pytest

from core.money import Money
from core.school import PromoCode

EUR = "EUR"


def eur(minor: int) -> Money:
    return Money(minor, EUR)


def test_percent_takes_that_share_off():
    assert PromoCode("TEN", percent=10).discounted(eur(4900)) == eur(4410)


@pytest.mark.parametrize(
    ("percent", "price", "expected"),
    [
        (15, 4990, 4242),  # discount 748.5 -> 748: the school keeps the half cent
        (10, 1995, 1796),  # discount 199.5 -> 199
        (33, 1000, 670),  # discount 330 exactly
        (1, 199, 198),  # discount 1.99 -> 1
    ],
)
def test_percent_discount_is_rounded_down(percent, price, expected):
    assert PromoCode("X", percent=percent).discounted(eur(price)) == eur(expected)


def test_percent_never_goes_below_the_currency_minimum():
    assert PromoCode("X", percent=99).discounted(eur(4900)) == eur(100)


def test_fixed_amount_is_subtracted():
    assert PromoCode("FIVE", amount=eur(500)).discounted(eur(4900)) == eur(4400)


def test_fixed_amount_larger_than_the_price_is_clamped_to_the_minimum():
    assert PromoCode("MINUS100", amount=eur(10000)).discounted(eur(4900)) == eur(100)


def test_fixed_amount_equal_to_the_price_is_clamped_to_the_minimum_not_free():
    assert PromoCode("ALL", amount=eur(4900)).discounted(eur(4900)) == eur(100)


def test_hundred_percent_is_free():
    assert PromoCode("FREE", percent=100).discounted(eur(4900)) == eur(0)


def test_stars_keep_their_currency_and_minimum():
    assert PromoCode("HALF", percent=50).discounted(Money(15, "XTR")) == Money(8, "XTR")
    assert PromoCode("X", percent=99).discounted(Money(15, "XTR")) == Money(1, "XTR")


def test_code_without_offers_applies_to_every_offer():
    assert PromoCode("TEN", percent=10).applies_to("anything")


def test_code_with_offers_applies_only_to_them():
    code = PromoCode("PYONLY", percent=20, offers=("python-life",))
    assert code.applies_to("python-life")
    assert not code.applies_to("python-30")
