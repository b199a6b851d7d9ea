"""SQL repositories of automations (``core.automations``): runs, events, states, the
students' fields, the time-based triggers' scans and webhook calls. Like the others in
``storage.repositories`` they hand out plain dataclasses and never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from core.automations.records import (
    LIVE,
    OPEN,
    AutomationEvent,
    AutomationState,
    CallStatus,
    Run,
    RunStatus,
    StudentField,
    WebhookCall,
)
from core.models import Order, Purchase, PurchaseStatus
from storage.repositories import (
    Adds,
    Crud,
    ReadsForUpdate,
    _SqlRepo,
    _values,
    automation_events,
    automation_runs,
    orders,
    purchases,
    student_fields,
    webhook_calls,
)
from storage.tables import AutomationStateRow

automation_states = AutomationStateRow.__table__


class SqlAutomationRuns(Crud[Run], ReadsForUpdate[Run]):
    table, entity = automation_runs, Run

    async def add(self, run: Run) -> bool:  # type: ignore[override]
        return await self._add_unless_exists(run, "automation", "user_id", "repeat_key")

    async def due_ids(self, now: datetime, limit: int) -> list[int]:
        c = automation_runs.c
        query = (select(c.id).where(c.status.in_(list(LIVE)), c.wait_until <= now)
                 .order_by(c.wait_until, c.id).limit(limit))
        return list((await self._session.scalars(query)).all())

    async def claim(self, run_id: int, now: datetime) -> Run | None:
        c = automation_runs.c
        query = self._select(c.id == run_id, c.status.in_(list(LIVE)), c.wait_until <= now)
        return await self._one(self._claim(query))

    async def waiting_for_text(self, user_id: int) -> list[Run]:
        c = automation_runs.c
        query = self._select(c.user_id == user_id, c.waiting_for == "text",
                             or_(c.status == RunStatus.WAITING,
                                 and_(c.status == RunStatus.PAUSED,
                                      c.paused_from == RunStatus.WAITING)))
        return await self._all(query.order_by(c.updated_at.desc(), c.id.desc()))

    async def for_user(self, user_id: int) -> list[Run]:
        c = automation_runs.c
        return await self._all(self._select(c.user_id == user_id).order_by(c.id.desc()))

    async def of_automation(self, automation: str, user_ids: list[int]) -> list[Run]:
        if not user_ids:
            return []
        c = automation_runs.c
        query = self._select(c.automation == automation, c.user_id.in_(user_ids))
        return await self._all(query.order_by(c.id))

    async def counts(self, automation: str) -> dict[RunStatus, int]:
        c = automation_runs.c
        query = (select(c.status, func.count()).where(c.automation == automation)
                 .group_by(c.status))
        return {RunStatus(status): n for status, n in await self._session.execute(query)}

    async def positions(self, automation: str
                        ) -> dict[tuple[RunStatus, str], tuple[int, datetime | None]]:
        c = automation_runs.c
        query = (select(c.status, c.position, func.count(), func.min(c.wait_until))
                 .where(c.automation == automation, c.status.in_(list(OPEN)))
                 .group_by(c.status, c.position))
        return {(RunStatus(status), position): (n, due)
                for status, position, n, due in await self._session.execute(query)}

    async def pause(self, automation: str, now: datetime) -> int:
        c = automation_runs.c
        return await self._count(
            update(automation_runs)
            .where(c.automation == automation, c.status.in_(list(LIVE)))
            .values(paused_from=c.status, status=RunStatus.PAUSED, updated_at=now))

    async def resume(self, automation: str, now: datetime) -> int:
        c = automation_runs.c
        return await self._count(
            update(automation_runs)
            .where(c.automation == automation, c.status == RunStatus.PAUSED)
            .values(status=c.paused_from, paused_from=None, updated_at=now))


class SqlAutomationEvents(Adds[AutomationEvent]):
    table, entity = automation_events, AutomationEvent

    async def claim(self, limit: int) -> list[AutomationEvent]:
        query = self._select().order_by(automation_events.c.id).limit(limit)
        return await self._all(self._claim(query))

    async def remove(self, event_ids: list[int]) -> None:
        if event_ids:
            await self._session.execute(
                delete(automation_events).where(automation_events.c.id.in_(event_ids)))


class SqlAutomationStates(_SqlRepo[AutomationState]):
    table, entity = automation_states, AutomationState

    async def get(self, code: str) -> AutomationState | None:
        return await self._one(self._select(automation_states.c.code == code))

    async def put(self, state: AutomationState) -> None:
        values = _values(state, automation_states)
        insert = self._insert().values(values | {"code": state.code})
        await self._session.execute(insert.on_conflict_do_update(
            index_elements=["code"],
            set_={name: insert.excluded[name] for name in values if name != "code"}))

    async def paused(self) -> set[str]:
        c = automation_states.c
        return set((await self._session.scalars(select(c.code).where(c.paused))).all())


class SqlStudentFields(_SqlRepo[StudentField]):
    table, entity = student_fields, StudentField

    async def of_user(self, user_id: int) -> dict[str, str]:
        c = student_fields.c
        query = select(c.key, c.value).where(c.user_id == user_id).order_by(c.key)
        return {key: value for key, value in await self._session.execute(query)}

    async def put(self, field: StudentField) -> None:
        insert = self._insert().values(_values(field, student_fields))
        await self._session.execute(insert.on_conflict_do_update(
            index_elements=["user_id", "key"],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at}))


class SqlTriggerScans(_SqlRepo[Any]):
    table = orders

    async def last_order_before(self, moment: datetime) -> int:
        c = orders.c
        query = select(func.max(c.id)).where(c.created_at <= moment)
        return (await self._session.scalar(query)) or 0

    async def orders_after(self, after_id: int, placed_before: datetime,
                           limit: int) -> list[Order]:
        c = orders.c
        query = (select(orders).where(c.id > after_id, c.created_at <= placed_before)
                 .order_by(c.id).limit(limit))
        return await self._all(query, Order)

    async def ending(self, start: datetime, end: datetime, after_id: int,
                     limit: int) -> list[Purchase]:
        c = purchases.c
        query = (select(purchases)
                 .where(c.status == PurchaseStatus.ACTIVE, c.renewal.is_(None),
                        c.ends_at > start, c.ends_at <= end, c.id > after_id)
                 .order_by(c.id).limit(limit))
        return await self._all(query, Purchase)


class SqlWebhookCalls(_SqlRepo[WebhookCall]):
    table, entity = webhook_calls, WebhookCall

    async def add(self, call: WebhookCall) -> bool:
        return await self._add_unless_exists(call, "dedupe_key")

    async def claim(self, now: datetime, stale_before: datetime,
                    limit: int) -> list[WebhookCall]:
        c = webhook_calls.c
        claimable = or_(
            and_(c.status == CallStatus.PENDING, c.due_at <= now),
            and_(c.status == CallStatus.SENDING, c.claimed_at < stale_before),
        )
        query = select(c.id).where(claimable).order_by(c.id).limit(limit)
        ids = list((await self._session.scalars(self._claim(query))).all())
        if not ids:
            return []
        await self._session.execute(
            update(webhook_calls).where(c.id.in_(ids))
            .values(status=CallStatus.SENDING, attempts=c.attempts + 1, claimed_at=now))
        return await self._all(self._select(c.id.in_(ids)).order_by(c.id))

    async def mark_sent(self, call_id: int, at: datetime) -> None:
        await self._update(call_id, {"status": CallStatus.SENT, "sent_at": at,
                                     "last_error": None})

    async def mark_retry(self, call_id: int, due_at: datetime, error: str) -> None:
        await self._update(call_id, {"status": CallStatus.PENDING, "due_at": due_at,
                                     "last_error": error[:500]})

    async def mark_failed(self, call_id: int, error: str) -> None:
        await self._update(call_id, {"status": CallStatus.FAILED, "last_error": error[:500]})

    async def for_run(self, run_id: int) -> list[WebhookCall]:
        c = webhook_calls.c
        return await self._all(self._select(c.run_id == run_id).order_by(c.id))
