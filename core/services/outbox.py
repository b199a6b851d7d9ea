"""Recording messages to students. Sending is the dispatcher's job (``flows.outbound``)."""

from __future__ import annotations

from datetime import datetime

from core.models import OutboxMessage
from core.notices import Notice
from core.ports import UnitOfWork


async def enqueue(
    uow: UnitOfWork,
    now: datetime,
    user_id: int,
    notice: Notice,
    dedupe_key: str | None = None,
    identity_id: int | None = None,
) -> bool:
    """Record a message in the caller's transaction. With ``dedupe_key`` the same event is
    recorded once however often it is reported. ``identity_id``: the student's account it
    goes to while that account can be reached (else the one delivery would choose)."""
    return await uow.outbox.add(
        OutboxMessage(
            user_id=user_id,
            kind=notice.KIND,
            data=notice.data(),
            dedupe_key=dedupe_key,
            created_at=now,
            due_at=now,
            identity_id=identity_id,
        )
    )
