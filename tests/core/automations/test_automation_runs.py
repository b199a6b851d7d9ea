"""Runs as stored: once per student unless repeatable, a restart in the middle of a wait, no
step twice after downtime nor with two passes at once, students merged by linking, pausing,
a school file that changed under a run, a step that fails. On SQLite and, with
TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from automation_scene import Scene, school_of

from core.automations import actions, engine, jobs
from core.automations import staff as automation_staff
from core.automations.records import AutomationState, Run, RunStatus, StudentField, Waiting
from core.services import linking
from storage.engine import create_engine, session_factory
from storage.factory import sql_uow_factory
from storage.testing import (
    make_postgres_uow_factory,
    make_sqlite_uow_factory,
    postgres_url,
)

SCHEMA = f"automation_runs_{os.getpid()}"
SEQUENCE = {"code": "welcome", "trigger": {"offer_paid": "any"}, "steps": [
    {"send": {"text": "day 1"}}, {"wait": "P1D"}, {"send": {"text": "day 2"}},
    {"wait": "P1D"}, {"send": {"text": "day 3"}}]}


class Database:
    """A migrated database that can be opened again, as a restarted platform would."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp_path = backend, tmp_path
        self.opened: list[Any] = []

    async def open(self, fresh: bool = False):  # type: ignore[no-untyped-def]
        if self.backend == "sqlite":
            if fresh:
                factory, engine = await make_sqlite_uow_factory(self.tmp_path)
            else:
                engine = create_engine(f"sqlite+aiosqlite:///{self.tmp_path / 'school.db'}")
                factory = sql_uow_factory(session_factory(engine))
        elif fresh:
            factory, engine = await make_postgres_uow_factory(postgres_url(), SCHEMA)
        else:
            engine = create_engine(postgres_url(),
                                   connect_args={"server_settings": {"search_path": SCHEMA}})
            factory = sql_uow_factory(session_factory(engine))
        self.opened.append((factory, engine))
        return factory

    async def close(self) -> None:
        while self.opened:
            factory, engine = self.opened.pop()
            await factory.close()
            await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request, tmp_path):
    if request.param == "postgres" and not postgres_url():
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    db = Database(request.param, tmp_path)
    yield db
    await db.close()


async def test_once_per_student_unless_repeatable(database, clock):
    factory = await database.open(fresh=True)
    once = {**SEQUENCE, "steps": [{"send": {"text": "once"}}]}
    each = {"code": "each", "repeatable": True, "trigger": {"offer_paid": "any"},
            "steps": [{"send": {"text": "each"}}]}
    scene = Scene(factory, school_of(once, each), clock)
    anna = await scene.student()
    for offer in ("python-30", "month", "python-30"):
        await scene.buy(anna, offer)
        await scene.run()
    assert sorted(await scene.screens(anna)) == ["each", "each", "each", "once"]
    async with factory() as uow:  # the storage refuses a second run-once run by itself
        assert not await uow.automation_runs.add(Run(automation="welcome", user_id=anna.id))
        assert await uow.automation_runs.add(Run(automation="each", user_id=anna.id,
                                                 repeat_key="other"))


async def test_a_wait_survives_a_restart_and_ends_once_on_time(database, clock):
    factory = await database.open(fresh=True)
    school = school_of(SEQUENCE)
    scene = Scene(factory, school, clock)
    anna = await scene.student()
    await scene.buy(anna, "python-life")
    await scene.run()
    await scene.later(hours=12)
    await database.close()  # the platform stops in the middle of the first wait

    restarted = Scene(await database.open(), school, clock)
    await restarted.later(hours=11)
    assert await restarted.screens(anna) == ["day 1"]
    await restarted.later(hours=1)
    await restarted.run()
    assert await restarted.screens(anna) == ["day 1", "day 2"]
    run = await restarted.run_of(anna, "welcome")
    assert run.status is RunStatus.WAITING and run.position == "3"


async def test_downtime_past_several_waits_sends_each_step_once_and_keeps_the_spacing(
        database, clock):
    factory = await database.open(fresh=True)
    scene = Scene(factory, school_of(SEQUENCE), clock)
    anna = await scene.student()
    await scene.buy(anna, "python-life")
    await scene.run()
    clock.advance(timedelta(days=5))  # down for five days: both waits passed
    back = clock.now()
    await scene.run()
    await scene.run()
    assert await scene.screens(anna) == ["day 1", "day 2"]  # no burst: the next wait is a day
    assert (await scene.run_of(anna, "welcome")).wait_until == back + timedelta(days=1)
    await scene.later(days=1)
    await scene.later(days=3)
    assert await scene.screens(anna) == ["day 1", "day 2", "day 3"]


