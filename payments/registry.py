"""Every payment gateway the platform can take money through: adding one is a module under
``payments/`` plus an entry here (its settings model and a factory)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from core.ports import Clock, InChatPaymentsApi, PaymentGateway
from payments import (
    stripe_setup,
    yookassa,  # its settings and factory; the SDK is loaded only when used
)


@dataclass(frozen=True)
class GatewayContext:
    """What a gateway's factory needs besides its own settings."""

    base_url: str  # where its pages are reached (the sandbox's sit under /sandbox)
    clock: Clock
    secret: bytes  # signs what the platform hands out and gets back (SECRET_KEY, or random)
    # The messengers running, by name: a gateway that takes money inside a chat works
    # through its messenger's payments API.
    messengers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayEntry:
    name: str
    settings: type[BaseModel]  # its fields are named as the environment variables
    build: Callable[[Any, GatewayContext], PaymentGateway | None]  # None: not configured


class TestGatewaySettings(BaseModel):
    __test__ = False  # not a pytest test class

    test_payments: bool = True  # the built-in test gateway: NEVER on for a live school


def build_test_gateway(settings: TestGatewaySettings,
                       context: GatewayContext) -> PaymentGateway | None:
    if not settings.test_payments:
        return None
    from payments.testgateway import TestGateway

    return TestGateway(context.secret, context.base_url, context.clock)


class TelegramPaymentsSettings(BaseModel):
    """Nothing of its own: Stars need no setup, and the provider token for cards in the chat
    (TELEGRAM_PROVIDER_TOKEN) is the Telegram messenger's, which sends the invoices."""


def build_telegram_gateway(_settings: TelegramPaymentsSettings,
                           context: GatewayContext) -> PaymentGateway | None:
    api: InChatPaymentsApi | None = context.messengers.get("telegram")
    if api is None or not callable(getattr(api, "refund", None)):
        return None
    from payments.telegram import TelegramGateway

    return TelegramGateway(api)


GATEWAYS: tuple[GatewayEntry, ...] = (
    GatewayEntry("test", TestGatewaySettings, build_test_gateway),
    GatewayEntry("telegram", TelegramPaymentsSettings, build_telegram_gateway),
    GatewayEntry("stripe", stripe_setup.StripeSettings, stripe_setup.build),
    GatewayEntry("yookassa", yookassa.YooKassaSettings, yookassa.build),
)
