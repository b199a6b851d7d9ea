"""Commands for the school's staff. To anyone else they look like unknown commands."""

from __future__ import annotations

import logging

from core.models import PaymentStatus
from core.money import CURRENCIES, Money
from core.school import pick
from core.services import groups, manual_payments
from core.services.payments import Outcome
from core.staff import Right
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.ui import screen

log = logging.getLogger(__name__)


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
                                           actor.account, ctx.now)
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
