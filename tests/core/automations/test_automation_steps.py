"""Each kind of step, run by the engine against the real services, with the fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from automation_scene import Scene, school_of

from core import jobs as core_jobs
from core import stats as stats_core
from core.automations import engine
from core.automations import staff as automation_staff
from core.automations.engine import Answered
from core.automations.records import Run, RunStatus, StudentField, Waiting
from core.models import OrderStatus, PurchaseStatus, User
from core.services import access, stats, tags
from core.staff import AuditResult


@pytest.fixture
def uow_factory(db_uow_factory):
    """Every test here on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""
    return db_uow_factory


def manual(code: str, *steps: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"code": code, "trigger": {"manual": True}, "steps": list(steps), **more}


def send(text: str, **more: Any) -> dict[str, Any]:
    return {"send": {"text": text, **more}}


async def start(scene: Scene, user: User, code: str) -> Run:
    async with scene.uow_factory() as uow:
        run = await engine.start_by_hand(uow, scene.school, code, user.id, scene.clock.now(),
                                         "console:admin")
        await uow.commit()
    assert isinstance(run, Run)
    await scene.run()
    return await scene.run_of(user, code)


async def answer(scene: Scene, user: User, run: Run, value: str,
                 ask: int | None = None) -> engine.AnswerOutcome:
    async with scene.uow_factory() as uow:
        outcome = await engine.on_answer(uow, scene.school, user.id, run.id,
                                         run.data.get("asks", 0) if ask is None else ask,
                                         value, scene.clock.now())
        await uow.commit()
    await scene.run()
    return outcome


async def typed(scene: Scene, user: User, text: str) -> engine.TextOutcome:
    async with scene.uow_factory() as uow:
        outcome = await engine.on_text(uow, scene.school, user.id, text, scene.clock.now())
        await uow.commit()
    await scene.run()
    return outcome


async def test_send_records_the_screen_with_its_wording_filled_in(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual(
        "hi",
        {"set": {"city": "Paris"}},
        {"send": {"text_key": "hello", "picture": "https://school.example/cat.png",
                  "buttons": [{"offer": "python-life"}, {"my_courses": True},
                              {"url": "https://school.example", "label": "Site"},
                              {"answer": "liked", "label": {"en": "Like", "ru": "Да"}}]}},
        send("{name} from {city}, {unknown} stays, {student}"))), clock)
    anna = await scene.student("Anna", "ru")
    run = await start(scene, anna, "hi")
    assert run.status is RunStatus.DONE
    first, second = await scene.screen_data(anna)
    assert first.text == {"en": "Hello Anna!", "ru": "Привет, Anna!"}
    assert first.picture == "https://school.example/cat.png" and first.run == run.id
    assert first.buttons == (
        {"offer": "python-life", "label": None}, {"my_courses": True, "label": None},
        {"url": "https://school.example", "label": {"en": "Site"}},
        {"answer": "liked", "label": {"en": "Like", "ru": "Да"}, "ask": 0})
    assert second.text == {"en": f"Anna from Paris, {{unknown}} stays, #{anna.id}"}


async def test_waits_a_delay_until_a_moment_or_a_school_hour(uow_factory, clock):
    # START is Monday 09:00 UTC, 10:00 in Berlin.
    scene = Scene(uow_factory, school_of(manual(
        "w", send("one"), {"wait": "PT23H"}, send("two"),
        {"wait": {"until": "2020-01-01 00:00"}}, send("three"),  # passed: no wait
        {"wait": {"hour": 10}}, send("four"),  # it is 09:00 in Berlin then
        {"wait": {"until": "2026-03-05 12:00"}}, send("five"))), clock)
    anna = await scene.student()
    run = await start(scene, anna, "w")
    assert run.status is RunStatus.WAITING and run.waiting_for is Waiting.NONE
    assert run.wait_until == clock.now() + timedelta(hours=23) and run.position == "1"
    await scene.later(hours=22, minutes=59)
    assert await scene.screens(anna) == ["one"]
    await scene.later(minutes=1)
    assert await scene.screens(anna) == ["one", "two", "three"]
    run = await scene.run_of(anna, "w")
    assert run.wait_until == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # 10:00 in Berlin today
    await scene.later(hours=1)
    assert await scene.screens(anna) == ["one", "two", "three", "four"]
    assert (await scene.run_of(anna, "w")).wait_until == datetime(2026, 3, 5, 11, 0,
                                                                   tzinfo=UTC)
    await scene.later(days=3)
    assert (await scene.screens(anna))[-1] == "five"
    assert (await scene.run_of(anna, "w")).status is RunStatus.DONE


