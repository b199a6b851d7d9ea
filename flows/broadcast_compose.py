"""``/broadcast``: staff compose a message to a segment of students, step by step.

    /broadcast   -> the text is typed -> the draft, with buttons to add a picture (its
                    address), buttons (an offer, a link, "My courses"), choose the audience,
                    mark it a service announcement (holders only), preview it in this chat,
                    see the estimate, and send it now or at a typed time; discard at any step

The draft lives in the author's chat state until it is sent or discarded: a second press of
"send" finds nothing to send. Every step is a staff action (``Right.BROADCAST``) with its
audit line; creating the broadcast says what went to whom."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from core.broadcasts import (
    MAX_BUTTONS,
    MAX_TEXT,
    Broadcast,
    BroadcastButton,
    ButtonKind,
    Segment,
    SegmentKind,
)
from core.local_time import parse_moment
from core.ports import Audience
from core.school import pick
from core.services import broadcasts, segments, tags
from core.services.broadcast_estimate import Estimate, estimate
from core.services.broadcasts import MAX_LABEL, BroadcastInvalid
from core.services.segments import SegmentInvalid
from core.staff import Right
from flows.broadcast_view import duration, message_screen
from flows.engine import Context, Reply, Stale
from flows.formatting import escape
from flows.staff import account_of, staff_only
from flows.student_card import title_of
from flows.texts import CATALOGS, Texts
from flows.ui import Button, Screen, screen

DRAFT = "broadcast"  # the draft, in the author's chat state
TEXT_STEP, PICTURE_STEP, URL_STEP = "compose_text", "compose_picture", "compose_url"
DAYS_STEP, TAG_STEP, AT_STEP = "compose_days", "compose_tag", "compose_at"
STEPS = (TEXT_STEP, PICTURE_STEP, URL_STEP, DAYS_STEP, TAG_STEP, AT_STEP)
DAYS = (7, 30, 90)  # "access ended within" buttons; any other number is typed
TAGS_SHOWN = 20
PREVIEW_ID = 0  # the broadcast id of a preview's buttons (``flows.broadcast_buttons``)


def _new_draft() -> dict[str, Any]:
    return {"text": "", "picture": None, "buttons": [], "segment": "everyone",
            "service": False}


def draft_of(ctx: Context) -> dict[str, Any] | None:
    draft = ctx.state.data.get(DRAFT)
    return draft if isinstance(draft, dict) else None


def draft_buttons(draft: dict[str, Any]) -> list[BroadcastButton]:
    return [BroadcastButton(ButtonKind(b["kind"]), b.get("label", ""), b.get("value", ""))
            for b in draft["buttons"]]


def _leave_steps(ctx: Context) -> None:
    if ctx.state.step in STEPS:
        ctx.state.step = ""


def _actor(ctx: Context):
    assert ctx.staff is not None
    return ctx.staff


Step = Callable[[Context, dict[str, Any], str], Awaitable[Reply]]


def _with_draft(step: Step) -> Callable[[Context, str], Awaitable[Reply]]:
    """Runs ``step`` on the chat's draft; a press after it was sent or discarded is told so."""

    async def run(ctx: Context, arg: str) -> Reply:
        draft = draft_of(ctx)
        if draft is None or not draft.get("text"):
            return await _gone(ctx)
        return await step(ctx, draft, arg)

    run.__name__ = run.__qualname__ = step.__name__
    run.__doc__ = step.__doc__
    return run


# --- the text -----------------------------------------------------------------------------


@staff_only(Right.BROADCAST, "/broadcast")
async def broadcast_command(ctx: Context, _: str) -> Reply:
    """``/broadcast``: a new draft; a draft left unsent is dropped."""
    ctx.state.data[DRAFT] = _new_draft()
    ctx.state.step = TEXT_STEP
    _actor(ctx).nothing("started a draft")
    return Reply(_text_prompt(ctx.t))


def _text_prompt(t: Texts, again: bool = False) -> Screen:
    """``again``: the draft has a text already, kept if the author goes back."""
    return screen(t("compose_text_prompt", most=MAX_TEXT),
                  *([_back(t)] if again else []), Button(t("btn_compose_discard"), action="bcx"))


@staff_only(Right.BROADCAST, "broadcast.text")
async def ask_text(ctx: Context, _: str) -> Reply:
    """``bct``: the text is typed again."""
    draft = draft_of(ctx)
    if draft is None:
        return await _gone(ctx)
    ctx.state.step = TEXT_STEP
    _actor(ctx).nothing("asked for the text")
    return Reply(_text_prompt(ctx.t, again=bool(draft["text"])), edit=True)


