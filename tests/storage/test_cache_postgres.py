"""The row cache on PostgreSQL, where several platform processes share the database: a press
on cached rows sends no query, and no process decides on a row another one changed: its
report drops the row, and a turn that writes compares its cached rows with the database
first (the report may come late)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from core.models import ChatState, Identity, User
from core.ports import TransactionConflict
from storage.engine import create_engine, session_factory
from storage.factory import sql_uow_factory
from storage.testing import make_postgres_uow_factory, postgres_url

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = f"cache_tests_{os.getpid()}"


@pytest.fixture
async def database():
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
    factory, engine = await make_postgres_uow_factory(url, SCHEMA)
    yield factory, engine
    await factory.close()
    await engine.dispose()


@pytest.fixture
async def process_a(database):
    """This process: a factory with its cache, listening for the others' reports, and a
    record of the statements it sends."""
    factory, engine = database
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    factory.statements = statements
    assert await factory.ready(), "not listening for other processes' changes"
    return factory


async def _student(factory) -> User:
    async with factory() as uow:
        user = await uow.users.add(User(created_at=NOW, name="Anna", language="en",
                                        referral_code="annacode"))
        await uow.users.add_identity(Identity(
            user_id=user.id, messenger="telegram", external_id="42", name="Anna",
            last_seen_at=NOW))
        await uow.chat_states.put(ChatState("telegram", "42", step="", data={}))
        await uow.commit()
    async with factory.optimistic() as turn:  # read once: now cached
        await _read_press_rows(turn)
        await turn.commit()
    return user


async def _read_press_rows(turn) -> tuple[User, ChatState]:
    identity = await turn.users.identity("telegram", "42")
    user = await turn.users.get(identity.user_id)
    await turn.purchases.for_user(user.id)
    return user, await turn.chat_states.get("telegram", "42")


async def _decide(factory) -> tuple[str, int]:
    """A turn that decides on the student's language and writes its decision, run again on a
    conflict, as the flow engine does. Returns the decision and the attempts it took."""
    for attempt in range(1, 4):
        try:
            async with factory.optimistic() as turn:
                user, state = await _read_press_rows(turn)
                state.data = {"greeted_in": user.language}
                await turn.chat_states.put(state)
                await turn.commit()
                return user.language, attempt
        except TransactionConflict:
            continue
    raise AssertionError("the turn conflicted every time")


async def _in_another_process(code: str) -> None:
    """Run ``code`` (the body of ``async def main(factory)``) in a new Python process with
    its own engine and cache on the same database."""
    script = textwrap.dedent("""
        import asyncio, sys
        from storage.engine import create_engine, session_factory
        from storage.factory import sql_uow_factory

        async def run(url, schema):
            engine = create_engine(
                url, connect_args={"server_settings": {"search_path": schema}})
            factory = sql_uow_factory(session_factory(engine))
            assert await factory.ready()
            try:
                await main(factory)
            finally:
                await factory.close()
                await engine.dispose()

        async def main(factory):
    """) + textwrap.indent(textwrap.dedent(code), " " * 4) + textwrap.dedent("""
        asyncio.run(run(sys.argv[1], sys.argv[2]))
    """)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, postgres_url(), SCHEMA, cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)}, stderr=asyncio.subprocess.PIPE)
    _, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()


CHANGE_LANGUAGE = """
    async with factory.optimistic() as turn:   # B caches the row, then changes it
        identity = await turn.users.identity("telegram", "42")
        user = await turn.users.get(identity.user_id)
        user.language = "fr"
        await turn.users.update(user)
        await turn.commit()
"""


async def test_a_press_on_cached_rows_sends_no_query(process_a):
    await _student(process_a)
    process_a.statements.clear()
    async with process_a.optimistic() as turn:
        user, state = await _read_press_rows(turn)
        await turn.commit()
    assert (user.name, state.step) == ("Anna", "")
    assert process_a.statements == []


async def test_a_row_changed_by_another_process_is_dropped_when_it_reports(process_a):
    user = await _student(process_a)
    await _in_another_process(CHANGE_LANGUAGE)
    cache = process_a._engine.cache
    async with asyncio.timeout(5):
        while cache.get(("user", user.id)) is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the report travels through PostgreSQL
    assert await _decide(process_a) == ("fr", 1)


async def test_a_late_report_still_never_lets_a_process_decide_on_the_old_row(process_a):
    user = await _student(process_a)
    cache = process_a._engine.cache
    reports: list = []
    cache.invalidate = reports.append  # the report of B's change is late: A's cache is stale
    await _in_another_process(CHANGE_LANGUAGE)
    async with asyncio.timeout(5):
        while not reports:  # noqa: ASYNC110 (a report from another process)
            await asyncio.sleep(0.01)
    assert cache.get(("user", user.id))[1].language == "en"  # stale, as the test wants

    # A's turn reads "en" from its cache, and before it writes its decision it finds the
    # row changed: it conflicts, runs again on the database's row and decides on "fr".
    assert await _decide(process_a) == ("fr", 2)
    async with process_a() as uow:
        assert (await uow.chat_states.get("telegram", "42")).data == {"greeted_in": "fr"}


async def test_a_turn_that_read_a_changed_row_writes_nothing(process_a):
    user = await _student(process_a)
    process_a._engine.cache.invalidate = lambda keys: None  # reports come too late
    async with process_a.optimistic() as turn:
        seen = await turn.users.get(user.id)
        await _in_another_process(CHANGE_LANGUAGE)
        seen.name = "Stale Anna"
        with pytest.raises(TransactionConflict):
            await turn.users.update(seen)
    async with process_a() as uow:
        stored = await uow.users.get(user.id)
    assert (stored.name, stored.language) == ("Anna", "fr")


async def test_a_process_that_changes_a_row_tells_the_others(process_a):
    """The other way round: A changes, B (another process) had it cached and decides on
    A's value."""
    user = await _student(process_a)
    async with process_a.optimistic() as turn:
        row = await turn.users.get(user.id)
        row.language = "de"
        await turn.users.update(row)
        await turn.commit()
    await _in_another_process(f"""
        async with factory.optimistic() as turn:
            assert (await turn.users.get({user.id})).language == "de"
    """)


async def test_outside_turns_read_the_database_not_the_cache(process_a):
    """Payments, sweeps, staff: they decide on money and access; the cache is for turns."""
    user = await _student(process_a)
    process_a._engine.cache.invalidate = lambda keys: None  # no report: the cache is stale
    await _in_another_process(CHANGE_LANGUAGE)
    async with process_a() as uow:
        assert (await uow.users.get(user.id)).language == "fr"


async def test_without_reports_nothing_is_cached(database):
    factory, engine = database
    async with factory() as uow:  # reports not yet heard
        user = await uow.users.add(User(created_at=NOW, name="Anna", referral_code="c"))
        await uow.commit()
    factory._engine.invalidations.terminate()  # as if the listening connection were lost
    async with factory.optimistic() as turn:
        await turn.users.get(user.id)
        await turn.commit()
    assert factory._engine.cache.get(("user", user.id)) is None


async def test_two_factories_over_two_engines_keep_each_other_fresh(process_a):
    user = await _student(process_a)
    other_engine = create_engine(
        postgres_url(), connect_args={"server_settings": {"search_path": SCHEMA}})
    other = sql_uow_factory(session_factory(other_engine))
    try:
        assert await other.ready()
        async with other() as uow:
            row = await uow.users.get(user.id)
            row.language = "it"
            await uow.users.update(row)
            await uow.commit()
        assert await _decide(process_a) in (("it", 1), ("it", 2))
    finally:
        await other.close()
        await other_engine.dispose()
