"""Tags on students: added once, removed, found by tag, kept once when accounts are linked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.models import User
from core.services import tags

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


async def _students(uow, n):
    return [(await uow.users.add(User(name=f"S{i}", created_at=NOW))).id for i in range(n)]


async def test_a_tag_is_added_once_removed_and_found(db_uow_factory):
    async with db_uow_factory() as uow:
        anna, boris, cleo = await _students(uow, 3)
        assert await tags.add(uow, anna, "vip", "telegram:1", NOW)
        assert not await tags.add(uow, anna, "vip", "automation:welcome", NOW)
        assert await tags.add(uow, cleo, "vip", "telegram:1", NOW)
        assert await tags.add(uow, anna, "webinar", "telegram:1", NOW)
        await uow.commit()
    async with db_uow_factory() as uow:
        assert await tags.of_user(uow, anna) == ["vip", "webinar"]
        assert await uow.tags.users_with("vip", 0, 10) == [anna, cleo]
        assert await uow.tags.users_with("vip", anna, 10) == [cleo]
        assert await tags.remove(uow, anna, "vip")
        assert not await tags.remove(uow, boris, "vip")
        await uow.commit()
    async with db_uow_factory() as uow:
        assert not await tags.has(uow, anna, "vip") and await tags.has(uow, cleo, "vip")
        [row] = await uow.tags.of_user(cleo)
        assert (row.added_by, row.added_at) == ("telegram:1", NOW)


async def test_linking_keeps_each_tag_once(db_uow_factory):
    async with db_uow_factory() as uow:
        into, source = await _students(uow, 2)
        for user_id, tag in ((into, "vip"), (source, "vip"), (source, "webinar")):
            await tags.add(uow, user_id, tag, "telegram:1", NOW)
        await uow.users.merge(source, into)
        await uow.commit()
    async with db_uow_factory() as uow:
        assert await tags.of_user(uow, into) == ["vip", "webinar"]
        assert await tags.of_user(uow, source) == []


@pytest.mark.parametrize(("text", "tag"), [("VIP", "vip"), (" webinar-2027 ", "webinar-2027"),
                                           ("two words", None), ("", None), ("x" * 40, None),
                                           ("-x", None)])
def test_what_can_be_a_tag(text, tag):
    assert tags.normalize(text) == tag