async def test_an_hour_that_has_passed_today_is_tomorrows(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("w", {"wait": {"hour": 10}}, send("x"))),
                  clock)
    run = await start(scene, await scene.student(), "w")  # 10:00 in Berlin exactly
    assert run.wait_until == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


QUESTION = {"ask": {"text": "Did you like it, {name}?",
                    "buttons": [{"answer": "yes", "label": "Yes"},
                                {"answer": "no", "label": "No"},
                                {"answer": "maybe", "label": "Maybe"}],
                    "timeout": "P1D", "save_as": "liked"},
            "on": {"yes": [send("great")], "answered": [send("noted")],
                   "timeout": [send("no answer")]}}


async def test_a_question_branches_on_its_answer_then_goes_on(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("q", QUESTION, send("after"))), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    run = await start(scene, anna, "q")
    assert run.status is RunStatus.WAITING and run.waiting_for is Waiting.ANSWER
    assert run.wait_until == clock.now() + timedelta(days=1) and run.data["asks"] == 1
    [screen] = await scene.screen_data(anna)
    assert screen.text == {"en": "Did you like it, Anna?"}
    assert [b["ask"] for b in screen.buttons] == [1, 1, 1]
    assert (await answer(scene, bob, run, "yes")).outcome is Answered.STALE  # not Bob's
    assert (await answer(scene, anna, run, "nope")).outcome is Answered.STALE
    assert (await answer(scene, anna, run, "yes", ask=7)).outcome is Answered.LATE
    outcome = await answer(scene, anna, run, "yes")
    assert outcome.outcome is Answered.ACCEPTED and outcome.label == {"en": "Yes"}
    assert outcome.question == {"en": "Did you like it, Anna?"}
    assert await scene.screens(anna) == ["Did you like it, Anna?", "great", "after"]
    assert (await answer(scene, anna, run, "no")).outcome is Answered.LATE  # answered
    done = await scene.run_of(anna, "q")
    assert done.status is RunStatus.DONE and done.data["answers"] == {"0": "yes"}
    assert await scene.fields(anna) == {"liked": "yes"}


async def test_an_answer_with_no_branch_of_its_own_takes_answered(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("q", QUESTION, send("after"))), clock)
    anna = await scene.student()
    run = await start(scene, anna, "q")
    await answer(scene, anna, run, "maybe")
    assert await scene.screens(anna) == ["Did you like it, Anna?", "noted", "after"]


async def test_a_question_nobody_answers_times_out_once(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("q", QUESTION, send("after"))), clock)
    anna = await scene.student()
    run = await start(scene, anna, "q")
    await scene.later(hours=23)
    assert await scene.screens(anna) == ["Did you like it, Anna?"]
    await scene.later(hours=2)
    await scene.later(days=5)
    assert await scene.screens(anna) == ["Did you like it, Anna?", "no answer", "after"]
    assert (await answer(scene, anna, run, "yes")).outcome is Answered.LATE
    assert (await scene.run_of(anna, "q")).data["answers"] == {"0": "timeout"}


