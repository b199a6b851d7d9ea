"""The outbound path: recorded before sending, marked after; a crash loses nothing and only
a message in flight can go out twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.models import OutboxStatus
from core.services.delivery import STALE_AFTER
from flows.channel import MessengerError, RetryAfter


async def _paid_student(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    return chat


async def _outbox(harness):
    async with harness.uow_factory() as uow:
        return await uow.outbox.for_user(1)


async def test_message_is_recorded_before_it_is_sent(harness):
    chat = await _paid_student(harness)
    [message] = await _outbox(harness)
    assert message.kind == "order_paid" and message.status is OutboxStatus.PENDING
    assert not any("Payment received" in m.text for m in chat.messages)
    await harness.deliver()
    [message] = await _outbox(harness)
    assert message.status is OutboxStatus.SENT and message.sent_at == harness.clock.now()
    assert "Payment received" in chat.last.text


async def test_crash_before_sending_loses_nothing(harness, clock):
    """The process died after claiming the message and before sending it."""
    chat = await _paid_student(harness)
    async with harness.uow_factory() as uow:
        [claimed] = await uow.outbox.claim(clock.now(), clock.now() - STALE_AFTER, 10)
        await uow.commit()
    assert await harness.platform.dispatcher.dispatch_once() == 0  # still owned by the dead one
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    await harness.deliver()
    assert sum("Payment received" in m.text for m in chat.messages) == 1


async def test_crash_after_sending_sends_once_more_at_most(harness, clock, monkeypatch):
    """Sent, then the process died before marking: the one in-flight message repeats once."""
    chat = await _paid_student(harness)
    dispatcher = harness.platform.dispatcher

    class Crash(BaseException):
        """The process died: nothing after it runs (not SystemExit, which asyncio would
        raise out of the event loop from the sending task)."""

    async def die(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(dispatcher, "_record", die)
    with pytest.raises(BaseExceptionGroup) as died:
        await dispatcher.dispatch_once()
    assert died.group_contains(Crash)
    monkeypatch.undo()
    await harness.deliver()
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    await harness.deliver()
    await harness.deliver()
    assert sum("Payment received" in m.text for m in chat.messages) == 2
    [message] = await _outbox(harness)
    assert message.status is OutboxStatus.SENT


async def test_blocked_student_is_marked_unreachable_until_they_write(harness, clock):
    chat = await _paid_student(harness)
    harness.console.blocked.add(chat.user_id)
    await harness.deliver()
    async with harness.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is False
        [message] = await uow.outbox.for_user(1)
        assert message.status is OutboxStatus.PENDING  # kept for when they come back
    clock.advance(timedelta(hours=1))
    await harness.deliver()
    assert not any("Payment received" in m.text for m in chat.messages)

    await chat.send("/start")
    async with harness.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is True
    clock.advance(timedelta(hours=1))
    await harness.deliver()
    assert sum("Payment received" in m.text for m in chat.messages) == 1


async def test_one_broken_message_does_not_hold_up_the_others(harness, monkeypatch):
    anna, boris = harness.chat("1", "Anna"), harness.chat("2", "Boris")
    for chat in (anna, boris):
        await chat.start("python-life")
        await chat.click("Buy")
        await harness.pay(await chat.click("Pay"))
    send = harness.console.send

    async def broken_for_anna(peer, screen, bulk=False, key=None):
        if peer.chat_id == anna.user_id:
            raise ConnectionResetError("socket closed")
        return await send(peer, screen, bulk)

    monkeypatch.setattr(harness.console, "send", broken_for_anna)
    await harness.deliver()
    assert "Payment received" in boris.last.text
    async with harness.uow_factory() as uow:
        [message] = await uow.outbox.for_user(1)
    assert message.status is OutboxStatus.PENDING and "socket closed" in message.error


async def test_rate_limit_reschedules_after_the_pause(harness, clock, monkeypatch):
    chat = await _paid_student(harness)
    calls = []

    async def limited(peer, screen, bulk=False, key=None):
        calls.append(screen)
        raise RetryAfter(30)

    monkeypatch.setattr(harness.console, "send", limited)
    await harness.deliver()
    monkeypatch.undo()
    [message] = await _outbox(harness)
    assert message.status is OutboxStatus.PENDING
    assert message.due_at == clock.now() + timedelta(seconds=30)
    await harness.deliver()
    assert not any("Payment received" in m.text for m in chat.messages)
    clock.advance(timedelta(seconds=30))
    await harness.deliver()
    assert "Payment received" in chat.last.text and len(calls) == 1


async def test_passing_errors_back_off_then_give_up(harness, clock, monkeypatch):
    await _paid_student(harness)

    async def broken(peer, screen, bulk=False, key=None):
        raise MessengerError("network down")

    monkeypatch.setattr(harness.console, "send", broken)
    for _ in range(20):
        await harness.deliver()
        clock.advance(timedelta(hours=2))
    [message] = await _outbox(harness)
    assert message.status is OutboxStatus.FAILED
    assert message.error == "network down"
    assert message.attempts == 8


async def test_rate_limits_alone_never_give_a_message_up(harness, clock, monkeypatch):
    """A chat Telegram keeps limiting (its student pressing buttons all day) gets its lesson
    once the limit lifts, however many times it was sent back to the outbox."""
    chat = await _paid_student(harness)
    send = harness.console.send

    async def limited(peer, screen, bulk=False, key=None):
        raise RetryAfter(30)

    monkeypatch.setattr(harness.console, "send", limited)
    for _ in range(3 * 8):
        await harness.deliver()
        clock.advance(timedelta(seconds=30))
    [message] = await _outbox(harness)
    assert message.status is OutboxStatus.PENDING
    monkeypatch.setattr(harness.console, "send", send)
    await harness.deliver()
    assert "Payment received" in chat.last.text
