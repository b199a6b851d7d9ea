"""The passes that move automations on, plain async functions taking ``now`` like
``core.jobs``: each works in small transactions over rows that are due, and is idempotent,
so a pass after downtime catches up and a repeated pass changes nothing.

- ``run_events``: events the core recorded (``events.emit``) become runs, once each.
- ``scan_unpaid``: orders placed ``after`` ago and still unpaid start ``order_unpaid``
  automations (orders taken once each, in id order: a cursor per automation).
- ``scan_ending``: running access ending within ``before`` starts ``access_ending`` ones.
- ``run_due``: due runs move on, each claimed in a transaction of its own (PostgreSQL
  ``FOR UPDATE SKIP LOCKED``): two processes never run the same step, and a run that fails
  is cancelled with its error without holding up the others.
- ``run_now`` (events, then due runs) is what the conversation and the runner call right
  after a commit; ``sweep`` (everything) is the scheduler's."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime

from core.automations import engine
from core.automations.events import Event
from core.automations.model import ANY, Automation, TriggerKind
from core.automations.records import LIVE, AutomationState, RunStatus, Waiting
from core.models import Order, OrderStatus
from core.ports import UnitOfWork, UnitOfWorkFactory
from core.school import School

log = logging.getLogger(__name__)
BATCH = 200
ROUNDS = 20  # passes over due runs in one call: runs started by runs go on at once


async def run_events(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                     batch: int = BATCH, rounds: int | None = None) -> int:
    """Turn recorded events into runs (``rounds`` batches at most; None: all). Returns how
    many runs started."""
    started = 0
    for _ in itertools.count() if rounds is None else range(rounds):
        async with uow_factory() as uow:
            rows = await uow.automation_events.claim(batch)
            for row in rows:
                started += len(await engine.fire(uow, school, Event.of(row), now))
            await uow.automation_events.remove([row.id for row in rows])
            await uow.commit()
        if len(rows) < batch:
            break
    return started


def _with(school: School, kind: TriggerKind) -> list[Automation]:
    return [a for a in school.automations.values() if a.trigger.kind is kind]


async def scan_unpaid(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                      batch: int = BATCH) -> int:
    """Start ``order_unpaid`` automations for orders placed ``after`` ago that are still
    unpaid: not paid, no other order of the same offer paid since, not a renewal's own order,
    not free. Returns how many runs started."""
    started = 0
    for automation in _with(school, TriggerKind.ORDER_UNPAID):
        trigger = automation.trigger
        assert trigger.delay is not None
        placed_before = now - trigger.delay
        while True:
            async with uow_factory() as uow:
                state = await uow.automation_states.get(automation.code) \
                    or AutomationState(automation.code)
                if state.cursor is None:  # from now on: orders placed before are not chased
                    state.cursor = await uow.trigger_scans.last_order_before(placed_before)
                    await uow.automation_states.put(state)
                    await uow.commit()
                    break
                found = await uow.trigger_scans.orders_after(state.cursor, placed_before, batch)
                for order in found:
                    state.cursor = order.id
                    if state.paused or trigger.subject not in (ANY, order.offer_code):
                        continue
                    if await _still_unpaid(uow, order):
                        event = Event(TriggerKind.ORDER_UNPAID, order.user_id, order.offer_code,
                                      key=f"order:{order.id}",
                                      detail={"order": order.id, "offer": order.offer_code})
                        started += await engine.start(
                            uow, automation, order.user_id, event.key, event.detail,
                            now) is not None
                await uow.automation_states.put(state)
                await uow.commit()
            if len(found) < batch:
                break
    return started


async def _still_unpaid(uow: UnitOfWork, order: Order) -> bool:
    if order.status is OrderStatus.PAID or order.amount == 0 or order.free:
        return False
    if await uow.renewals.for_order(order.id) is not None:
        return False  # the automatic renewal's own order: the gateway is charging it
    return not await engine.order_paid(uow, order.user_id, order.id)


async def scan_ending(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                      batch: int = BATCH) -> int:
    """Start ``access_ending`` automations for running access (renewed by nothing) that
    ends within their ``before``. Once per student, or once per purchase and end for a
    repeatable one. Returns how many runs started."""
    started = 0
    for automation in _with(school, TriggerKind.ACCESS_ENDING):
        before = automation.trigger.before
        assert before is not None
        after_id = 0
        while True:
            async with uow_factory() as uow:
                if automation.code in await uow.automation_states.paused():
                    break
                found = await uow.trigger_scans.ending(now, before.add_to(now), after_id,
                                                       batch)
                mine = [p for p in found if automation.trigger.subject in p.products]
                runs = await uow.automation_runs.of_automation(
                    automation.code, sorted({p.user_id for p in mine}))
                have = {(r.user_id, r.repeat_key if automation.repeatable else "")
                        for r in runs}
                for purchase in mine:
                    assert purchase.ends_at is not None
                    key = f"purchase:{purchase.id}:{int(purchase.ends_at.timestamp())}"
                    if (purchase.user_id, key if automation.repeatable else "") in have:
                        continue
                    run = await engine.start(uow, automation, purchase.user_id, key,
                                             {"purchase": purchase.id,
                                              "ends_at": purchase.ends_at.isoformat()}, now)
                    if run is not None:
                        started += 1
                        have.add((purchase.user_id, run.repeat_key))
                await uow.commit()
            if len(found) < batch:
                break
            after_id = found[-1].id
    return started


async def run_due(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                  batch: int = 100, rounds: int = ROUNDS) -> int:
    """Move every due run on. Returns how many runs moved."""
    moved = 0
    for _ in range(rounds):
        async with uow_factory() as uow:
            ids = await uow.automation_runs.due_ids(now, batch)
        if not ids:
            break
        for run_id in ids:
            moved += await _run_one(uow_factory, school, run_id, now)
    return moved


async def _run_one(uow_factory: UnitOfWorkFactory, school: School, run_id: int,
                   now: datetime) -> int:
    try:
        async with uow_factory() as uow:
            run = await uow.automation_runs.claim(run_id, now)
            if run is None:  # another process has it, or it moved on meanwhile
                return 0
            await engine.advance(uow, school, run, now)
            await uow.commit()
            return 1
    except Exception as exc:  # a bug must not stop every other run: this one ends, noted
        log.exception("automation run %s failed: cancelled", run_id)
        async with uow_factory() as uow:
            run = await uow.automation_runs.get_for_update(run_id)
            if run is not None and run.status in LIVE:
                run.status, run.wait_until, run.waiting_for = (
                    RunStatus.CANCELLED, None, Waiting.NONE)
                run.error, run.updated_at = f"failed: {exc!r}"[:500], now
                await uow.automation_runs.update(run)
                await uow.commit()
        return 0


async def run_now(uow_factory: UnitOfWorkFactory, school: School, now: datetime,
                  batch: int = BATCH, rounds: int | None = None) -> int:
    """Events into runs, then due runs: right after a commit that started or answered
    some (``rounds`` of ``batch`` at most: a conversation turn does not take on a backlog;
    None: all of it). Returns how much happened."""
    if not school.automations:
        async with uow_factory() as uow:  # events still go, or they would pile up
            rows = await uow.automation_events.claim(BATCH)
            await uow.automation_events.remove([row.id for row in rows])
            await uow.commit()
        return 0
    return await run_events(uow_factory, school, now, batch, rounds) + await run_due(
        uow_factory, school, now, batch, rounds or ROUNDS)


async def sweep(uow_factory: UnitOfWorkFactory, school: School, now: datetime) -> int:
    """The scheduler's pass: events, the time-based triggers, due runs."""
    count = await run_events(uow_factory, school, now)
    count += await scan_unpaid(uow_factory, school, now)
    count += await scan_ending(uow_factory, school, now)
    return count + await run_due(uow_factory, school, now)
