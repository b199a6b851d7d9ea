"""The student card's buttons: grant an offer or a product, extend a purchase by days, revoke
it, refund an order, send the lesson and group links again, add a note. Each is a staff
action guarded by its right (``@staff_only``), re-checked on every press; each answers with
exactly what changed, above the card as it is now, and leaves that in the audit log.

A choice that is confirmed by a second press (a grant) is kept in the staff member's chat
state until then, and used once: a double press grants nothing twice. Buttons acting on a
purchase carry its stamp (``staff_access.stamp``): a purchase that changed meanwhile is left
alone and the card shown again."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from core.models import RENEWED_BY_TELEGRAM, OrderStatus, Purchase, PurchaseStatus
from core.money import Money
from core.school import pick
from core.services import staff_access, students
from core.services.staff_access import Refused
from core.staff import MAX_NOTE, Right
from flows import refunds
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.student_card import (
    View,
    back_to_card,
    card_screen,
    leave_steps,
    purchase_state,
    renewal_state,
    title_of,
)
from flows.ui import Button, Screen, screen

EXTEND_DAYS = (7, 30)  # the extension buttons; any other number is typed
GRANT_DAYS = (0, 30, 7)  # a product granted for life (0) or for days
DAYS_STEP, NOTE_STEP = "card_days", "card_note"
GRANT_KEY = "card_grant"  # the grant waiting for its confirmation, in the chat's state


async def _card(ctx: Context, user_id: int, lead: str) -> Reply:
    """``lead`` above the student's card as it is now."""
    leave_steps(ctx)
    shown = await card_screen(View.of(ctx), user_id, lead)
    return Reply(shown or screen(lead), edit=ctx.incoming.message is not None)


async def _student(ctx: Context, arg: str) -> int:
    user = await students.student(ctx.uow, parse_id(arg))
    if user is None:
        raise Stale(arg)
    return user.id


async def _purchase(ctx: Context, text: str) -> Purchase:
    purchase = await ctx.uow.purchases.get(parse_id(text))
    if purchase is None:
        raise Stale(text)
    return purchase


def _when(ctx: Context, moment: datetime | None) -> str:
    return ctx.t.date(moment) if moment else ctx.t("card_life")


async def _refused(ctx: Context, refused: Refused, user_id: int, **params: object) -> Reply:
    assert ctx.staff is not None
    ctx.staff.nothing(f"refused: {refused.reason}", user_id=user_id)
    return await _card(ctx, user_id, ctx.t(f"card_refused_{refused.reason}", **params))


# --- a purchase: extend, revoke ---------------------------------------------------------------


