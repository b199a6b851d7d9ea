"""Commands for the school's staff. To anyone else they look like unknown commands."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.models import Payment, PaymentStatus
from core.money import CURRENCIES, Money
from core.ports import Refunder
from core.school import pick
from core.services import groups, manual_payments, payments
from core.services.payments import Outcome
from core.staff import AuditResult, Right
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import account_of, audit_later, staff_only
from flows.ui import Screen, screen

log = logging.getLogger(__name__)


def _sender(ctx: Context) -> str:
    return account_of(ctx)


@staff_only(Right.ORDERS, "/paid")
async def paid(ctx: Context, arg: str) -> Reply:
    """``/paid ORDER AMOUNT [CURRENCY] [note]``: the school took the money outside any gateway
    (a bank transfer, cash). Recorded through the one payment path with who confirmed it, so
    it grants what a gateway payment would; the admin is told what changed."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    words = arg.split()
    usage = Reply(screen(t("admin_paid_usage")))
    if len(words) < 2:
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
    rest = words[2:]
    currency = rest.pop(0).upper() if rest and rest[0].upper() in CURRENCIES else order.currency
    note = " ".join(rest)
    try:
        amount = Money.from_major(words[1].replace(",", "."), currency)
    except ValueError:
        amount = None
    if amount is None or amount.amount <= 0:
        return Reply(screen(t("admin_paid_bad_amount", amount=words[1], currency=currency)))
    if len(note) > manual_payments.MAX_NOTE:
        return Reply(screen(t("admin_paid_long_note", n=manual_payments.MAX_NOTE)))
    result = await manual_payments.confirm(ctx.uow, ctx.school, order.id, amount, note,
                                           _sender(ctx), ctx.now)
    ctx.queued = result.outcome is not Outcome.DUPLICATE
    shown = amount.format(t.language)
    actor.did(f"order #{order.id}: {shown} recorded by hand ({result.outcome.value})"
              f"{', note: ' + note if note else ''}")
    if result.outcome is Outcome.DUPLICATE:
        actor.nothing(f"order #{order.id}: {shown} was recorded already")
    if result.outcome is Outcome.GRANTED:
        student = await ctx.uow.users.get(order.user_id)
        offer = ctx.school.offer(order.offer_code)
        title = pick(offer.title, t.language, ctx.school.default_language) if offer \
            else order.offer_code
        return Reply(screen(t("admin_paid_granted", id=order.id, amount=shown,
                              note=note or "-", student=student.name if student else "?",
                              title=title)))
    if result.outcome is Outcome.DUPLICATE:
        return Reply(screen(t("admin_paid_duplicate", id=order.id, amount=shown)))
    if result.outcome is Outcome.PARTIAL and amount.currency != order.currency:
        return Reply(screen(t("admin_paid_currency", id=order.id, amount=shown,
                              currency=order.currency)))
    if result.outcome is Outcome.PARTIAL:
        received = sum(p.amount for p in await ctx.uow.payments.for_order(order.id)
                       if p.status is PaymentStatus.SUCCEEDED and p.currency == order.currency)
        return Reply(screen(t(
            "admin_paid_partial", id=order.id, amount=shown,
            received=Money(received, order.currency).format(t.language),
            price=Money(order.amount, order.currency).format(t.language))))
    return Reply(screen(t("admin_paid_extra", id=order.id, amount=shown)))