async def _gone(ctx: Context) -> Reply:
    _leave_steps(ctx)
    _actor(ctx).nothing("no draft (sent or discarded already)")
    return Reply(screen(ctx.t("compose_gone")), edit=ctx.incoming.message is not None)


@staff_only(Right.BROADCAST, "broadcast.text")
async def typed_text(ctx: Context, text: str) -> Reply:
    draft = draft_of(ctx)
    if draft is None:
        return await _gone(ctx)
    # As written: line breaks kept, and the messenger's formatting where it has one.
    typed = (ctx.incoming.html or escape(ctx.incoming.text)).strip()
    try:
        _validate(ctx, {**draft, "text": typed})
    except BroadcastInvalid as invalid:
        return _refused(ctx, invalid.reason, _text_prompt(ctx.t, again=bool(draft["text"])))
    draft["text"] = typed
    ctx.state.step = ""
    _actor(ctx).nothing(f"text of {len(typed)} characters")
    return Reply(draft_screen(ctx, draft))


# --- the picture --------------------------------------------------------------------------


async def _ask_picture(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcp``: the picture's address is typed next."""
    t = ctx.t
    ctx.state.step = PICTURE_STEP
    _actor(ctx).nothing("asked for a picture")
    rows = [Button(t("btn_compose_picture_remove"), action="bcpr")] if draft["picture"] else []
    return Reply(screen(t("compose_picture_prompt"), *rows, _back(t)), edit=True)


ask_picture = staff_only(Right.BROADCAST, "broadcast.picture")(_with_draft(_ask_picture))


async def _typed_picture(ctx: Context, draft: dict[str, Any], text: str) -> Reply:
    address = text.strip()
    try:
        _validate(ctx, {**draft, "picture": address})
    except BroadcastInvalid as invalid:
        return _refused(ctx, invalid.reason, screen(ctx.t("compose_picture_prompt"), _back(ctx.t)))
    draft["picture"] = address
    ctx.state.step = ""
    _actor(ctx).nothing(f"picture {address[:200]}")
    return Reply(draft_screen(ctx, draft))


typed_picture = staff_only(Right.BROADCAST, "broadcast.picture")(_with_draft(_typed_picture))


async def _remove_picture(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    draft["picture"] = None
    _leave_steps(ctx)
    _actor(ctx).nothing("picture removed")
    return Reply(draft_screen(ctx, draft), edit=True)


remove_picture = staff_only(Right.BROADCAST, "broadcast.picture")(_with_draft(_remove_picture))


# --- buttons ------------------------------------------------------------------------------


def _add_button(ctx: Context, draft: dict[str, Any], button: BroadcastButton,
                refused: Screen | None = None) -> Reply:
    """The button added under the draft; refused (``refused`` shown again) when the draft
    cannot have it."""
    buttons = [*draft_buttons(draft), button]
    try:
        _validate(ctx, {**draft, "buttons": [asdict(b) for b in buttons]})
    except BroadcastInvalid as invalid:
        return _refused(ctx, invalid.reason, refused or draft_screen(ctx, draft))
    draft["buttons"] = [{k: str(v) for k, v in asdict(b).items()} for b in buttons]
    _leave_steps(ctx)
    _actor(ctx).nothing(f"button {button.kind.value} {button.value}".strip())
    return Reply(draft_screen(ctx, draft), edit=ctx.incoming.message is not None)


async def _offer_button(ctx: Context, draft: dict[str, Any], code: str) -> Reply:
    """``bco``: the school's offers; ``bco:<offer>``: that one's button added."""
    t, school = ctx.t, ctx.school
    if not code:
        _leave_steps(ctx)
        _actor(ctx).nothing("listed the offers for a button")
        offers = [Button(title_of(school, t, c), action=f"bco:{c}") for c in school.offers]
        return Reply(screen(t("compose_offer_pick"), *offers, _back(t)), edit=True)
    offer = school.offer(code)
    if offer is None:
        raise Stale(code)
    # Shown as the school names it (its own language): every student reads the same label.
    label = pick(offer.title, school.default_language, school.default_language)
    return _add_button(ctx, draft, BroadcastButton(ButtonKind.OFFER, label[:MAX_LABEL], code))


offer_button = staff_only(Right.BROADCAST, "broadcast.button")(_with_draft(_offer_button))


async def _ask_link(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcu``: the link's address and label are typed next."""
    ctx.state.step = URL_STEP
    _actor(ctx).nothing("asked for a link button")
    return Reply(screen(ctx.t("compose_link_prompt"), _back(ctx.t)), edit=True)


ask_link = staff_only(Right.BROADCAST, "broadcast.button")(_with_draft(_ask_link))


async def _typed_link(ctx: Context, draft: dict[str, Any], text: str) -> Reply:
    """``https://example.com Sign up``: the address, then the label."""
    address, _, label = text.strip().partition(" ")
    prompt = screen(ctx.t("compose_link_prompt"), _back(ctx.t))
    if not label.strip():
        return _refused(ctx, "no_label", prompt)
    return _add_button(ctx, draft, BroadcastButton(ButtonKind.URL, label.strip(), address),
                       prompt)


typed_link = staff_only(Right.BROADCAST, "broadcast.button")(_with_draft(_typed_link))


async def _courses_button(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcc``: a "My courses" button."""
    return _add_button(ctx, draft, BroadcastButton(ButtonKind.COURSES))


courses_button = staff_only(Right.BROADCAST, "broadcast.button")(_with_draft(_courses_button))


async def _remove_buttons(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    draft["buttons"] = []
    _leave_steps(ctx)
    _actor(ctx).nothing("buttons removed")
    return Reply(draft_screen(ctx, draft), edit=True)


remove_buttons = staff_only(Right.BROADCAST, "broadcast.button")(_with_draft(_remove_buttons))


# --- the audience -------------------------------------------------------------------------

# Kinds chosen with one press, and kinds whose value is picked next (``bck:<picker>``).
PLAIN_KINDS = (SegmentKind.EVERYONE, SegmentKind.NEVER_BOUGHT, SegmentKind.UNPAID)
PICKERS = ("offer", "product", "ended", "messenger", "language", "tag")


async def _audience_menu(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bca``: the kinds of segment."""
    t = ctx.t
    _leave_steps(ctx)
    _actor(ctx).nothing("opened the audience menu")
    plain = [Button(t(f"btn_compose_seg_{kind.value}"), action=f"bcs:{kind.value}")
             for kind in PLAIN_KINDS]
    picked = [Button(t(f"btn_compose_pick_{what}"), action=f"bck:{what}") for what in PICKERS]
    return Reply(screen(t("compose_audience_pick", now=segment_name(ctx, _segment(draft))),
                        *plain, *picked, _back(t)), edit=True)


audience_menu = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_audience_menu))


async def _value_picker(ctx: Context, draft: dict[str, Any], what: str) -> Reply:
    """``bck:<picker>``: the values of one kind of segment, each a ``bcs:`` button."""
    t, school = ctx.t, ctx.school
    _leave_steps(ctx)
    values: list[tuple[str, str]]  # (label, encoded segment)
    if what == "offer":
        values = [(title_of(school, t, c), f"holders:offer:{c}") for c in school.offers]
    elif what == "product":
        values = [(title_of(school, t, c), f"holders:product:{c}") for c in school.products]
    elif what == "ended":
        ctx.state.step = DAYS_STEP
        values = [(t("btn_compose_days", days=t.period(f"P{d}D")), f"ended:{d}") for d in DAYS]
    elif what == "messenger":
        values = [(ctx.titles.get(m, m), f"messenger:{m}") for m in ctx.messengers]
    elif what == "language":
        values = [(code.upper(), f"language:{code}") for code in _languages(ctx)]
    elif what == "tag":
        ctx.state.step = TAG_STEP  # one not among the most common is typed
        values = [(f"#{tag} · {count}", f"tag:{tag}")
                  for tag, count in await ctx.uow.segments.tags(TAGS_SHOWN)]
    else:
        raise Stale(what)
    _actor(ctx).nothing(f"picking a segment by {what}")
    typed = what in ("ended", "tag")  # a value may be typed too
    text = t(f"compose_pick_{what}") if values or typed else t("compose_pick_none")
    return Reply(screen(text, *[Button(label, action=f"bcs:{value}") for label, value in values],
                        Button(t("btn_back"), action="bca")), edit=True)


value_picker = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_value_picker))


