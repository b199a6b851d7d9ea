"""The support inbox in the chat. A student's free text that no step expects goes to the
staff who answer the inbox (they are told once per burst that it reached the school); staff
answer with the forward's "Answer" button or, on Telegram, by replying to it; ``/inbox`` lists
the conversations. Staff actions are guarded and audited; a student's message is not one."""

from __future__ import annotations

from core.inbox import Conversation, ConversationStatus
from core.services import inbox
from core.staff import Right
from flows import staff, start
from flows.engine import Context, Reply, Stale, menu_button, parse_id
from flows.inbox_notices import CLIPPED, author_name, clip, staff_buttons, student_of
from flows.staff import staff_only
from flows.ui import Button, IncomingKind, Screen, screen

STEP = "inbox_answer"  # a staff member is typing an answer; the data holds the conversation
LONGEST = CLIPPED  # characters of an answer: with the school's name it fits every messenger
LISTED = 10  # conversations /inbox shows
SHOWN = 10  # a conversation's latest messages shown when it is opened
SNIPPET = 60


async def free_text(ctx: Context, arg: str) -> Reply:
    """The router's fallback. A student's free text goes to the inbox; a staff member's reply
    to a forwarded question answers it; anything else (an unknown command, a staff member's
    own text, a school nobody on the staff can read messages for) gets the menu."""
    incoming = ctx.incoming
    text = incoming.text.strip()
    if incoming.kind is not IncomingKind.TEXT or not text or text.startswith("/"):
        return await start.unknown_text(ctx, arg)
    if await _replied(ctx) is not None:
        return await answer_by_reply(ctx, text)
    if incoming.sender.impersonal or await staff.role_of(ctx) is not None:
        return await start.unknown_text(ctx, arg)
    received = await inbox.receive(ctx.uow, ctx.school, ctx.now, ctx.identity, text,
                                   ctx.messengers)
    if received is None:
        return await start.unknown_text(ctx, arg)
    ctx.queued = True
    if not received.tell:
        return Reply(None)
    return Reply(screen(ctx.t("inbox_received"), menu_button(ctx.t)))


async def _replied(ctx: Context) -> int | None:
    """The conversation a reply to a forwarded question (or a colleague's answer) is about."""
    ref = ctx.incoming.reply_to
    if ref is None or ref.peer != ctx.incoming.peer:
        return None
    return await inbox.replied_to(ctx.uow, ctx.identity.id, ref.message_id)


async def _conversation(ctx: Context, arg: str) -> Conversation:
    conversation = await ctx.uow.conversations.get(parse_id(arg))
    if conversation is None:
        raise Stale(arg)
    return conversation


