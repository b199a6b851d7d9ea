"""The support inbox's storage, on every backend: one open conversation per student (also
when two messages race, and when two students' accounts are linked), closing once, listing,
and finding a sent message by the messenger's id of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage_helpers import add_user

from core.inbox import ConversationMessage, ConversationStatus
from core.models import Identity, OutboxMessage, OutboxStatus

MINUTE = timedelta(minutes=1)


async def _student(uow, external_id: str = "7"):
    user = await add_user(uow)
    identity = await uow.users.add_identity(
        Identity(user_id=user.id, messenger="telegram", external_id=external_id))
    return user, identity


async def test_a_student_has_one_open_conversation(uow_factory, now):
    async with uow_factory() as uow:
        user, identity = await _student(uow)
        first = await uow.conversations.open_for(user.id, identity.id, now)
        again = await uow.conversations.open_for(user.id, identity.id, now + MINUTE)
        await uow.commit()
    assert first == again and first.status is ConversationStatus.OPEN
    assert (first.opened_at, first.closed_by, first.last_student_at) == (now, "", None)

    async with uow_factory() as uow:
        assert await uow.conversations.close(first.id, "telegram:900", now + MINUTE)
        assert not await uow.conversations.close(first.id, "telegram:901", now + 2 * MINUTE)
        second = await uow.conversations.open_for(user.id, identity.id, now + 3 * MINUTE)
        await uow.commit()
    assert second.id != first.id
    async with uow_factory() as uow:
        closed = await uow.conversations.get(first.id)
        assert (closed.status, closed.closed_by, closed.closed_at) == (
            ConversationStatus.CLOSED, "telegram:900", now + MINUTE)
        assert await uow.conversations.latest(ConversationStatus.OPEN, 10) == [second]
        assert await uow.conversations.latest(ConversationStatus.CLOSED, 10) == [closed]


async def test_two_messages_at_once_land_in_one_conversation(uow_factory, now):
    async with uow_factory() as uow:
        user, identity = await _student(uow)
        await uow.commit()

    async def write(text: str) -> int:
        async with uow_factory() as uow:
            conversation = await uow.conversations.open_for(user.id, identity.id, now)
            await uow.conversations.add_message(ConversationMessage(
                conversation_id=conversation.id, at=now, text=text))
            await uow.commit()
            return conversation.id

    ids = await asyncio.gather(*(write(f"line {n}") for n in range(4)))
    assert len(set(ids)) == 1
    async with uow_factory() as uow:
        assert sorted(m.text for m in await uow.conversations.messages(ids[0], 10)) == [
            "line 0", "line 1", "line 2", "line 3"]


async def test_messages_are_the_latest_oldest_first(uow_factory, now):
    async with uow_factory() as uow:
        user, identity = await _student(uow)
        conversation = await uow.conversations.open_for(user.id, identity.id, now)
        for n in range(5):
            await uow.conversations.add_message(ConversationMessage(
                conversation_id=conversation.id, at=now + n * MINUTE,
                author="" if n % 2 == 0 else "telegram:900", text=f"m{n}"))
        await uow.commit()
    async with uow_factory() as uow:
        latest = await uow.conversations.messages(conversation.id, 3)
        assert [(m.text, m.from_student) for m in latest] == [
            ("m2", True), ("m3", False), ("m4", True)]
        assert await uow.conversations.message(latest[0].id) == latest[0]


async def test_open_conversations_are_listed_by_their_last_message(uow_factory, now):
    async with uow_factory() as uow:
        opened = []
        for n in range(3):
            user, identity = await _student(uow, str(n))
            opened.append(await uow.conversations.open_for(user.id, identity.id, now))
        opened[0].updated_at = now + 5 * MINUTE
        await uow.conversations.update(opened[0])
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.conversations.latest(ConversationStatus.OPEN, 2)
    assert [c.id for c in listed] == [opened[0].id, opened[2].id]


async def test_linking_closes_the_joining_students_second_open_conversation(uow_factory, now):
    async with uow_factory() as uow:
        anna, on_telegram = await _student(uow, "1")
        also_anna, on_vk = await _student(uow, "2")
        kept = await uow.conversations.open_for(anna.id, on_telegram.id, now)
        joined = await uow.conversations.open_for(also_anna.id, on_vk.id, now + MINUTE)
        await uow.users.merge(also_anna.id, anna.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.conversations.latest(ConversationStatus.OPEN, 10) == [kept]
        closed = await uow.conversations.get(joined.id)
    assert (closed.user_id, closed.status, closed.closed_by) == (
        anna.id, ConversationStatus.CLOSED, "linked")


async def test_a_sent_message_is_found_by_the_messengers_id_of_it(uow_factory, now):
    async with uow_factory() as uow:
        user, identity = await _student(uow)
        _, other = await _student(uow, "8")
        message = OutboxMessage(user_id=user.id, kind="inbox_question",
                                data={"conversation": 1, "message": 1}, created_at=now,
                                identity_id=identity.id)
        await uow.outbox.add(message)
        assert message.identity_id == identity.id  # recorded for that account
        await uow.outbox.claim(now, now, 10)
        await uow.outbox.mark_sent(message.id, identity.id, now, "4711")
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.outbox.sent_as(identity.id, "4711")
        assert (found.id, found.status, found.external_message_id) == (
            message.id, OutboxStatus.SENT, "4711")
        assert await uow.outbox.sent_as(other.id, "4711") is None  # another chat's 4711
        assert await uow.outbox.sent_as(identity.id, "4712") is None
