"""The SQLite row cache (PostgreSQL: test_cache_postgres.py): a press that changes nothing
never waits for the database, a turn whose rows changed under it writes nothing, and the cache
never shows what was not committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from core.models import ChatState, Identity, Order, Purchase, User
from core.ports import TransactionConflict
from core.services import users
from storage.factory import SqlUnitsOfWork
from storage.repositories import SqlUsers
from storage.testing import make_sqlite_uow_factory

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite(tmp_path):
    factory, engine = await make_sqlite_uow_factory(tmp_path)
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    factory.statements = statements
    yield factory
    await engine.dispose()


async def _student(factory: SqlUnitsOfWork) -> tuple[User, Identity]:
    async with factory() as uow:
        user = await uow.users.add(User(created_at=NOW, name="Anna", referral_code="annacode"))
        identity = await uow.users.add_identity(Identity(
            user_id=user.id, messenger="telegram", external_id="42", name="Anna",
            last_seen_at=NOW))
        await uow.chat_states.put(ChatState("telegram", "42", step="", data={"seen": [1]}))
        await uow.orders.add(Order(user_id=user.id, offer_code="python", token="t1", amount=100,
                                   list_amount=100, currency="EUR", created_at=NOW))
        await uow.commit()
    async with factory() as uow:  # read once: now cached
        await uow.users.identity("telegram", "42")
        await uow.users.get(user.id)
        await uow.chat_states.get("telegram", "42")
        await uow.purchases.for_user(user.id)
        await uow.commit()
    return user, identity


async def test_a_turn_on_cached_rows_sends_no_query_and_takes_no_lock(sqlite):
    user, _ = await _student(sqlite)
    sqlite.statements.clear()
    async with sqlite() as writer:  # another transaction holds SQLite's one writer lock
        await writer.orders.get(1)
        async with asyncio.timeout(1), sqlite.optimistic() as turn:
            identity = await turn.users.identity("telegram", "42")
            assert (await turn.users.get(identity.user_id)).name == "Anna"
            assert (await turn.chat_states.get("telegram", "42")).data == {"seen": [1]}
            assert await turn.purchases.for_user(user.id) == []
            await turn.commit()
    assert not [s for s in sqlite.statements if "identities" in s or "chat_states" in s]


async def test_rows_changed_under_a_turn_make_it_conflict_and_write_nothing(sqlite):
    user, _ = await _student(sqlite)
    async with sqlite.optimistic() as turn:
        seen = await turn.users.get(user.id)
        async with sqlite() as other:  # meanwhile the student's row changes and commits
            changed = await other.users.get(user.id)
            changed.language = "fr"
            await other.users.update(changed)
            await other.commit()
        seen.name = "Stale Anna"
        with pytest.raises(TransactionConflict):
            await turn.users.update(seen)
    async with sqlite() as uow:
        stored = await uow.users.get(user.id)
    assert (stored.name, stored.language) == ("Anna", "fr")


async def test_a_read_only_turn_that_saw_a_change_conflicts_at_commit(sqlite):
    user, _ = await _student(sqlite)
    async with sqlite.optimistic() as turn:
        await turn.users.get(user.id)
        async with sqlite() as other:
            changed = await other.users.get(user.id)
            changed.language = "ru"
            await other.users.update(changed)
            await other.commit()
        with pytest.raises(TransactionConflict):
            await turn.commit()


async def test_committed_writes_are_what_the_next_turn_reads(sqlite):
    user, identity = await _student(sqlite)
    async with sqlite() as uow:
        identity.reachable = False
        await uow.users.update_identity(identity)
        await uow.chat_states.put(ChatState("telegram", "42", step="promo", data={"a": 1}))
        await uow.purchases.add(Purchase(user_id=user.id, order_id=1, offer_code="python",
                                         products=("python",), starts_at=NOW))
        await uow.commit()
    sqlite.statements.clear()
    async with sqlite.optimistic() as turn:
        assert (await turn.users.identity("telegram", "42")).reachable is False
        assert (await turn.chat_states.get("telegram", "42")).step == "promo"
        assert [p.offer_code for p in await turn.purchases.for_user(user.id)] == ["python"]
    # the purchase list was invalidated by the write and read again; the rest was cached
    assert [s for s in sqlite.statements if "FROM purchases" in s]
    assert not [s for s in sqlite.statements if "FROM identities" in s or "FROM chat" in s]


async def test_a_rolled_back_write_never_reaches_the_cache(sqlite):
    user, _ = await _student(sqlite)
    async with sqlite() as uow:
        row = await uow.users.get(user.id)
        row.name = "Never committed"
        await uow.users.update(row)
        await uow.chat_states.put(ChatState("telegram", "42", step="gone"))
        # leaving without commit rolls back
    async with sqlite.optimistic() as turn:
        assert (await turn.users.get(user.id)).name == "Anna"
        assert (await turn.chat_states.get("telegram", "42")).step == ""


async def test_what_a_turn_reads_is_its_own_copy(sqlite):
    user, _ = await _student(sqlite)
    async with sqlite.optimistic() as turn:
        state = await turn.chat_states.get("telegram", "42")
        state.data["seen"].append(2)
        (await turn.users.get(user.id)).name = "Changed in memory only"
    async with sqlite.optimistic() as turn:
        assert (await turn.chat_states.get("telegram", "42")).data == {"seen": [1]}
        assert (await turn.users.get(user.id)).name == "Anna"


async def test_a_turn_sees_its_own_writes_before_commit(sqlite):
    user, _ = await _student(sqlite)
    async with sqlite.optimistic() as turn:
        await turn.chat_states.put(ChatState("telegram", "42", step="promo"))
        assert (await turn.chat_states.get("telegram", "42")).step == "promo"
        await turn.purchases.add(Purchase(user_id=user.id, order_id=1, offer_code="python",
                                          products=("python",), starts_at=NOW))
        assert len(await turn.purchases.for_user(user.id)) == 1
        await turn.commit()


async def test_factories_over_one_engine_share_the_cache_and_the_lock(sqlite):
    user, _ = await _student(sqlite)
    twin = SqlUnitsOfWork(sqlite._session_factory)
    async with twin() as uow:
        row = await uow.users.get(user.id)
        row.name = "Anna K."
        await uow.users.update(row)
        await uow.commit()
    async with sqlite.optimistic() as turn:
        assert (await turn.users.get(user.id)).name == "Anna K."


async def test_a_press_that_only_refreshes_last_seen_opens_no_transaction(sqlite):
    await _student(sqlite)
    later = NOW + timedelta(minutes=5)
    sqlite.statements.clear()
    async with sqlite() as writer:  # another transaction holds SQLite's one writer lock
        await writer.orders.get(1)
        async with asyncio.timeout(1), sqlite.optimistic() as turn:
            _, identity = await users.resolve(turn, later, "telegram", "42", "Anna")
            await turn.commit()
    assert identity.last_seen_at == later
    assert not [s for s in sqlite.statements if "identities" in s]
    assert len(sqlite._engine.seen) == 1  # written behind, a few seconds later

    await sqlite.flush()
    async with sqlite() as uow:
        assert (await uow.users.identity_by_id(identity.id)).last_seen_at == later  # stored
    sqlite.statements.clear()
    async with sqlite.optimistic() as turn:  # and the cache knows it: nothing more to record
        await users.resolve(turn, later + timedelta(seconds=30), "telegram", "42", "Anna")
        await turn.commit()
    assert len(sqlite._engine.seen) == 0 and sqlite.statements == []


async def test_last_seen_is_written_in_the_background_and_only_moves_forward(sqlite):
    _, identity = await _student(sqlite)
    sqlite._engine.seen.every = 0.01
    async with sqlite.optimistic() as turn:
        await turn.users.seen(identity, NOW + timedelta(minutes=9))
        await turn.users.seen(identity, NOW + timedelta(minutes=3))  # older: ignored
    async with asyncio.timeout(5):
        while len(sqlite._engine.seen):  # noqa: ASYNC110 (the writer runs on a timer)
            await asyncio.sleep(0.01)
        await sqlite.flush()  # waits for a flush under way
    async with sqlite() as uow:
        stored = await uow.users.identity_by_id(identity.id)
    assert stored.last_seen_at == NOW + timedelta(minutes=9)


async def test_a_failed_write_of_last_seen_keeps_it_for_the_next(sqlite, monkeypatch):
    _, identity = await _student(sqlite)
    async with sqlite.optimistic() as turn:
        await turn.users.seen(identity, NOW + timedelta(minutes=2))

    async def broken(*_args):
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(SqlUsers, "record_seen_many", broken)
        with pytest.raises(ConnectionError):
            await sqlite.flush()
    assert len(sqlite._engine.seen) == 1
    await sqlite.close()  # at shutdown: what is pending is written
    async with sqlite() as uow:
        stored = await uow.users.identity_by_id(identity.id)
    assert stored.last_seen_at == NOW + timedelta(minutes=2)


async def test_a_new_students_first_press_finds_their_rows_cached(sqlite):
    """What /start created is cached as the database holds it (times in UTC), so the first
    press after it reads nothing and takes no lock."""
    async with sqlite() as uow:
        user, _ = await users.resolve(uow, NOW.astimezone(timezone(timedelta(hours=3))),
                                      "telegram", "77", "Boris", "ru")
        await uow.chat_states.put(ChatState("telegram", "77", step="", data={}))
        await uow.commit()
    sqlite.statements.clear()
    async with sqlite.optimistic() as turn:
        identity = await turn.users.identity("telegram", "77")
        student = await turn.users.get(identity.user_id)
        assert await turn.purchases.for_user(student.id) == []
        await turn.commit()
    assert sqlite.statements == []
    assert (student.name, identity.last_seen_at.tzinfo) == ("Boris", UTC)
    assert student.created_at == NOW