async def _set_segment(ctx: Context, draft: dict[str, Any], encoded: str) -> Reply:
    """``bcs:<segment>``: the audience chosen."""
    try:
        segment = Segment.decode(encoded)
        _audience(ctx, segment, draft)
    except ValueError:
        raise Stale(encoded) from None
    except SegmentInvalid as invalid:
        if invalid.reason != "service_needs_holders":
            raise Stale(encoded) from None
        draft["service"] = False  # only holders get service announcements
    draft["segment"] = segment.encode()
    _leave_steps(ctx)
    _actor(ctx).nothing(f"audience {segment.encode()}")
    return Reply(draft_screen(ctx, draft), edit=ctx.incoming.message is not None)


set_segment = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_set_segment))


async def _typed_days(ctx: Context, draft: dict[str, Any], text: str) -> Reply:
    days = text.strip()
    if not (days.isascii() and days.isdigit()) or not 0 < int(days) <= segments.MAX_DAYS:
        return _refused(ctx, "bad_days", screen(
            ctx.t("compose_pick_ended"), Button(ctx.t("btn_back"), action="bca")),
            most=segments.MAX_DAYS)
    return await _set_segment(ctx, draft, f"ended:{int(days)}")


typed_days = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_typed_days))


async def _typed_tag(ctx: Context, draft: dict[str, Any], text: str) -> Reply:
    tag = tags.normalize(text.removeprefix("#"))
    if tag is None:
        return _refused(ctx, "bad_tag", screen(
            ctx.t("compose_pick_tag"), Button(ctx.t("btn_back"), action="bca")))
    return await _set_segment(ctx, draft, f"tag:{tag}")


