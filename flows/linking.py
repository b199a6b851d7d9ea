"""“Link another messenger”: the one-time code (and deep links), entering a code, merging
two students who both bought something only once the one typing confirms, and choosing the
messenger the platform's own messages go to."""

from __future__ import annotations

from core.services import linking
from core.services.linking import DEEP_LINK_PREFIX, Linked
from flows.engine import Context, Reply, Stale, menu_button
from flows.ui import Button, screen

STEP = "link_code"


def _name(ctx: Context, messenger: str) -> str:
    return ctx.titles.get(messenger, messenger.capitalize())


async def link_menu(ctx: Context, arg: str) -> Reply:
    """``lk`` (a fresh code), ``lk:enter`` (type a code), ``lk:to:<messenger>`` (where
    messages go), ``lk:yes:<code>`` (merge, confirmed)."""
    action, _, rest = arg.partition(":")
    if action == "enter":
        ctx.state.step = STEP
        return Reply(screen(ctx.t("link_enter"), menu_button(ctx.t)), edit=True)
    if action == "to":
        await linking.prefer(ctx.uow, ctx.user.id, rest or None)
        reply = await _code_screen(ctx)
        reply.toast = ctx.t("link_notify_done", messenger=_name(ctx, rest))
        return reply
    if action == "yes":
        return await _redeem(ctx, rest, confirmed=True)
    if action:
        raise Stale(arg)
    return await _code_screen(ctx)


async def _code_screen(ctx: Context) -> Reply:
    t = ctx.t
    code = await linking.issue(ctx.uow, ctx.user.id, ctx.now)
    here = ctx.incoming.peer.messenger
    lines = [t("link_code", code=code.code,
               minutes=int(linking.CODE_LIFE.total_seconds() // 60))]
    buttons = []
    for messenger in ctx.messengers:
        url = ctx.deep_link(messenger, DEEP_LINK_PREFIX + code.code) if messenger != here \
            else None
        if url:
            buttons.append(Button(t("btn_link_open", messenger=_name(ctx, messenger)), url=url))
    buttons.append(Button(t("btn_link_enter"), action="lk:enter"))
    mine = sorted({i.messenger for i in await ctx.uow.users.identities(ctx.user.id)})
    if len(mine) > 1:
        lines.append(t("link_linked", messengers=", ".join(_name(ctx, m) for m in mine)))
        for messenger in mine:
            mark = "✓ " if ctx.user.preferred_messenger == messenger else ""
            buttons.append(Button(mark + t("btn_notify_to", messenger=_name(ctx, messenger)),
                                  action=f"lk:to:{messenger}"))
    return Reply(screen("\n\n".join(lines), *buttons, menu_button(t)), edit=True)


async def enter_code(ctx: Context, text: str) -> Reply:
    """A code typed after “I have a code”, after /link, or carried by a deep link."""
    ctx.state.step = ""
    return await _redeem(ctx, text, confirmed=False)


async def _redeem(ctx: Context, typed: str, confirmed: bool) -> Reply:
    t = ctx.t
    if not typed.strip():
        return await _code_screen(ctx)
    outcome = await linking.redeem(ctx.uow, typed, ctx.user.id, ctx.now, confirmed)
    my = Button(t("btn_my"), action="my")
    if outcome is Linked.CONFIRM:
        code = linking.normalize(typed)
        return Reply(screen(t("link_confirm"), Button(t("btn_link_merge"), action=f"lk:yes:{code}"),
                            menu_button(t)), edit=ctx.incoming.message is not None)
    key = "link_done" if outcome is Linked.LINKED else "link_already"
    return Reply(screen(t(key), my, menu_button(t)), edit=ctx.incoming.message is not None)
