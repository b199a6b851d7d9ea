"""The support inbox's outbox messages, rendered at send time in the reader's language: a
student's question to each staff reader, the school's answer to the student, and to the other
readers the word that a colleague answered. Also the lines /inbox shows of a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import notices
from core.inbox import Conversation, ConversationMessage, ConversationStatus
from core.ports import UnitOfWork
from flows.channel import Capabilities
from flows.texts import Texts
from flows.ui import Button, Screen, screen

if TYPE_CHECKING:
    from flows.notifications import Render

# Characters of one message shown in a chat message: with the words around it, it fits every
# messenger's limit (Telegram's 4096).
CLIPPED = 3500


def clip(text: str, most: int = CLIPPED) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


@dataclass(frozen=True)
class Student:
    """Who a conversation is with, as staff read it."""

    user_id: int
    name: str
    account: str  # the account they last wrote from: ``vk:4242``
    messenger: str


async def student_of(uow: UnitOfWork, conversation: Conversation) -> Student:
    user = await uow.users.get(conversation.user_id)
    identity = await uow.users.identity_by_id(conversation.identity_id)
    name = (user.name if user else "") or (identity.name if identity else "") or "?"
    if identity is None:
        return Student(conversation.user_id, name, "?", "?")
    return Student(conversation.user_id, name, f"{identity.messenger}:{identity.external_id}",
                   identity.messenger)


async def author_name(uow: UnitOfWork, student: Student, message: ConversationMessage) -> str:
    """The student's name, or the answering staff member's (their account if unknown)."""
    if message.from_student:
        return student.name
    messenger, _, external_id = message.author.partition(":")
    identity = await uow.users.identity(messenger, external_id)
    return identity.name if identity is not None and identity.name else message.author


def staff_buttons(t: Texts, conversation: Conversation) -> list[list[Button]]:
    """Card (the student card's own button), Answer, and Close while it is open."""
    rows = [[Button(t("btn_inbox_card"), action=f"sc:{conversation.user_id}"),
             Button(t("btn_inbox_answer"), action=f"ia:{conversation.id}")]]
    if conversation.status is ConversationStatus.OPEN:
        rows.append([Button(t("btn_inbox_close"), action=f"ic:{conversation.id}")])
    return rows


async def _found(r: Render, conversation_id: int, message_id: int
                 ) -> tuple[Conversation, ConversationMessage] | None:
    conversation = await r.uow.conversations.get(conversation_id)
    message = await r.uow.conversations.message(message_id)
    if conversation is None or message is None or message.conversation_id != conversation.id:
        return None
    return conversation, message


def _hint(t: Texts, capabilities: Capabilities) -> str:
    return t("inbox_reply_hint" if capabilities.replies else "inbox_answer_hint")


async def question(r: Render, n: notices.InboxQuestion) -> Screen | None:
    found = await _found(r, n.conversation, n.message)
    if found is None:
        return None
    conversation, message = found
    student = await student_of(r.uow, conversation)
    text = r.t("inbox_question", student=student.name, user=student.user_id,
               account=student.account, id=conversation.id, text=clip(message.text))
    return screen(f"{text}\n\n{_hint(r.t, r.capabilities)}", *staff_buttons(r.t, conversation))


async def answer(r: Render, n: notices.InboxAnswer) -> Screen | None:
    found = await _found(r, n.conversation, n.message)
    if found is None:
        return None
    _, message = found
    return screen(r.t("inbox_answer", school=r.school.name, text=message.text),
                  Button(r.t("btn_menu"), action="menu"))


async def answered(r: Render, n: notices.InboxAnswered) -> Screen | None:
    found = await _found(r, n.conversation, n.message)
    if found is None:
        return None
    conversation, message = found
    student = await student_of(r.uow, conversation)
    text = r.t("inbox_answered", staff=await author_name(r.uow, student, message),
               student=student.name, user=student.user_id, id=conversation.id,
               text=clip(message.text))
    return screen(text, *staff_buttons(r.t, conversation))
