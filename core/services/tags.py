"""Tags on students: set by staff and automations, read by segments and conditions."""

from __future__ import annotations

import re
from datetime import datetime

from core.automations import events
from core.models import Tag
from core.ports import UnitOfWork

TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def normalize(text: str) -> str | None:
    """``VIP`` -> ``vip``; None for what cannot be a tag (spaces, symbols, too long)."""
    tag = text.strip().lower()
    return tag if TAG.fullmatch(tag) else None


async def add(uow: UnitOfWork, user_id: int, tag: str, by: str, now: datetime) -> bool:
    """Tag the student; False when they had it already (nothing changes, nothing fires).
    A new tag sets off the automations triggered by it (``tag_added``)."""
    if not await uow.tags.add(Tag(user_id, tag, now, by)):
        return False
    await events.tag_added(uow, user_id, tag, now)
    return True


async def remove(uow: UnitOfWork, user_id: int, tag: str) -> bool:
    return await uow.tags.remove(user_id, tag)


async def of_user(uow: UnitOfWork, user_id: int) -> list[str]:
    return [t.tag for t in await uow.tags.of_user(user_id)]


async def has(uow: UnitOfWork, user_id: int, tag: str) -> bool:
    return tag in await of_user(uow, user_id)
