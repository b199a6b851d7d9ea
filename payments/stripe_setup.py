"""Stripe's settings and factory (the gateway is ``payments.stripe``)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, SecretStr, model_validator

from core.ports import PaymentGateway


class StripeSettings(BaseModel):
    stripe_secret_key: SecretStr | None = None  # sk_live_… / sk_test_… (or a restricted rk_…)
    stripe_webhook_secret: SecretStr | None = None  # whsec_… of the webhook endpoint
    stripe_api_url: AnyHttpUrl | None = None  # another Stripe API server (tests)
    stripe_timeout: float = 30.0  # seconds for one request to Stripe

    @model_validator(mode="after")
    def _stripe_complete(self) -> StripeSettings:
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else None
        if key is None:
            return self
        if not key.startswith(("sk_", "rk_")):
            raise ValueError("STRIPE_SECRET_KEY must be a secret key (sk_…) or a restricted "
                             "key (rk_…) from the Stripe dashboard, not a publishable key")
        webhook = self.stripe_webhook_secret
        if webhook is None or not webhook.get_secret_value().startswith("whsec_"):
            raise ValueError("STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET (whsec_…, the "
                             "signing secret of the webhook endpoint added in the dashboard)")
        if self.stripe_timeout <= 0:
            raise ValueError("STRIPE_TIMEOUT must be a positive number of seconds")
        return self


def build(settings: StripeSettings, context) -> PaymentGateway | None:
    if settings.stripe_secret_key is None or settings.stripe_webhook_secret is None:
        return None
    from payments.stripe import StripeGateway  # the stripe SDK: only for a school using it

    return StripeGateway(
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_webhook_secret.get_secret_value(),
        context.base_url, context.clock,
        api_url=str(settings.stripe_api_url).rstrip("/") if settings.stripe_api_url else None,
        timeout=settings.stripe_timeout,
    )
