"""``OutboxRepository.backlog``: the messages due and waiting, on every backend (/metrics)."""

from datetime import timedelta

from storage_helpers import T0, add_user

from core.models import OutboxMessage

MINUTE = timedelta(minutes=1)


def _message(user_id: int, due_at) -> OutboxMessage:
    return OutboxMessage(user_id=user_id, kind="hello", data={}, created_at=T0, due_at=due_at)


async def test_backlog_counts_pending_messages_that_are_due(uow_factory, now):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        assert await uow.outbox.backlog(now) == 0
        for due in (now - MINUTE, now, now - 2 * MINUTE, now + MINUTE):
            await uow.outbox.add(_message(uid, due))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.outbox.backlog(now) == 3  # not the one due in a minute
        [claimed] = await uow.outbox.claim(now, now - 5 * MINUTE, 1)
        assert await uow.outbox.backlog(now) == 2  # being sent is not waiting
        await uow.outbox.mark_retry(claimed.id, now + 5 * MINUTE, "429")
        assert await uow.outbox.backlog(now) == 2
        assert await uow.outbox.backlog(now + 10 * MINUTE) == 4
        await uow.commit()
