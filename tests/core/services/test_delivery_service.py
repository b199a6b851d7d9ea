"""Who gets an outbox message, and what becomes of it after each try."""

from __future__ import annotations

from datetime import timedelta

from factories import START

from core.models import Identity, OutboxMessage, OutboxStatus, User
from core.services import delivery


def _accounts(*specs: tuple[str, bool]) -> list[Identity]:
    return [Identity(id=n, user_id=1, messenger=messenger, external_id=str(n), reachable=ok)
            for n, (messenger, ok) in enumerate(specs, start=1)]


def test_the_chosen_messenger_wins_when_it_can_reach_the_student():
    accounts = _accounts(("vk", True), ("telegram", True))
    chosen = delivery.target(User(id=1, preferred_messenger="telegram"), accounts,
                             {"vk", "telegram"})
    assert chosen is accounts[1]


def test_else_the_first_reachable_account_in_a_running_messenger():
    accounts = _accounts(("telegram", False), ("viber", True), ("vk", True))
    user = User(id=1, preferred_messenger="telegram")
    assert delivery.target(user, accounts, {"telegram", "vk"}) is accounts[2]
    assert delivery.target(user, accounts, {"telegram"}) is None


def test_the_wait_doubles_up_to_an_hour():
    waits = [delivery.backoff(n) for n in (1, 2, 3, 8, 20)]
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert waits[3:] == [timedelta(hours=1)] * 2


async def _one_message(uow_factory) -> OutboxMessage:
    async with uow_factory() as uow:
        user = await uow.users.add(User(created_at=START))
        await uow.outbox.add(OutboxMessage(user_id=user.id, kind="lesson_opened", data={},
                                           created_at=START, due_at=START))
        [message] = await delivery.claim(uow, START, 10)
        await uow.commit()
    return message


async def _stored(uow_factory, user_id: int = 1) -> OutboxMessage:
    async with uow_factory() as uow:
        [message] = await uow.outbox.for_user(user_id)
    return message


async def test_a_failed_try_is_retried_until_the_last_attempt(uow_factory):
    message = await _one_message(uow_factory)
    async with uow_factory() as uow:
        await delivery.failed(uow, message, "timeout", START)
        await uow.commit()
    stored = await _stored(uow_factory)
    assert stored.status is OutboxStatus.PENDING
    assert stored.due_at == START + delivery.backoff(message.attempts)
    message.attempts = delivery.MAX_ATTEMPTS
    async with uow_factory() as uow:
        await delivery.failed(uow, message, "timeout", START)
        await uow.commit()
    assert (await _stored(uow_factory)).status is OutboxStatus.FAILED


async def test_a_student_nobody_can_reach_waits_without_using_up_attempts(uow_factory):
    message = await _one_message(uow_factory)
    message.attempts = delivery.MAX_ATTEMPTS
    async with uow_factory() as uow:
        await delivery.parked(uow, message, START + timedelta(days=29))
        await uow.commit()
    stored = await _stored(uow_factory)
    assert stored.status is OutboxStatus.PENDING
    assert stored.due_at == START + timedelta(days=29) + delivery.PARKED_FOR
    async with uow_factory() as uow:
        await delivery.parked(uow, message, START + delivery.KEEP_PARKED + timedelta(seconds=1))
        await uow.commit()
    assert (await _stored(uow_factory)).status is OutboxStatus.FAILED
