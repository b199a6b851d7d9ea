"""The staff's refunds: ``/refund ORDER [AMOUNT]`` gives money back through the gateway that
took it (all of it, withdrawing the access, or a part, keeping it), ``/refunds`` lists the
money that granted nothing and is still to return. To anyone else they do not exist."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.models import Order, Payment, PaymentStatus
from core.money import Money
from core.ports import Refunder, UnitOfWorkFactory
from core.services import manual_payments, payments
from core.staff import AuditResult, Right
from flows.engine import Context, Reply, StaffActor, Stale, parse_id
from flows.staff import audit_later, staff_only
from flows.texts import Texts
from flows.ui import Screen, screen

log = logging.getLogger(__name__)
REFUNDS_SHOWN = 30


@dataclass(frozen=True)
class Share:
    """What goes back of one payment: ``part`` of it (None: all that is left), by ``give``."""

    payment: Payment
    part: int | None
    give: payments.GiveBack

    @property
    def amount(self) -> int:
        return self.payment.refundable_amount if self.part is None else self.part


@staff_only(Right.REFUND, "/refund")
async def refund(ctx: Context, arg: str) -> Reply:
    """``/refund ORDER``: give back every payment of the order through the gateway that took
    it, and withdraw the access it gave (a payment that granted nothing is simply returned).
    ``/refund ORDER AMOUNT``: give back only that much of it, and the access stays. Only when
    every such payment's gateway can give it back from here (Telegram: Stars, in full).
    Anything refused is said, and changes nothing."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    words = arg.split()
    usage = Reply(screen(t("admin_refund_usage")))
    actor.nothing("usage shown")
    if len(words) not in (1, 2):
        return usage
    try:
        order_id = parse_id(words[0].lstrip("#"))
    except Stale:
        return usage
    order = await ctx.uow.orders.get(order_id)
    if order is None:
        actor.nothing(f"no order #{order_id}")
        return Reply(screen(t("admin_no_order", id=order_id)))
    actor.user_id = order.user_id
    taken = [p for p in await ctx.uow.payments.for_order(order.id)
             if p.status is PaymentStatus.SUCCEEDED]
    granted_nothing = any(p.refund_reason for p in taken)
    if granted_nothing:  # return only what granted nothing; the access stays
        taken = [p for p in taken if p.refund_reason]
    if not taken:
        actor.nothing(f"order #{order.id} has no payment to give back ({order.status.value})")
        return Reply(screen(t("admin_refund_not_paid", id=order.id, status=order.status.value)))
    if len(words) == 2:
        parts = _parts(t, order, taken, words[1])
        if isinstance(parts, str):
            actor.nothing(f"order #{order.id}: {parts}")
            return Reply(screen(parts))
    else:
        parts = [(p, None) for p in taken]
    shares = [Share(p, part, give) for p, part in parts
              if (give := _giver(ctx, p, part)) is not None]
    if len(shares) < len(parts) or ctx.uow_factory is None:
        whole_only = len(words) == 2 and all(_giver(ctx, p, None) for p, _ in parts)
        actor.nothing(f"order #{order.id}: its gateway cannot refund "
                      f"{'a part' if whole_only else 'from here'}")
        return Reply(screen(t("admin_refund_whole_only" if whole_only
                              else "admin_refund_unsupported", id=order.id)))
    if len(words) == 1 and not granted_nothing and not await payments.refundable(ctx.uow,
                                                                                order):
        actor.nothing(f"order #{order.id}: tangled with later purchases")
        return Reply(screen(t("admin_refund_tangled", id=order.id)))
    key = "admin_refunded_part" if len(words) == 2 else \
        "admin_refunded_extra" if granted_nothing else "admin_refunded"
    uow_factory, now = ctx.uow_factory, ctx.now
    asked = _amounts(shares, "en") if len(words) == 1 \
        else f"{words[1]} {order.currency}"
    actor.did(f"order #{order.id}: refund of {asked} asked of "
              f"{', '.join(sorted({s.payment.gateway for s in shares}))}")

    async def after() -> Screen:
        return await _give_back(t, uow_factory, now, actor, order, shares, key)

    return Reply(None, after=after)


def _parts(t: Texts, order: Order, taken: list[Payment], word: str
           ) -> list[tuple[Payment, int]] | str:
    """``word`` of the order's money, taken from its payments in turn (each up to what is
    left of it); or why not, to say."""
    try:
        amount = Money.from_major(word.replace(",", "."), order.currency)
    except ValueError:
        amount = None
    if amount is None or amount.amount <= 0:
        return t("admin_paid_bad_amount", amount=word, currency=order.currency)
    taken = [p for p in taken if p.currency == order.currency]
    left = Money(sum(p.refundable_amount for p in taken), order.currency)
    if amount.amount > left.amount:
        return t("admin_refund_too_much", id=order.id, amount=amount.format(t.language),
                 left=left.format(t.language))
    parts, wanted = [], amount.amount
    for payment in taken:
        part = min(wanted, payment.refundable_amount)
        if part > 0:
            parts.append((payment, part))
            wanted -= part
    return parts