typed_tag = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_typed_tag))


async def _toggle_service(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcv``: a service announcement (reaches holders who turned promotions off) or not."""
    if _segment(draft).kind is not SegmentKind.HOLDERS:
        raise Stale("service announcement to a segment of non-holders")
    draft["service"] = not draft["service"]
    _leave_steps(ctx)
    _actor(ctx).nothing(f"service announcement {'on' if draft['service'] else 'off'}")
    return Reply(draft_screen(ctx, draft), edit=True)


toggle_service = staff_only(Right.BROADCAST, "broadcast.audience")(_with_draft(_toggle_service))


def _languages(ctx: Context) -> list[str]:
    return sorted(set(CATALOGS) | set(ctx.school.texts) | {ctx.school.default_language})


def _segment(draft: dict[str, Any]) -> Segment:
    return Segment.decode(draft["segment"])


def _audience(ctx: Context, segment: Segment, draft: dict[str, Any]) -> Audience:
    return segments.audience(ctx.school, segment, ctx.now, marketing=not draft["service"],
                             messengers=ctx.messengers, languages=_languages(ctx))


def segment_name(ctx: Context, segment: Segment) -> str:
    t, value = ctx.t, segment.value
    if segment.kind is SegmentKind.HOLDERS:
        what, _, code = value.partition(":")
        return t(f"compose_seg_holders_{what}", title=title_of(ctx.school, t, code))
    if segment.kind is SegmentKind.ENDED:
        return t("compose_seg_ended", days=t.period(f"P{value}D"))
    if segment.kind is SegmentKind.MESSENGER:
        return t("compose_seg_messenger", messenger=ctx.titles.get(value, value))
    if segment.kind in (SegmentKind.LANGUAGE, SegmentKind.TAG):
        return t(f"compose_seg_{segment.kind.value}", value=value.upper()
                 if segment.kind is SegmentKind.LANGUAGE else value)
    return t(f"btn_compose_seg_{segment.kind.value}")


# --- preview, estimate, send --------------------------------------------------------------


def _as_broadcast(ctx: Context, draft: dict[str, Any]) -> Broadcast:
    """The draft as the broadcast it would be, for its preview."""
    return Broadcast(id=PREVIEW_ID, author=account_of(ctx), text=draft["text"],
                     picture_url=draft["picture"], buttons=list(draft["buttons"]),
                     segment=draft["segment"], marketing=not draft["service"])


async def _preview(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcw``: the message as students will see it, then the draft under it."""
    _leave_steps(ctx)
    _actor(ctx).nothing("previewed")
    shown = message_screen(_as_broadcast(ctx, draft), ctx.t, ctx.capabilities)
    menu = draft_screen(ctx, draft)

    async def then() -> Screen:
        return menu

    return Reply(shown, after=then)


preview = staff_only(Right.BROADCAST, "broadcast.preview")(_with_draft(_preview))


async def _estimate(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bce``: recipients, time and cost, and the ways to send."""
    t = ctx.t
    _leave_steps(ctx)
    try:
        audience = _audience(ctx, _segment(draft), draft)
    except SegmentInvalid as invalid:
        return _refused(ctx, invalid.reason, draft_screen(ctx, draft))
    found = estimate(await segments.reach(ctx.uow, audience), ctx.sending)
    _actor(ctx).nothing(f"estimate: {found.recipients} recipients of {draft['segment']}")
    text = estimate_text(ctx, draft, found)
    if not found.recipients:
        return Reply(screen(text, _back(t)), edit=True)
    return Reply(screen(text, [Button(t("btn_compose_send_now"), action="bcg"),
                               Button(t("btn_compose_send_at"), action="bcl")], _back(t)),
                 edit=True)


estimate_step = staff_only(Right.BROADCAST, "broadcast.estimate")(_with_draft(_estimate))


def estimate_text(ctx: Context, draft: dict[str, Any], found: Estimate) -> str:
    t = ctx.t
    lines = [t("compose_estimate_title", segment=segment_name(ctx, _segment(draft)),
               n=found.recipients)]
    for line in found.lines:
        lines.append(t("compose_estimate_line", messenger=ctx.titles.get(line.messenger,
                                                                     line.messenger),
                       n=line.recipients, time=duration(t, max(1.0, line.seconds)),
                       rate=f"{ctx.sending.rate(line.messenger):g}"))
        if line.cost is not None:
            lines.append(t("compose_estimate_cost", n=line.charged,
                           cost=f"{line.cost.amount:.2f} {line.cost.currency}"))
    if found.recipients:
        lines += ["", t("compose_estimate_total", time=duration(t, max(1.0, found.seconds)))]
    else:
        lines += ["", t("compose_estimate_nobody")]
    if not draft["service"]:
        lines.append(t("compose_estimate_marketing"))
    return "\n".join(lines)


async def _send_now(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcg``: the broadcast is made and starts sending."""
    _leave_steps(ctx)
    return await _create(ctx, draft, None)


send_now = staff_only(Right.BROADCAST, "broadcast.send")(_with_draft(_send_now))


async def _ask_time(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bcl``: the moment is typed next, in the school's time."""
    ctx.state.step = AT_STEP
    _actor(ctx).nothing("asked when to send")
    return Reply(_time_prompt(ctx), edit=True)


ask_time = staff_only(Right.BROADCAST, "broadcast.send")(_with_draft(_ask_time))


def _time_prompt(ctx: Context) -> Screen:
    return screen(ctx.t("compose_at_prompt", zone=ctx.school.timezone.key), _back(ctx.t))


async def _typed_time(ctx: Context, draft: dict[str, Any], text: str) -> Reply:
    at = parse_moment(text, ctx.now, ctx.school.timezone, _day_words(ctx))
    if at is None:
        return _refused(ctx, "bad_time", _time_prompt(ctx))
    if at <= ctx.now:
        return _refused(ctx, "past", _time_prompt(ctx))
    return await _create(ctx, draft, at)


typed_time = staff_only(Right.BROADCAST, "broadcast.send")(_with_draft(_typed_time))


def _day_words(ctx: Context) -> dict[str, int]:
    """"today" and "tomorrow" in every language of the bot."""
    words = {}
    for catalog in CATALOGS.values():
        words[catalog.TEXTS["compose_word_today"].lower()] = 0
        words[catalog.TEXTS["compose_word_tomorrow"].lower()] = 1
    return words


async def _create(ctx: Context, draft: dict[str, Any], at: datetime | None) -> Reply:
    t, actor = ctx.t, _actor(ctx)
    segment = _segment(draft)
    try:
        audience = _audience(ctx, segment, draft)
        found = [r async for page in segments.recipients(ctx.uow, audience) for r in page]
        made = await broadcasts.create(
            ctx.uow, author=actor.account, author_messenger=ctx.incoming.peer.messenger,
            author_chat_id=ctx.incoming.peer.chat_id, text=draft["text"], segment=segment,
            recipients=found, now=ctx.now, at=at, picture_url=draft["picture"],
            buttons=draft_buttons(draft), marketing=not draft["service"])
    except (BroadcastInvalid, SegmentInvalid) as invalid:
        back = _time_prompt(ctx) if at is not None else draft_screen(ctx, draft)
        return _refused(ctx, invalid.reason, back)
    ctx.state.data.pop(DRAFT, None)
    _leave_steps(ctx)
    ctx.queued = True  # the sender starts on it at once
    kind = "marketing" if made.marketing else "service announcement"
    when = f"at {at.isoformat()}" if at is not None else "now"
    buttons = ", ".join(f"{b.kind.value}{' ' + b.value if b.value else ''}"
                        for b in draft_buttons(draft)) or "none"
    actor.did(f"broadcast #{made.id} {when} to {segment.encode()} ({kind}): {made.total} "
              f"students; picture {draft['picture'] or 'none'}; buttons {buttons}; "
              f"text {draft['text'][:120]!r}")
    if at is not None:
        return Reply(screen(t("compose_scheduled", id=made.id, n=made.total, when=t.datetime(at),
                              zone=ctx.school.timezone.key)), edit=True)
    return Reply(screen(t("compose_started", id=made.id, n=made.total)),
                 edit=ctx.incoming.message is not None)


# --- discard, the draft screen ------------------------------------------------------------


@staff_only(Right.BROADCAST, "broadcast.discard")
async def discard(ctx: Context, _: str) -> Reply:
    """``bcx``: the draft is dropped."""
    had = ctx.state.data.pop(DRAFT, None) is not None
    _leave_steps(ctx)
    _actor(ctx).nothing("discarded the draft" if had else "no draft to discard")
    return Reply(screen(ctx.t("compose_discarded")), edit=ctx.incoming.message is not None)


async def _menu(ctx: Context, draft: dict[str, Any], _: str) -> Reply:
    """``bc``: back to the draft."""
    _leave_steps(ctx)
    _actor(ctx).nothing("opened the draft")
    return Reply(draft_screen(ctx, draft), edit=True)


menu = staff_only(Right.BROADCAST, "broadcast.compose")(_with_draft(_menu))


def draft_screen(ctx: Context, draft: dict[str, Any]) -> Screen:
    t = ctx.t
    segment = _segment(draft)
    buttons = [t("btn_my") if b.kind is ButtonKind.COURSES
               else title_of(ctx.school, t, b.value) if b.kind is ButtonKind.OFFER
               else f"{b.label} ({b.value})" for b in draft_buttons(draft)]
    # Formatted, so that the author sees the text as the students will.
    text = t("compose_draft", text=draft["text"],
             picture=escape(draft["picture"] or t("compose_none")),
             buttons=escape("; ".join(buttons) or t("compose_none")),
             segment=escape(segment_name(ctx, segment)),
             kind=escape(t("compose_kind_service" if draft["service"]
                           else "compose_kind_marketing")))
    rows: list[list[Button]] = [
        [Button(t("btn_compose_text"), action="bct"),
         Button(t("btn_compose_picture"), action="bcp")]]
    if len(draft["buttons"]) < MAX_BUTTONS:
        rows.append([Button(t("btn_compose_add_offer"), action="bco"),
                     Button(t("btn_compose_add_link"), action="bcu"),
                     Button(t("btn_compose_add_courses"), action="bcc")])
    if draft["buttons"]:
        rows.append([Button(t("btn_compose_remove_buttons"), action="bcr")])
    rows.append([Button(t("btn_compose_audience"), action="bca")])
    if segment.kind is SegmentKind.HOLDERS:
        service = "btn_compose_service_on" if draft["service"] else "btn_compose_service_off"
        rows.append([Button(t(service), action="bcv")])
    rows.append([Button(t("btn_compose_preview"), action="bcw"),
                 Button(t("btn_compose_estimate"), action="bce")])
    rows.append([Button(t("btn_compose_discard"), action="bcx")])
    return dataclasses.replace(screen(text, *rows), html=True)


def _back(t: Texts) -> Button:
    return Button(t("btn_back"), action="bc")


def _validate(ctx: Context, draft: dict[str, Any]) -> None:
    broadcasts.validate(text=draft["text"], segment=_segment(draft), now=ctx.now, at=None,
                        picture_url=draft["picture"], buttons=draft_buttons(draft),
                        marketing=not draft["service"])


def _refused(ctx: Context, reason: str, then: Screen, **params: object) -> Reply:
    """Bad input: said, audited, and nothing changed."""
    _actor(ctx).nothing(f"refused: {reason}")
    said = ctx.t(f"compose_invalid_{reason}", most=params.get("most", ""), max_text=MAX_TEXT,
                 max_buttons=MAX_BUTTONS)
    said = escape(said) if then.html else said
    return Reply(dataclasses.replace(then, text=f"{said}\n\n{then.text}"))
