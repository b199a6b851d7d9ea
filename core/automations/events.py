"""What happened that may start automations.

The core's own paths call ``emit`` in the transaction that made the change (an order placed,
access granted, a lesson delivered, a tag added ...): it records one row and nothing else, so
an automation can never undo or hold up a payment. The next pass (``jobs.run_events``) turns
each row into the runs it triggers (``engine.fire``) and deletes it, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.automations.model import TriggerKind
from core.automations.records import AutomationEvent
from core.ports import UnitOfWork


@dataclass(frozen=True)
class Event:
    """``subject``: the offer, group, tag or course code (the /start payload, the typed
    text, the command, the answer value for the conversation's own events); ``subjects``:
    the products of access events; ``key``: what happened, once (``order:42``): a repeatable
    automation runs once per key; ``detail``: kept with the run (order, purchase, lesson)."""

    kind: TriggerKind
    user_id: int
    subject: str = ""
    subjects: tuple[str, ...] = ()
    key: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: AutomationEvent) -> Event:
        return cls(TriggerKind(row.kind), row.user_id, row.subject, tuple(row.subjects),
                   row.key, dict(row.detail))


async def emit(uow: UnitOfWork, event: Event, now: datetime) -> None:
    """Record ``event`` in the caller's transaction."""
    await uow.automation_events.add(AutomationEvent(
        kind=event.kind.value, user_id=event.user_id, subject=event.subject,
        subjects=event.subjects, key=event.key, detail=event.detail, created_at=now))


# The core's paths, one function each, so a call site says what happened in one line.


async def order_placed(uow: UnitOfWork, user_id: int, offer: str, order_id: int,
                       now: datetime) -> None:
    await emit(uow, Event(TriggerKind.ORDER_PLACED, user_id, offer, key=f"order:{order_id}",
                          detail={"order": order_id, "offer": offer}), now)


async def offer_paid(uow: UnitOfWork, user_id: int, offer: str, order_id: int,
                     now: datetime) -> None:
    await emit(uow, Event(TriggerKind.OFFER_PAID, user_id, offer, key=f"order:{order_id}",
                          detail={"order": order_id, "offer": offer}), now)


async def access_started(uow: UnitOfWork, user_id: int, products: tuple[str, ...],
                         purchase_id: int, now: datetime) -> None:
    await emit(uow, Event(TriggerKind.ACCESS_STARTED, user_id, subjects=products,
                          key=f"purchase:{purchase_id}:{int(now.timestamp())}",
                          detail={"purchase": purchase_id}), now)


async def access_ended(uow: UnitOfWork, user_id: int, products: tuple[str, ...],
                       purchase_id: int, reason: str, now: datetime) -> None:
    await emit(uow, Event(TriggerKind.ACCESS_ENDED, user_id, subjects=products,
                          key=f"purchase:{purchase_id}:{int(now.timestamp())}",
                          detail={"purchase": purchase_id, "reason": reason}), now)


async def lesson_opened(uow: UnitOfWork, user_id: int, course: str, lesson: str,
                        now: datetime) -> None:
    await emit(uow, Event(TriggerKind.LESSON_OPENED, user_id, course,
                          key=f"lesson:{course}:{lesson}",
                          detail={"course": course, "lesson": lesson}), now)


async def group_changed(uow: UnitOfWork, external_id: str, messenger: str, group: str,
                        joined: bool, now: datetime) -> None:
    """A member joined or left a paid group; only a student of the platform counts."""
    identity = await uow.users.identity(messenger, external_id)
    if identity is None:
        return
    kind = TriggerKind.JOINED_GROUP if joined else TriggerKind.LEFT_GROUP
    await emit(uow, Event(kind, identity.user_id, group,
                          key=f"group:{group}:{kind.value}:{int(now.timestamp())}",
                          detail={"group": group}), now)


async def tag_added(uow: UnitOfWork, user_id: int, tag: str, now: datetime) -> None:
    await emit(uow, Event(TriggerKind.TAG_ADDED, user_id, tag,
                          key=f"tag:{tag}:{now.isoformat()}", detail={"tag": tag}), now)
