"""Telegram's payments: card invoices through a payment provider and Telegram Stars, including
Stars subscriptions, all paid inside the chat. The messenger shows the invoice and reports
the payment as an update (``flows.payments``); this gateway is what the platform asks of
Telegram afterwards: give a Stars payment back, stop or restart a Stars subscription. It
reaches Telegram through ``core.ports.InChatPaymentsApi``, which the Telegram adapter
implements."""

from __future__ import annotations

from collections.abc import Sequence

from core.models import Order, Payment
from core.ports import InChatPaymentsApi, PaymentDesk, WebRoute

NAME = "telegram"  # Telegram's charge ids are unique across Stars and card payments
STARS = "XTR"


class TelegramGateway:
    """A ``PaymentGateway`` paid in the chat and a ``Refunder`` of Stars payments (the Bot
    API gives back only Stars: a provider's card payment is refunded with the provider)."""

    name = NAME
    in_chat = True
    label = "Telegram"

    def __init__(self, api: InChatPaymentsApi) -> None:
        self.api = api

    def accepts(self, currency: str) -> bool:
        """Stars, and every other currency the platform prices in through the bot's payment
        provider (``core.money`` follows Telegram Payments' table). Which of them a chat
        takes is the messenger's to say (its capabilities' ``invoices``)."""
        return True

    def checkout_url(self, order: Order) -> str | None:
        return None  # the invoice is in the chat

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]:
        return ()  # payments arrive as the bot's updates, not as webhooks of their own

    def refundable(self, payment: Payment, amount: int | None = None) -> bool:
        """Stars only, and only in full (the Bot API has no partial refund)."""
        return amount is None and payment.currency == STARS \
            and bool(payment.details.get("payer"))

    async def refund(self, payment: Payment, amount: int | None = None) -> int | None:
        if not self.refundable(payment, amount):
            raise ValueError(f"payment {payment.gateway_payment_id} is not one in Stars, or "
                             "a part of one")
        await self.api.refund(payment)
        return None

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        """Stop (``on`` False) or restart Telegram's charging of a Stars subscription."""
        await self.api.set_star_subscription(user_id, charge_id, on)
