"""The scheduler lease on PostgreSQL: the sweeps of one process ask for it at the same moment
(all of them at start), and all of them must get the same answer."""

from __future__ import annotations

import asyncio
import os

import pytest

from storage.engine import create_engine
from storage.lease import SchedulerLease
from storage.testing import postgres_url

pytestmark = pytest.mark.postgres
KEY = 0x5C4F00 + os.getpid() % 0xFF  # not the platform's own: a platform may run on this db


@pytest.fixture
async def engines():
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
    made = [create_engine(url), create_engine(url)]  # two processes
    yield made
    for engine in made:
        await engine.dispose()


async def test_sweeps_asking_at_once_all_find_the_lease_held(engines):
    lease = SchedulerLease(engines[0], KEY)
    try:
        assert await asyncio.gather(*(lease.held() for _ in range(8))) == [True] * 8
        assert await asyncio.gather(*(lease.held() for _ in range(8))) == [True] * 8
    finally:
        await lease.release()


async def test_another_process_gets_the_lease_only_once_it_is_released(engines):
    first, second = SchedulerLease(engines[0], KEY), SchedulerLease(engines[1], KEY)
    try:
        assert await first.held()
        assert await asyncio.gather(*(second.held() for _ in range(4))) == [False] * 4
        await first.release()
        assert await asyncio.gather(*(second.held() for _ in range(4))) == [True] * 4
        assert not await first.held()
    finally:
        await first.release()
        await second.release()