async def test_typed_answers_are_checked_kept_and_branched_on(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual(
        "contact",
        {"ask": {"text": "Email?", "expect": "email", "save_as": "email"},
         "on": {"answered": [send("mail {email}")]}},
        {"ask": {"text": "Phone?", "expect": "phone", "save_as": "phone"}},
        {"ask": {"text": "Anything else?", "expect": "text"}},
        send("got {answer}"))), clock)
    anna = await scene.student()
    await start(scene, anna, "contact")
    assert not (await typed(scene, anna, "/unknown")).consumed  # a command answers nothing
    bad = await typed(scene, anna, "anna at example")
    assert bad.consumed and bad.invalid is not None and bad.invalid.value == "email"
    assert (await typed(scene, anna, "+7 900 123-45-67")).invalid.value == "email"  # type: ignore[union-attr]
    assert (await typed(scene, anna, " Anna@Example.COM ")).invalid is None
    assert (await typed(scene, anna, "anna@example.com")).invalid.value == "phone"  # type: ignore[union-attr]
    assert (await typed(scene, anna, "8 (900) 123-45-67")).invalid is None
    assert (await typed(scene, anna, "   ")).invalid is not None  # nothing typed
    assert (await typed(scene, anna, "x" * 5000)).consumed
    assert await scene.fields(anna) == {"email": "anna@example.com", "phone": "+79001234567"}
    screens = await scene.screens(anna)
    assert screens[:4] == ["Email?", "mail anna@example.com", "Phone?", "Anything else?"]
    assert screens[4] == "got " + "x" * engine.MAX_TEXT
    after = await typed(scene, anna, "hello")  # nothing waits for text now
    assert not after.consumed


async def test_conditions_read_the_student_as_they_are_now(uow_factory, clock):
    def check(code: str, condition: dict[str, Any]) -> dict[str, Any]:
        return manual(code, {"if": condition, "then": [send(f"{code} yes")],
                             "else": [send(f"{code} no")]})

    scene = Scene(uow_factory, school_of(
        check("access", {"has_access": "club"}),
        check("tag", {"has_tag": "vip"}),
        check("ru", {"language": "ru"}),
        check("console", {"messenger": "console"}),
        check("telegram", {"messenger": "telegram"}),
        check("paris", {"field": {"name": "city", "equals": "paris"}}),
        check("paid", {"paid": {"at_least": "20 EUR"}}),
    ), clock)
    anna, bob = await scene.student("Anna", "ru"), await scene.student("Bob")
    await scene.buy(anna, "python-30")  # 19 EUR, with the club
    await scene.buy(anna, "month")  # 9 EUR
    async with uow_factory() as uow:
        await tags.add(uow, anna.id, "vip", "console:admin", clock.now())
        await uow.student_fields.put(StudentField(anna.id, "city", "Paris ", clock.now()))
        await uow.commit()
    for code in ("access", "tag", "ru", "console", "telegram", "paris", "paid"):
        for student in (anna, bob):
            await start(scene, student, code)
    assert [s for s in await scene.screens(anna, "en")] == [
        "access yes", "tag yes", "ru yes", "console yes", "telegram no", "paris yes", "paid yes"]
    assert await scene.screens(bob) == [
        "access no", "tag no", "ru no", "console yes", "telegram no", "paris no", "paid no"]


async def test_grant_gives_an_offer_or_a_product_as_a_free_order(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        manual("gift", {"grant": "python-30"}, {"grant": {"product": "taster"}},
               {"grant": {"product": "taster"}})), clock)
    anna = await scene.student()
    run = await start(scene, anna, "gift")
    async with uow_factory() as uow:
        orders = await uow.orders.for_user(anna.id)
        purchases = await uow.purchases.for_user(anna.id)
        paid = [await uow.payments.for_order(o.id) for o in orders]
        audit = await uow.audit.latest(10, user_id=anna.id)
    assert [(o.offer_code, o.amount, o.list_amount, o.free, o.status, o.granted_by)
            for o in orders] == [
        ("python-30", 0, 1900, True, OrderStatus.PAID, "automation:gift"),
        ("taster", 0, 0, True, OrderStatus.PAID, "automation:gift")]
    assert paid == [[], []]  # no payment row
    assert sorted(p.products for p in purchases) == [("python", "club"), ("taster",)]
    assert run.data["notes"] == ["2: owned already"]
    assert [(a.actor, a.action, a.result) for a in reversed(audit)] == [
        ("automation:gift", "automation.grant", AuditResult.DONE),
        ("automation:gift", "automation.grant", AuditResult.DONE),
        ("automation:gift", "automation.grant", AuditResult.NOTHING)]
    assert len(await scene.outbox(anna, "order_paid")) == 2  # told, like any purchase


