"""The one sweep table: every interval job over due rows, {name: (seconds, job)}. A job takes
no arguments and returns how many rows it acted on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from core import jobs
from core.automations import jobs as automation_jobs
from core.automations import webhooks as automation_webhooks
from core.ports import Charger, Clock, Notifier, UnitOfWorkFactory, WebhookPoster
from core.school import School
from flows.groups import GroupKeeper

Job = Callable[[], Awaitable[int]]
SweepTable = dict[str, tuple[int, Job]]


def sweep_table(school: Callable[[], School], clock: Clock, uow_factory: UnitOfWorkFactory,
                groups: GroupKeeper, chargers: Mapping[str, Charger],
                broadcast_sender: Notifier) -> SweepTable:
    async def orders() -> int:
        return await jobs.cancel_unpaid_orders(uow_factory, school(), clock.now())

    async def lessons() -> int:
        return await jobs.open_lessons(uow_factory, school(), clock.now())

    async def expiry() -> int:
        count = await jobs.expire_purchases(uow_factory, clock.now())
        if count:  # the members whose access just ended leave their groups at once
            await groups.sweep()
        return count

    async def reminders() -> int:
        return await jobs.send_reminders(uow_factory, school(), clock.now())

    async def renewals() -> int:
        count = await jobs.charge_renewals(uow_factory, school(), dict(chargers), clock.now())
        if count:  # a renewal that failed for the last time takes its groups with it
            await groups.sweep()
        return count

    async def digests() -> int:
        return await jobs.send_digests(uow_factory, school(), clock.now())

    async def broadcasts() -> int:
        count = await jobs.start_broadcasts(uow_factory, clock.now())
        if count:  # scheduled ones whose time came go out at once
            broadcast_sender.wake()
        return count

    return {
        "orders": (300, orders),
        "lessons": (30, lessons),
        "expiry": (60, expiry),
        "groups": (60, groups.sweep),
        "reminders": (60, reminders),
        "renewals": (60, renewals),
        "digests": (60, digests),
        "broadcasts": (15, broadcasts),
    }


def automation_sweeps(school: Callable[[], School], clock: Clock, uow_factory: UnitOfWorkFactory,
                      poster: WebhookPoster, secret: bytes) -> SweepTable:
    """Automations: events, the time-based triggers and due waits; webhook calls."""

    async def automations() -> int:
        return await automation_jobs.sweep(uow_factory, school(), clock.now())

    async def webhooks() -> int:
        return await automation_webhooks.send_due(uow_factory, poster, secret, clock.now())

    return {
        "automations": (15, automations),
        "webhooks": (15, webhooks),
    }
