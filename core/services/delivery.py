"""Delivering the outbox: who gets a message (which of the student's accounts), and what
becomes of it after each try: sent, tried again later, set aside while nobody can reach the
student, or given up. The sending itself is ``flows.outbound``'s."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from core.models import Identity, OutboxMessage, User
from core.ports import UnitOfWork
from core.services import users

STALE_AFTER = timedelta(minutes=2)  # a SENDING message older than this lost its sender
MAX_ATTEMPTS = 8
PARKED_FOR = timedelta(hours=1)  # a student nobody can reach now: look again this much later
KEEP_PARKED = timedelta(days=30)  # then give up: the lesson is in "My courses" anyway


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


async def claim(uow: UnitOfWork, now: datetime, batch: int) -> list[OutboxMessage]:
    """The messages due now, and those whose sender was lost, marked as being sent."""
    return await uow.outbox.claim(now, now - STALE_AFTER, batch)


def target(user: User, identities: list[Identity], running: Collection[str]) -> Identity | None:
    """The messenger the student chose, or else the one they used last, among those that can
    reach them now (``running``: the messengers the platform runs)."""
    reachable = [i for i in identities if i.reachable and i.messenger in running]
    chosen = [i for i in reachable if i.messenger == user.preferred_messenger]
    return (chosen or reachable or [None])[0]


async def recipient(
    uow: UnitOfWork, message: OutboxMessage, running: Collection[str]
) -> tuple[User | None, Identity | None]:
    """The student a message is for, and the account to send it to (None: none now): the
    one the message was recorded for while it can be reached, else ``target``'s choice."""
    user = await uow.users.get(message.user_id)
    if user is None:
        return None, None
    if message.identity_id is not None:
        pinned = await uow.users.identity_by_id(message.identity_id)
        if pinned is not None and pinned.user_id == user.id and pinned.reachable \
                and pinned.messenger in running:
            return user, pinned
    return user, target(user, await uow.users.identities(user.id), running)


async def sent(uow: UnitOfWork, message: OutboxMessage, identity_id: int,
               external_message_id: str | None, now: datetime) -> None:
    """Sent to ``identity_id`` as the messenger's message ``external_message_id`` (a reply
    to it is found by it)."""
    await uow.outbox.mark_sent(message.id, identity_id, now, external_message_id)


async def dropped(uow: UnitOfWork, message: OutboxMessage, reason: str, now: datetime) -> None:
    """Nothing to send: the student or what the message spoke of is gone (``now`` unused: every
    outcome is recorded the same way)."""
    await uow.outbox.mark_failed(message.id, reason)


async def failed(
    uow: UnitOfWork, message: OutboxMessage, error: str, now: datetime,
    retry_in: timedelta | None = None,
) -> None:
    """The try failed: again after ``retry_in`` (a growing wait by default) until
    ``MAX_ATTEMPTS`` tries, then given up."""
    if message.attempts < MAX_ATTEMPTS:
        wait = backoff(message.attempts) if retry_in is None else retry_in
        await uow.outbox.mark_retry(message.id, now + wait, error)
    else:
        await uow.outbox.mark_failed(message.id, error)


async def blocked(
    uow: UnitOfWork, message: OutboxMessage, identity_id: int, error: str, now: datetime
) -> None:
    """The student blocked the bot in that messenger: that account is unreachable from now on,
    and the message is tried at once in another one (it counts as an attempt)."""
    await users.mark_unreachable(uow, identity_id)
    await failed(uow, message, error, now, retry_in=timedelta(0))


async def postponed(
    uow: UnitOfWork, message: OutboxMessage, wait: timedelta, reason: str, now: datetime
) -> None:
    """Send it again after ``wait``, however many attempts it took: nobody can be reached
    now, or the messenger's rate limit says wait (a chat's own pause sends only that chat's
    messages back here, and the rest of the batch goes on). Neither is a failure of the
    message; only ``KEEP_PARKED`` of it gives up."""
    if message.created_at and now - message.created_at > KEEP_PARKED:
        await uow.outbox.mark_failed(message.id, f"{reason} for 30 days")
    else:
        await uow.outbox.mark_retry(message.id, now + wait, reason)


async def parked(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """Blocked everywhere, or its messenger is not running now: the message waits for the
    student to write again, without using up its attempts."""
    await postponed(uow, message, PARKED_FOR, "no reachable messenger", now)
