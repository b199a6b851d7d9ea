"""A student's choice of marketing messages (broadcasts that are not service announcements),
turned off and on in one tap."""

from __future__ import annotations

from datetime import datetime

from core.ports import UnitOfWork


async def set_marketing(uow: UnitOfWork, user_id: int, on: bool, now: datetime) -> bool:
    """Marketing messages reach the student (``on``) or not; False when that was so already
    (or there is no such student)."""
    user = await uow.users.get(user_id)
    if user is None or user.marketing is on:
        return False
    user.marketing = on
    await uow.users.update(user)
    return True
