"""What a payment gateway provides to the web layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from core.models import Order
from core.services.payments import PaymentNotice


class InvalidNotification(Exception):
    """A webhook that is forged, tampered with or malformed: answer 4xx and change nothing."""


class PaymentGateway(Protocol):
    name: str

    def checkout_url(self, order: Order) -> str:
        """Where the student pays for ``order``."""
        ...

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        """Authenticate a webhook and translate it; raise InvalidNotification otherwise."""
        ...
