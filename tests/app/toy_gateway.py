"""A toy payment gateway added the way a real one is: this module (its settings, its factory
and the gateway) plus one registry line. Its provider notifies with JSON signed by HMAC."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import orjson
from pydantic import BaseModel, SecretStr

from core.models import Order
from core.ports import InvalidNotification, PaymentDesk, PaymentNotice, WebRequest, WebRoute
from payments.registry import GatewayContext
from payments.webhook import notification_route

NAME = "toy"


class ToyGatewaySettings(BaseModel):
    toy_pay_secret: SecretStr | None = None


def build(settings: ToyGatewaySettings, context: GatewayContext) -> ToyGateway | None:
    if settings.toy_pay_secret is None:
        return None
    return ToyGateway(settings.toy_pay_secret.get_secret_value().encode())


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


class ToyGateway:
    name = NAME
    in_chat = False  # paid on the provider's page
    label = "Toy Pay"

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def accepts(self, currency: str) -> bool:
        return currency in ("EUR", "USD")

    def checkout_url(self, order: Order) -> str:
        return f"https://pay.toy.example/{order.token}?amount={order.amount}&cur={order.currency}"

    def routes(self, desk: PaymentDesk) -> Sequence[WebRoute]:
        return [notification_route(NAME, self.read, desk)]

    async def read(self, request: WebRequest) -> PaymentNotice:
        body = request.body
        if not hmac.compare_digest(request.headers.get("X-Toy-Signature", ""),
                                   sign(self.secret, body)):
            raise InvalidNotification("bad signature")
        fields = orjson.loads(body)
        return PaymentNotice(NAME, fields["id"], fields["order"], int(fields["amount"]),
                             fields["currency"])
