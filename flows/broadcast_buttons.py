"""What a student's press on a broadcast does, and the one-tap opt-out of promotions.

    bb:<broadcast>:<index>   the press is counted (once per student), then the button does
                             what it says: an offer's screen, or "My courses"
    bb:0:<index>             a button of a preview, in its author's chat: not counted
    mk:off / mk:on           marketing messages off (with an undo under the answer) / on
"""

from __future__ import annotations

from core.broadcasts import BroadcastButton, ButtonKind
from core.services import broadcasts
from core.services.marketing import set_marketing
from flows import broadcast_compose, catalog, my_courses
from flows.broadcast_view import STOP_PROMOTIONS
from flows.engine import Context, Reply, Stale, menu_button, parse_id
from flows.start import START_PROMOTIONS
from flows.ui import Button, screen


async def press(ctx: Context, arg: str) -> Reply:
    """``bb:<broadcast>:<index>``; Stale for a broadcast or button that is not there."""
    text_id, _, text_index = arg.partition(":")
    if not (text_index.isascii() and text_index.isdigit()) or len(text_index) > 3:
        raise Stale(arg)
    index = int(text_index)
    if text_id == str(broadcast_compose.PREVIEW_ID):
        button = _previewed(ctx, index)
    else:
        button = await broadcasts.record_press(ctx.uow, parse_id(text_id), index, ctx.user.id,
                                               ctx.now)
    if button is None:
        raise Stale(arg)
    if button.kind is ButtonKind.OFFER:
        offer = ctx.school.offer(button.value)
        if offer is None:  # retired from the school file since
            raise Stale(arg)
        if offer.code not in ctx.unlocked:  # the staff chose it for them, as a deep link does
            ctx.unlocked.append(offer.code)
        ctx.state.step = ""
        return Reply(await catalog.offer_screen(ctx, offer.code))
    if button.kind is ButtonKind.COURSES:
        reply = await my_courses.my_courses(ctx, "")
        reply.edit = False  # the broadcast stays as it was
        return reply
    raise Stale(arg)  # a link opens in the messenger, never comes here


def _previewed(ctx: Context, index: int) -> BroadcastButton | None:
    draft = broadcast_compose.draft_of(ctx)
    if draft is None:
        return None
    buttons = broadcast_compose.draft_buttons(draft)
    return buttons[index] if index < len(buttons) else None


async def marketing(ctx: Context, arg: str) -> Reply:
    """``mk:off`` / ``mk:on``: a new message says what changed, with the way back."""
    if arg not in ("off", "on"):
        raise Stale(arg)
    on = arg == "on"
    await set_marketing(ctx.uow, ctx.user.id, on, ctx.now)
    ctx.user.marketing = on
    t = ctx.t
    if on:
        switch = Button(t("bc_stop_promotions"), action=STOP_PROMOTIONS)
        return Reply(screen(t("promos_on_done"), switch, menu_button(t)))
    undo = Button(t("btn_promos_undo"), action=START_PROMOTIONS)
    return Reply(screen(t("promos_off_done"), undo, menu_button(t)))

