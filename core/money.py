"""Money as integer minor units plus an ISO currency; per-currency price limits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class CurrencyRule:
    exponent: int  # digits after the decimal point
    minimum: int  # in major units
    maximum: int  # in major units


# Limits follow the payment providers' own (Telegram Payments publishes the same table).
CURRENCIES: dict[str, CurrencyRule] = {
    "USD": CurrencyRule(2, 1, 2000),
    "EUR": CurrencyRule(2, 1, 2000),
    "GBP": CurrencyRule(2, 1, 2000),
    "CHF": CurrencyRule(2, 1, 2000),
    "PLN": CurrencyRule(2, 1, 8000),
    "RUB": CurrencyRule(2, 1, 200000),
    "CZK": CurrencyRule(2, 1, 46000),
    "SEK": CurrencyRule(2, 1, 18000),
    "NOK": CurrencyRule(2, 1, 17000),
    "DKK": CurrencyRule(2, 1, 13000),
    # Minimums near the card gateways' smallest charge (Stripe's, about 0.50 USD) where one
    # unit is worth less; maximums about 2000 USD, like the others.
    "AUD": CurrencyRule(2, 1, 3000),
    "CAD": CurrencyRule(2, 1, 2700),
    "NZD": CurrencyRule(2, 1, 3400),
    "SGD": CurrencyRule(2, 1, 2700),
    "HKD": CurrencyRule(2, 4, 15000),
    "ILS": CurrencyRule(2, 2, 7500),
    "MXN": CurrencyRule(2, 10, 40000),
    "PHP": CurrencyRule(2, 30, 110000),
    "THB": CurrencyRule(2, 10, 70000),
    "HUF": CurrencyRule(2, 175, 750000),
    "BGN": CurrencyRule(2, 1, 3600),
    "RON": CurrencyRule(2, 2, 9000),
    "UAH": CurrencyRule(2, 20, 80000),
    "KZT": CurrencyRule(2, 250, 1000000),
    "BYN": CurrencyRule(2, 2, 6500),
    "XTR": CurrencyRule(0, 1, 10000),  # Telegram Stars
}

# Shown after the amount instead of the code: nobody who pays in Telegram Stars knows "XTR".
SIGNS = {"XTR": "⭐"}


def currency_rule(currency: str) -> CurrencyRule:
    try:
        return CURRENCIES[currency]
    except KeyError:
        supported = ", ".join(sorted(CURRENCIES))
        raise ValueError(f"unsupported currency {currency!r} (supported: {supported})") from None


@dataclass(frozen=True, order=True)
class Money:
    amount: int  # minor units
    currency: str

    @classmethod
    def from_major(cls, value: object, currency: str) -> Money:
        """Parse ``49.90`` (str, int or float from YAML) exactly; reject sub-minor fractions."""
        rule = currency_rule(currency)
        try:
            major = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not major.is_finite():
            raise ValueError(f"{value!r} is not a number")
        minor = major.scaleb(rule.exponent)
        if minor != minor.to_integral_value():
            raise ValueError(
                f"{value} {currency} has more than {rule.exponent} digits after the point"
            )
        return cls(int(minor), currency)

    @property
    def major(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_rule(self.currency).exponent)

    def limits_problem(self) -> str | None:
        """Why this is not a valid price in its currency, or None."""
        rule = currency_rule(self.currency)
        if self.major < rule.minimum:
            return f"{self._number()} {self.currency} is below the minimum of {rule.minimum}"
        if self.major > rule.maximum:
            return f"{self._number()} {self.currency} is above the maximum of {rule.maximum}"
        return None

    def minimum(self) -> Money:
        rule = currency_rule(self.currency)
        return Money(rule.minimum * 10**rule.exponent, self.currency)

    def _number(self, language: str = "en") -> str:
        rule = currency_rule(self.currency)
        whole = self.amount % 10**rule.exponent == 0
        text = str(self.amount // 10**rule.exponent) if whole else f"{self.major:.{rule.exponent}f}"
        if language in ("ru", "fr", "uk", "de"):
            text = text.replace(".", ",")
        return text

    def format(self, language: str = "en") -> str:
        """As a student reads it: ``49.90 EUR``, ``300 ⭐``. (The school file's problems name
        the code the file uses: ``0 XTR is below the minimum``.)"""
        return f"{self._number(language)} {SIGNS.get(self.currency, self.currency)}"

    def __str__(self) -> str:
        return self.format()
