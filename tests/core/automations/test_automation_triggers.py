"""Each trigger, set off through the core's own paths (checkout, payments, access, lessons,
groups, tags) or the conversation's entry points, with the fake clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from automation_scene import Scene, school_of

from core import jobs as core_jobs
from core.automations import engine
from core.automations import staff as automation_staff
from core.automations.engine import StartRefused
from core.automations.records import Run, RunStatus
from core.models import OrderStatus
from core.services import groups, tags


@pytest.fixture
def uow_factory(db_uow_factory):
    """Every test here on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""
    return db_uow_factory


def marked(code: str, trigger: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An automation that only says it ran."""
    return {"code": code, "trigger": trigger, "steps": [{"send": {"text": f"{code} ran"}}],
            **more}


async def test_started_with_any_payload_or_a_given_one(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("any-start", {"started": None}),
        marked("from-ad", {"started": "ad-spring"})), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    async with uow_factory() as uow:
        first = await engine.on_start(uow, scene.school, anna.id, "", clock.now())
        again = await engine.on_start(uow, scene.school, anna.id, "", clock.now())
        linked = await engine.on_start(uow, scene.school, bob.id, " ad-spring ", clock.now())
        await uow.commit()
    assert len(first) == 1 and again == [] and len(linked) == 2  # once per student
    await scene.run()
    assert await scene.screens(anna) == ["any-start ran"]
    assert sorted(await scene.screens(bob)) == ["any-start ran", "from-ad ran"]


async def test_keywords_and_commands_start_automations_other_text_does_not(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("prices", {"keyword": ["price", "how much"]}, repeatable=True),
        marked("webinar", {"command": "/webinar"})), clock)
    anna = await scene.student()
    said = []
    async with uow_factory() as uow:
        for typed in ("  How   MUCH ", "price", "the price?", "/webinar@pixel_bot now",
                      "/other"):
            said.append(await engine.on_text(uow, scene.school, anna.id, typed, clock.now()))
        await uow.commit()
    assert [o.consumed for o in said] == [True, True, False, True, False]
    await scene.run()
    assert await scene.screens(anna) == ["prices ran", "prices ran", "webinar ran"]


async def test_a_button_an_automation_sent_starts_the_automations_waiting_for_it(uow_factory,
                                                                                clock):
    scene = Scene(uow_factory, school_of(
        {"code": "ask-like", "trigger": {"manual": True}, "steps": [
            {"send": {"text": "Like us?", "buttons": [{"answer": "liked", "label": "👍"}]}}]},
        marked("on-like", {"button": "liked"})), clock)
    anna = await scene.student()
    async with uow_factory() as uow:
        run = await engine.start_by_hand(uow, scene.school, "ask-like", anna.id, clock.now(),
                                         "console:admin")
        await uow.commit()
    assert isinstance(run, Run)
    await scene.run()
    [screen] = await scene.screen_data(anna)
    assert screen.buttons == ({"answer": "liked", "label": {"en": "👍"}, "ask": 0},)
    async with uow_factory() as uow:
        pressed = await engine.on_answer(uow, scene.school, anna.id, run.id, 0, "liked",
                                         clock.now())
        await uow.commit()
    assert pressed.outcome is engine.Answered.ACCEPTED and len(pressed.runs) == 1
    await scene.run()
    assert await scene.screens(anna) == ["Like us?", "on-like ran"]


async def test_order_placed_for_a_given_offer_or_any(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("any-order", {"order_placed": "any"}, repeatable=True),
        marked("python-order", {"order_placed": "python-life"})), clock)
    anna = await scene.student()
    await scene.order(anna, "python-30")
    await scene.order(anna, "python-life")
    await scene.run()
    assert await scene.screens(anna) == ["any-order ran", "any-order ran", "python-order ran"]
    assert {r.data["event"]["order"] for r in await scene.runs(anna, "any-order")} == {1, 2}


async def test_order_unpaid_after_the_delay_only_while_it_is_unpaid(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("unpaid", {"order_unpaid": {"after": "PT1H", "offer": "any"}},
               repeatable=True)), clock)
    anna, bob, carl = await scene.student(), await scene.student("Bob"), \
        await scene.student("Carl")
    await scene.run()  # the first pass starts the automation's watch from now
    await scene.order(anna, "python-life")  # left unpaid
    paid = await scene.order(bob, "python-life")
    first = await scene.order(carl, "python-life")  # abandoned, then bought again
    await scene.later(minutes=30)
    await scene.pay(paid)
    await scene.buy(carl, "python-30")
    assert await scene.later(minutes=29) == 0
    await scene.later(minutes=2)
    assert await scene.screens(anna) == ["unpaid ran"]
    assert await scene.screens(bob) == [] and await scene.screens(carl) == ["unpaid ran"]
    assert (await scene.run_of(carl, "unpaid")).data["event"]["order"] == first.id
    await scene.later(days=3)  # later passes take each order once
    assert await scene.screens(anna) == ["unpaid ran"]


async def test_order_unpaid_catches_up_after_downtime_and_ignores_what_came_before(
        uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("unpaid", {"order_unpaid": {"after": "PT1H"}}, repeatable=True)), clock)
    anna = await scene.student()
    await scene.order(anna, "python-life")  # before the automation's first pass: not chased
    clock.advance(timedelta(hours=2))
    await scene.run()
    assert await scene.screens(anna) == []
    await scene.order(anna, "python-30")
    clock.advance(timedelta(minutes=10))
    await scene.order(anna, "month")
    clock.advance(timedelta(hours=5))  # down for hours: both are chased once, at once
    await scene.run()
    await scene.run()
    assert await scene.screens(anna) == ["unpaid ran", "unpaid ran"]


async def test_a_renewals_own_order_is_never_chased(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("unpaid", {"order_unpaid": {"after": "PT1H"}}, repeatable=True)), clock)
    anna = await scene.student()
    await scene.run()
    await scene.pay(await scene.order(anna, "club-month"), saved_method="card-1")
    async with uow_factory() as uow:  # the next period's order waits for the gateway
        [purchase] = await uow.purchases.for_user(anna.id)
        [renewal] = await uow.renewals.for_purchase(purchase.id)
        renewal_order = await uow.orders.get(renewal.order_id)
    assert renewal_order is not None and renewal_order.status is OrderStatus.NEW
    await scene.later(days=2)
    assert await scene.screens(anna) == []


async def test_offer_paid_by_money_or_a_whole_promo_code_not_by_a_gift(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("paid", {"offer_paid": "any"}, repeatable=True),
        marked("paid-30", {"offer_paid": "python-30"}, repeatable=True)), clock)
    anna = await scene.student()
    await scene.buy(anna, "python-30")
    await scene.order(anna, "python-life", promo="GIFT")  # 100 %: paid at once
    await scene.buy(anna, "taster")  # a free offer: given, not paid
    await scene.run()
    assert await scene.screens(anna) == ["paid ran", "paid-30 ran", "paid ran"]
    offers = [r.data["event"]["offer"] for r in await scene.runs(anna, "paid")]
    assert sorted(offers) == ["python-30", "python-life"]


async def test_access_started_ended_and_ending(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("started", {"access_started": "club"}, repeatable=True),
        marked("ending", {"access_ending": {"product": "club", "before": "P3D"}},
               repeatable=True),
        marked("ended", {"access_ended": "any"}, repeatable=True)), clock)
    anna = await scene.student()
    await scene.buy(anna, "python-30")  # python + club for 30 days
    await scene.run()
    assert await scene.screens(anna) == ["started ran"]
    await scene.buy(anna, "python-30")  # extends the running one: access does not start
    await scene.run()
    assert await scene.screens(anna) == ["started ran"]
    assert await scene.later(days=56) == 0  # 60 days now; ends in 4 days
    await scene.later(days=1, minutes=1)
    await scene.later(hours=12)
    assert await scene.screens(anna) == ["started ran", "ending ran"]
    clock.advance(timedelta(days=3))
    assert await core_jobs.expire_purchases(uow_factory, clock.now()) == 1
    await scene.run()
    assert await scene.screens(anna) == ["started ran", "ending ran", "ended ran"]
    assert (await scene.run_of(anna, "ended")).data["event"]["reason"] == "expired"


async def test_access_ending_once_per_end_for_a_repeatable_automation(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("ending", {"access_ending": {"product": "python", "before": "P3D"}},
               repeatable=True),
        marked("ending-once", {"access_ending": {"product": "python", "before": "P3D"}})),
        clock)
    anna = await scene.student()
    await scene.buy(anna, "python-30")
    await scene.later(days=28)
    await scene.later(hours=1)
    await scene.buy(anna, "python-30")  # renewed in time: a new end, 30 days on
    await scene.later(days=28)
    assert await scene.screens(anna) == ["ending ran", "ending-once ran"]
    await scene.later(days=1)
    assert sorted(await scene.screens(anna)) == ["ending ran", "ending ran", "ending-once ran"]


async def test_joining_and_leaving_a_paid_group(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("joined", {"joined_group": "club"}),
        marked("left", {"left_group": "club"})), clock)
    anna = await scene.student(messenger="telegram", external_id="555")
    stranger_id = "777"
    await scene.buy(anna, "python-30")
    group = scene.school.groups["club"]
    async with uow_factory() as uow:
        for who in ("555", stranger_id):
            await groups.joined(uow, scene.school, group, who, "x", "member", None, False,
                                clock.now())
        await uow.commit()
    await scene.run()
    assert await scene.screens(anna) == ["joined ran"]
    async with uow_factory() as uow:
        await groups.left(uow, group, "555", clock.now())
        await uow.commit()
    await scene.run()
    assert await scene.screens(anna) == ["joined ran", "left ran"]


async def test_a_lesson_opening_now_or_on_schedule(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("intro", {"lesson_opened": {"course": "python", "lesson": "intro"}}),
        marked("any-lesson", {"lesson_opened": {"course": "python"}}, repeatable=True)),
        clock)
    anna = await scene.student()
    await scene.buy(anna, "python-life")
    await scene.run()
    assert sorted(await scene.screens(anna)) == ["any-lesson ran", "intro ran"]
    clock.advance(timedelta(days=2))
    await core_jobs.open_lessons(uow_factory, scene.school, clock.now())
    await scene.run()
    runs = await scene.runs(anna, "any-lesson")
    assert sorted(r.data["event"]["lesson"] for r in runs) == ["intro", "loops"]


async def test_a_new_tag_and_not_a_tag_the_student_has(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("vip", {"tag_added": "vip"}, repeatable=True)), clock)
    anna = await scene.student()
    async with uow_factory() as uow:
        assert await tags.add(uow, anna.id, "vip", "console:admin", clock.now())
        assert not await tags.add(uow, anna.id, "vip", "console:admin", clock.now())
        await uow.commit()
    await scene.run()
    assert await scene.screens(anna) == ["vip ran"]


async def test_staff_start_any_automation_by_hand(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        marked("manual", {"manual": True}),
        marked("repeat", {"manual": True}, repeatable=True),
        marked("on-tag", {"tag_added": "x"})), clock)
    anna = await scene.student()
    async with uow_factory() as uow:
        outcomes = [await engine.start_by_hand(uow, scene.school, code, anna.id, clock.now(),
                                               "console:admin")
                    for code in ("manual", "manual", "on-tag", "nope")]
        clock.advance(timedelta(seconds=1))
        again = await engine.start_by_hand(uow, scene.school, "repeat", anna.id, clock.now(),
                                           "console:admin")
        await automation_staff.pause(uow, scene.school, "repeat", "console:admin", clock.now())
        paused = await engine.start_by_hand(uow, scene.school, "repeat", anna.id, clock.now(),
                                            "console:admin")
        await uow.commit()
    assert isinstance(outcomes[0], Run) and outcomes[1] is StartRefused.ALREADY
    assert isinstance(outcomes[2], Run) and outcomes[3] is StartRefused.UNKNOWN
    assert isinstance(again, Run) and paused is StartRefused.PAUSED
    await scene.run()
    assert sorted(await scene.screens(anna)) == ["manual ran", "on-tag ran"]
    [held] = await scene.runs(anna, "repeat")
    assert held.status is RunStatus.PAUSED and held.data["event"] == {"by": "console:admin"}


async def test_a_paused_automation_starts_nothing_and_misses_what_happened_meanwhile(
        uow_factory, clock):
    scene = Scene(uow_factory, school_of(marked("paid", {"offer_paid": "any"},
                                                repeatable=True)), clock)
    anna = await scene.student()
    async with uow_factory() as uow:
        await automation_staff.pause(uow, scene.school, "paid", "console:admin", clock.now())
        await uow.commit()
    await scene.buy(anna, "python-30")
    await scene.run()
    async with uow_factory() as uow:
        await automation_staff.resume(uow, scene.school, "paid", "console:admin", clock.now())
        await uow.commit()
    await scene.run()
    assert await scene.runs(anna) == []
    await scene.buy(anna, "python-life")
    await scene.run()
    assert await scene.screens(anna) == ["paid ran"]
