"""Which lessons a purchase opens and when, and delivering each lesson once per student."""

from __future__ import annotations

from datetime import timedelta

from factories import START

from core.models import Purchase, PurchaseStatus
from core.services import lessons

DAY = timedelta(days=1)
LIVE_AT = START + 10 * DAY  # the "live" lesson of tests/factories.py opens at a fixed moment


def python_purchase(starts_at=START, ends_at=None, status=PurchaseStatus.ACTIVE) -> Purchase:
    return Purchase(
        id=1, user_id=1, order_id=1, offer_code="python-life", products=("python-course",),
        starts_at=starts_at, ends_at=ends_at, status=status,
    )


def ids(items) -> list[str]:
    return [item.lesson.id for item in items]


# --- open_lessons / next_opening ---------------------------------------------------------------


def test_schedule_lists_every_lesson_with_its_opening(school):
    schedule = lessons.schedule(school, python_purchase())
    assert [(item.lesson.id, item.opens_at) for item in schedule] == [
        ("intro", START),
        ("vars", START + DAY),
        ("loops", START + 3 * DAY),
        ("live", LIVE_AT),
        ("notes", START),
    ]
    assert {item.course.code for item in schedule} == {"python"}


def test_immediate_lessons_are_open_at_the_start(school):
    assert ids(lessons.open_lessons(school, python_purchase(), START)) == ["intro", "notes"]


def test_first_after_lesson_is_next_at_the_start(school):
    upcoming = lessons.next_opening(school, python_purchase(), START)
    assert (upcoming.lesson.id, upcoming.opens_at) == ("vars", START + DAY)


def test_after_lesson_opens_exactly_its_delay_after_the_start(school):
    purchase = python_purchase()
    assert "vars" not in ids(lessons.open_lessons(school, purchase, START + DAY - timedelta(1)))
    assert "vars" in ids(lessons.open_lessons(school, purchase, START + DAY))


def test_after_lessons_follow_the_purchase_start(school):
    purchase = python_purchase(starts_at=START + 5 * DAY)
    upcoming = lessons.next_opening(school, purchase, START + 5 * DAY)
    assert (upcoming.lesson.id, upcoming.opens_at) == ("vars", START + 6 * DAY)


def test_at_lesson_is_next_once_the_after_lessons_are_open(school):
    upcoming = lessons.next_opening(school, python_purchase(), START + 3 * DAY)
    assert (upcoming.lesson.id, upcoming.opens_at) == ("live", LIVE_AT)


def test_at_lesson_opens_at_its_moment_whatever_the_start(school):
    purchase = python_purchase(starts_at=START + 8 * DAY)
    assert "live" not in ids(lessons.open_lessons(school, purchase, LIVE_AT - timedelta(1)))
    assert "live" in ids(lessons.open_lessons(school, purchase, LIVE_AT))


def test_at_lesson_already_past_is_open_for_a_late_buyer(school):
    purchase = python_purchase(starts_at=LIVE_AT + DAY)
    assert ids(lessons.open_lessons(school, purchase, LIVE_AT + DAY)) == ["intro", "live", "notes"]


def test_nothing_is_next_when_every_lesson_is_open(school):
    assert lessons.next_opening(school, python_purchase(), LIVE_AT) is None


def test_next_opening_ignores_lessons_after_the_access_ends(school):
    purchase = python_purchase(starts_at=START - 25 * DAY, ends_at=START + 5 * DAY)
    assert lessons.next_opening(school, purchase, START) is None  # "live" is after the end


def test_ended_purchase_opens_nothing(school):
    for status in (PurchaseStatus.EXPIRED, PurchaseStatus.REVOKED):
        assert lessons.open_lessons(school, python_purchase(status=status), LIVE_AT) == []


def test_group_only_purchase_has_no_lessons(school):
    purchase = Purchase(products=("club",), starts_at=START)
    assert lessons.schedule(school, purchase) == []
    assert lessons.next_opening(school, purchase, START) is None


# --- deliver_open ------------------------------------------------------------------------------


async def deliver(shop, purchase_id: int, notify: bool = True):
    async with shop.uow_factory() as uow:
        purchase = await uow.purchases.get(purchase_id)
        delivered = await lessons.deliver_open(uow, shop.school, purchase, shop.clock.now(), notify)
        await uow.purchases.update(purchase)
        await uow.commit()
    return ids(delivered)


async def test_deliver_open_delivers_newly_open_lessons_and_queues_them(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(3 * DAY)

    assert await deliver(shop, purchase.id) == ["vars", "loops"]

    assert await shop.delivered(anna.id) == {"intro", "notes", "vars", "loops"}
    opened = [m.data for m in await shop.outbox(anna.id, "lesson_opened")]
    assert opened == [
        {"course": "python", "lesson": "vars", "purchase": purchase.id},
        {"course": "python", "lesson": "loops", "purchase": purchase.id},
    ]
    assert (await shop.purchase(purchase.id)).next_lesson_at == LIVE_AT


async def test_deliver_open_delivers_each_lesson_once(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(DAY)
    await deliver(shop, purchase.id)
    clock.advance(timedelta(minutes=1))

    assert await deliver(shop, purchase.id) == []

    assert len(await shop.outbox(anna.id, "lesson_opened")) == 1


async def test_deliver_open_never_repeats_a_lesson_for_another_purchase(shop, clock):
    anna = await shop.student()
    period = await shop.buy(anna, "python-30")
    clock.advance(DAY)
    assert await deliver(shop, period.id) == ["vars"]
    lifetime = await shop.buy(anna, "python-life")  # its own "vars" opens a day later
    clock.advance(DAY)

    assert await deliver(shop, lifetime.id) == []

    assert len(await shop.outbox(anna.id, "lesson_opened")) == 1
    assert await shop.delivered(anna.id) == {"intro", "notes", "vars"}


async def test_each_student_gets_their_own_copy(shop):
    anna, bob = await shop.student("Anna"), await shop.student("Bob")
    await shop.buy(anna, "python-life")
    await shop.buy(bob, "python-life")

    assert await shop.delivered(anna.id) == {"intro", "notes"}
    assert await shop.delivered(bob.id) == {"intro", "notes"}


async def test_deliver_open_without_notify_queues_nothing(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    clock.advance(DAY)

    assert await deliver(shop, purchase.id, notify=False) == ["vars"]

    assert await shop.outbox(anna.id, "lesson_opened") == []
    assert "vars" in await shop.delivered(anna.id)


# --- resync ------------------------------------------------------------------------------------


async def test_resync_points_at_the_next_lesson_and_delivers_nothing(shop, uow_factory, school,
                                                                     clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    purchase.next_lesson_at = None  # as if the school file had changed since
    async with uow_factory() as uow:
        assert await lessons.resync(uow, school, purchase, clock.now())
        assert not await lessons.resync(uow, school, purchase, clock.now())  # nothing new
    assert purchase.next_lesson_at == START + DAY
    assert await shop.delivered(anna.id) == {"intro", "notes"}
