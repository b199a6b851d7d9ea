"""“My courses”: what the student has, until when, and the lessons open now."""

from __future__ import annotations

import logging

from core import errors
from core.models import RENEWAL_TELEGRAM_CHANNEL, Purchase, PurchaseStatus
from core.school import pick
from core.services import groups, lessons, star_subscriptions
from core.services import renewals as renewal_service
from core.services.upcoming import renews_automatically
from flows import renewals
from flows.channel import MessengerError
from flows.engine import Context, Reply, Stale, parse_id
from flows.groups import included_line, invite_screen
from flows.start import title_of_offer
from flows.ui import Button, screen

log = logging.getLogger(__name__)


def purchase_line(ctx: Context, purchase: Purchase) -> str:
    t = ctx.t
    title = title_of_offer(ctx, purchase.offer_code)
    if purchase.status is not PurchaseStatus.ACTIVE:
        return t("my_item_ended", title=title, date=t.date(purchase.ended_at or ctx.now))
    if purchase.ends_at is None:
        return _forever(ctx, title)
    return t("my_item_until", title=title, date=t.date(purchase.ends_at))


def _forever(ctx: Context, title: str) -> str:
    """``Python — forever``, but not ``Python — forever — forever`` when the offer's title
    already ends with what the line would add."""
    added = ctx.t("my_item_forever", title="").strip(" —–-:·,()")
    if added and title.rstrip(" .)").casefold().endswith(added.casefold()):
        return title
    return ctx.t("my_item_forever", title=title)


async def my_courses(ctx: Context, _: str) -> Reply:
    t = ctx.t
    purchases = [
        p for p in await ctx.uow.purchases.for_user(ctx.user.id)
        if p.status is not PurchaseStatus.REVOKED
    ]
    if not purchases:
        return Reply(
            screen(t("my_empty"), Button(t("btn_catalog"), action="cat"),
                   Button(t("btn_back"), action="menu")),
            edit=True,
        )
    active = [p for p in purchases if p.status is PurchaseStatus.ACTIVE]
    ended = [p for p in purchases if p.status is PurchaseStatus.EXPIRED]
    lines = [t("my_title")] + [purchase_line(ctx, p) for p in ended]
    buttons = [Button(purchase_line(ctx, p), action=f"p:{p.id}") for p in active]
    running = {code for p in active for code in p.products}
    for purchase in ended:  # one tap back to what lapsed, unless they have it again
        if not set(purchase.products) <= running:
            buttons += renewals.renew_buttons(t, ctx.school, purchase, ctx.now,
                                              ctx.capabilities, ctx.checkout,
                                              offers=1)
            running |= set(purchase.products)
    return Reply(
        screen("\n".join(lines), *buttons, Button(t("btn_catalog"), action="cat"),
               Button(t("btn_back"), action="menu")),
        edit=True,
    )


async def purchase_detail(ctx: Context, purchase_id: str) -> Reply:
    t = ctx.t
    purchase = await ctx.uow.purchases.get(parse_id(purchase_id))
    if purchase is None or purchase.user_id != ctx.user.id:
        raise Stale(purchase_id)
    lang, default = t.language, ctx.school.default_language
    lines = [purchase_line(ctx, purchase), ""]
    buttons: list[Button] = []
    opened = lessons.open_lessons(ctx.school, purchase, ctx.now)
    for item in opened:
        title = pick(item.lesson.title, lang, default)
        course = pick(item.course.title, lang, default)
        if item.lesson.link:
            buttons.append(Button(t("btn_open", title=title), url=item.lesson.link))
        else:
            lines.append(f"• {course}: {title}\n{pick(item.lesson.text, lang, default)}")
    if not opened and not groups.groups_of(ctx.school, purchase.products):
        lines.append(t("no_lessons_yet"))
    if groups.running(purchase, ctx.now):
        for code in sorted(groups.groups_of(ctx.school, purchase.products)):
            if ctx.group_links is None:  # no Telegram here to make the link (the sandbox)
                lines.append(included_line(t, ctx.school, ctx.school.groups[code]))
                continue
            name = pick(ctx.school.groups[code].title, lang, default)
            buttons.append(Button(t("btn_group_link", group=name),
                                  action=f"gl:{purchase.id}:{code}"))
    if purchase.renewal == RENEWAL_TELEGRAM_CHANNEL and purchase.status is PurchaseStatus.ACTIVE:
        lines.append(t("renews_in_telegram"))
    elif renews_automatically(purchase) and purchase.ends_at is not None:
        lines.append(t("renews_auto", date=t.date(purchase.ends_at)))
    toggle = renewals.switch_button(t, purchase)
    if toggle is not None:
        buttons.append(toggle)
    if purchase.renewal is None:
        buttons += renewals.renew_buttons(t, ctx.school, purchase, ctx.now,
                                          ctx.capabilities, ctx.checkout)
    upcoming = lessons.next_opening(ctx.school, purchase, ctx.now)
    if upcoming is not None and purchase.status is PurchaseStatus.ACTIVE:
        lines.append(
            t("next_lesson", title=pick(upcoming.lesson.title, lang, default),
              date=t.datetime(upcoming.opens_at))
        )
    return Reply(
        screen("\n".join(lines).strip(), *buttons, Button(t("btn_back"), action="my")),
        edit=True,
    )