@staff_only(Right.ACCESS, "card.purchase")
async def purchase_menu(ctx: Context, arg: str) -> Reply:
    """``sp:<purchase>``: what can be done to one purchase."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    purchase = await _purchase(ctx, arg)
    view = View.of(ctx)
    leave_steps(ctx)
    actor.nothing(f"opened purchase #{purchase.id}", user_id=purchase.user_id)
    seen = staff_access.stamp(purchase)
    rows: list[list[Button]] = []
    extendable = purchase.status is not PurchaseStatus.REVOKED and purchase.ends_at is not None \
        and purchase.renewal not in RENEWED_BY_TELEGRAM
    if extendable:
        rows.append([Button(t("btn_card_extend", days=t.period(f"P{days}D")),
                            action=f"sx:{purchase.id}:{days}:{seen}") for days in EXTEND_DAYS])
        rows.append([Button(t("btn_card_extend_other"), action=f"sxd:{purchase.id}:{seen}")])
    if purchase.status is not PurchaseStatus.REVOKED and not (
            purchase.status is PurchaseStatus.ACTIVE and purchase.renewal in RENEWED_BY_TELEGRAM):
        rows.append([Button(t("btn_card_revoke"), action=f"sr:{purchase.id}:{seen}")])
    rows.append([back_to_card(t, purchase.user_id)])
    text = t("card_purchase", id=purchase.id, title=view.title(purchase.offer_code),
             state=purchase_state(view, purchase) + renewal_state(view, purchase),
             products=", ".join(view.title(code) for code in purchase.products))
    if not extendable and purchase.status is not PurchaseStatus.REVOKED:
        text += "\n" + t("card_not_extendable_telegram" if purchase.ends_at
                         else "card_not_extendable_lifetime")
    return Reply(screen(text, *rows), edit=True)


@staff_only(Right.ACCESS, "card.extend")
async def extend(ctx: Context, arg: str) -> Reply:
    """``sx:<purchase>:<days>:<stamp>``: add days to the purchase."""
    purchase_id, days, seen = _three(arg)
    return await _extend(ctx, purchase_id, days, seen)


def _three(arg: str) -> tuple[int, int, str]:
    parts = arg.split(":")
    if len(parts) != 3:
        raise Stale(arg)
    return parse_id(parts[0]), parse_id(parts[1]), parts[2]


async def _extend(ctx: Context, purchase_id: int, days: int, seen: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    purchase = await _purchase(ctx, str(purchase_id))
    title = title_of(ctx.school, t, purchase.offer_code)
    try:
        done = await staff_access.extend(ctx.uow, ctx.school, purchase_id, days, seen, ctx.now)
    except Refused as refused:
        return await _refused(ctx, refused, purchase.user_id, title=title,
                              max=staff_access.MAX_DAYS)
    ctx.queued = True
    after = done.purchase.ends_at
    assert after is not None
    reopened = done.was_status is not PurchaseStatus.ACTIVE
    actor.did(f"purchase #{purchase_id} {purchase.offer_code}: +{days} days, "
              f"{done.was_status.value} until {done.was_end.isoformat()} -> active until "
              f"{after.isoformat()}"
              f"{'; group invitations: ' + ', '.join(done.invites) if done.invites else ''}",
              user_id=purchase.user_id)
    key = "card_extended_again" if reopened else "card_extended"
    return await _card(ctx, purchase.user_id, t(key, title=title, days=t.period(f"P{days}D"),
                                                date=t.date(after), was=t.date(done.was_end)))


@staff_only(Right.ACCESS, "card.extend")
async def ask_days(ctx: Context, arg: str) -> Reply:
    """``sxd:<purchase>:<stamp>``: the number of days is typed next."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    text_id, _, seen = arg.partition(":")
    purchase = await _purchase(ctx, text_id)
    leave_steps(ctx)
    ctx.state.step = DAYS_STEP
    ctx.state.data[DAYS_STEP] = {"purchase": purchase.id, "stamp": seen}
    actor.nothing(f"asked for the days to add to purchase #{purchase.id}",
                  user_id=purchase.user_id)
    return Reply(screen(t("card_days_prompt", title=title_of(ctx.school, t, purchase.offer_code),
                          max=staff_access.MAX_DAYS),
                        Button(t("btn_card_cancel"), action=f"sp:{purchase.id}")), edit=True)


@staff_only(Right.ACCESS, "card.extend")
async def typed_days(ctx: Context, text: str) -> Reply:
    """The number of days typed after ``sxd``."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    waiting = ctx.state.data.get(DAYS_STEP) or {}
    purchase_id = waiting.get("purchase")
    if not isinstance(purchase_id, int):
        ctx.state.step = ""
        raise Stale(text)
    number = text.strip().lstrip("+")
    if not (number.isascii() and number.isdigit()) or not 0 < int(number) <= staff_access.MAX_DAYS:
        actor.nothing(f"{text[:20]!r} is not a number of days")
        return Reply(screen(t("card_days_bad", max=staff_access.MAX_DAYS),
                            Button(t("btn_card_cancel"), action=f"sp:{purchase_id}")))
    leave_steps(ctx)
    return await _extend(ctx, purchase_id, int(number), str(waiting.get("stamp", "")))


@staff_only(Right.ACCESS, "card.revoke")
async def ask_revoke(ctx: Context, arg: str) -> Reply:
    """``sr:<purchase>:<stamp>``: asks to confirm."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    leave_steps(ctx)
    text_id, _, seen = arg.partition(":")
    purchase = await _purchase(ctx, text_id)
    view = View.of(ctx)
    actor.nothing(f"asked to confirm revoking purchase #{purchase.id}", user_id=purchase.user_id)
    return Reply(screen(
        t("card_revoke_confirm", title=view.title(purchase.offer_code),
          state=purchase_state(view, purchase)),
        [Button(t("btn_card_revoke_yes"), action=f"sry:{purchase.id}:{seen}"),
         Button(t("btn_card_cancel"), action=f"sp:{purchase.id}")]), edit=True)


