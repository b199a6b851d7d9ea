"""/start (with deep links), the main menu and help."""

from __future__ import annotations

import dataclasses

from core.school import pick
from core.services import users
from core.services.linking import DEEP_LINK_PREFIX
from core.services.users import DeepLink
from flows import automations, catalog, linking, staff
from flows.broadcast_view import STOP_PROMOTIONS
from flows.engine import Context, Reply, menu_button
from flows.ui import Button, Screen, screen

START_PROMOTIONS = "mk:on"  # the way back from ``STOP_PROMOTIONS`` (``flows.broadcast_buttons``)


def main_menu(ctx: Context) -> Screen:
    t = ctx.t
    welcome = t("welcome", school=ctx.school.name)
    # Linking is offered where the school runs on more than one messenger.
    link = [Button(t("btn_link"), action="lk")] if len(ctx.messengers) > 1 else []
    return screen(
        welcome,
        Button(t("btn_catalog"), action="cat"),
        Button(t("btn_my"), action="my"),
        *link,
        Button(t("btn_help"), action="help"),
        # Promotions (marketing broadcasts) off and on in one tap.
        Button(t("bc_stop_promotions"), action=STOP_PROMOTIONS) if ctx.user.marketing
        else Button(t("btn_promos_on"), action=START_PROMOTIONS),
    )


async def start(ctx: Context, payload: str) -> Reply:
    if payload.startswith(DEEP_LINK_PREFIX):  # opened from "Link another messenger"
        return await linking.enter_code(ctx, payload.removeprefix(DEEP_LINK_PREFIX))
    link = DeepLink.parse(payload)
    offer = ctx.school.offer(link.offer) if link.offer else None
    if offer is None:  # a mistyped or retired offer code is not attribution
        link = dataclasses.replace(link, offer=None)
    await users.record_deep_link(ctx.uow, ctx.user, link)
    await automations.started(ctx, payload)
    ctx.state.step = ""
    if offer is not None:
        if offer.code not in ctx.unlocked:
            ctx.unlocked.append(offer.code)
        return Reply(await catalog.offer_screen(ctx, offer.code))
    return Reply(main_menu(ctx))


async def menu(ctx: Context, _: str) -> Reply:
    ctx.state.step = ""
    return Reply(main_menu(ctx), edit=True)


async def help_screen(ctx: Context, _: str) -> Reply:
    t = ctx.t
    text = t("help")
    support = ctx.school.support
    if support and support not in text:  # a school's own help may name it already
        text += "\n\n" + t("help_support", support=support)
    role = await staff.role_of(ctx)
    if role is not None:  # staff also see what their role may do, and only that
        text += "\n\n" + t("staff_help_title", role=t(f"role_{role.value}"))
        text += "".join(f"\n/{c.name} — {t(f'staffcmd_{c.name}')}"
                        for c in staff.commands_for(role))
    return Reply(screen(text, menu_button(t)), edit=ctx.incoming.message is not None)


async def blocked(ctx: Context, _: str) -> Reply:
    """The student blocked the bot: messages wait until they write again."""
    await users.mark_unreachable(ctx.uow, ctx.identity.id)
    return Reply(None)


async def subscribed(ctx: Context, _: str) -> Reply:
    """The student allowed the bot to write again: their account is reachable once more (the
    engine's lookup of the student records that); nothing to say."""
    return Reply(None)


async def unknown_text(ctx: Context, _: str) -> Reply:
    menu = main_menu(ctx)
    return Reply(Screen(ctx.t("err_unknown_text"), menu.rows))


def title_of_offer(ctx: Context, offer_code: str) -> str:
    """The offer's title; for access the staff granted as one product, the product's."""
    offer = ctx.school.offer(offer_code)
    if offer is not None:
        return pick(offer.title, ctx.t.language, ctx.school.default_language)
    product = ctx.school.products.get(offer_code)
    if product is not None:
        return pick(product.title, ctx.t.language, ctx.school.default_language)
    return offer_code