async def group_link(ctx: Context, arg: str) -> Reply:
    """A fresh personal link into a paid group, while the purchase gives it."""
    purchase_id, _, code = arg.partition(":")
    purchase = await ctx.uow.purchases.get(parse_id(purchase_id))
    group = ctx.school.groups.get(code)
    if (purchase is None or purchase.user_id != ctx.user.id or group is None
            or ctx.group_links is None
            or not groups.granting(ctx.school, [purchase], code, ctx.now)):
        raise Stale(arg)
    make_link, t, school, pid = ctx.group_links, ctx.t, ctx.school, purchase.id

    async def fresh_link():
        made = await make_link(pid, code)
        if made is None:
            raise Stale(arg)
        return invite_screen(t, school, group, *made)

    return Reply(None, after=fresh_link)


async def auto_renewal(ctx: Context, arg: str) -> Reply:
    """Automatic renewal on or off, at once; then the purchase again."""
    purchase_id, _, state = arg.partition(":")
    if state not in ("on", "off"):
        raise Stale(arg)
    purchase = await ctx.uow.purchases.get(parse_id(purchase_id))
    if purchase is None or purchase.user_id != ctx.user.id:
        raise Stale(arg)
    stars = star_subscriptions.subscription_of(purchase.renewal_method or "")
    if stars is not None:
        return _switch_in_telegram(ctx, purchase, stars, state == "on")
    try:
        await renewal_service.switch(ctx.uow, ctx.school, parse_id(purchase_id), ctx.user.id,
                                     state == "on", ctx.now)
    except (errors.NotFound, errors.NotEligible):
        raise Stale(arg) from None
    reply = await purchase_detail(ctx, purchase_id)
    reply.toast = ctx.t("auto_on_done" if state == "on" else "auto_off_done")
    return reply


def _switch_in_telegram(ctx: Context, purchase: Purchase, stars: tuple[str, str],
                        on: bool) -> Reply:
    """A Stars subscription is switched in Telegram first (outside the transaction), and
    recorded here only once Telegram agreed: the student is never told "off" while Telegram
    still charges."""
    if ctx.star_subscriptions is None or ctx.uow_factory is None \
            or purchase.status is not PurchaseStatus.ACTIVE:
        raise Stale(str(purchase.id))
    telegram, uow_factory, school, t = ctx.star_subscriptions, ctx.uow_factory, ctx.school, ctx.t
    user_id, now, payer, charge_id = ctx.user.id, ctx.now, *stars
    back = Button(t("btn_back"), action=f"p:{purchase.id}")

    async def switch():
        try:
            await telegram.set_star_subscription(payer, charge_id, on)
        except MessengerError as exc:
            log.warning("Telegram refused to switch subscription %s: %s", charge_id, exc)
            return screen(t("auto_switch_failed"), back)
        async with uow_factory() as uow:
            await renewal_service.switch(uow, school, purchase.id, user_id, on, now)
            await uow.commit()
        return screen(t("auto_on_done" if on else "auto_off_done"), back)

    return Reply(None, after=switch)
