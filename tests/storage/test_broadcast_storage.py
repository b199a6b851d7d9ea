"""Broadcast rows on every backend: recipients inserted in chunks, claims that never hand a
row to two senders, claims of a dead sender coming back, outcomes written in one go."""

import asyncio
from datetime import timedelta

from sqlalchemy import insert, select
from storage_helpers import T0

from core.broadcasts import (
    Broadcast,
    BroadcastStatus,
    ButtonPress,
    Outcome,
    Recipient,
    RecipientStatus,
)
from core.models import Identity, User
from storage.broadcast_repositories import CHUNK
from storage.repositories import identities, users


async def _scene(uow_factory, students: int) -> tuple[Broadcast, list[Recipient]]:
    """``students`` students with a Telegram account each (inserted in bulk), and a
    broadcast to all of them."""
    async with uow_factory() as uow:
        session = (await uow.sql())._active()  # the database itself, for bulk inserts
        await session.execute(insert(users), [
            {"created_at": T0, "name": f"S{n}", "language": "en", "referral_code": f"r{n}",
             "marketing": True} for n in range(students)])
        ids = [u.id for u in await _all_users(session)]
        await session.execute(insert(identities), [
            {"user_id": uid, "messenger": "telegram", "external_id": str(1000 + uid),
             "name": "", "reachable": True} for uid in ids])
        found = await _all_identities(session)
        broadcast = await uow.broadcasts.add(Broadcast(
            author="telegram:1", author_messenger="telegram", author_chat_id="1", text="Hi",
            segment="everyone", status=BroadcastStatus.SENDING, created_at=T0, start_at=T0,
            total=students))
        recipients = [Recipient(i.user_id, i.id, "telegram") for i in found]
        # a repeated student is stored once
        assert await uow.broadcasts.add_recipients(broadcast.id,
                                                   recipients + recipients[:3]) == students
        await uow.commit()
    return broadcast, recipients


async def _all_users(session) -> list[User]:
    return [User(**row._mapping) for row in await session.execute(select(users))]


async def _all_identities(session) -> list[Identity]:
    return [Identity(**row._mapping)
            for row in await session.execute(select(identities).order_by(identities.c.id))]


async def test_recipients_go_in_in_chunks_and_are_counted(uow_factory):
    broadcast, _ = await _scene(uow_factory, 2 * CHUNK + 7)
    async with uow_factory() as uow:
        assert await uow.broadcasts.counts(broadcast.id) == {
            RecipientStatus.PENDING: 2 * CHUNK + 7}
        assert await uow.broadcasts.counts_by_messenger(
            broadcast.id, RecipientStatus.PENDING) == {"telegram": 2 * CHUNK + 7}


async def test_two_claimers_at_once_never_get_a_row_twice(uow_factory):
    broadcast, _ = await _scene(uow_factory, 300)

    async def claimer() -> list[int]:
        got = []
        while True:
            async with uow_factory() as uow:
                claimed = await uow.broadcasts.claim(broadcast.id, "telegram", T0,
                                                     T0 - timedelta(seconds=60), 25)
                await asyncio.sleep(0.005)  # hold the rows while the other claims
                await uow.commit()
            if not claimed:
                return got
            got += [c.recipient.id for c in claimed]

    first, second = await asyncio.gather(claimer(), claimer())
    assert not set(first) & set(second)
    assert len(first) + len(second) == 300


