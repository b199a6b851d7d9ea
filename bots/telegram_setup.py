"""Telegram's settings and factory (the adapter is ``bots.telegram``)."""

from __future__ import annotations

import re

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, field_validator

from bots.base import ApiErrors, Messenger, MessengerContext


class TelegramSettings(BaseModel):
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl | None = None  # a self-hosted Bot API server
    telegram_provider_token: SecretStr | None = None  # card payments in the chat
    telegram_webhook_secret: SecretStr | None = None  # required in webhook mode (PUBLIC_URL)
    # Messages the platform starts (broadcasts, lessons, reminders), overall: Telegram's free
    # limit is about 30; a bot with paid broadcasts allowed may go up to 1000.
    telegram_messages_per_second: int = Field(30, ge=1, le=1000)

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        # aiogram's own rule (TokenValidationError otherwise), checked before aiogram loads
        if value is not None and not re.fullmatch(r"[0-9]+:\S+", value.get_secret_value()):
            raise ValueError("not a bot token: it looks like 123456789:AAE... (digits, a colon, "
                             "then letters); copy it again from @BotFather")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}",
                                                  value.get_secret_value()):
            raise ValueError("16 to 256 of A-Z a-z 0-9 _ - (Telegram's rule for secret tokens)")
        return value


def check(settings: TelegramSettings, public: bool) -> None:
    if settings.telegram_bot_token and public and not settings.telegram_webhook_secret:
        raise ValueError("with PUBLIC_URL the Telegram bot runs on a webhook: set "
                         "TELEGRAM_WEBHOOK_SECRET so forged updates are refused")


def build(settings: TelegramSettings, context: MessengerContext) -> Messenger | None:
    if not settings.telegram_bot_token:
        return None
    # aiogram takes seconds to import: only a school with a Telegram bot pays for it.
    from bots.telegram.adapter import WEBHOOK_PATH, TelegramMessenger
    from bots.telegram.sender import TelegramSender

    secret = settings.telegram_webhook_secret
    provider = settings.telegram_provider_token
    api_url = settings.telegram_api_url
    return TelegramMessenger(
        settings.telegram_bot_token.get_secret_value(),
        api_url=str(api_url).rstrip("/") if api_url else None,
        provider_token=provider.get_secret_value() if provider else None,
        webhook_url=f"{context.base_url}{WEBHOOK_PATH}" if context.public else None,
        webhook_secret=secret.get_secret_value() if secret else None,
        default_language=context.default_language,
        sender=TelegramSender(per_second=settings.telegram_messages_per_second),
    )


def api_errors() -> ApiErrors:
    from aiogram.exceptions import (
        TelegramNetworkError,
        TelegramRetryAfter,
        TelegramServerError,
        TelegramUnauthorizedError,
    )

    return (TelegramNetworkError, TelegramServerError, TelegramRetryAfter), \
        (TelegramUnauthorizedError,)


def bulk_rate(settings: TelegramSettings) -> float:
    return settings.telegram_messages_per_second
