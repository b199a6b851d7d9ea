"""Viber's settings and factory (the adapter is ``bots.viber``)."""

from __future__ import annotations

import logging
from decimal import Decimal

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr

from bots.base import Messenger, MessengerContext

log = logging.getLogger("school")

# Messages the platform starts, a second. Viber publishes no rate for send_message; its
# broadcast_message allows 50 calls a second: half of that is the safe ceiling here (a
# status 12, too many requests, pauses the sender anyway).
BULK_PER_SECOND = 25


class ViberSettings(BaseModel):
    viber_auth_token: SecretStr | None = None
    viber_api_url: AnyHttpUrl | None = None  # another Viber API server (tests)
    # What Viber charges for a message the bot starts outside a 24-hour session (the
    # student has not written for a day), in VIBER_PRICE_CURRENCY: broadcast estimates show
    # the cost. Unset: not shown.
    viber_message_price: Decimal | None = Field(None, ge=0, le=10)
    viber_price_currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")


def build(settings: ViberSettings, context: MessengerContext) -> Messenger | None:
    if not settings.viber_auth_token:
        return None
    from bots.viber.adapter import WEBHOOK_PATH, ViberMessenger

    if not context.public:
        log.warning("Viber delivers messages only to a webhook: set PUBLIC_URL (https)")
    return ViberMessenger(
        settings.viber_auth_token.get_secret_value(), sender_name=context.school_name,
        api_url=str(settings.viber_api_url) if settings.viber_api_url else None,
        webhook_url=f"{context.base_url}{WEBHOOK_PATH}" if context.public else None,
    )


def bulk_rate(settings: ViberSettings) -> float:
    return BULK_PER_SECOND


def message_price(settings: ViberSettings) -> tuple[Decimal, str] | None:
    """Per message outside a session, and its currency (None: not set)."""
    if settings.viber_message_price is None:
        return None
    return settings.viber_message_price, settings.viber_price_currency
