"""VK's settings and factory (the adapter is ``bots.vk``)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, SecretStr, model_validator

from bots.base import Messenger, MessengerContext

RPS = 20  # API calls a second a community token may make


class VkSettings(BaseModel):
    vk_group_token: SecretStr | None = None  # a VK community's access token (messages)
    vk_group_id: int | None = None
    vk_api_url: AnyHttpUrl | None = None  # another VK API server (tests)
    vk_callback_secret: SecretStr | None = None  # Callback API mode (with PUBLIC_URL)
    vk_confirmation_code: str | None = None  # the Callback API server's confirmation string

    @model_validator(mode="after")
    def _vk_complete(self) -> VkSettings:
        if self.vk_group_token and not self.vk_group_id:
            raise ValueError("VK_GROUP_TOKEN needs VK_GROUP_ID (the community's numeric id)")
        if self.vk_callback_secret and not self.vk_confirmation_code:
            raise ValueError("the VK Callback API needs VK_CONFIRMATION_CODE as well as "
                             "VK_CALLBACK_SECRET (both from the community's settings)")
        return self


def build(settings: VkSettings, context: MessengerContext) -> Messenger | None:
    if not (settings.vk_group_token and settings.vk_group_id):
        return None
    from bots.vk.adapter import VkMessenger  # vk_api: only for a school on VK

    secret = settings.vk_callback_secret
    return VkMessenger(
        settings.vk_group_token.get_secret_value(), settings.vk_group_id,
        api_url=str(settings.vk_api_url).rstrip("/") if settings.vk_api_url else None,
        callback_secret=secret.get_secret_value() if secret else None,
        confirmation_code=settings.vk_confirmation_code,
        webhook=context.public and secret is not None,
    )


def bulk_rate(settings: VkSettings) -> float:
    return RPS  # one call a message
