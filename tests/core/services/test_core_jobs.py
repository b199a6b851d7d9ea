"""The sweeps of core.jobs: idempotent, batched, and catching up after downtime."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from factories import START, lesson

from core import jobs
from core.models import OrderStatus, PurchaseStatus

DAY = timedelta(days=1)
LIVE_AT = START + 10 * DAY


def with_python_lessons(school, *extra):
    python = school.courses["python"]
    python = replace(python, lessons=python.lessons + extra)
    return replace(school, courses={**school.courses, "python": python})


# --- open_lessons ------------------------------------------------------------------------------


async def test_open_lessons_catches_up_after_downtime(shop, uow_factory, school, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(10 * DAY)  # the platform was down all this time

    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 3

    opened = [m.data["lesson"] for m in await shop.outbox(anna.id, "lesson_opened")]
    assert opened == ["vars", "loops", "live"]
    assert await shop.delivered(anna.id) == {"intro", "notes", "vars", "loops", "live"}
    assert (await shop.purchase(purchase.id)).next_lesson_at is None


async def test_open_lessons_catch_up_points_at_the_next_lesson(shop, uow_factory, school, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(5 * DAY)

    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 2

    assert (await shop.purchase(purchase.id)).next_lesson_at == LIVE_AT


async def test_open_lessons_again_delivers_nothing(shop, uow_factory, school, clock):
    anna = await shop.student()
    await shop.buy(anna, "python-life")
    clock.advance(10 * DAY)
    await jobs.open_lessons(uow_factory, school, clock.now())

    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 0
    clock.advance(DAY)
    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 0

    assert len(await shop.outbox(anna.id, "lesson_opened")) == 3


async def test_open_lessons_before_anything_is_due_delivers_nothing(
    shop, uow_factory, school, clock
):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(DAY - timedelta(seconds=1))

    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 0

    assert await shop.outbox(anna.id, "lesson_opened") == []
    assert (await shop.purchase(purchase.id)).next_lesson_at == START + DAY


async def test_open_lessons_works_through_every_batch(shop, uow_factory, school, clock):
    students = [await shop.student(f"S{i}") for i in range(5)]
    for student in students:
        await shop.buy(student, "python-life")
    clock.advance(DAY)

    assert await jobs.open_lessons(uow_factory, school, clock.now(), batch=2) == 5

    for student in students:
        assert "vars" in await shop.delivered(student.id)


async def test_open_lessons_skips_ended_purchases(shop, uow_factory, school, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-30")
    clock.set(purchase.ends_at)
    await jobs.expire_purchases(uow_factory, clock.now())

    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 0

    assert await shop.delivered(anna.id) == {"intro", "notes"}


async def test_catch_up_never_delivers_lessons_after_the_access_ended(
    shop, uow_factory, school, clock
):
    shop.school = school = with_python_lessons(school, lesson("bonus", "Bonus", after="P35D"))
    anna = await shop.student()
    await shop.buy(anna, "python-30")
    clock.advance(40 * DAY)  # down past the end of the 30 days

    await jobs.open_lessons(uow_factory, school, clock.now())

    assert "bonus" not in await shop.delivered(anna.id)


# --- expire_purchases --------------------------------------------------------------------------


async def test_expire_purchases_ends_only_what_is_due(shop, uow_factory, clock):
    anna = await shop.student()
    period = await shop.buy(anna, "python-30")
    lifetime = await shop.buy(anna, "drawing-seats")
    clock.set(period.ends_at - timedelta(seconds=1))
    assert await jobs.expire_purchases(uow_factory, clock.now()) == 0

    clock.set(period.ends_at)
    assert await jobs.expire_purchases(uow_factory, clock.now()) == 1

    assert (await shop.purchase(period.id)).status is PurchaseStatus.EXPIRED
    assert (await shop.purchase(lifetime.id)).status is PurchaseStatus.ACTIVE
    assert len(await shop.outbox(anna.id, "access_ended")) == 1


async def test_expire_purchases_again_changes_nothing(shop, uow_factory, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-30")
    clock.set(purchase.ends_at + 5 * DAY)
    await jobs.expire_purchases(uow_factory, clock.now())

    assert await jobs.expire_purchases(uow_factory, clock.now()) == 0

    assert (await shop.purchase(purchase.id)).ended_at == purchase.ends_at + 5 * DAY
    assert len(await shop.outbox(anna.id, "access_ended")) == 1


async def test_expire_purchases_works_through_every_batch(shop, uow_factory, clock):
    purchases = [await shop.buy(await shop.student(f"S{i}"), "python-30") for i in range(3)]
    clock.advance(31 * DAY)

    assert await jobs.expire_purchases(uow_factory, clock.now(), batch=1) == 3

    for purchase in purchases:
        assert (await shop.purchase(purchase.id)).status is PurchaseStatus.EXPIRED


# --- cancel_unpaid_orders ----------------------------------------------------------------------


async def test_cancel_unpaid_orders_cancels_past_due_orders(shop, uow_factory, school, clock):
    due = await shop.order(await shop.student(), "drawing-seats")
    clock.advance(timedelta(minutes=30))
    fresh = await shop.order(await shop.student(), "drawing-seats")
    clock.advance(timedelta(minutes=30))

    assert await jobs.cancel_unpaid_orders(uow_factory, school, clock.now()) == 1

    assert (await shop.get_order(due.order.id)).status is OrderStatus.CANCELLED
    assert (await shop.get_order(fresh.order.id)).status is OrderStatus.NEW
    assert await shop.used("seats:drawing-seats") == 1


async def test_cancel_unpaid_orders_works_through_every_batch(shop, uow_factory, school, clock):
    placed = [await shop.order(await shop.student(f"S{i}"), "python-life") for i in range(3)]
    clock.advance(timedelta(hours=1))

    assert await jobs.cancel_unpaid_orders(uow_factory, school, clock.now(), batch=1) == 3
    assert await jobs.cancel_unpaid_orders(uow_factory, school, clock.now(), batch=1) == 0

    for p in placed:
        assert (await shop.get_order(p.order.id)).close_reason == "expired"


# --- resync_lesson_schedule --------------------------------------------------------------------


async def test_resync_changes_nothing_when_the_schedule_is_unchanged(
    shop, uow_factory, school, clock
):
    purchase = await shop.buy(await shop.student(), "python-life")

    assert await jobs.resync_lesson_schedule(uow_factory, school, clock.now()) == 0

    assert (await shop.purchase(purchase.id)).next_lesson_at == START + DAY


async def test_resync_follows_a_lesson_moved_later(shop, uow_factory, school, clock):
    purchase = await shop.buy(await shop.student(), "python-life")
    python = school.courses["python"]
    moved = tuple(
        lesson("vars", "Variables", after="P2D") if item.id == "vars" else item
        for item in python.lessons
    )
    school = replace(school, courses={**school.courses, "python": replace(python, lessons=moved)})

    assert await jobs.resync_lesson_schedule(uow_factory, school, clock.now()) == 1

    assert (await shop.purchase(purchase.id)).next_lesson_at == START + 2 * DAY


async def test_resync_makes_a_new_open_lesson_due_now_without_delivering_it(
    shop, uow_factory, school, clock
):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(timedelta(hours=2))
    school = with_python_lessons(school, lesson("extra", "Extra"))

    assert await jobs.resync_lesson_schedule(uow_factory, school, clock.now()) == 1

    assert (await shop.purchase(purchase.id)).next_lesson_at == clock.now()
    assert "extra" not in await shop.delivered(anna.id)
    assert await jobs.open_lessons(uow_factory, school, clock.now()) == 1
    assert "extra" in await shop.delivered(anna.id)


async def test_resync_leaves_ended_purchases_alone(shop, uow_factory, school, clock):
    purchase = await shop.buy(await shop.student(), "python-30")
    clock.set(purchase.ends_at)
    await jobs.expire_purchases(uow_factory, clock.now())
    school = with_python_lessons(school, lesson("extra", "Extra"))

    assert await jobs.resync_lesson_schedule(uow_factory, school, clock.now()) == 0

    assert (await shop.purchase(purchase.id)).next_lesson_at is None


async def test_resync_pages_through_every_purchase(shop, uow_factory, school, clock):
    purchases = [await shop.buy(await shop.student(f"S{i}"), "python-life") for i in range(3)]
    school = with_python_lessons(school, lesson("extra", "Extra"))

    assert await jobs.resync_lesson_schedule(uow_factory, school, clock.now(), batch=2) == 3

    for purchase in purchases:
        assert (await shop.purchase(purchase.id)).next_lesson_at == clock.now()
