"""A conversation turn whose rows changed under it (SQLite's optimistic turns, see
``storage.cache``) runs again: the student gets one answer, and nothing is written twice."""

from __future__ import annotations

import pytest
from harness import Harness

from core.ports import TransactionConflict
from storage.testing import make_sqlite_uow_factory


class ConflictingTurns:
    """The SQLite units of work, with the next ``conflicts`` turns failing at commit as if a
    row they read had changed meanwhile."""

    def __init__(self, inner, conflicts: int) -> None:
        self.inner = inner
        self.conflicts = conflicts
        self.turns = 0

    def __call__(self):
        return self.inner()

    def optimistic(self):
        uow = self.inner.optimistic()
        self.turns += 1
        if self.conflicts > 0:
            self.conflicts -= 1
            commit = uow.commit

            async def conflict() -> None:
                await commit.__self__.rollback()
                raise TransactionConflict("a row changed")

            uow.commit = conflict
        return uow


@pytest.fixture
async def sqlite_factory(tmp_path):
    factory, engine = await make_sqlite_uow_factory(tmp_path)
    yield factory
    await engine.dispose()


async def test_a_conflicting_turn_runs_again_and_answers_once(sqlite_factory, school, clock):
    turns = ConflictingTurns(sqlite_factory, conflicts=0)
    async with Harness(turns, school, clock) as harness:
        chat = harness.chat()
        await chat.start()
        await chat.press("cat")
        shown, acks = len(chat.messages), len(chat.toasts)
        turns.conflicts, turns.turns = 2, 0
        await chat.press("menu")
        assert turns.turns == 3  # two conflicts, then the turn that counted
        assert len(chat.messages) == shown  # edited in place, once
        assert len(chat.toasts) == acks + 1 and chat.toasts[-1] is None
        assert chat.last.labels[:2] == ["📚 Courses", "🎓 My courses"]  # the menu


async def test_a_turn_that_keeps_conflicting_gets_a_polite_answer(sqlite_factory, school, clock):
    turns = ConflictingTurns(sqlite_factory, conflicts=0)
    async with Harness(turns, school, clock) as harness:
        chat = harness.chat()
        await chat.start()
        turns.conflicts = 10
        await chat.start("python-life")  # would record the deep link: it must not land
        assert "went wrong" in chat.last.text
        async with sqlite_factory() as uow:
            user = await uow.users.get(1)
            state = await uow.chat_states.get("console", "1001")
        assert user.start_offer is None
        assert "python-life" not in state.data.get("unlocked", [])
