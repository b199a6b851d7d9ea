"""Sweeps: plain async functions run on an interval by the scheduler. Each works in small
batches, one transaction per batch, over rows that are due (indexed), and is idempotent, so a
sweep after downtime catches up and a repeated sweep changes nothing."""

from __future__ import annotations

import logging
from datetime import datetime

from core.ports import Charger, ChargeResult, ReceiptIssuer, UnitOfWorkFactory
from core.school import School
from core.services import (
    access,
    broadcasts,
    checkout,
    digests,
    lessons,
    reminders,
    renewals,
    star_subscriptions,
)

BATCH = 200
log = logging.getLogger(__name__)


async def open_lessons(
    uow_factory: UnitOfWorkFactory, school: School, now: datetime, batch: int = BATCH
) -> int:
    """Deliver every lesson whose time has come. Returns how many lessons were delivered."""
    total = 0
    while True:
        async with uow_factory() as uow:
            due = await uow.purchases.due_lessons(now, batch)
            for purchase in due:
                total += len(await lessons.deliver_open(uow, school, purchase, now))
                await uow.purchases.update(purchase)
            await uow.commit()
        if len(due) < batch:
            return total


async def expire_purchases(
    uow_factory: UnitOfWorkFactory, now: datetime, batch: int = BATCH
) -> int:
    """End the purchases whose time is up, and the Stars subscriptions Telegram did not
    renew. Returns how many ended."""
    total = 0
    for find in (lambda uow: uow.purchases.due_expiry(now, batch),
                 lambda uow: star_subscriptions.lapsed(uow, now, batch)):
        while True:
            async with uow_factory() as uow:
                due = await find(uow)
                for purchase in due:
                    total += await access.expire(uow, purchase, now)
                await uow.commit()
            if len(due) < batch:
                break
    return total


async def send_reminders(
    uow_factory: UnitOfWorkFactory, school: School, now: datetime, batch: int = BATCH
) -> int:
    """Reminders and renewal notices whose time has come. Returns how many were recorded."""
    total = 0
    while True:
        async with uow_factory() as uow:
            due = await uow.purchases.due_reminders(now, batch)
            for purchase in due:
                total += await reminders.fire(uow, school, purchase, now)
            await uow.commit()
        if len(due) < batch:
            return total


async def charge_renewals(
    uow_factory: UnitOfWorkFactory, school: School, chargers: dict[str, Charger],
    now: datetime, batch: int = 50,
) -> int:
    """Charge the automatic renewals due now, each once. Returns how many were attempted.
    No transaction is open while a gateway is called."""
    total = 0
    while True:
        async with uow_factory() as uow:
            claimed = await renewals.claim(uow, now, batch, school)
            await uow.commit()
        for charge in claimed:
            charger = chargers.get(charge.gateway)
            if charger is None:  # the gateway is not configured now: try again later
                log.error("renewal %s: gateway %r is not configured", charge.renewal_id,
                          charge.gateway)
                continue
            if charge.receipt_missing and isinstance(charger, ReceiptIssuer):
                result = ChargeResult(False, "", renewals.NO_RECEIPT_CONTACT)
            else:
                try:
                    result = await charger.charge(charge.method, charge.amount,
                                                  charge.currency, charge.key,
                                                  receipt=charge.receipt,
                                                  sent_at=charge.sent_at)
                except Exception:  # nothing known: the lease runs out, the same key again
                    log.exception("renewal %s: the gateway did not answer", charge.renewal_id)
                    continue
            async with uow_factory() as uow:
                if result.succeeded:
                    await renewals.record_success(uow, school, charge, result, now)
                else:
                    await renewals.record_failure(uow, school, charge, result, now)
                await uow.commit()
            total += 1
        if len(claimed) < batch:
            return total


async def cancel_unpaid_orders(
    uow_factory: UnitOfWorkFactory, school: School, now: datetime, batch: int = BATCH
) -> int:
    total = 0
    while True:
        async with uow_factory() as uow:
            count = await checkout.expire_unpaid(uow, school, now, batch)
            await uow.commit()
        total += count
        if count < batch:
            return total


async def resync_lesson_schedule(
    uow_factory: UnitOfWorkFactory, school: School, now: datetime, batch: int = 500
) -> int:
    """Recompute every active purchase's next lesson time, at start: the school file may
    have gained or moved lessons since the last run. Delivers nothing by itself."""
    after, total = 0, 0
    while True:
        async with uow_factory() as uow:
            ids = await uow.purchases.active_ids(after, batch)
            for purchase_id in ids:
                purchase = await uow.purchases.get(purchase_id)
                if purchase is not None and await lessons.resync(uow, school, purchase, now):
                    await uow.purchases.update(purchase)
                    total += 1
            await uow.commit()
        if len(ids) < batch:
            return total
        after = ids[-1]



async def send_digests(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                       batch: int = digests.BATCH) -> int:
    """Record the staff's daily digests due now, each once per account and day. Returns how
    many were recorded."""
    total = 0
    while True:
        async with uow_factory() as uow:
            claimed, recorded = await digests.record_due(uow, school, now, batch)
            await uow.commit()
        total += recorded
        if claimed < batch:
            return total


async def start_broadcasts(uow_factory: UnitOfWorkFactory, now: datetime,
                           batch: int = 50) -> int:
    """Scheduled broadcasts whose time came start sending (the sender picks them up).
    Returns how many started."""
    total = 0
    while True:
        async with uow_factory() as uow:
            started = await broadcasts.due(uow, now, batch)
            await uow.commit()
        total += len(started)
        if len(started) < batch:
            return total
