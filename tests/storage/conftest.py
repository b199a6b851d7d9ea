import os
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from storage_helpers import T0

from core.ports import UnitOfWorkFactory
from storage.testing import BACKENDS, make_uow_factory, postgres_url

# Our own schema: other suites may be wiping ``public`` of the same database right now. It is
# migrated once and emptied for each test, and dropped when the session ends.
PG_SCHEMA = f"storage_tests_{os.getpid()}"


def _backend(name: str) -> object:
    marks = [pytest.mark.postgres] if name == "postgres" else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=[_backend(b) for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not postgres_url():
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
    return request.param


@pytest.fixture
async def uow_factory(backend: str, tmp_path) -> AsyncIterator[UnitOfWorkFactory]:
    factory, engine = await make_uow_factory(backend, tmp_path, PG_SCHEMA)
    yield factory
    await factory.close()
    await engine.dispose()


@pytest.fixture
def now() -> datetime:
    return T0