async def test_passes_at_the_same_time_never_run_a_step_twice(database, clock):
    factory = await database.open(fresh=True)
    scene = Scene(factory, school_of(SEQUENCE), clock)
    students = [await scene.student(f"S{n}") for n in range(12)]
    for student in students:
        await scene.buy(student, "python-life")
    await scene.run()
    clock.advance(timedelta(days=1))
    # Several processes' sweeps at once (two engines on PostgreSQL: SKIP LOCKED).
    other = await database.open() if database.backend == "postgres" else factory
    moved = await asyncio.gather(*(jobs.run_due(f, scene.school, clock.now())
                                   for f in (factory, other, factory, other)))
    assert sum(moved) == len(students)
    for student in students:
        assert await scene.screens(student) == ["day 1", "day 2"]


async def test_a_run_follows_its_student_into_the_account_they_link_to(database, clock):
    factory = await database.open(fresh=True)
    question = {"code": "quiz", "trigger": {"manual": True}, "steps": [
        {"ask": {"text": "Ready?", "buttons": [{"answer": "yes", "label": "Yes"}]}},
        {"send": {"text": "go {name}"}}]}
    scene = Scene(factory, school_of(SEQUENCE, question), clock)
    phone = await scene.student("Anna (VK)", messenger="vk", external_id="9")
    laptop = await scene.student("Anna", messenger="telegram", external_id="7")
    await scene.buy(phone, "python-life")  # welcome waits for day 2, on the VK account
    await scene.buy(laptop, "month")  # and on the Telegram one
    for student in (phone, laptop):
        async with factory() as uow:
            await engine.start_by_hand(uow, scene.school, "quiz", student.id, clock.now(), "x")
            await uow.student_fields.put(StudentField(student.id, "city", student.name,
                                                      clock.now()))
            await uow.commit()
    await scene.run()
    async with factory() as uow:  # the VK account is linked into the Telegram one
        code = await linking.issue(uow, laptop.id, clock.now())
        assert await linking.redeem(uow, code.code, phone.id, clock.now(), confirmed=True) \
            is linking.Linked.LINKED
        await uow.commit()
    assert await scene.runs(phone) == []
    runs = await scene.runs(laptop)
    kept = [r for r in runs if r.status is not RunStatus.CANCELLED]
    ended = [r for r in runs if r.status is RunStatus.CANCELLED]
    assert sorted(r.automation for r in kept) == ["quiz", "welcome"]
    assert all(not r.repeat_key for r in kept)
    assert sorted(r.automation for r in ended) == ["quiz", "welcome"]
    assert all(r.repeat_key == f"merged:{r.id}" and r.wait_until is None for r in ended)
    assert await scene.fields(laptop) == {"city": "Anna"}  # the survivor's field wins
    await scene.later(days=1)  # the merged student's messages moved too: one day 2 in all
    assert sorted(await scene.screens(laptop)) == ["Ready?", "Ready?", "day 1", "day 1",
                                                   "day 2"]


async def test_a_run_of_a_merged_student_the_survivor_lacks_moves_on_for_the_survivor(
        database, clock):
    factory = await database.open(fresh=True)
    scene = Scene(factory, school_of(SEQUENCE), clock)
    phone = await scene.student("Anna", messenger="vk", external_id="9")
    laptop = await scene.student("Anna", messenger="telegram", external_id="7")
    await scene.buy(phone, "python-life")
    await scene.run()
    async with factory() as uow:
        code = await linking.issue(uow, laptop.id, clock.now())
        await linking.redeem(uow, code.code, phone.id, clock.now(), confirmed=True)
        await uow.commit()
    [run] = await scene.runs(laptop)
    assert run.status is RunStatus.WAITING
    await scene.later(days=1)
    assert await scene.screens(laptop) == ["day 1", "day 2"]


