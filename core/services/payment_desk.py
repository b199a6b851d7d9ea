"""What a payment gateway's web routes ask of the platform (``core.ports.PaymentDesk``): the
order behind a checkout page, and the one payment path for what a webhook reports. The web
layer only carries requests to it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core import errors
from core.money import Money
from core.ports import (
    CheckoutView,
    Clock,
    Notifier,
    PaymentNotice,
    PaymentReturned,
    UnitOfWorkFactory,
    UnknownOrder,
    WebRequest,
)
from core.school import School, pick
from core.services import payments, receipts

# Told of each notification's end: (gateway, outcome), "refused" for a forged one.
Outcomes = Callable[[str, str], None]

log = logging.getLogger(__name__)


def _language(code: str | None) -> str:
    """``"ru-RU"`` -> ``"ru"``; empty stays empty."""
    return (code or "").split("-")[0].split("_")[0].lower()


class Desk:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 school: Callable[[], School], notifier: Notifier | None = None,
                 outcomes: Outcomes | None = None) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.school = school
        self.notifier = notifier
        self.outcomes = outcomes or (lambda _gateway, _outcome: None)

    @property
    def default_language(self) -> str:
        return self.school().default_language

    async def checkout(self, token: str) -> CheckoutView | None:
        async with self.uow_factory() as uow:
            order = await uow.orders.by_token(token)
            user = await uow.users.get(order.user_id) if order else None
        if order is None:
            return None
        school = self.school()
        language = (_language(user.language) if user else "") or school.default_language
        offer = school.offer(order.offer_code)
        title = pick(offer.title, language, school.default_language) if offer \
            else order.offer_code
        return CheckoutView(order, school.name, title,
                            Money(order.amount, order.currency).format(language), language,
                            receipts=school.receipts is not None,
                            receipt=receipts.receipt_for(
                                school, order, user.receipt_contact if user else None))

    async def settle(self, notification: PaymentNotice | PaymentReturned) -> str:
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if isinstance(notification, PaymentReturned):
                returned = await payments.returned_by_gateway(
                    uow, notification.gateway, notification.gateway_payment_id, now)
                outcome = returned.outcome.value
            else:
                try:
                    result = await payments.confirm(uow, self.school(), notification, now)
                except errors.NotFound:
                    raise UnknownOrder(notification.order_token) from None
                outcome = result.outcome.value
            await uow.commit()
        log.info("payment %s/%s: %s", notification.gateway, notification.gateway_payment_id,
                 outcome)
        self.outcomes(notification.gateway, outcome)
        if self.notifier is not None:
            self.notifier.wake()
        return outcome

    def refused(self, gateway: str, reason: str, request: WebRequest) -> None:
        log.warning("refused a %s notification from %s: %s", gateway, request.remote, reason)
        self.outcomes(gateway, "refused")