@staff_only(Right.ACCESS, "card.revoke")
async def revoke(ctx: Context, arg: str) -> Reply:
    """``sry:<purchase>:<stamp>``: the purchase is taken back."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    text_id, _, seen = arg.partition(":")
    purchase = await _purchase(ctx, text_id)
    title = title_of(ctx.school, t, purchase.offer_code)
    try:
        done = await staff_access.revoke(ctx.uow, ctx.school, purchase.id, seen, ctx.now)
    except Refused as refused:
        return await _refused(ctx, refused, purchase.user_id, title=title)
    ctx.queued = True
    before = done.before
    until = before.ends_at.isoformat() if before.ends_at else "lifetime"
    actor.did(f"purchase #{before.id} {before.offer_code}: {before.status.value} until {until}"
              f" -> revoked{'; removal from ' + ', '.join(done.leaving) if done.leaving else ''}",
              user_id=before.user_id)
    lead = t("card_revoked", title=title, was=purchase_state(View.of(ctx), before))
    if done.leaving:
        names = ", ".join(pick(ctx.school.groups[code].title, t.language,
                               ctx.school.default_language) for code in done.leaving)
        lead += "\n" + t("card_revoked_groups", groups=names)
    return await _card(ctx, before.user_id, lead)


# --- grant ------------------------------------------------------------------------------------


@staff_only(Right.ACCESS, "card.grant")
async def grant_menu(ctx: Context, arg: str) -> Reply:
    """``sg:<user>``: the school's offers and products to grant."""
    t, actor, school = ctx.t, ctx.staff, ctx.school
    assert actor is not None
    leave_steps(ctx)
    user_id = await _student(ctx, arg)
    ctx.state.data.pop(GRANT_KEY, None)
    actor.nothing("opened the grant menu", user_id=user_id)
    buttons = [Button(t("btn_card_grant_offer", title=title_of(school, t, code)),
                      action=f"sgo:{user_id}:{code}") for code in school.offers]
    buttons += [Button(t("btn_card_grant_product", title=title_of(school, t, code)),
                       action=f"sgp:{user_id}:{code}") for code in school.products]
    return Reply(screen(t("card_grant_pick"), *buttons, back_to_card(t, user_id)), edit=True)


def _user_and_code(arg: str) -> tuple[int, str]:
    text_id, _, code = arg.partition(":")
    if not code:
        raise Stale(arg)
    return parse_id(text_id), code


@staff_only(Right.ACCESS, "card.grant")
async def grant_offer(ctx: Context, arg: str) -> Reply:
    """``sgo:<user>:<offer>``: confirm the grant of an offer."""
    t, actor, school = ctx.t, ctx.staff, ctx.school
    assert actor is not None
    leave_steps(ctx)
    user_id, code = _user_and_code(arg)
    user_id = await _student(ctx, str(user_id))
    offer = school.offer(code)
    if offer is None:
        raise Stale(arg)
    ctx.state.data[GRANT_KEY] = {"user": user_id, "offer": code}
    actor.nothing(f"asked to confirm granting offer {code}", user_id=user_id)
    access = t("card_grant_period", period=t.period(offer.period.iso)) if offer.period \
        else t("card_grant_life")
    return Reply(screen(t("card_grant_confirm", title=title_of(school, t, code), access=access),
                        [Button(t("btn_card_grant_yes"), action=f"sgy:{user_id}:0"),
                         Button(t("btn_card_cancel"), action=f"sg:{user_id}")]), edit=True)


@staff_only(Right.ACCESS, "card.grant")
async def grant_product(ctx: Context, arg: str) -> Reply:
    """``sgp:<user>:<product>``: for how long; each choice confirms the grant."""
    t, actor, school = ctx.t, ctx.staff, ctx.school
    assert actor is not None
    leave_steps(ctx)
    user_id, code = _user_and_code(arg)
    user_id = await _student(ctx, str(user_id))
    if code not in school.products:
        raise Stale(arg)
    ctx.state.data[GRANT_KEY] = {"user": user_id, "product": code}
    actor.nothing(f"asked how long to grant product {code}", user_id=user_id)
    buttons = [Button(t("btn_card_grant_days", days=t.period(f"P{days}D")) if days
                      else t("btn_card_grant_life"),
                      action=f"sgy:{user_id}:{days}") for days in GRANT_DAYS]
    return Reply(screen(t("card_grant_product", title=title_of(school, t, code)),
                        buttons, Button(t("btn_card_cancel"), action=f"sg:{user_id}")),
                 edit=True)


