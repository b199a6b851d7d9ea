"""The email or phone fiscal receipts go to (54-FZ): asked once, when a student first buys
something they would pay through a gateway that issues receipts, before the order is placed;
then the purchase goes on as if they had just pressed “Buy”."""

from __future__ import annotations

import dataclasses

from core import errors
from core.ports import ReceiptIssuer
from core.school import Offer
from core.services import catalog as shop
from core.services import receipts
from flows.engine import Context, Handler, Reply, menu_button
from flows.ui import Button, screen

STEP = "receipt_contact"
_FOR = "receipt_for"  # the offer whose purchase waits for the contact


def must_ask(ctx: Context, offer: Offer, stars: bool) -> bool:
    """Receipts are on, the student has given nowhere to send them, and this purchase will
    cost money that a gateway issuing receipts may take (Stars never: Telegram takes them)."""
    if stars or not receipts.needs_contact(ctx.school, ctx.user):
        return False
    if not any(isinstance(g, ReceiptIssuer) and not g.in_chat for g in ctx.gateways.values()):
        return False
    try:
        quote = shop.quote(ctx.school, offer, ctx.state.data.get("promos", {}).get(offer.code),
                           ctx.now)
    except errors.PromoInvalid:
        return False  # the buy step tells the student
    return quote.price.amount > 0


def ask(ctx: Context, offer_code: str, problem: str = "") -> Reply:
    t = ctx.t
    ctx.state.step = STEP
    ctx.state.data[_FOR] = offer_code
    rules = ctx.school.receipts
    prompt = t("receipt_email_prompt" if rules is not None and rules.email_only
               else "receipt_contact_prompt")
    return Reply(screen("\n\n".join(filter(None, (problem, prompt))),
                        Button(t("btn_back"), action=f"o:{offer_code}")),
                 edit=ctx.incoming.message is not None)


async def enter_contact(ctx: Context, typed: str, buy: Handler) -> Reply:
    """The student typed where receipts go: kept once it is an email or a phone, and the
    purchase it was asked for goes on through ``buy``; anything else is asked again."""
    code = ctx.state.data.get(_FOR, "")
    try:
        contact = await receipts.save_contact(ctx.uow, ctx.school, ctx.user, typed)
    except errors.ReceiptContactInvalid as exc:
        key = "receipt_email_invalid" if exc.params.get("email_only") \
            else "receipt_contact_invalid"
        return ask(ctx, code, ctx.t(key, text=exc.params.get("text", "")))
    ctx.state.step = ""
    ctx.state.data.pop(_FOR, None)
    saved = ctx.t("receipt_contact_saved", contact=contact)
    if not code:
        return Reply(screen(saved, menu_button(ctx.t)))
    reply = await buy(ctx, code)
    if reply.screen is not None:
        reply.screen = dataclasses.replace(reply.screen, text=f"{saved}\n\n{reply.screen.text}")
    return reply