async def test_extend_grows_the_access_and_tells_staff_when_there_is_none(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        manual("extend", {"extend": {"product": "python", "by": "P1M"}})), clock)
    admin = await scene.student("Boss", external_id="admin")
    helper = await scene.student("Help", external_id="helper")
    anna, bob, carl = (await scene.student(), await scene.student("Bob"),
                       await scene.student("Carl"))
    await scene.buy(bob, "python-30")
    clock.advance(timedelta(days=31))  # 2 April
    assert await core_jobs.expire_purchases(uow_factory, clock.now()) == 1
    await scene.buy(anna, "python-30")  # runs until 2 May
    for student in (anna, bob, carl):
        await start(scene, student, "extend")
    async with uow_factory() as uow:
        [annas] = await uow.purchases.for_user(anna.id)
        [bobs] = await uow.purchases.for_user(bob.id)
    assert annas.ends_at == datetime(2026, 6, 2, 9, 0, tzinfo=UTC)  # from its end
    assert bobs.status is PurchaseStatus.ACTIVE  # ended: it runs again, from now
    assert bobs.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    assert len(await scene.outbox(bob, "group_invite")) == 2  # back into the club
    carls = await scene.run_of(carl, "extend")
    assert carls.data["notes"] == ["0: nothing to extend: no access to python that ends"]
    for staff in (admin, helper):  # both answer students (Right.INBOX)
        [alert] = await scene.outbox(staff, "automation_staff")
        assert alert.data["student"] == carl.id and "nothing to extend" in alert.data["problem"]


async def test_extend_adds_to_a_running_end(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        manual("extend", {"extend": {"product": "club", "by": "P7D"}})), clock)
    anna = await scene.student()
    await scene.buy(anna, "python-30")
    clock.advance(timedelta(days=10))
    await start(scene, anna, "extend")
    async with uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(anna.id)
        audit = await uow.audit.latest(1, actor="automation:extend")
    assert purchase.ends_at == datetime(2026, 4, 8, 9, 0, tzinfo=UTC)  # 30 + 7 days
    assert audit[0].subject == "club +P7D" and audit[0].result is AuditResult.DONE


async def test_revoke_ends_running_access_that_gives_the_product(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("revoke", {"revoke": "club"})), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    await scene.buy(anna, "python-30")
    await scene.buy(anna, "python-life")
    await start(scene, anna, "revoke")
    await start(scene, bob, "revoke")
    async with uow_factory() as uow:
        statuses = {p.offer_code: (p.status, p.end_reason)
                    for p in await uow.purchases.for_user(anna.id)}
    assert statuses == {"python-30": (PurchaseStatus.REVOKED, "automation:revoke"),
                        "python-life": (PurchaseStatus.ACTIVE, None)}
    assert (await scene.run_of(bob, "revoke")).data["notes"] == [
        "0: nothing to revoke: no running access to club"]


async def test_tags_and_fields(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual(
        "t", {"tag": "lead"}, {"tag": "old"}, {"untag": "old"},
        {"set": {"stage": "warm", "source": "ad {name}"}}, {"set": {"stage": "hot"}})), clock)
    anna = await scene.student()
    await start(scene, anna, "t")
    assert await scene.tags(anna) == ["lead"]
    assert await scene.fields(anna) == {"source": "ad Anna", "stage": "hot"}
    async with uow_factory() as uow:
        [tag] = await uow.tags.of_user(anna.id)
    assert tag.added_by == "automation:t"


