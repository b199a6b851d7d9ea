"""What only SQLite needs to show: the transactions of this process are serialized (one
writer at a time), and a second one in the same task is refused instead of waiting for
itself."""

import asyncio

import pytest
from storage_helpers import add_user

from storage.testing import make_sqlite_uow_factory


@pytest.fixture
async def factory(tmp_path):
    factory, engine = await make_sqlite_uow_factory(tmp_path)
    yield factory
    await factory.close()
    await engine.dispose()


async def test_transactions_run_one_at_a_time(factory):
    events = []

    async def first(entered: asyncio.Event):
        async with factory() as uow:
            entered.set()
            await asyncio.sleep(0.01)
            await add_user(uow, "first")
            events.append("first commits")
            await uow.commit()

    async def second(entered: asyncio.Event):
        await entered.wait()
        async with factory() as uow:
            events.append("second starts")
            assert await uow.users.by_referral_code("first") is not None

    entered = asyncio.Event()
    await asyncio.gather(first(entered), second(entered))
    assert events == ["first commits", "second starts"]


async def test_a_nested_unit_of_work_is_refused_instead_of_deadlocking(factory):
    async with factory():
        with pytest.raises(RuntimeError, match="already open"):
            async with factory():
                pytest.fail("a second unit of work opened in the same task")
    async with factory() as uow:  # the lock was released
        await add_user(uow)