async def _give_back(t: Texts, uow_factory: UnitOfWorkFactory, now: datetime,
                     actor: StaffActor, order: Order, shares: Sequence[Share],
                     key: str) -> Screen:
    """After the turn's commit: each share through its gateway, then recorded; a gateway
    that refuses stops there, and the admin is told what went back before."""
    done: list[Share] = []
    for share in shares:
        payment = share.payment
        try:
            await payments.refund_through(uow_factory, share.give, payment, now, share.part)
        except Exception as exc:  # the gateway refused or did not answer: nothing recorded
            log.exception("%s: refund of %s/%s failed", actor.account, payment.gateway,
                          payment.gateway_payment_id)
            await audit_later(uow_factory, now, actor, "/refund", f"#{order.id}",
                              f"{payment.gateway}/{payment.gateway_payment_id} refused: "
                              f"{type(exc).__name__}; given back before: "
                              f"{_amounts(done, 'en') if done else 'nothing'}",
                              AuditResult.FAILED)
            lines = [t("admin_refund_failed", id=order.id, gateway=payment.gateway,
                       error=" ".join(str(exc).split())[:200] or type(exc).__name__)]
            if done:
                lines.append(t("admin_refund_failed_after", amount=_amounts(done, t.language)))
            return screen("\n".join(lines))
        done.append(share)
    withdrawn = key == "admin_refunded"
    await audit_later(uow_factory, now, actor, "/refund", f"#{order.id}",
                      f"refunded {_amounts(done, 'en')}"
                      f"{', access withdrawn' if withdrawn else ', access kept'}")
    log.info("%s refunded order %s: %s", actor.account, order.id, ", ".join(
        f"{s.payment.gateway}/{s.payment.gateway_payment_id} {s.amount}" for s in done))
    text = t(key, id=order.id, amount=_amounts(done, t.language))
    by_hand = [s for s in done if s.payment.gateway == manual_payments.GATEWAY]
    if by_hand:
        text += "\n" + t("admin_refund_by_hand", amount=_amounts(by_hand, t.language))
    return screen(text)


def _giver(ctx: Context, payment: Payment, part: int | None) -> payments.GiveBack | None:
    """What gives ``part`` of ``payment`` (None: all of it) back: its gateway, if it refunds
    that from here; for money confirmed by hand (``/paid``) nothing to call: the admin
    returns it by hand, the bot records it."""
    if payment.gateway == manual_payments.GATEWAY:
        return _returned_by_hand
    gateway = ctx.gateways.get(payment.gateway)
    if isinstance(gateway, Refunder) and gateway.refundable(payment, part):
        return gateway.refund
    return None


async def _returned_by_hand(payment: Payment, amount: int | None) -> int | None:
    log.info("payment %s/%s is returned by hand (%s)", payment.gateway,
             payment.gateway_payment_id, "all" if amount is None else amount)
    return None


def _amounts(shares: Sequence[Share], language: str) -> str:
    """``250 ⭐``; ``49 EUR + 250 ⭐`` for amounts in several currencies."""
    totals: dict[str, int] = {}
    for share in shares:
        currency = share.payment.currency
        totals[currency] = totals.get(currency, 0) + share.amount
    return " + ".join(Money(amount, currency).format(language)
                      for currency, amount in totals.items())


@staff_only(Right.REFUND, "/refunds")
async def refunds(ctx: Context, arg: str) -> Reply:
    """``/refunds``: payments that granted nothing and are not returned yet, oldest first,
    with what is left of each to return."""
    t = ctx.t
    due = await ctx.uow.payments.to_refund(REFUNDS_SHOWN + 1)
    if ctx.staff is not None:
        ctx.staff.nothing(f"listed {min(len(due), REFUNDS_SHOWN)} payments to give back")
    if not due:
        return Reply(screen(t("admin_refunds_none")))
    lines = [t("admin_refunds_title")]
    for payment in due[:REFUNDS_SHOWN]:
        order = await ctx.uow.orders.get(payment.order_id)
        student = await ctx.uow.users.get(order.user_id) if order else None
        lines.append(t(
            "admin_refunds_line", id=payment.order_id,
            student=f"{student.name or '?'} (#{student.id})" if student else "?",
            amount=Money(payment.refundable_amount, payment.currency).format(t.language),
            gateway=payment.gateway, reason=t(f"refund_reason_{payment.refund_reason}"),
            date=t.date(payment.created_at) if payment.created_at else "?"))
    if len(due) > REFUNDS_SHOWN:
        lines.append(t("admin_refunds_more", n=REFUNDS_SHOWN))
    return Reply(screen("\n".join(lines)))
