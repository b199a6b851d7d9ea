from __future__ import annotations

import asyncio
import os

import pytest
from factories import START, make_school
from harness import Harness

from core.clock import FakeClock
from storage.testing import drop_schemas_made, make_uow_factory, postgres_url, worker_database


def pytest_configure(config):
    """Under pytest-xdist each worker gets a PostgreSQL database of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and postgres_url():
        os.environ["TEST_DATABASE_URL"] = asyncio.run(worker_database(postgres_url(), worker))


def pytest_sessionfinish(session):
    if postgres_url():
        asyncio.run(drop_schemas_made())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def school():
    return make_school()


@pytest.fixture
async def uow_factory(tmp_path_factory):
    """A fresh SQLite database (a copy of the migrated template) for a unit test, in a folder
    of its own (a test may make its own ``school.db`` in ``tmp_path``)."""
    factory, engine = await make_uow_factory("sqlite", tmp_path_factory.mktemp("db"))
    yield factory
    await factory.close()
    await engine.dispose()


@pytest.fixture
async def harness(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock) as h:
        yield h


def _backend_param(name: str):
    marks = [pytest.mark.postgres] if name == "postgres" else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=[_backend_param(b) for b in ("sqlite", "postgres")])
async def db_uow_factory(request, tmp_path_factory):
    """The same unit of work on every storage backend (PostgreSQL with TEST_DATABASE_URL)."""
    if request.param == "postgres" and not postgres_url():
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/test")
    factory, engine = await make_uow_factory(request.param, tmp_path_factory.mktemp("db"))
    yield factory
    await factory.close()
    await engine.dispose()
