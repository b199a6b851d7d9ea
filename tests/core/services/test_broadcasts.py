"""The broadcasts service: what may be sent, its status moves, the recipients' outcomes and
the presses on its buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.broadcasts import (
    BroadcastButton,
    BroadcastStatus,
    ButtonKind,
    Progress,
    Recipient,
    RecipientStatus,
    Segment,
    SegmentKind,
)
from core.services import broadcasts
from core.services.broadcasts import BroadcastInvalid

EVERYONE = Segment(SegmentKind.EVERYONE)


async def _students(shop, n: int) -> list[Recipient]:
    found = []
    for i in range(n):
        user = await shop.student(f"S{i}")
        async with shop.uow_factory() as uow:
            identity = (await uow.users.identities(user.id))[0]
        found.append(Recipient(user.id, identity.id, identity.messenger))
    return found


async def _create(shop, recipients, **kw):
    params = dict(author="telegram:1", author_messenger="telegram", author_chat_id="1",
                  text="A new cohort starts Monday", segment=EVERYONE, recipients=recipients,
                  now=shop.clock.now())
    async with shop.uow_factory() as uow:
        made = await broadcasts.create(uow, **(params | kw))
        await uow.commit()
    return made


async def _call(shop, fn, *args):
    async with shop.uow_factory() as uow:
        result = await fn(uow, *args)
        await uow.commit()
    return result


async def test_create_stores_one_row_per_distinct_student(shop):
    recipients = await _students(shop, 3)
    made = await _create(shop, recipients + recipients[:1],
                         buttons=[BroadcastButton(ButtonKind.URL, "Site", "https://a.example"),
                                  BroadcastButton(ButtonKind.COURSES)])
    assert made.status is BroadcastStatus.SENDING and made.total == 3
    stored = await _call(shop, broadcasts.get, made.id)
    assert stored.button_list()[0] == BroadcastButton(ButtonKind.URL, "Site",
                                                      "https://a.example")
    assert stored.segment == "everyone"
    assert await _call(shop, broadcasts.progress, made.id) == Progress(total=3)


async def test_a_later_time_schedules_it_and_the_sweep_starts_it(shop, uow_factory):
    from core import jobs
    recipients = await _students(shop, 1)
    made = await _create(shop, recipients, at=shop.clock.now() + timedelta(hours=1))
    assert made.status is BroadcastStatus.SCHEDULED
    assert await jobs.start_broadcasts(uow_factory, shop.clock.now()) == 0
    shop.clock.advance(timedelta(hours=1))
    assert await jobs.start_broadcasts(uow_factory, shop.clock.now()) == 1
    assert (await _call(shop, broadcasts.get, made.id)).status is BroadcastStatus.SENDING
    assert await jobs.start_broadcasts(uow_factory, shop.clock.now()) == 0


@pytest.mark.parametrize(("change", "reason"), [
    ({"text": "  "}, "empty"),
    ({"text": "x" * 3501}, "too_long"),
    ({"buttons": [BroadcastButton(ButtonKind.COURSES)] * 7}, "too_many_buttons"),
    ({"buttons": [BroadcastButton(ButtonKind.URL, "Site", "javascript:alert(1)")]}, "bad_url"),
    ({"buttons": [BroadcastButton(ButtonKind.URL, "Site", "ftp://a.example")]}, "bad_url"),
    ({"buttons": [BroadcastButton(ButtonKind.OFFER, "Buy", "")]}, "bad_button"),
    ({"picture_url": "file:///etc/passwd"}, "bad_url"),
    ({"marketing": False}, "service_needs_holders"),
    ({"recipients": []}, "no_recipients"),
    ({"at": "past"}, "past"),
])
async def test_bad_input_is_refused_and_nothing_is_stored(shop, change, reason):
    recipients = await _students(shop, 1)
    if change.get("at") == "past":
        change = {"at": shop.clock.now() - timedelta(minutes=1)}
    with pytest.raises(BroadcastInvalid) as refused:
        await _create(shop, change.pop("recipients", recipients), **change)
    assert refused.value.reason == reason
    async with shop.uow_factory() as uow:
        assert await uow.broadcasts.get(1) is None


async def test_a_service_announcement_goes_to_holders_only(shop):
    recipients = await _students(shop, 1)
    made = await _create(shop, recipients, marketing=False,
                         segment=Segment(SegmentKind.HOLDERS, "offer:basic"))
    assert not made.marketing and made.segment == "holders:offer:basic"


async def test_pause_resume_cancel(shop):
    recipients = await _students(shop, 3)
    made = await _create(shop, recipients)
    now = shop.clock.now()
    assert await _call(shop, broadcasts.pause, made.id, now)
    assert not await _call(shop, broadcasts.pause, made.id, now)
    assert (await _call(shop, broadcasts.get, made.id)).status is BroadcastStatus.PAUSED
    assert await _call(shop, broadcasts.resume, made.id, now)
    assert not await _call(shop, broadcasts.resume, made.id, now)
    async with shop.uow_factory() as uow:  # one message is in flight when it is cancelled
        broadcast = await broadcasts.get(uow, made.id)
        [in_flight] = await broadcasts.claim(uow, broadcast, "telegram", now, 1)
        await uow.commit()
    assert await _call(shop, broadcasts.cancel, made.id, now)
    assert not await _call(shop, broadcasts.cancel, made.id, now)
    assert not await _call(shop, broadcasts.resume, made.id, now)
    async with shop.uow_factory() as uow:
        await broadcasts.record(uow, [broadcasts.sent(in_flight)], [], now)
        await uow.commit()
    assert await _call(shop, broadcasts.progress, made.id) == Progress(total=3, sent=1,
                                                                        skipped=2)
    stored = await _call(shop, broadcasts.get, made.id)
    assert stored.status is BroadcastStatus.CANCELLED and stored.finished_at == now


async def test_a_paused_scheduled_broadcast_waits_for_its_time_again(shop):
    recipients = await _students(shop, 1)
    made = await _create(shop, recipients, at=shop.clock.now() + timedelta(hours=2))
    now = shop.clock.now()
    assert await _call(shop, broadcasts.pause, made.id, now)
    assert await _call(shop, broadcasts.resume, made.id, now)
    assert (await _call(shop, broadcasts.get, made.id)).status is BroadcastStatus.SCHEDULED


async def test_outcomes_opt_out_and_blocked(shop):
    recipients = await _students(shop, 4)
    made = await _create(shop, recipients)
    now = shop.clock.now()
    async with shop.uow_factory() as uow:  # the second student turns marketing off
        user = await uow.users.get(recipients[1].user_id)
        user.marketing = False
        await uow.users.update(user)
        await uow.commit()
    async with shop.uow_factory() as uow:
        claimed = await broadcasts.claim(uow, made, "telegram", now, 10)
        await uow.commit()
    assert [c.recipient.user_id for c in claimed] == [recipients[i].user_id for i in (0, 2, 3)]
    assert claimed[0].external_id and claimed[0].language == "en"
    first, third, fourth = claimed
    async with shop.uow_factory() as uow:
        await broadcasts.record(uow, [broadcasts.sent(first), broadcasts.blocked(third, "403"),
                                      broadcasts.failed(fourth, "boom")],
                                [third.recipient.identity_id], now)
        await uow.commit()
    async with shop.uow_factory() as uow:
        assert not (await uow.users.identity_by_id(third.recipient.identity_id)).reachable
        assert await broadcasts.finish_if_done(uow, made.id, now) is False
    for attempt in (2, 3):  # the failing one is tried three times in all
        async with shop.uow_factory() as uow:
            [again] = await broadcasts.claim(uow, made, "telegram", now, 10)
            assert again.recipient.attempts == attempt
            await broadcasts.record(uow, [broadcasts.failed(again, "boom")], [], now)
            await uow.commit()
    async with shop.uow_factory() as uow:
        assert await broadcasts.claim(uow, made, "telegram", now, 10) == []
        assert await broadcasts.finish_if_done(uow, made.id, now)
        await uow.commit()
    assert await _call(shop, broadcasts.progress, made.id) == Progress(
        total=4, sent=1, failed=1, unreachable=1, skipped=1)
    assert (await _call(shop, broadcasts.get, made.id)).status is BroadcastStatus.DONE


async def test_a_service_announcement_reaches_students_who_turned_marketing_off(shop):
    recipients = await _students(shop, 1)
    made = await _create(shop, recipients, marketing=False,
                         segment=Segment(SegmentKind.HOLDERS, "product:python"))
    async with shop.uow_factory() as uow:
        user = await uow.users.get(recipients[0].user_id)
        user.marketing = False
        await uow.users.update(user)
        await uow.commit()
    async with shop.uow_factory() as uow:
        assert len(await broadcasts.claim(uow, made, "telegram", shop.clock.now(), 10)) == 1


async def test_a_rate_limit_gives_the_attempt_back_and_a_dead_sender_s_rows_return(shop):
    recipients = await _students(shop, 1)
    made = await _create(shop, recipients)
    now = shop.clock.now()
    async with shop.uow_factory() as uow:
        [c] = await broadcasts.claim(uow, made, "telegram", now, 10)
        await broadcasts.record(uow, [broadcasts.later(c, "rate limited")], [], now)
        await uow.commit()
    async with shop.uow_factory() as uow:
        [c] = await broadcasts.claim(uow, made, "telegram", now, 10)
        assert c.recipient.attempts == 1
        await uow.commit()
    async with shop.uow_factory() as uow:  # its sender died: not before the stale bound
        assert await broadcasts.claim(uow, made, "telegram", now + timedelta(seconds=59), 10) == []
        [c] = await broadcasts.claim(uow, made, "telegram", now + timedelta(seconds=61), 10)
        assert c.recipient.attempts == 2


async def test_presses_count_once_per_student_and_tampered_ones_are_refused(shop):
    recipients = await _students(shop, 2)
    made = await _create(shop, recipients, buttons=[
        BroadcastButton(ButtonKind.OFFER, "Buy", "basic"), BroadcastButton(ButtonKind.COURSES)])
    now = shop.clock.now()
    a, b = recipients[0].user_id, recipients[1].user_id
    pressed = await _call(shop, broadcasts.record_press, made.id, 0, a, now)
    assert pressed == BroadcastButton(ButtonKind.OFFER, "Buy", "basic")
    await _call(shop, broadcasts.record_press, made.id, 0, a, now)
    await _call(shop, broadcasts.record_press, made.id, 0, b, now)
    await _call(shop, broadcasts.record_press, made.id, 1, b, now)
    assert await _call(shop, broadcasts.record_press, made.id, 2, a, now) is None
    assert await _call(shop, broadcasts.record_press, made.id, -1, a, now) is None
    assert await _call(shop, broadcasts.record_press, 999, 0, a, now) is None
    assert await _call(shop, broadcasts.presses, made.id) == [2, 1]


async def test_progress_message_is_remembered(shop):
    made = await _create(shop, await _students(shop, 1))
    async with shop.uow_factory() as uow:
        await broadcasts.set_progress_message(uow, made.id, "77")
        await uow.commit()
    assert (await _call(shop, broadcasts.get, made.id)).progress_message_id == "77"


async def test_linked_students_get_a_broadcast_once(shop):
    """Accounts linked while a broadcast goes to both keep one row: the joining account's
    if it got the message already, else the survivor's; the total drops by one each time.
    Presses follow the survivor, counted once."""
    a, b, c, d = await _students(shop, 4)
    made = await _create(shop, [a, b, c, d], buttons=[BroadcastButton(ButtonKind.COURSES)])
    now = shop.clock.now()
    async with shop.uow_factory() as uow:
        claimed = await broadcasts.claim(uow, made, "telegram", now, 1)  # a's row
        await broadcasts.record(uow, [broadcasts.sent(claimed[0])], [], now)
        await broadcasts.record_press(uow, made.id, 0, a.user_id, now)
        await broadcasts.record_press(uow, made.id, 0, b.user_id, now)
        await uow.commit()
    async with shop.uow_factory() as uow:
        await uow.users.merge(a.user_id, b.user_id)  # a got it already: b's row goes
        await uow.users.merge(c.user_id, d.user_id)  # neither got it: d's row goes out
        await uow.commit()
    async with shop.uow_factory() as uow:
        pending = await broadcasts.claim(uow, made, "telegram", now, 10)
        assert [p.recipient.user_id for p in pending] == [d.user_id]
        assert await broadcasts.presses(uow, made.id) == [1]
        assert await uow.broadcasts.counts(made.id) == {RecipientStatus.SENT: 1,
                                                        RecipientStatus.CLAIMED: 1}
        assert (await broadcasts.progress(uow, made.id)).total == 2
