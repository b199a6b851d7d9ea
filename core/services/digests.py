"""The daily digest: a staff member who may read the figures asks for yesterday's every day
at a school-local hour. Each subscription carries the moment its next digest is due
(indexed), so the sweep costs what is due; the message goes through the outbox with a key
of the account and the day, so it is recorded once however often the sweep runs, in one
process or two, before or after a restart. After downtime only the latest day due is sent."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import notices
from core.ports import UnitOfWork
from core.school import School
from core.services import staff
from core.services.outbox import enqueue
from core.staff import Right, may
from core.stats import StaffDigest

DEFAULT_HOUR = 9
BATCH = 100


def moment(day, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), zone).astimezone(UTC)


def next_due(hour: int, now: datetime, zone: ZoneInfo) -> datetime:
    """The first ``hour`` o'clock, school-local, after ``now``."""
    today = now.astimezone(zone).date()
    due = moment(today, hour, zone)
    return due if due > now else moment(today + timedelta(days=1), hour, zone)


def last_due(hour: int, now: datetime, zone: ZoneInfo) -> datetime:
    """The latest ``hour`` o'clock, school-local, at or before ``now``."""
    today = now.astimezone(zone).date()
    due = moment(today, hour, zone)
    return due if due <= now else moment(today - timedelta(days=1), hour, zone)


async def switch(uow: UnitOfWork, school: School, messenger: str, external_id: str, on: bool,
                 hour: int | None, now: datetime) -> StaffDigest:
    """Turn the account's digest on (at ``hour``, else the hour it had, else 9) or off."""
    digest = await uow.digests.get(messenger, external_id) or StaffDigest(
        messenger, external_id, DEFAULT_HOUR)
    if hour is not None:
        digest.hour = hour
    digest.due_at = next_due(digest.hour, now, school.timezone) if on else None
    digest.updated_at = now
    return await uow.digests.put(digest)


async def record_due(uow: UnitOfWork, school: School, now: datetime,
                     limit: int = BATCH) -> tuple[int, int]:
    """Record the digests due now (one per account and day) and move each to its next day.
    Returns (claimed, recorded). An account that may no longer read the figures is switched
    off; one that never wrote to the bot has nowhere to get it and waits for the next day."""
    due = await uow.digests.due(now, limit)
    recorded = 0
    zone = school.timezone
    for digest in due:
        role = await staff.role_of(uow, school, digest.messenger, digest.external_id)
        if not may(role, Right.STATS):
            digest.due_at = None
        else:
            identity = await uow.users.identity(digest.messenger, digest.external_id)
            if identity is not None:
                sent_on = last_due(digest.hour, now, zone).astimezone(zone).date()
                day = sent_on - timedelta(days=1)
                recorded += await enqueue(
                    uow, now, identity.user_id,
                    notices.DailyDigest(account=digest.account, day=day.isoformat()),
                    dedupe_key=f"{notices.DailyDigest.KIND}:{digest.account}:{day.isoformat()}")
            digest.due_at = next_due(digest.hour, now, zone)
        digest.updated_at = now
        await uow.digests.put(digest)
    return len(due), recorded
