"""Commands for the school's staff. To anyone else they look like unknown commands."""

from __future__ import annotations

from core.models import OrderStatus, PaymentStatus
from core.money import Money
from core.services import payments
from flows import start
from flows.engine import Context, Reply, Stale, parse_id
from flows.ui import Screen, screen

STARS_GATEWAY = "telegram"


def is_admin(ctx: Context) -> bool:
    return ctx.school.is_admin(ctx.incoming.peer.messenger, ctx.incoming.sender.external_id)


async def refund(ctx: Context, arg: str) -> Reply:
    """``/refund ORDER``: give a Telegram Stars payment back and withdraw the access it gave."""
    if not is_admin(ctx):
        return await start.unknown_text(ctx, arg)
    t = ctx.t
    try:
        order_id = parse_id(arg.strip().lstrip("#"))
    except Stale:
        return Reply(screen(t("admin_refund_usage")))
    order = await ctx.uow.orders.get(order_id)
    if order is None:
        return Reply(screen(t("admin_no_order", id=order_id)))
    if order.status is not OrderStatus.PAID:
        return Reply(screen(t("admin_refund_not_paid", id=order.id, status=order.status.value)))
    paid = [
        p for p in await ctx.uow.payments.for_order(order.id)
        if p.status is PaymentStatus.SUCCEEDED and p.gateway == STARS_GATEWAY
        and p.currency == "XTR"
    ]
    if not paid or ctx.refunds is None or ctx.uow_factory is None:
        return Reply(screen(t("admin_refund_unsupported", id=order.id)))
    payment, give_back, uow_factory, now = paid[0], ctx.refunds, ctx.uow_factory, ctx.now

    async def after() -> Screen:
        await payments.refund_through(uow_factory, give_back, payment, now)
        amount = Money(payment.amount, payment.currency).format(t.language)
        return screen(t("admin_refunded", id=order.id, amount=amount))

    return Reply(None, after=after)