async def test_a_paused_automation_holds_its_runs_and_keeps_answers_given_meanwhile(
        database, clock):
    factory = await database.open(fresh=True)
    quiz = {"code": "quiz", "trigger": {"manual": True}, "steps": [
        {"send": {"text": "hello"}}, {"wait": "PT1H"},
        {"ask": {"text": "Ready?", "buttons": [{"answer": "yes", "label": "Yes"}]}},
        {"send": {"text": "go"}}]}
    scene = Scene(factory, school_of(quiz), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    for student in (anna, bob):
        async with factory() as uow:
            await engine.start_by_hand(uow, scene.school, "quiz", student.id, clock.now(), "x")
            await uow.commit()
    await scene.run()
    await scene.later(hours=1)  # both at the question now
    async with factory() as uow:
        assert await automation_staff.pause(uow, scene.school, "quiz", "console:admin",
                                            clock.now()) == 2
        assert await automation_staff.pause(uow, scene.school, "quiz", "x", clock.now()) == 0
        await uow.commit()
    run = await scene.run_of(anna, "quiz")
    assert run.status is RunStatus.PAUSED and run.paused_from is RunStatus.WAITING
    async with factory() as uow:
        answered = await engine.on_answer(uow, scene.school, anna.id, run.id, 1, "yes",
                                          clock.now())
        await uow.commit()
    assert answered.outcome is engine.Answered.ACCEPTED
    await scene.later(days=1)
    assert await scene.screens(anna) == ["hello", "Ready?"]  # kept, not moved on
    held = await scene.run_of(anna, "quiz")
    assert held.status is RunStatus.PAUSED and held.paused_from is RunStatus.ACTIVE
    async with factory() as uow:
        overview = {o.automation.code: o for o in await automation_staff.overview(
            uow, scene.school)}
        assert overview["quiz"].paused and overview["quiz"].counts == {RunStatus.PAUSED: 2}
        assert await automation_staff.resume(uow, scene.school, "quiz", "console:admin",
                                             clock.now()) == 2
        await uow.commit()
    await scene.run()
    assert await scene.screens(anna) == ["hello", "Ready?", "go"]
    bobs = await scene.run_of(bob, "quiz")
    assert bobs.status is RunStatus.WAITING and bobs.waiting_for is Waiting.ANSWER


async def test_a_school_file_that_changed_under_a_run_ends_it_cleanly(database, clock):
    factory = await database.open(fresh=True)
    long = {"code": "long", "trigger": {"manual": True}, "steps": [
        {"send": {"text": "a"}}, {"wait": "P1D"}, {"wait": "P1D"}, {"send": {"text": "b"}}]}
    gone = {"code": "gone", "trigger": {"manual": True}, "steps": [{"wait": "P1D"}]}
    scene = Scene(factory, school_of(long, gone), clock)
    anna = await scene.student()
    for code in ("long", "gone"):
        async with factory() as uow:
            await engine.start_by_hand(uow, scene.school, code, anna.id, clock.now(), "x")
            await uow.commit()
    await scene.later(days=1)  # both began then: long waits at its step 1
    scene.school = school_of({**long, "steps": [{"send": {"text": "a"}}]})  # edited, reloaded
    await scene.later(days=1)
    runs = {r.automation: r for r in await scene.runs(anna)}
    assert runs["long"].status is RunStatus.CANCELLED
    assert runs["long"].error == "step 1 is no longer in the school file"
    assert runs["gone"].status is RunStatus.CANCELLED
    assert runs["gone"].error == "its automation is no longer in the school file"


async def test_a_step_that_fails_ends_its_run_and_the_others_go_on(database, clock,
                                                                  monkeypatch):
    factory = await database.open(fresh=True)
    gift = {"code": "gift", "trigger": {"offer_paid": "any"},
            "steps": [{"grant": "taster"}, {"send": {"text": "gift"}}]}
    scene = Scene(factory, school_of(gift), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    real = actions.grant

    async def broken_for_anna(uow, school, run, step, actor, now):  # type: ignore[no-untyped-def]
        if run.user_id == anna.id:
            raise RuntimeError("a bug")
        return await real(uow, school, run, step, actor, now)

    monkeypatch.setattr(actions, "grant", broken_for_anna)
    for student in (anna, bob):
        await scene.buy(student, "python-life")
    await scene.run()
    failed = await scene.run_of(anna, "gift")
    assert failed.status is RunStatus.CANCELLED and failed.error == \
        "failed: RuntimeError('a bug')"
    assert await scene.screens(anna) == [] and await scene.screens(bob) == ["gift"]
    async with factory() as uow:  # nothing of the failed pass was kept
        assert [o.offer_code for o in await uow.orders.for_user(anna.id)] == ["python-life"]


async def test_a_run_started_as_its_automation_was_paused_waits_for_the_resume(database,
                                                                              clock):
    factory = await database.open(fresh=True)
    scene = Scene(factory, school_of(SEQUENCE), clock)
    anna = await scene.student()
    await scene.buy(anna, "python-life")
    await jobs.run_events(factory, scene.school, clock.now())  # a run, due now ...
    async with factory() as uow:  # ... and the pause's flag, which came just after
        await uow.automation_states.put(AutomationState("welcome", True, "console:admin",
                                                        clock.now()))
        await uow.commit()
    await scene.run()
    held = await scene.run_of(anna, "welcome")
    assert held.status is RunStatus.PAUSED and held.paused_from is RunStatus.ACTIVE
    assert await scene.screens(anna) == []
    async with factory() as uow:
        await automation_staff.resume(uow, scene.school, "welcome", "console:admin",
                                      clock.now())
        await uow.commit()
    await scene.run()
    assert await scene.screens(anna) == ["day 1"]
