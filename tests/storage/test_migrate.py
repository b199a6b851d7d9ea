"""``storage.migrate``: a database already at the newest revision is not handed to alembic."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from storage import migrate as migrate_module
from storage.engine import create_engine
from storage.migrate import alembic_config, current_revisions, head_revisions, migrate


def test_the_heads_read_from_the_scripts_are_alembics():
    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'school.db'}")
    yield engine
    await engine.dispose()


async def test_a_database_at_the_newest_revision_is_left_to_itself(engine, monkeypatch):
    await migrate(engine)

    def refuse(*args, **kwargs):
        raise AssertionError("alembic ran on a database at the newest revision")

    monkeypatch.setattr(command, "upgrade", refuse)
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revisions) == head_revisions()


async def test_an_older_database_is_upgraded(engine):
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004"))
        assert await connection.run_sync(current_revisions) == {"0004"}
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revisions) == head_revisions()


async def test_a_new_database_is_created(engine):
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revisions) == set()
    await migrate(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revisions) == head_revisions()
    assert migrate_module.MIGRATIONS.is_dir()
