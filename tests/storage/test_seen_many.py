""""Last seen" of many accounts written in one statement: forward only, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.models import Identity, User
from storage.testing import make_uow_factory, postgres_url

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def factory(request, tmp_path):
    if request.param == "postgres" and not postgres_url():
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    made, engine = await make_uow_factory(request.param, tmp_path)
    yield made
    await engine.dispose()


async def test_many_accounts_move_forward_in_one_write_and_never_back(factory):
    async with factory() as uow:
        for n in range(3):
            user = await uow.users.add(User(created_at=NOW, name=f"S{n}", referral_code=f"r{n}"))
            await uow.users.add_identity(Identity(user_id=user.id, messenger="telegram",
                                                  external_id=str(n), last_seen_at=NOW))
        await uow.commit()
    later, earlier = NOW + timedelta(minutes=5), NOW - timedelta(minutes=5)
    async with factory() as uow:
        sql = await uow.sql()  # the SQL repositories behind the row cache
        stored = await sql.users.record_seen_many(
            {("telegram", "0"): later, ("telegram", "1"): earlier, ("telegram", "404"): later})
        await uow.commit()
    assert sorted((i.external_id, i.last_seen_at) for i in stored) == [
        ("0", later), ("1", NOW)]
    async with factory() as uow:
        sql = await uow.sql()  # the database itself, not the cache (storage.seen refreshes it)
        seen = {n: (await sql.users.identity("telegram", str(n))).last_seen_at for n in range(3)}
    assert seen == {0: later, 1: NOW, 2: NOW}
