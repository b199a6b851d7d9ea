"""Telegram's payments as a gateway: paid in the chat, Stars given back through the Bot API,
a provider's card payment never (the provider refunds it)."""

from __future__ import annotations

import pytest

from core.models import Payment, PaymentStatus
from core.ports import Refunder
from payments.telegram import TelegramGateway


class FakeApi:
    def __init__(self) -> None:
        self.refunded: list[str] = []
        self.switched: list[tuple[str, str, bool]] = []

    async def refund(self, payment: Payment) -> None:
        self.refunded.append(payment.gateway_payment_id)

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        self.switched.append((user_id, charge_id, on))


def _payment(currency: str, **details) -> Payment:
    return Payment(order_id=1, gateway="telegram", gateway_payment_id=f"ch-{currency}",
                   amount=250, currency=currency, status=PaymentStatus.SUCCEEDED,
                   details=details)


def test_it_is_paid_in_the_chat_with_no_page_of_its_own():
    gateway = TelegramGateway(FakeApi())
    assert gateway.in_chat and gateway.name == "telegram"
    assert gateway.checkout_url(None) is None
    assert tuple(gateway.routes(None)) == ()
    assert isinstance(gateway, Refunder)


async def test_stars_go_back_through_the_bot_api():
    api = FakeApi()
    gateway = TelegramGateway(api)
    stars = _payment("XTR", payer="511")
    assert gateway.refundable(stars)
    await gateway.refund(stars)
    assert api.refunded == ["ch-XTR"]


async def test_a_card_payment_through_a_provider_is_not_refunded_here():
    api = FakeApi()
    gateway = TelegramGateway(api)
    card = _payment("EUR", payer="511")
    assert not gateway.refundable(card)
    with pytest.raises(ValueError):
        await gateway.refund(card)
    assert api.refunded == []


async def test_a_stars_subscription_is_switched_through_the_bot_api():
    api = FakeApi()
    await TelegramGateway(api).set_star_subscription("511", "ch-1", False)
    assert api.switched == [("511", "ch-1", False)]
