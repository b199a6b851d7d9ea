"""``storage.testing`` hands every test an empty PostgreSQL schema at the newest revision,
whether it migrated the schema there and then or emptied one it had migrated before."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from core.models import Identity, User
from storage.testing import drop_postgres_schema, make_postgres_uow_factory, postgres_url

pytestmark = pytest.mark.postgres
SCHEMA = f"testing_tests_{os.getpid()}"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def url():
    if not postgres_url():
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
    yield postgres_url()


async def _open(url):
    return await make_postgres_uow_factory(url, SCHEMA)


async def _close(factory, engine) -> None:
    await factory.close()
    await engine.dispose()


async def _add_user(factory, code: str) -> int:
    async with factory() as uow:
        user = await uow.users.add(User(created_at=NOW, name="Anna", referral_code=code))
        await uow.users.add_identity(Identity(user_id=user.id, messenger="telegram",
                                              external_id=code))
        await uow.commit()
    return user.id


async def _count(engine, table: str) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {table}"))


async def test_a_schema_used_before_comes_back_empty_with_ids_from_one(url):
    factory, engine = await _open(url)
    try:
        assert [await _add_user(factory, c) for c in ("a", "b")] == [1, 2]
    finally:
        await _close(factory, engine)

    factory, engine = await _open(url)
    try:
        assert await _count(engine, "users") == 0
        assert await _count(engine, "identities") == 0
        assert await _add_user(factory, "c") == 1
    finally:
        await _close(factory, engine)
        await drop_postgres_schema(url, SCHEMA)


async def test_a_dropped_schema_or_a_changed_one_is_migrated_again(url):
    factory, engine = await _open(url)
    await _add_user(factory, "a")
    await _close(factory, engine)
    await drop_postgres_schema(url, SCHEMA)

    factory, engine = await _open(url)
    try:
        assert await _count(engine, "users") == 0
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE identities CASCADE"))
    finally:
        await _close(factory, engine)

    factory, engine = await _open(url)
    try:
        assert await _count(engine, "identities") == 0  # the table is back
        assert await _add_user(factory, "b") == 1
    finally:
        await _close(factory, engine)
        await drop_postgres_schema(url, SCHEMA)
