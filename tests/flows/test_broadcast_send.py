"""Sending a broadcast on the console messenger: every student gets it once with its buttons,
the author sees progress and a summary and can pause, resume and cancel; opt-outs are
skipped, blocked students become unreachable, failures are retried three times, and a sender
killed in the middle resumes without losing anyone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from harness import Harness

from bots.console import ConsoleMessenger
from core.broadcasts import (
    BroadcastButton,
    BroadcastStatus,
    ButtonKind,
    Progress,
    Recipient,
    Segment,
    SegmentKind,
)
from core.services import broadcasts
from core.staff import AuditResult, Role, StaffRef
from flows.broadcast_send import BroadcastSender
from flows.channel import MessengerError
from flows.ui import Peer, Screen

EVERYONE = Segment(SegmentKind.EVERYONE)


class Killed(BaseException):
    """The process died (``kill -9``): nothing after it runs, nothing is written."""


class Console(ConsoleMessenger):
    """The console messenger, with a hook before each broadcast message to a student."""

    def __init__(self) -> None:
        super().__init__()
        self.before_send = None  # async (peer) -> None; may raise
        self.failing: dict[str, int] = {}  # chat -> how many more sends to it fail

    async def send(self, peer: Peer, screen: Screen, bulk: bool = False,
                   key: str | None = None):
        if bulk and peer.chat_id.isdigit():  # a student's chat (the staff's have names)
            if self.failing.get(peer.chat_id):
                self.failing[peer.chat_id] -= 1
                raise MessengerError("the network hiccuped")
            if self.before_send is not None:
                await self.before_send(peer)
        return await super().send(peer, screen, bulk, key)


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(StaffRef("console", "admin", Role.ADMIN),
                                              StaffRef("console", "help", Role.SUPPORT)))


@pytest.fixture
async def h(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, console=Console()) as harness:
        harness.platform.broadcasts.flush_every = 0.01
        yield harness


async def _students(h, n: int, language: str = "en") -> list[Recipient]:
    found = []
    for i in range(n):
        chat = h.chat(str(5000 + i), f"S{i}", language)
        await chat.send("/start")
        async with h.uow_factory() as uow:
            identity = await uow.users.identity("console", chat.user_id)
        found.append(Recipient(identity.user_id, identity.id, "console"))
    return found


async def _broadcast(h, recipients, **kw):
    author = h.chat("admin", "Ada")
    if not author.messages:
        await author.send("/start")
    params = dict(author="console:admin", author_messenger="console", author_chat_id="admin",
                  text="Webinar tomorrow at 18:00", segment=EVERYONE, recipients=recipients,
                  now=h.clock.now())
    async with h.uow_factory() as uow:
        made = await broadcasts.create(uow, **(params | kw))
        await uow.commit()
    return made


async def _progress(h, broadcast_id):
    async with h.uow_factory() as uow:
        return await broadcasts.progress(uow, broadcast_id), await broadcasts.get(uow,
                                                                                broadcast_id)


def _got(h, recipients, text="Webinar tomorrow at 18:00") -> list[int]:
    """How many times each student got the broadcast."""
    return [sum(m.text == text for m in h.chat(str(5000 + i)).messages)
            for i in range(len(recipients))]


async def test_every_student_gets_it_once_with_its_buttons_and_the_author_a_summary(h):
    recipients = await _students(h, 5)
    made = await _broadcast(h, recipients, picture_url="https://school.example/w.png",
                            buttons=[BroadcastButton(ButtonKind.OFFER, "Join", "basic"),
                                     BroadcastButton(ButtonKind.URL, "Agenda",
                                                     "https://school.example/agenda"),
                                     BroadcastButton(ButtonKind.COURSES)])

    assert await h.platform.broadcasts.drain() == 5

    assert _got(h, recipients) == [1] * 5
    message = h.chat("5000").last
    assert message.screen.picture == "https://school.example/w.png"
    assert [(b.text, b.action, b.url) for b in message.screen.buttons] == [
        ("Join", f"bb:{made.id}:0", None), ("Agenda", None, "https://school.example/agenda"),
        ("🎓 My courses", f"bb:{made.id}:2", None), ("🔕 Stop promotions", "mk:off", None)]
    progress, stored = await _progress(h, made.id)
    assert progress == Progress(total=5, sent=5) and stored.status is BroadcastStatus.DONE
    author = h.chat("admin")
    shown = next(m for m in author.messages if m.id == stored.progress_message_id)
    assert "Sent 5 of 5" in shown.text and shown.labels == []  # over: no buttons left
    assert author.last.text.startswith(f"✅ Broadcast #{made.id} done in")
    assert "• Join: 0" in author.last.text and "• 🎓 My courses: 0" in author.last.text
    assert await h.platform.broadcasts.drain() == 0  # nothing goes twice


async def test_a_student_in_russian_gets_the_buttons_in_russian(h):
    recipients = await _students(h, 1, language="ru")
    await _broadcast(h, recipients, buttons=[BroadcastButton(ButtonKind.COURSES)])
    await h.platform.broadcasts.drain()
    assert h.chat("5000").last.labels == ["🎓 Мои курсы", "🔕 Не присылать акции"]


async def test_opted_out_students_are_skipped_unless_it_is_a_service_announcement(h):
    recipients = await _students(h, 3)
    async with h.uow_factory() as uow:
        user = await uow.users.get(recipients[1].user_id)
        user.marketing = False
        await uow.users.update(user)
        await uow.commit()
    promotion = await _broadcast(h, recipients)
    await h.platform.broadcasts.drain()
    assert _got(h, recipients) == [1, 0, 1]
    assert (await _progress(h, promotion.id))[0] == Progress(total=3, sent=2, skipped=1)

    notice = await _broadcast(h, recipients, text="Room changed", marketing=False,
                              segment=Segment(SegmentKind.HOLDERS, "offer:basic"))
    await h.platform.broadcasts.drain()
    assert _got(h, recipients, "Room changed") == [1, 1, 1]
    assert "mk:off" not in [b.action for b in h.chat("5001").last.screen.buttons]
    assert (await _progress(h, notice.id))[0] == Progress(total=3, sent=3)


async def test_a_student_who_blocked_the_bot_becomes_unreachable(h):
    recipients = await _students(h, 2)
    h.console.blocked.add("5001")
    made = await _broadcast(h, recipients)
    await h.platform.broadcasts.drain()
    assert (await _progress(h, made.id))[0] == Progress(total=2, sent=1, unreachable=1)
    async with h.uow_factory() as uow:
        assert not (await uow.users.identity("console", "5001")).reachable


async def test_passing_failures_are_tried_three_times(h):
    recipients = await _students(h, 3)
    h.console.failing = {"5001": 1, "5002": 5}  # one hiccup; and a chat that always fails
    made = await _broadcast(h, recipients)
    await h.platform.broadcasts.drain()
    assert _got(h, recipients) == [1, 1, 0]
    assert h.console.failing == {"5001": 0, "5002": 2}  # three tries, then given up
    progress, stored = await _progress(h, made.id)
    assert progress == Progress(total=3, sent=2, failed=1)
    assert stored.status is BroadcastStatus.DONE


async def test_the_author_pauses_resumes_and_cancels_from_the_progress_message(h):
    recipients = await _students(h, 12)
    made = await _broadcast(h, recipients)
    author = h.chat("admin")
    sent = []
    pressed = asyncio.Event()

    async def pause_after_three(peer):
        await asyncio.sleep(0.01)  # a network round trip
        sent.append(peer.chat_id)
        if len(sent) == 3:
            await author.click("Pause")
            pressed.set()

    h.console.before_send = pause_after_three
    h.platform.broadcasts.workers = {"console": 1}
    await h.platform.broadcasts.drain()
    progress, stored = await _progress(h, made.id)
    assert pressed.is_set() and stored.status is BroadcastStatus.PAUSED
    assert 3 <= progress.sent < 12 and progress.remaining == 12 - progress.sent
    assert author.toasts[-1] == f"Broadcast #{made.id} paused."
    assert "Resume" in " ".join(author.last.labels)
    assert await h.platform.broadcasts.drain() == 0  # paused: nothing goes

    h.console.before_send = None
    await author.click("Resume")
    assert author.toasts[-1] == f"Broadcast #{made.id} goes on."
    await h.platform.broadcasts.drain()
    assert _got(h, recipients) == [1] * 12
    assert (await _progress(h, made.id))[1].status is BroadcastStatus.DONE

    later = await _broadcast(h, recipients, text="Second")
    sent.clear()

    async def cancel_after_two(peer):
        await asyncio.sleep(0.01)
        sent.append(peer.chat_id)
        if len(sent) == 2:
            await author.press(f"bx:{later.id}")

    h.console.before_send = cancel_after_two
    await h.platform.broadcasts.drain()
    progress, stored = await _progress(h, later.id)
    assert stored.status is BroadcastStatus.CANCELLED
    assert 2 <= progress.sent < 12 and progress.skipped == 12 - progress.sent
    assert progress.remaining == 0
    assert author.last.text.startswith(f"✅ Broadcast #{later.id} cancelled in")
    async with h.uow_factory() as uow:
        lines = await uow.audit.latest(10, actor="console:admin")
    assert [(a.action, a.result) for a in lines[:3]] == [
        ("broadcast.cancel", AuditResult.DONE), ("broadcast.resume", AuditResult.DONE),
        ("broadcast.pause", AuditResult.DONE)]


async def test_only_staff_with_the_right_may_press_the_controls_and_tampering_changes_nothing(h):
    recipients = await _students(h, 1)
    made = await _broadcast(h, recipients)
    support = h.chat("help", "Hal")
    await support.send("/start")
    await support.press(f"bp:{made.id}")
    assert "does not allow broadcast.pause" in support.toasts[-1]
    student = h.chat("5000")
    await student.press(f"bx:{made.id}")
    author = h.chat("admin")
    await author.press("bp:999")
    assert author.toasts[-1] == "There is no such broadcast."
    await author.press("bp:x")
    assert (await _progress(h, made.id))[1].status is BroadcastStatus.SENDING
    async with h.uow_factory() as uow:
        lines = await uow.audit.latest(10)
    assert [(a.actor, a.action, a.result) for a in lines[:4]] == [
        ("console:admin", "broadcast.pause", AuditResult.NOTHING),
        ("console:admin", "broadcast.pause", AuditResult.NOTHING),
        ("console:5000", "broadcast.cancel", AuditResult.REFUSED),
        ("console:help", "broadcast.pause", AuditResult.REFUSED)]


async def test_a_scheduled_broadcast_goes_out_at_its_time(h):
    recipients = await _students(h, 2)
    made = await _broadcast(h, recipients, at=h.clock.now() + timedelta(hours=3))
    await h.sweep()
    assert await h.platform.broadcasts.drain() == 0
    h.clock.advance(timedelta(hours=3))
    await h.sweep()
    assert await h.platform.broadcasts.drain() == 2
    assert (await _progress(h, made.id))[1].status is BroadcastStatus.DONE


async def test_a_sender_killed_in_the_middle_resumes_without_losing_anyone(h):
    recipients = await _students(h, 40)
    made = await _broadcast(h, recipients)
    count = [0]

    async def die_after_25(peer):
        count[0] += 1
        if count[0] > 25:
            raise Killed

    h.console.before_send = die_after_25
    first = BroadcastSender(h.uow_factory, h.clock, h.platform.school, h.platform.channels,
                            batch=10, workers={"console": 4}, flush_every=60)
    with pytest.raises(BaseExceptionGroup) as died:
        await first.drain()
    assert died.group_contains(Killed)
    async with h.uow_factory() as uow:
        counts = await uow.broadcasts.counts(made.id)
    in_flight = counts.get(broadcasts.RecipientStatus.CLAIMED, 0)
    assert 0 < in_flight <= 10 + 10  # a batch in the queue and the next in hand at most

    h.console.before_send = None
    second = BroadcastSender(h.uow_factory, h.clock, h.platform.school, h.platform.channels)
    await second.drain()  # what nobody had claimed goes at once
    progress, stored = await _progress(h, made.id)
    assert stored.status is BroadcastStatus.SENDING  # its claims wait for the stale bound
    h.clock.advance(broadcasts.STALE_AFTER + timedelta(seconds=1))
    await second.drain()
    got = _got(h, recipients)
    progress, stored = await _progress(h, made.id)
    assert min(got) == 1  # nobody lost
    assert sum(got) - 40 <= in_flight  # repeats only among the rows in flight at the kill
    assert progress == Progress(total=40, sent=40) and stored.status is BroadcastStatus.DONE


async def test_stopping_gives_claimed_rows_back(h):
    recipients = await _students(h, 30)
    made = await _broadcast(h, recipients)
    sender = BroadcastSender(h.uow_factory, h.clock, h.platform.school, h.platform.channels,
                             batch=10, workers={"console": 1})
    count = [0]

    async def stop_after_5(peer):
        count[0] += 1
        if count[0] == 5:
            asyncio.get_running_loop().create_task(sender.stop())
            await asyncio.sleep(0)

    h.console.before_send = stop_after_5
    sender.start()
    await asyncio.wait_for(sender._task, 10)
    await sender.stop()
    async with h.uow_factory() as uow:
        counts = await uow.broadcasts.counts(made.id)
    assert broadcasts.RecipientStatus.CLAIMED not in counts
    progress, _ = await _progress(h, made.id)
    assert progress.sent == sum(_got(h, recipients)) and progress.remaining == 30 - progress.sent


async def test_where_messages_cannot_be_edited_the_author_gets_one_at_each_quarter(h):
    from flows.channel import Capabilities

    h.console.capabilities = Capabilities(can_edit=False)
    recipients = await _students(h, 8)
    made = await _broadcast(h, recipients)
    sender = BroadcastSender(h.uow_factory, h.clock, h.platform.school, h.platform.channels,
                             flush_every=0.01, progress_every=0, author_gap=0,
                             workers={"console": 1})

    async def round_trip(peer):
        await asyncio.sleep(0.02)

    h.console.before_send = round_trip
    await sender.drain()
    author = h.chat("admin")
    progress = [m for m in author.messages if m.text.startswith("📣")]
    assert 2 <= len(progress) <= 1 + 4  # the first, then one at most per quarter
    assert all(m.edits == 0 for m in author.messages)
    assert author.last.text.startswith(f"✅ Broadcast #{made.id} done")
