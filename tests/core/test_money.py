"""Money: exact parsing of prices from the school file, per-currency limits, display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money, currency_rule


@pytest.mark.parametrize(
    ("value", "amount"),
    [("49.90", 4990), (49, 4900), (19.99, 1999), (0.07, 7), ("1e2", 10000), (" 5 ", 500)],
)
def test_from_major_is_exact(value, amount):
    assert Money.from_major(value, "EUR") == Money(amount, "EUR")


def test_from_major_accepts_trailing_zeros_beyond_the_exponent():
    assert Money.from_major("49.900", "EUR") == Money(4990, "EUR")


@pytest.mark.parametrize("value", ["49.999", "0.001", 0.1 + 0.2, "1E-3"])
def test_from_major_rejects_three_decimals_for_eur(value):
    with pytest.raises(ValueError, match="more than 2 digits after the point"):
        Money.from_major(value, "EUR")


def test_stars_have_no_decimals():
    assert Money.from_major(100, "XTR") == Money(100, "XTR")
    assert Money(100, "XTR").major == Decimal(100)


def test_stars_reject_a_fraction():
    with pytest.raises(ValueError, match="more than 0 digits after the point"):
        Money.from_major("1.5", "XTR")


@pytest.mark.parametrize("value", ["abc", "", None, "NaN", "Infinity", "-Infinity", "1,5", True])
def test_from_major_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="is not a number"):
        Money.from_major(value, "EUR")


def test_unsupported_currency_names_the_supported_ones():
    with pytest.raises(ValueError, match=r"unsupported currency 'JPY' \(supported: .*EUR.*XTR"):
        Money.from_major(5, "JPY")


def test_major_is_a_decimal_in_major_units():
    assert Money(4990, "EUR").major == Decimal("49.90")


def test_price_below_minimum_says_so():
    assert Money(50, "EUR").limits_problem() == "0.50 EUR is below the minimum of 1"


def test_price_above_maximum_says_so():
    assert Money(200001, "EUR").limits_problem() == "2000.01 EUR is above the maximum of 2000"


@pytest.mark.parametrize(
    "money", [Money(100, "EUR"), Money(200000, "EUR"), Money(1, "XTR"), Money(10000, "XTR")]
)
def test_limits_are_inclusive(money):
    assert money.limits_problem() is None


@pytest.mark.parametrize(
    ("money", "problem"),
    [
        (Money(0, "XTR"), "0 XTR is below the minimum of 1"),
        (Money(10001, "XTR"), "10001 XTR is above the maximum of 10000"),
        (Money(-500, "EUR"), "-5 EUR is below the minimum of 1"),
    ],
)
def test_limits_of_other_prices(money, problem):
    assert money.limits_problem() == problem


def test_minimum_is_one_major_unit_in_minor_units():
    assert Money(4990, "EUR").minimum() == Money(100, "EUR")
    assert Money(500, "XTR").minimum() == Money(1, "XTR")


@pytest.mark.parametrize(
    ("money", "language", "text"),
    [
        (Money(4900, "EUR"), "en", "49 EUR"),
        (Money(4990, "EUR"), "en", "49.90 EUR"),
        (Money(4990, "EUR"), "ru", "49,90 EUR"),
        (Money(5, "EUR"), "en", "0.05 EUR"),
        (Money(250, "XTR"), "en", "250 ⭐"),
    ],
)
def test_format(money, language, text):
    assert money.format(language) == text


@pytest.mark.parametrize("language", ["en", "ru", "fr"])
def test_stars_are_shown_as_stars_not_as_their_code(language):
    assert Money(300, "XTR").format(language) == "300 ⭐"


def test_a_school_file_problem_names_the_code_the_file_uses():
    assert Money(0, "XTR").limits_problem() == "0 XTR is below the minimum of 1"


def test_str_is_the_english_format():
    assert str(Money(1990, "EUR")) == "19.90 EUR"


NEW_CURRENCIES = ["AUD", "CAD", "HKD", "ILS", "MXN", "NZD", "PHP", "SGD", "THB", "HUF", "BGN",
                  "RON", "UAH", "KZT", "BYN"]


@pytest.mark.parametrize("currency", NEW_CURRENCIES)
def test_more_currencies_are_priced_in_cents_between_their_limits(currency):
    rule = currency_rule(currency)
    assert Money.from_major("19.99", currency) == Money(1999, currency)
    assert Money.from_major(rule.minimum, currency).limits_problem() is None
    assert Money.from_major(rule.maximum, currency).limits_problem() is None
    assert Money(rule.minimum * 100 - 1, currency).limits_problem().endswith(
        f"is below the minimum of {rule.minimum}")
    assert Money(rule.maximum * 100 + 1, currency).limits_problem().endswith(
        f"is above the maximum of {rule.maximum}")


@pytest.mark.parametrize(
    ("money", "problem"),
    [
        (Money(300, "HKD"), "3 HKD is below the minimum of 4"),
        (Money(17400, "HUF"), "174 HUF is below the minimum of 175"),
        (Money(24999, "KZT"), "249.99 KZT is below the minimum of 250"),
        (Money(100000001, "KZT"), "1000000.01 KZT is above the maximum of 1000000"),
        (Money(300001, "AUD"), "3000.01 AUD is above the maximum of 3000"),
    ],
)
def test_where_one_unit_is_worth_little_the_minimum_is_higher(money, problem):
    assert money.limits_problem() == problem


def test_the_ruble_of_belarus_and_the_hryvnia_are_shown_with_their_codes():
    assert Money(4990, "BYN").format("ru") == "49,90 BYN"
    assert Money(150000, "UAH").format("en") == "1500 UAH"
