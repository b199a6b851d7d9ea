"""Commands for the school's staff. To anyone else they look like unknown commands."""

from __future__ import annotations

from core.models import PaymentStatus
from core.money import Money
from core.services import payments
from flows import start
from flows.engine import Context, Reply, Stale, parse_id
from flows.payments import GATEWAY
from flows.ui import Screen, screen


def is_admin(ctx: Context) -> bool:
    return ctx.school.is_admin(ctx.incoming.peer.messenger, ctx.incoming.sender.external_id)


async def refund(ctx: Context, arg: str) -> Reply:
    """``/refund ORDER``: give back every Telegram Stars payment of the order and withdraw
    the access it gave (a payment that granted nothing is simply returned)."""
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
    taken = [p for p in await ctx.uow.payments.for_order(order.id)
             if p.status is PaymentStatus.SUCCEEDED]
    stars = [p for p in taken if p.gateway == GATEWAY and p.currency == "XTR"]
    if not taken:
        return Reply(screen(t("admin_refund_not_paid", id=order.id, status=order.status.value)))
    if len(stars) < len(taken) or ctx.refunds is None or ctx.uow_factory is None:
        return Reply(screen(t("admin_refund_unsupported", id=order.id)))
    if not await payments.refundable(ctx.uow, order):
        return Reply(screen(t("admin_refund_tangled", id=order.id)))
    give_back, uow_factory, now = ctx.refunds, ctx.uow_factory, ctx.now

    async def after() -> Screen:
        for payment in stars:
            await payments.refund_through(uow_factory, give_back, payment, now)
        total = Money(sum(p.amount for p in stars), "XTR").format(t.language)
        return screen(t("admin_refunded", id=order.id, amount=total))

    return Reply(None, after=after)