@staff_only(Right.REFUND, "/refund")
async def refund(ctx: Context, arg: str) -> Reply:
    """``/refund ORDER``: give back every payment of the order through the gateway that took
    it, and withdraw the access it gave (a payment that granted nothing is simply returned).
    Only when every such payment's gateway can give it back from here (Telegram: Stars)."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    try:
        order_id = parse_id(arg.strip().lstrip("#"))
    except Stale:
        actor.nothing("no order number")
        return Reply(screen(t("admin_refund_usage")))
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
    through = [(p, give) for p in taken if (give := _giver(ctx, p)) is not None]
    if len(through) < len(taken) or ctx.uow_factory is None:
        actor.nothing(f"order #{order.id}: its gateway cannot refund from here")
        return Reply(screen(t("admin_refund_unsupported", id=order.id)))
    if not granted_nothing and not await payments.refundable(ctx.uow, order):
        actor.nothing(f"order #{order.id}: tangled with later purchases")
        return Reply(screen(t("admin_refund_tangled", id=order.id)))
    uow_factory, now = ctx.uow_factory, ctx.now
    actor.did(f"order #{order.id}: refund of {_amounts(taken, 'en')} asked of "
              f"{', '.join(sorted({p.gateway for p in taken}))}")

    by = _sender(ctx)

    async def after() -> Screen:
        for payment, give_back in through:
            try:
                await payments.refund_through(uow_factory, give_back, payment, now)
            except Exception as exc:
                await audit_later(uow_factory, now, actor, "/refund", f"#{order.id}",
                                  f"{payment.gateway}/{payment.gateway_payment_id} failed: "
                                  f"{type(exc).__name__}", AuditResult.FAILED)
                raise
        await audit_later(uow_factory, now, actor, "/refund", f"#{order.id}",
                          f"refunded {_amounts([p for p, _ in through], 'en')}"
                          f"{'' if granted_nothing else ', access withdrawn'}")
        log.info("%s refunded order %s: %s", by, order.id,
                 ", ".join(f"{p.gateway}/{p.gateway_payment_id}" for p, _ in through))
        total = _amounts([p for p, _ in through], t.language)
        text = t("admin_refunded_extra" if granted_nothing else "admin_refunded",
                 id=order.id, amount=total)
        by_hand = [p for p, _ in through if p.gateway == manual_payments.GATEWAY]
        if by_hand:
            text += "\n" + t("admin_refund_by_hand", amount=_amounts(by_hand, t.language))
        return screen(text)

    return Reply(None, after=after)


def _giver(ctx: Context, payment: Payment) -> Callable[[Payment], Awaitable[None]] | None:
    """What gives ``payment`` back: its gateway, if it refunds from here; for money confirmed
    by hand (``/paid``) nothing to call: the admin returns it by hand, the bot records it."""
    if payment.gateway == manual_payments.GATEWAY:
        return _returned_by_hand
    gateway = ctx.gateways.get(payment.gateway)
    if isinstance(gateway, Refunder) and gateway.refundable(payment):
        return gateway.refund
    return None


async def _returned_by_hand(payment: Payment) -> None:
    log.info("payment %s/%s is returned by hand", payment.gateway, payment.gateway_payment_id)


def _amounts(paid: list[Payment], language: str) -> str:
    """``250 ⭐``; ``49 EUR + 250 ⭐`` for payments in several currencies."""
    totals: dict[str, int] = {}
    for payment in paid:
        totals[payment.currency] = totals.get(payment.currency, 0) + payment.amount
    return " + ".join(Money(amount, currency).format(language)
                      for currency, amount in totals.items())


REFUNDS_SHOWN = 30


@staff_only(Right.REFUND, "/refunds")
async def refunds(ctx: Context, arg: str) -> Reply:
    """``/refunds``: payments that granted nothing and are not returned yet, oldest first."""
    t = ctx.t
    due = await ctx.uow.payments.to_refund(REFUNDS_SHOWN + 1)
    if not due:
        return Reply(screen(t("admin_refunds_none")))
    lines = [t("admin_refunds_title")]
    for payment in due[:REFUNDS_SHOWN]:
        order = await ctx.uow.orders.get(payment.order_id)
        student = await ctx.uow.users.get(order.user_id) if order else None
        lines.append(t(
            "admin_refunds_line", id=payment.order_id,
            student=f"{student.name or '?'} (#{student.id})" if student else "?",
            amount=Money(payment.amount, payment.currency).format(t.language),
            gateway=payment.gateway, reason=t(f"refund_reason_{payment.refund_reason}"),
            date=t.date(payment.created_at) if payment.created_at else "?"))
    if len(due) > REFUNDS_SHOWN:
        lines.append(t("admin_refunds_more", n=REFUNDS_SHOWN))
    return Reply(screen("\n".join(lines)))


@staff_only(Right.ACCESS, "/members")
async def members(ctx: Context, arg: str) -> Reply:
    """``/members GROUP report``: who would be removed (a dry run);
    ``/members GROUP import ID ...``: record members who were there before the bot;
    ``/members GROUP enforce``: remove, from now on, those of them without access."""
    t, school, actor = ctx.t, ctx.school, ctx.staff
    assert actor is not None
    code, _, rest = arg.strip().partition(" ")
    verb, _, ids = rest.strip().partition(" ")
    group = school.groups.get(code)
    usage = Reply(screen(t("members_usage", groups=", ".join(school.groups) or "-")))
    if group is None:
        return usage
    name = pick(group.title, t.language, school.default_language)
    if verb == "report":
        known = [m for m in await ctx.uow.memberships.of_chat(group.chat_id)
                 if m.status.value == "member"]
        out = await groups.without_access(ctx.uow, school, group, ctx.now)
        if not out:
            return Reply(screen(t("members_report_none", group=name, total=len(known))))
        listed = "\n".join(f"• {m.name or '?'} ({m.external_id})" for m in out)
        return Reply(screen(t("members_report", group=name, count=len(out),
                              total=len(known), list=listed)))
    if verb == "import":
        accounts = ids.replace(",", " ").split()
        if not accounts or not all(a.isascii() and a.isdigit() for a in accounts):
            return usage
        added = await groups.import_members(ctx.uow, group, accounts, ctx.now)
        actor.did(f"{group.code}: {added} members recorded as there before the bot")
        return Reply(screen(t("members_imported", group=name, added=added, code=code)))
    if verb == "enforce":
        count = await groups.enforce(ctx.uow, group, ctx.now)
        actor.did(f"{group.code}: {count} members without access to be removed")
        return Reply(screen(t("members_enforced", group=name, count=count)))
    return usage
