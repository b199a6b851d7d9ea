"""Reminders around the end of access, and the notice before an automatic charge.

A purchase carries the time its next one is due (``remind_at``, indexed), so the sweep costs
what is due. Reminders fall on whole days relative to the end, at the school's
``remind_hour`` in the student's time zone (the school's unless the student's is known).
Each is recorded once per purchase, period and day (its dedupe key holds the end), so a
renewal, which moves the end, starts a fresh set and the old period's never go out. After
downtime only the latest reminder due is sent, and only if it is less than a day late;
older ones are skipped, not sent in a burst."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.models import RENEWAL_TELEGRAM_CHANNEL, Purchase, PurchaseStatus
from core.notices import Reminder, RenewalNotice
from core.ports import UnitOfWork
from core.school import School
from core.services.outbox import enqueue

STALE = timedelta(days=1)  # a reminder missed by more than this (downtime) is skipped
NOTICE = RenewalNotice
REMINDER = Reminder

Planned = tuple[datetime, type[Reminder | RenewalNotice], int]  # when, kind, days from the end


def moment(end: datetime, days: int, zone: ZoneInfo, hour: int) -> datetime:
    """``hour`` o'clock local time on the local day ``days`` from the end's."""
    day = end.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), zone).astimezone(UTC)


def plan(school: School, purchase: Purchase, zone: ZoneInfo) -> list[Planned]:
    """The reminders of the purchase's current period, earliest first."""
    end = purchase.ends_at
    if end is None or purchase.status is PurchaseStatus.REVOKED:
        return []
    if purchase.renewal == RENEWAL_TELEGRAM_CHANNEL:
        return []  # Telegram reminds and renews its own subscribers
    if purchase.renewal is not None:  # renews by itself: a notice before the charge
        days = -school.renewals.notice_days
        return [(moment(end, days, zone, school.remind_hour), NOTICE, days)]
    offer = school.offer(purchase.offer_code)
    schedule = offer.reminders if offer is not None and offer.reminders is not None \
        else school.reminders
    return sorted(((moment(end, days, zone, school.remind_hour), REMINDER, days)
                   for days in schedule), key=lambda item: (item[0], item[2]))


async def zone_of(uow: UnitOfWork, school: School, user_id: int) -> ZoneInfo:
    user = await uow.users.get(user_id)
    if user is not None and user.timezone:
        try:
            return ZoneInfo(user.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a bad name from a messenger: the school's zone will do
    return school.timezone


async def schedule(uow: UnitOfWork, school: School, purchase: Purchase, now: datetime) -> None:
    """Point ``remind_at`` at the next reminder after ``now`` (the caller stores the
    purchase)."""
    zone = await zone_of(uow, school, purchase.user_id)
    purchase.remind_at = min((w for w, _, _ in plan(school, purchase, zone) if w > now),
                             default=None)


async def fire(uow: UnitOfWork, school: School, purchase: Purchase, now: datetime) -> bool:
    """A purchase whose reminder time has come: record the latest one due, if it still
    applies, and move on to the next. Returns whether a message was recorded."""
    zone = await zone_of(uow, school, purchase.user_id)
    planned = plan(school, purchase, zone)
    due = [item for item in planned if item[0] <= now]
    recorded = False
    if due and purchase.ends_at is not None and now - due[-1][0] <= STALE:
        _, kind, days = due[-1]
        if await _applies(uow, school, purchase, kind, days, now):
            recorded = await enqueue(
                uow, now, purchase.user_id,
                kind(purchase=purchase.id, days=days, ends_at=purchase.ends_at),
                dedupe_key=f"{kind.KIND}:{purchase.id}:{int(purchase.ends_at.timestamp())}:{days}",
            )
    purchase.remind_at = min((w for w, _, _ in planned if w > now), default=None)
    await uow.purchases.update(purchase)
    return recorded


async def _applies(
    uow: UnitOfWork, school: School, purchase: Purchase, kind: type[Reminder | RenewalNotice],
    days: int, now: datetime,
) -> bool:
    if kind is NOTICE:
        return purchase.status is PurchaseStatus.ACTIVE and purchase.renewal is not None
    if days <= 0:  # before the end: only while it runs and nothing renews it
        return purchase.status is PurchaseStatus.ACTIVE and purchase.renewal is None
    # A win-back: not to someone who came back through another offer meanwhile.
    if purchase.status is not PurchaseStatus.EXPIRED:
        return False
    return not any(
        other.id != purchase.id and other.status is PurchaseStatus.ACTIVE
        and set(other.products) & set(purchase.products)
        and (other.ends_at is None or other.ends_at > now)
        for other in await uow.purchases.for_user(purchase.user_id)
    )