@staff_only(Right.ACCESS, "card.grant")
async def grant(ctx: Context, arg: str) -> Reply:
    """``sgy:<user>:<days>``: the grant chosen before, once."""
    t, actor, school = ctx.t, ctx.staff, ctx.school
    assert actor is not None
    text_id, _, text_days = arg.partition(":")
    user_id = await _student(ctx, text_id)
    if not (text_days.isascii() and text_days.isdigit()):
        raise Stale(arg)
    days = int(text_days)
    chosen = ctx.state.data.get(GRANT_KEY) or {}
    if chosen.get("user") != user_id or (days and "product" not in chosen) or (
            "product" in chosen and days not in GRANT_DAYS):
        actor.nothing("no grant waiting for this confirmation (done already?)",
                      user_id=user_id)
        return await _card(ctx, user_id, t("card_grant_gone"))
    ctx.state.data.pop(GRANT_KEY)
    by = actor.account
    code = chosen.get("offer") or chosen.get("product") or ""
    title = title_of(school, t, code)
    try:
        if "offer" in chosen:
            done = await staff_access.grant_offer(ctx.uow, school, user_id, code, by, ctx.now)
        else:
            done = await staff_access.grant_product(ctx.uow, school, user_id, code,
                                                    days or None, by, ctx.now)
    except Refused as refused:
        return await _refused(ctx, refused, user_id, title=title)
    ctx.queued = True
    purchase, before = done.purchase, done.before
    what = f"{'offer' if 'offer' in chosen else 'product'} {code}"
    if before is None:
        actor.did(f"granted {what} without payment (order #{done.order.id}): new purchase "
                  f"#{purchase.id} until {_iso(purchase.ends_at)}", user_id=user_id)
        lead = t("card_granted", title=title, date=t.date(purchase.ends_at),
                 order=done.order.id) if purchase.ends_at else \
            t("card_granted_life", title=title, order=done.order.id)
    else:
        actor.did(f"granted {what} without payment (order #{done.order.id}): purchase "
                  f"#{purchase.id} {before.status.value} until {_iso(before.ends_at)} -> "
                  f"active until {_iso(purchase.ends_at)}", user_id=user_id)
        lead = t("card_granted_extended", title=title, date=_when(ctx, purchase.ends_at),
                 was=_when(ctx, before.ends_at), order=done.order.id)
    return await _card(ctx, user_id, lead)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "lifetime"


# --- refund -----------------------------------------------------------------------------------


@staff_only(Right.REFUND, "card.refund")
async def refund_menu(ctx: Context, arg: str) -> Reply:
    """``sf:<user>``: the student's orders with money taken, to pick one to refund."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    leave_steps(ctx)
    user_id = await _student(ctx, arg)
    buttons = []
    for order in reversed(await ctx.uow.orders.for_user(user_id)):
        taken = [p for p in await ctx.uow.payments.for_order(order.id)
                 if p.status.value == "succeeded"]
        if taken:
            buttons.append(Button(t("btn_card_refund_order", id=order.id,
                                    title=title_of(ctx.school, t, order.offer_code),
                                    amount=_money(ctx, taken),
                                    gateway=", ".join(sorted({p.gateway for p in taken}))),
                                  action=f"sfo:{order.id}"))
    actor.nothing(f"listed {len(buttons)} orders to refund", user_id=user_id)
    text = t("card_refund_pick") if buttons else t("card_refund_none")
    return Reply(screen(text, *buttons[:20], back_to_card(t, user_id)), edit=True)


def _money(ctx: Context, paid: list) -> str:
    totals: dict[str, int] = {}
    for payment in paid:
        totals[payment.currency] = totals.get(payment.currency, 0) + payment.amount
    return " + ".join(Money(amount, currency).format(ctx.t.language)
                      for currency, amount in totals.items())


@staff_only(Right.REFUND, "card.refund")
async def ask_refund(ctx: Context, arg: str) -> Reply:
    """``sfo:<order>``: asks to confirm."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    leave_steps(ctx)
    order = await ctx.uow.orders.get(parse_id(arg))
    if order is None:
        raise Stale(arg)
    taken = [p for p in await ctx.uow.payments.for_order(order.id)
             if p.status.value == "succeeded"]
    actor.nothing(f"asked to confirm refunding order #{order.id}", user_id=order.user_id)
    key = "card_refund_confirm" if order.status is OrderStatus.PAID else \
        "card_refund_confirm_money"
    return Reply(screen(
        t(key, id=order.id, title=title_of(ctx.school, t, order.offer_code),
          amount=_money(ctx, taken) if taken else "0",
          gateway=", ".join(sorted({p.gateway for p in taken})) or "-"),
        [Button(t("btn_card_refund_yes"), action=f"sfy:{order.id}"),
         Button(t("btn_card_cancel"), action=f"sf:{order.user_id}")]), edit=True)


