"""The support inbox's use cases: a student's message reaches the staff who may answer it,
an answer goes back where the student wrote from, a conversation is closed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import notices
from core.inbox import Conversation, ConversationMessage
from core.models import Identity
from core.ports import UnitOfWork
from core.school import School
from core.services import staff
from core.services.outbox import enqueue
from core.staff import Right, may

# A student who writes again within this much of their last message is not told again that
# it reached the school: once per burst of lines.
BURST = timedelta(minutes=10)


@dataclass(frozen=True)
class Received:
    conversation: Conversation
    message: ConversationMessage
    tell: bool  # tell the student their message reached the school
    readers: int  # staff accounts it was forwarded to


async def readers(uow: UnitOfWork, school: School, running: Collection[str],
                  but: str = "") -> list[Identity]:
    """The accounts of the staff whose role may answer the inbox, who have written to the bot
    (a messenger lets a bot write only then) and can be reached on a messenger running now;
    ``but``: an account left out (``telegram:123``)."""
    found = []
    for member in await staff.team(uow, school):
        if not may(member.role, Right.INBOX) or member.messenger not in running \
                or member.account == but:
            continue
        identity = await uow.users.identity(member.messenger, member.external_id)
        if identity is not None and identity.reachable:
            found.append(identity)
    return found


async def receive(uow: UnitOfWork, school: School, now: datetime, identity: Identity,
                  text: str, running: Collection[str]) -> Received | None:
    """A student's free text, written from ``identity``: a message of their open conversation
    (opened now if they have none), forwarded to every staff reader through the outbox.
    None, with nothing stored, when no staff member can read it now."""
    to = [reader for reader in await readers(uow, school, running)
          if reader.user_id != identity.user_id]
    if not to:
        return None
    conversation = await uow.conversations.open_for(identity.user_id, identity.id, now)
    before = conversation.last_student_at
    message = await uow.conversations.add_message(
        ConversationMessage(conversation_id=conversation.id, at=now, text=text))
    conversation.identity_id = identity.id  # answers go where they wrote from last
    conversation.last_student_at = conversation.updated_at = now
    await uow.conversations.update(conversation)
    for reader in to:
        await enqueue(uow, now, reader.user_id,
                      notices.InboxQuestion(conversation=conversation.id, message=message.id),
                      dedupe_key=f"inbox_question:{message.id}:{reader.id}",
                      identity_id=reader.id)
    return Received(conversation, message, before is None or now - before >= BURST, len(to))


async def answer(uow: UnitOfWork, school: School, now: datetime, conversation: Conversation,
                 author: str, text: str, running: Collection[str]) -> ConversationMessage:
    """Staff account ``author`` answers: the answer goes to the account the student last
    wrote from (another of theirs if that one cannot be reached), and the other readers
    are told it was answered. A closed conversation stays closed."""
    message = await uow.conversations.add_message(
        ConversationMessage(conversation_id=conversation.id, at=now, author=author, text=text))
    conversation.updated_at = now
    await uow.conversations.update(conversation)
    await enqueue(uow, now, conversation.user_id,
                  notices.InboxAnswer(conversation=conversation.id, message=message.id),
                  dedupe_key=f"inbox_answer:{message.id}", identity_id=conversation.identity_id)
    for reader in await readers(uow, school, running, but=author):
        await enqueue(uow, now, reader.user_id,
                      notices.InboxAnswered(conversation=conversation.id, message=message.id),
                      dedupe_key=f"inbox_answered:{message.id}:{reader.id}",
                      identity_id=reader.id)
    return message


async def close(uow: UnitOfWork, now: datetime, conversation_id: int, by: str) -> bool:
    """False: it was closed already. The student's next message opens a new one."""
    return await uow.conversations.close(conversation_id, by, now)


async def replied_to(uow: UnitOfWork, identity_id: int, external_message_id: str) -> int | None:
    """The conversation a staff member's reply answers: the one the message they replied to
    (a forwarded question, or a colleague's answer) was about; None for any other message."""
    sent = await uow.outbox.sent_as(identity_id, external_message_id)
    kind = notices.KINDS.get(sent.kind) if sent is not None else None
    if sent is None or kind not in (notices.InboxQuestion, notices.InboxAnswered):
        return None
    return notices.parse(sent.kind, sent.data).conversation  # type: ignore[attr-defined]