async def test_claims_of_a_dead_sender_come_back_and_outcomes_are_written(uow_factory):
    broadcast, _ = await _scene(uow_factory, 5)
    stale = T0 - timedelta(seconds=60)
    async with uow_factory() as uow:
        claimed = await uow.broadcasts.claim(broadcast.id, "telegram", T0, stale, 3)
        await uow.commit()
    assert [c.recipient.attempts for c in claimed] == [1, 1, 1]
    assert claimed[0].external_id == str(1000 + claimed[0].recipient.user_id)
    assert claimed[0].language == "en" and claimed[0].marketing and claimed[0].reachable
    later = T0 + timedelta(seconds=30)
    async with uow_factory() as uow:  # within the bound the claims hold
        again = await uow.broadcasts.claim(broadcast.id, "telegram", later,
                                           later - timedelta(seconds=60), 10)
        await uow.commit()
    assert len(again) == 2
    much_later = T0 + timedelta(seconds=61)
    async with uow_factory() as uow:  # the first sender died: its three come back
        back = await uow.broadcasts.claim(broadcast.id, "telegram", much_later,
                                          much_later - timedelta(seconds=60), 10)
        await uow.broadcasts.record([
            Outcome(back[0].recipient.id, RecipientStatus.SENT, 2),
            Outcome(back[1].recipient.id, RecipientStatus.FAILED, 2, "x" * 900),
        ], much_later)
        await uow.broadcasts.release([back[2].recipient.id])
        await uow.commit()
    assert [c.recipient.id for c in back] == [c.recipient.id for c in claimed]
    assert [c.recipient.attempts for c in back] == [2, 2, 2]
    async with uow_factory() as uow:
        assert await uow.broadcasts.counts(broadcast.id) == {
            RecipientStatus.SENT: 1, RecipientStatus.FAILED: 1, RecipientStatus.PENDING: 1,
            RecipientStatus.CLAIMED: 2}
        # an outcome for a row no longer claimed (cancelled meanwhile) changes nothing
        await uow.broadcasts.skip_pending(broadcast.id, "cancelled", much_later)
        await uow.broadcasts.record([Outcome(back[2].recipient.id, RecipientStatus.SENT, 1)],
                                    much_later)
        counts = await uow.broadcasts.counts(broadcast.id)
    assert counts[RecipientStatus.SKIPPED] == 1 and counts[RecipientStatus.SENT] == 1


async def test_status_moves_and_due(uow_factory):
    broadcast, _ = await _scene(uow_factory, 1)
    async with uow_factory() as uow:
        later = await uow.broadcasts.add(Broadcast(
            author="telegram:1", author_messenger="telegram", author_chat_id="1", text="Hi",
            segment="everyone", status=BroadcastStatus.SCHEDULED, created_at=T0,
            start_at=T0 + timedelta(hours=1)))
        assert await uow.broadcasts.due(T0, 10) == []
        assert [b.id for b in await uow.broadcasts.due(T0 + timedelta(hours=1), 10)] == [later.id]
        assert await uow.broadcasts.transition(broadcast.id, frozenset({BroadcastStatus.SENDING}),
                                               BroadcastStatus.DONE, T0)
        assert not await uow.broadcasts.transition(
            broadcast.id, frozenset({BroadcastStatus.SENDING}), BroadcastStatus.DONE, T0)
        assert await uow.broadcasts.statuses([broadcast.id, later.id]) == {
            broadcast.id: BroadcastStatus.DONE, later.id: BroadcastStatus.SCHEDULED}
        assert (await uow.broadcasts.get(broadcast.id)).finished_at == T0
        assert await uow.broadcasts.with_status(BroadcastStatus.SCHEDULED) == [later]


async def test_presses_once_per_student_and_button(uow_factory):
    broadcast, recipients = await _scene(uow_factory, 2)
    async with uow_factory() as uow:
        a, b = recipients[0].user_id, recipients[1].user_id
        assert await uow.broadcasts.add_press(ButtonPress(broadcast.id, 0, a, T0))
        assert not await uow.broadcasts.add_press(ButtonPress(broadcast.id, 0, a, T0))
        assert await uow.broadcasts.add_press(ButtonPress(broadcast.id, 0, b, T0))
        assert await uow.broadcasts.add_press(ButtonPress(broadcast.id, 2, b, T0))
        assert await uow.broadcasts.presses(broadcast.id) == {0: 2, 2: 1}