async def refund(ctx: Context, arg: str) -> Reply:
    """``sfy:<order>``: exactly ``/refund ORDER`` (its own guard, audit lines and answer),
    then the card under that answer."""
    reply = await refunds.refund(ctx, arg)
    if ctx.staff is None or ctx.staff.user_id is None:  # refused, or no such order
        return reply
    user_id = ctx.staff.user_id
    if reply.after is None:  # nothing to give back: why, above the card
        return await _card(ctx, user_id, reply.screen.text if reply.screen else "")
    given_back, uow_factory = reply.after, ctx.uow_factory
    assert uow_factory is not None
    view = View.of(ctx)

    async def with_card() -> Screen | None:
        answer = await given_back()
        if answer is None:
            return None
        async with uow_factory() as uow:
            shown = await card_screen(dataclasses.replace(view, uow=uow), user_id,
                                      answer.text)
        return shown or answer

    return Reply(None, after=with_card)


# --- links again, notes ---------------------------------------------------------------------


@staff_only(Right.ACCESS, "card.resend")
async def resend(ctx: Context, arg: str) -> Reply:
    """``sl:<user>``: the open lessons and the paid groups' links, sent to the student again."""
    t, actor, school = ctx.t, ctx.staff, ctx.school
    assert actor is not None
    user_id = await _student(ctx, arg)
    done = await staff_access.resend(ctx.uow, school, user_id, ctx.now,
                                     can_link=ctx.group_links is not None)

    def group(code: str) -> str:
        return pick(school.groups[code].title, t.language, school.default_language)

    lines, said = [], []
    for purchase, count in done.lessons:
        lines.append(t("card_resent_lessons", title=title_of(school, t, purchase.offer_code),
                       n=count))
        said.append(f"{count} lessons of purchase #{purchase.id}")
    for purchase, code in done.invites:
        lines.append(t("card_resent_group", group=group(code)))
        said.append(f"invitation to {code} (purchase #{purchase.id})")
    lines += [t("card_resent_inside", group=group(code)) for code in done.inside]
    lines += [t("card_resent_no_telegram", group=group(code)) for code in done.unlinkable]
    if said:
        ctx.queued = True
        actor.did("sent again: " + "; ".join(said), user_id=user_id)
    else:
        actor.nothing("nothing to send again"
                      f"{' (in ' + ', '.join(done.inside) + ' already)' if done.inside else ''}",
                      user_id=user_id)
        lines.insert(0, t("card_resent_nothing"))
    return await _card(ctx, user_id, "\n".join(lines))


@staff_only(Right.NOTES, "card.note")
async def ask_note(ctx: Context, arg: str) -> Reply:
    """``sn:<user>``: the note is typed next."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    user_id = await _student(ctx, arg)
    user = await ctx.uow.users.get(user_id)
    leave_steps(ctx)
    ctx.state.step = NOTE_STEP
    ctx.state.data[NOTE_STEP] = user_id
    actor.nothing("asked for a note", user_id=user_id)
    return Reply(screen(t("card_note_prompt", name=user.name if user else "?", id=user_id,
                          max=MAX_NOTE),
                        back_to_card(t, user_id)), edit=True)


@staff_only(Right.NOTES, "card.note")
async def typed_note(ctx: Context, text: str) -> Reply:
    """The note typed after ``sn``."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    user_id = ctx.state.data.get(NOTE_STEP)
    if not isinstance(user_id, int):
        ctx.state.step = ""
        raise Stale(text)
    user = await students.student(ctx.uow, user_id)
    if user is None:
        leave_steps(ctx)
        raise Stale(text)
    try:
        note = await students.add_note(ctx.uow, user.id, actor.account, text, ctx.now)
    except ValueError:
        actor.nothing(f"a note of {len(text.strip())} characters refused", user_id=user.id)
        return Reply(screen(t("card_note_bad", max=MAX_NOTE), back_to_card(t, user.id)))
    leave_steps(ctx)
    actor.did(f"note #{note.id} added: {note.text[:200]}", user_id=user.id)
    return await _card(ctx, user.id, t("card_note_added"))
