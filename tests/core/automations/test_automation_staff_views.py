"""What the staff's screens are built from: the overview of automations, a student's runs,
and the dry run (``core.automations.staff``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from automation_scene import FUNNEL, Scene, school_of

from core.automations import engine
from core.automations import staff as automation_staff
from core.automations.records import RunStatus
from core.services import tags


@pytest.fixture
def uow_factory(db_uow_factory):
    """On SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""
    return db_uow_factory


async def test_the_overview_counts_runs_and_says_where_they_wait(uow_factory, clock):
    scene = Scene(uow_factory, school_of(FUNNEL, {"code": "idle", "trigger": {"manual": True},
                                                  "steps": [{"tag": "x"}]}), clock)
    anna, bob, carl = (await scene.student(), await scene.student("Bob"),
                       await scene.student("Carl"))
    async with uow_factory() as uow:
        await tags.add(uow, carl.id, "vip", "console:admin", clock.now())
        await uow.commit()
    for student in (anna, bob, carl):
        await scene.buy(student, "python-life")
    await scene.run()
    async with uow_factory() as uow:
        overview = await automation_staff.overview(uow, scene.school)
        carls = await automation_staff.runs_of(uow, scene.school, carl.id)
    funnel, idle = overview
    assert funnel.automation.code == "funnel" and not funnel.paused
    assert funnel.counts == {RunStatus.WAITING: 3}
    assert [(w.position, w.step, w.status, w.runs) for w in funnel.open] == [
        ("1.else.0", "wait P1D", RunStatus.WAITING, 2),
        ("2", "ask: yes (timeout P2D)", RunStatus.WAITING, 1)]
    assert [w.due for w in funnel.open] == [clock.now() + timedelta(days=1),
                                            clock.now() + timedelta(days=2)]
    assert [type(w.at).__name__ for w in funnel.open] == ["Wait", "Ask"]
    assert idle.counts == {} and idle.open == []
    [view] = carls
    assert view.automation is not None and view.step == "ask: yes (timeout P2D)"
    await scene.later(days=1)  # asked now
    await scene.later(days=2)  # not answered: over
    async with uow_factory() as uow:
        [done] = await automation_staff.runs_of(uow, scene.school, anna.id)
    assert done.run.status is RunStatus.DONE and done.step == ""


async def test_the_dry_run_shows_what_would_happen_now_and_changes_nothing(uow_factory, clock):
    scene = Scene(uow_factory, school_of(FUNNEL), clock)
    anna, vip = await scene.student(), await scene.student("Vera")
    async with uow_factory() as uow:
        await tags.add(uow, vip.id, "vip", "console:admin", clock.now())
        plain = await automation_staff.preview(uow, scene.school, "funnel", anna.id,
                                               clock.now())
        tagged = await automation_staff.preview(uow, scene.school, "funnel", vip.id,
                                                clock.now())
        unknown = await automation_staff.preview(uow, scene.school, "nope", anna.id,
                                                 clock.now())
        await uow.commit()
    until = (clock.now() + timedelta(days=1)).isoformat()
    assert plain.starts and plain.steps == [
        ("0", "send"), ("1", "if HasTag: else"), ("1.else.0", f"wait P1D (until {until})")]
    assert tagged.steps == [("0", "send"), ("1", "if HasTag: then"), ("1.then.0", "tag seen-vip"),
                            ("2", "ask: yes (timeout P2D)")]
    assert not unknown.starts and unknown.why_not == "unknown"
    assert await scene.runs(anna) == [] and await scene.tags(vip) == ["vip"]
    async with uow_factory() as uow:
        await engine.start_by_hand(uow, scene.school, "funnel", anna.id, clock.now(), "x")
        again = await automation_staff.preview(uow, scene.school, "funnel", anna.id,
                                               clock.now())
    assert not again.starts and again.why_not == "already"
