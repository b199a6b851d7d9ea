"""What a payment gateway's web routes ask of the platform (``core.ports.PaymentDesk``): the
order behind a checkout page, and the one payment path for what a webhook reports. The web
layer only carries requests to it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core import errors, notices
from core.money import Money
from core.ports import (
    CheckoutView,
    Clock,
    Notifier,
    PaymentNotice,
    PaymentReturned,
    UnitOfWork,
    UnitOfWorkFactory,
    UnknownOrder,
    WebRequest,
)
from core.school import School, pick
from core.services import payments, receipts

# Told of each notification's end: (gateway, outcome), "refused" for a forged one.
Outcomes = Callable[[str, str], None]
# What a gateway's refund report changed that the admins hear of.
REPORTED = frozenset({payments.Returned.PARTIAL, payments.Returned.WITHDRAWN,
                      payments.Returned.RECORDED, payments.Returned.TANGLED})

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
                outcome = await self._returned(uow, notification, now)
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

    async def _returned(self, uow: UnitOfWork, notification: PaymentReturned,
                        now: datetime) -> str:
        """Recorded once; the admins are told what it changed (a part given back keeps the
        access, the whole withdraws it, or is left to them when periods are tangled)."""
        result = await payments.returned_by_gateway(
            uow, notification.gateway, notification.gateway_payment_id, now,
            notification.refunded)
        payment, order = result.payment, result.order
        if result.outcome in REPORTED and payment is not None and order is not None:
            await payments.alert_admins(uow, self.school(), notices.RefundReported(
                order=order.id, gateway=payment.gateway, payment=payment.gateway_payment_id,
                outcome=result.outcome.value, returned=result.returned,
                refunded=payment.refunded_amount),
                f"refund_reported:{{admin}}:{payment.id}:{payment.refunded_amount}", now)
        return result.outcome.value

    def refused(self, gateway: str, reason: str, request: WebRequest) -> None:
        log.warning("refused a %s notification from %s: %s", gateway, request.remote, reason)
        self.outcomes(gateway, "refused")
