"""Payments made inside the chat (Telegram): the check before the charge and the charge."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core import errors
from core.money import Money
from core.services import payments, star_subscriptions
from core.services.payments import Outcome, PaymentNotice, Returned
from core.services.star_subscriptions import StarsPayment
from flows.engine import Context, Reply
from flows.texts import Texts

log = logging.getLogger(__name__)
GATEWAY = "telegram"  # Telegram's charge ids are unique across Stars and card payments


def _counted(ctx: Context, outcome: Outcome) -> Callable[[], Awaitable[None]]:
    """Counted once the payment's transaction committed (a turn may run more than once)."""

    async def count() -> None:
        if ctx.metrics is not None:
            ctx.metrics.payment(GATEWAY, outcome.value)

    return count


async def check(ctx: Context, _: str) -> Reply:
    """Yes only if the order can still be paid at this price; no with the reason otherwise
    (the engine turns a raised DomainError into the refusal)."""
    payment = ctx.incoming.payment
    assert payment is not None
    await payments.check_payable(ctx.uow, ctx.school, payment.payload, payment.amount,
                                 payment.currency, ctx.now, ctx.user.id)
    return Reply(None)


async def received(ctx: Context, _: str) -> Reply:
    """Money arrived: confirm it through the core's one payment path, keyed on the charge id,
    so a repeated update grants nothing twice; a payment of a Stars subscription (the first,
    or one Telegram renewed) extends the subscription's purchase. The confirmation goes out
    through the outbox."""
    payment = ctx.incoming.payment
    assert payment is not None
    notice = PaymentNotice(
        gateway=GATEWAY,
        gateway_payment_id=payment.charge_id,
        order_token=payment.payload,
        amount=payment.amount,
        currency=payment.currency,
        details={
            "payer": ctx.incoming.sender.external_id,
            "provider_charge_id": payment.provider_charge_id,
        },
    )
    try:
        if payment.recurring:
            result = await star_subscriptions.record(ctx.uow, ctx.school, StarsPayment(
                GATEWAY, payment.charge_id, payment.payload, payment.amount,
                ctx.incoming.sender.external_id, payment.paid_until, payment.first_recurring,
                {"provider_charge_id": payment.provider_charge_id}), ctx.now)
        else:
            result = await payments.confirm(ctx.uow, ctx.school, notice, ctx.now)
    except errors.NotFound:
        log.error("payment %s for unknown order %r from %s: refund it by hand",
                  payment.charge_id, payment.payload, ctx.incoming.sender.external_id)
        raise
    log.info("in-chat payment %s: %s", payment.charge_id, result.outcome)
    ctx.queued = result.outcome is not Outcome.DUPLICATE
    return Reply(None, after=_counted(ctx, result.outcome))


async def refunded(ctx: Context, _: str) -> Reply:
    """The messenger gave a payment back (a refund made in Telegram, or the school's own
    whose recording a crash lost): recorded through the core's refund path, once. The
    student hears of the withdrawn access through the outbox; the admins are told here. A
    charge that matches no payment changes nothing and is flagged to them."""
    payment = ctx.incoming.payment
    assert payment is not None
    result = await payments.returned_by_gateway(ctx.uow, GATEWAY, payment.charge_id, ctx.now)
    log.info("refunded payment %s: %s", payment.charge_id, result.outcome)
    if result.outcome is Returned.DUPLICATE:
        return Reply(None)
    ctx.queued = result.outcome is Returned.WITHDRAWN
    t = Texts(ctx.school, ctx.school.default_language)
    sender = ctx.incoming.sender
    amount = Money(payment.amount, payment.currency).format(t.language)
    params = {"amount": amount, "charge": payment.charge_id, "name": sender.name or "?",
              "id": sender.external_id}
    if result.order is None or result.outcome is Returned.UNKNOWN:
        alert = t("alert_refund_unknown", payload=payment.payload, **params)
    else:
        alert = t(f"alert_refund_{result.outcome.value}", order=result.order.id, **params)
    return Reply(None, alert=alert)
