"""Which currencies each gateway takes, so that a student is only ever offered a page that can
take the order: YooKassa the SDK's currencies, Stripe and the test gateway every currency the
platform prices in but Telegram Stars, Telegram all of them (its chat says which it takes)."""

from __future__ import annotations

from yookassa.domain.models.currency import Currency

from core.money import CURRENCIES
from flows.checkout_ways import CARD, CheckoutWays
from payments.stripe import StripeGateway
from payments.telegram import TelegramGateway
from payments.testgateway import TestGateway
from payments.yookassa import YooKassaGateway

SITE = "https://school.example"


def _codes(sdk_class) -> set[str]:
    return {value for name, value in vars(sdk_class).items()
            if name.isupper() and isinstance(value, str)}


def test_yookassa_takes_the_currencies_its_sdk_knows():
    gateway = YooKassaGateway("123", "secret", SITE)
    takes = {currency for currency in CURRENCIES if gateway.accepts(currency)}
    assert takes == _codes(Currency) & set(CURRENCIES)
    assert {"RUB", "EUR", "USD", "KZT", "BYN", "UAH"} <= takes
    assert not gateway.accepts("XTR") and not gateway.accepts("GBP")
    assert all(gateway.accepts(code) for code in _codes(Currency))  # CNY, UZS ... too


async def test_stripe_and_the_test_gateway_take_every_currency_but_stars(clock):
    stripe = StripeGateway("sk_test_x", "whsec_x", SITE, clock)
    test = TestGateway(b"k" * 32, SITE, clock)
    for gateway in (stripe, test):
        assert {c for c in CURRENCIES if not gateway.accepts(c)} == {"XTR"}, gateway.name
    await stripe.close()


async def test_the_checkout_ways_are_the_web_gateways_in_their_order_with_their_labels(clock):
    stripe = StripeGateway("sk_test_x", "whsec_x", SITE, clock)
    gateways = [TestGateway(b"k" * 32, SITE, clock), TelegramGateway(api=None), stripe,
                YooKassaGateway("123", "secret", SITE)]
    assert all(gateways[1].accepts(c) for c in CURRENCIES)  # the chat decides, not the gateway
    ways = CheckoutWays.of(gateways)
    assert [(w.gateway, w.label) for w in ways.ways] == [
        ("test", "test"), ("stripe", CARD), ("yookassa", "YooKassa")]
    assert [w.gateway for w in ways.taking("GBP")] == ["test", "stripe"]
    assert ways.taking("XTR") == ()
    await stripe.close()