async def test_start_runs_another_automation_for_the_student(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        manual("first", send("first"), {"start": "second"}, {"start": "third"},
               {"start": "second"}),
        manual("second", send("second")),
        manual("third", send("third"))), clock)
    anna = await scene.student()
    async with uow_factory() as uow:
        await automation_staff.pause(uow, scene.school, "third", "console:admin", clock.now())
        await uow.commit()
    run = await start(scene, anna, "first")
    assert await scene.screens(anna) == ["first", "second"]
    assert run.data["notes"] == ["2: third is paused: not started",
                                 "3: second has run for this student already"]
    assert (await scene.run_of(anna, "second")).data["depth"] == 1


async def test_notify_staff_tells_those_who_answer_students(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual(
        "n", {"set": {"missing": "more examples"}},
        {"notify_staff": {"en": "{name}: {missing}", "ru": "{name} — {missing}"}})), clock)
    admin = await scene.student("Boss", external_id="admin")
    manager = await scene.student("Mona", external_id="manager")
    anna = await scene.student()
    run = await start(scene, anna, "n")
    for staff in (admin, manager):
        [message] = await scene.outbox(staff, "automation_staff")
        assert message.data == {"student": anna.id, "automation": "n", "run": run.id,
                                "text": {"en": "Anna: more examples",
                                         "ru": "Anna — more examples"}, "problem": ""}
    assert await scene.outbox(anna, "automation_staff") == []


async def test_a_webhook_is_recorded_with_the_run_and_sent_later(uow_factory, clock):
    scene = Scene(uow_factory, school_of(
        {"code": "hook", "trigger": {"offer_paid": "any"}, "steps": [
            {"set": {"city": "Paris"}},
            {"webhook": {"url": "https://crm.example/hook", "body": {"event": "bought"}}}]}),
        clock)
    anna = await scene.student()
    order = await scene.buy(anna, "python-life")
    await scene.run()
    run = await scene.run_of(anna, "hook")
    async with uow_factory() as uow:
        [call] = await uow.webhook_calls.for_run(run.id)
    assert call.url == "https://crm.example/hook" and call.dedupe_key == f"webhook:{run.id}:1"
    assert call.body == {
        "automation": "hook", "run": run.id, "step": "1",
        "student": {"id": anna.id, "name": "Anna"}, "fields": {"city": "Paris"},
        "answers": {}, "event": {"order": order.id, "offer": "python-life"},
        "data": {"event": "bought"}}


async def test_access_granted_by_an_automation_is_access_like_any(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("gift", {"grant": "python-life"})), clock)
    anna = await scene.student()
    await start(scene, anna, "gift")
    async with uow_factory() as uow:
        assert await access.owns_for_life(uow, anna.id, ("python",))
        assert await uow.deliveries.delivered(anna.id, "python") == {"intro"}


async def test_an_automations_grant_is_no_sale_in_the_figures(uow_factory, clock):
    scene = Scene(uow_factory, school_of(manual("gift", {"grant": "python-30"})), clock)
    anna, bob = await scene.student(), await scene.student("Bob")
    await scene.buy(bob, "python-life")  # a sale

    async def figures() -> stats_core.Report:
        now = clock.now() + timedelta(minutes=1)  # the window ends before ``now``
        async with uow_factory() as uow:
            return await stats.report(uow, stats.window(
                stats_core.Span.ALL, now, scene.school.timezone), now)

    before = await figures()
    await start(scene, anna, "gift")
    after = await figures()
    assert (before.orders, before.paid_orders) == (1, 1)
    assert (after.orders, after.paid_orders, after.renewals) == (1, 1, 0)
    assert after.money == before.money
    assert after.active_by_product != before.active_by_product  # the access itself counts