@staff_only(Right.INBOX, "/inbox")
async def inbox_command(ctx: Context, arg: str) -> Reply:
    """``/inbox``: the open conversations, newest first; ``/inbox closed``: the latest closed
    ones. Each has a button that opens it."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    which = arg.strip().lower()
    if which not in ("", "closed"):
        actor.nothing("usage shown")
        return Reply(screen(t("inbox_usage")))
    status = ConversationStatus.CLOSED if which else ConversationStatus.OPEN
    conversations = await ctx.uow.conversations.latest(status, LISTED)
    actor.nothing(f"listed {len(conversations)} {status.value} conversations")
    edit = ctx.incoming.message is not None
    if not conversations:
        return Reply(screen(t(f"inbox_none_{status.value}")), edit=edit)
    title = "inbox_open_title" if status is ConversationStatus.OPEN else "inbox_closed_title"
    lines, buttons = [t(title, n=len(conversations))], []
    for conversation in conversations:
        student = await student_of(ctx.uow, conversation)
        last = await ctx.uow.conversations.messages(conversation.id, 1)
        mark = t("inbox_waiting") if last and last[0].from_student else t("inbox_done")
        when = conversation.updated_at or conversation.opened_at
        lines.append(f"#{conversation.id} · {student.name} (#{student.user_id}) · "
                     f"{t.datetime(when) if when else ''} · {mark}")
        if last:
            lines.append(f"   {clip(' '.join(last[0].text.split()), SNIPPET)}")
        buttons.append(Button(f"#{conversation.id} {student.name}",
                              action=f"io:{conversation.id}"))
    return Reply(screen("\n".join(lines), *buttons), edit=edit)


@staff_only(Right.INBOX, "inbox.open")
async def open_conversation(ctx: Context, arg: str) -> Reply:
    conversation = await _conversation(ctx, arg)
    assert ctx.staff is not None
    ctx.staff.nothing(f"read conversation #{conversation.id}", user_id=conversation.user_id)
    return Reply(await _view(ctx, conversation), edit=True)


async def _view(ctx: Context, conversation: Conversation) -> Screen:
    t = ctx.t
    student = await student_of(ctx.uow, conversation)
    if conversation.status is ConversationStatus.OPEN:
        status = t("inbox_status_open")
    else:
        closed = t.datetime(conversation.closed_at) if conversation.closed_at else ""
        status = t("inbox_status_closed", date=closed, by=conversation.closed_by)
    head = t("inbox_view", id=conversation.id, student=student.name, user=student.user_id,
             account=student.account, status=status)
    lines: list[str] = []
    room = CLIPPED - len(head)
    for message in reversed(await ctx.uow.conversations.messages(conversation.id, SHOWN)):
        at = t.datetime(message.at) if message.at else ""
        line = f"{at} {await author_name(ctx.uow, student, message)}: {clip(message.text, 600)}"
        if len(line) + 2 > room:
            break
        lines.insert(0, line)
        room -= len(line) + 2
    return screen("\n\n".join([head, *lines]), *staff_buttons(t, conversation),
                  Button(t("btn_inbox_list"), action="il"))


@staff_only(Right.INBOX, "inbox.answer")
async def ask_answer(ctx: Context, arg: str) -> Reply:
    """The "Answer" button: the next text the staff member types is the answer."""
    conversation = await _conversation(ctx, arg)
    assert ctx.staff is not None
    ctx.state.step = STEP
    ctx.state.data[STEP] = conversation.id
    ctx.staff.nothing(f"conversation #{conversation.id}: typing an answer",
                      user_id=conversation.user_id)
    student = await student_of(ctx.uow, conversation)
    return Reply(screen(ctx.t("inbox_type_answer", student=student.name, user=student.user_id,
                              id=conversation.id, messenger=_title(ctx, student.messenger)),
                        menu_button(ctx.t)))


async def typed_answer(ctx: Context, text: str) -> Reply:
    """The step after "Answer". Someone no longer on the staff leaves the step."""
    reply = await _typed_answer(ctx, text)
    if ctx.staff is None:
        ctx.state.step = ""
        ctx.state.data.pop(STEP, None)
    return reply


@staff_only(Right.INBOX, "inbox.answer")
async def _typed_answer(ctx: Context, text: str) -> Reply:
    conversation = await _conversation(ctx, str(ctx.state.data.get(STEP, "")))
    reply, sent = await _answer(ctx, conversation, text)
    if sent:
        ctx.state.step = ""
        ctx.state.data.pop(STEP, None)
    return reply


@staff_only(Right.INBOX, "inbox.answer")
async def answer_by_reply(ctx: Context, text: str) -> Reply:
    """A reply (Telegram) to a forwarded question or to a colleague's answer."""
    conversation_id = await _replied(ctx)
    if conversation_id is None:
        raise Stale("reply")
    reply, _ = await _answer(ctx, await _conversation(ctx, str(conversation_id)), text)
    return reply


async def _answer(ctx: Context, conversation: Conversation, text: str) -> tuple[Reply, bool]:
    """Send the answer, or say why not (and change nothing); True when it was sent."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    student = await student_of(ctx.uow, conversation)
    if not text:
        actor.nothing(f"conversation #{conversation.id}: empty answer", user_id=student.user_id)
        return Reply(screen(t("inbox_type_answer", student=student.name, user=student.user_id,
                              id=conversation.id, messenger=_title(ctx, student.messenger)),
                            menu_button(t))), False
    if len(text) > LONGEST:
        actor.nothing(f"conversation #{conversation.id}: answer too long ({len(text)} "
                      "characters)", user_id=student.user_id)
        return Reply(screen(t("inbox_too_long", n=len(text), most=LONGEST))), False
    await inbox.answer(ctx.uow, ctx.school, ctx.now, conversation, actor.account, text,
                       ctx.messengers)
    ctx.queued = True
    actor.did(f"conversation #{conversation.id}: answer sent to {student.account}",
              user_id=student.user_id)
    return Reply(screen(t("inbox_sent", student=student.name, user=student.user_id,
                          messenger=_title(ctx, student.messenger)))), True


@staff_only(Right.INBOX, "inbox.close")
async def close(ctx: Context, arg: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    conversation = await _conversation(ctx, arg)
    student = await student_of(ctx.uow, conversation)
    if await inbox.close(ctx.uow, ctx.now, conversation.id, actor.account):
        actor.did(f"conversation #{conversation.id} closed", user_id=student.user_id)
        text = t("inbox_closed_now", id=conversation.id, student=student.name,
                 user=student.user_id)
    else:
        actor.nothing(f"conversation #{conversation.id} was closed already",
                      user_id=student.user_id)
        text = t("inbox_closed_already", id=conversation.id)
    return Reply(screen(text, Button(t("btn_inbox_list"), action="il")))


def _title(ctx: Context, messenger: str) -> str:
    return ctx.titles.get(messenger, messenger)
