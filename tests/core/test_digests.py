"""The daily digest is recorded once per account and day, at the school-local hour: not
before it, not twice after a restart or with two processes sweeping, only the latest day
after downtime, and never for an account that lost the right to the figures."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from core import jobs
from core.services import digests, users
from core.staff import Role, StaffRef

BERLIN_9 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 9:00 in Berlin (UTC+1)


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(StaffRef("console", "owner", Role.OWNER),
                                              StaffRef("console", "help", Role.SUPPORT)))


async def _subscribe(uow_factory, school, now, account="owner", hour=9):
    async with uow_factory() as uow:
        await users.resolve(uow, now, "console", account, "Olga", "en")
        digest = await digests.switch(uow, school, "console", account, True, hour, now)
        await uow.commit()
    return digest


async def _digests(uow_factory):
    async with uow_factory() as uow:
        owner = await uow.users.identity("console", "owner")
        return [(m.kind, m.data["day"], m.dedupe_key)
                for m in await uow.outbox.for_user(owner.user_id) if m.kind == "daily_digest"]


async def test_once_a_day_at_the_local_hour(db_uow_factory, school):
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    digest = await _subscribe(db_uow_factory, school, now)
    assert digest.due_at == BERLIN_9

    assert await jobs.send_digests(db_uow_factory, school, BERLIN_9 - timedelta(minutes=1)) == 0
    assert await jobs.send_digests(db_uow_factory, school, BERLIN_9) == 1
    for minutes in (1, 30, 600):  # the sweep goes on every minute: nothing more that day
        assert await jobs.send_digests(db_uow_factory, school,
                                       BERLIN_9 + timedelta(minutes=minutes)) == 0
    assert await jobs.send_digests(db_uow_factory, school, BERLIN_9 + timedelta(days=1)) == 1

    assert await _digests(db_uow_factory) == [
        ("daily_digest", "2026-03-02", "daily_digest:console:owner:2026-03-02"),
        ("daily_digest", "2026-03-03", "daily_digest:console:owner:2026-03-03"),
    ]


async def test_a_restart_or_a_second_process_records_it_once(db_uow_factory, school):
    await _subscribe(db_uow_factory, school, BERLIN_9 - timedelta(hours=3))

    # Two processes sweep at the same moment (on PostgreSQL the second skips the row the
    # first holds; on SQLite they take turns).
    done = await asyncio.gather(*(jobs.send_digests(db_uow_factory, school, BERLIN_9)
                                  for _ in range(2)))
    assert sorted(done) == [0, 1]
    # A process that read the subscription before the other moved it on (or a restart
    # from a backup) finds the day recorded already: the outbox's key holds it.
    async with db_uow_factory() as uow:
        digest = await uow.digests.get("console", "owner")
        digest.due_at = BERLIN_9
        await uow.digests.put(digest)
        await uow.commit()
    assert await jobs.send_digests(db_uow_factory, school, BERLIN_9 + timedelta(minutes=2)) == 0
    assert len(await _digests(db_uow_factory)) == 1


async def test_after_downtime_only_the_latest_day(db_uow_factory, school):
    await _subscribe(db_uow_factory, school, BERLIN_9 - timedelta(hours=3))

    back = BERLIN_9 + timedelta(days=3, hours=5)  # down for three days
    assert await jobs.send_digests(db_uow_factory, school, back) == 1

    assert [day for _, day, _ in await _digests(db_uow_factory)] == ["2026-03-05"]
    async with db_uow_factory() as uow:
        assert (await uow.digests.get("console", "owner")).due_at == BERLIN_9 + timedelta(
            days=4)


async def test_switched_off_or_without_the_right_nothing_goes(db_uow_factory, school):
    await _subscribe(db_uow_factory, school, BERLIN_9 - timedelta(hours=3))
    await _subscribe(db_uow_factory, school, BERLIN_9 - timedelta(hours=3), account="help")
    async with db_uow_factory() as uow:
        await digests.switch(uow, school, "console", "owner", False, None, BERLIN_9)
        await uow.commit()

    assert await jobs.send_digests(db_uow_factory, school, BERLIN_9) == 0
    async with db_uow_factory() as uow:
        owner = await uow.digests.get("console", "owner")
        support = await uow.digests.get("console", "help")
    assert owner.due_at is None and owner.hour == 9  # kept for when it is on again
    assert support.due_at is None  # support may not read the figures: switched off


async def test_the_hour_follows_the_schools_clock_across_summer_time(db_uow_factory, school):
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Berlin moves to UTC+2 on the 29th
    digest = await _subscribe(db_uow_factory, school, before, hour=7)

    assert digest.due_at == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)  # 7:00 CEST
    assert digests.next_due(7, digest.due_at, school.timezone) == datetime(
        2026, 3, 30, 5, 0, tzinfo=UTC)
