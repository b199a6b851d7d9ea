"""Viber's settings and factory (the adapter is ``bots.viber``)."""

from __future__ import annotations

import logging

from pydantic import AnyHttpUrl, BaseModel, SecretStr

from bots.base import Messenger, MessengerContext

log = logging.getLogger("school")


class ViberSettings(BaseModel):
    viber_auth_token: SecretStr | None = None
    viber_api_url: AnyHttpUrl | None = None  # another Viber API server (tests)


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
