"""Which lessons are open for a purchase, and delivering each one to the student once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.automations import events
from core.models import Purchase, PurchaseStatus
from core.notices import LessonOpened
from core.ports import UnitOfWork
from core.school import Course, Lesson, School
from core.services.outbox import enqueue


@dataclass(frozen=True)
class ScheduledLesson:
    course: Course
    lesson: Lesson
    opens_at: datetime


def schedule(school: School, purchase: Purchase) -> list[ScheduledLesson]:
    """Every lesson the purchase gives, in course order, with the moment it opens."""
    assert purchase.starts_at is not None
    return [
        ScheduledLesson(course, lesson, lesson.opening.opens_at(purchase.starts_at))
        for course in school.courses_of(purchase.products)
        for lesson in course.lessons
    ]


def open_lessons(school: School, purchase: Purchase, now: datetime) -> list[ScheduledLesson]:
    if purchase.status is not PurchaseStatus.ACTIVE:
        return []
    return [
        item
        for item in schedule(school, purchase)
        if item.opens_at <= now and (purchase.ends_at is None or item.opens_at < purchase.ends_at)
    ]


def next_opening(school: School, purchase: Purchase, now: datetime) -> ScheduledLesson | None:
    upcoming = [item for item in schedule(school, purchase) if item.opens_at > now]
    if purchase.ends_at is not None:
        upcoming = [item for item in upcoming if item.opens_at < purchase.ends_at]
    return min(upcoming, key=lambda item: item.opens_at, default=None)


async def resync(uow: UnitOfWork, school: School, purchase: Purchase, now: datetime) -> bool:
    """Recompute when the purchase's next lesson is due (the school file may have gained or
    moved lessons): now if an open lesson has not reached the student yet, else the next
    opening. Delivers nothing. Returns whether ``next_lesson_at`` changed (the caller saves
    the purchase)."""
    upcoming = next_opening(school, purchase, now)
    opened = open_lessons(school, purchase, now)
    delivered = {
        course: await uow.deliveries.delivered(purchase.user_id, course)
        for course in {item.course.code for item in opened}
    }
    pending = [i for i in opened if i.lesson.id not in delivered[i.course.code]]
    due = now if pending else (upcoming.opens_at if upcoming else None)
    if due == purchase.next_lesson_at:
        return False
    purchase.next_lesson_at = due
    return True


async def deliver_open(
    uow: UnitOfWork, school: School, purchase: Purchase, now: datetime, notify: bool = True
) -> list[ScheduledLesson]:
    """Record every open lesson the student has not received yet and, with ``notify``, queue a
    message for each. Sets ``next_lesson_at`` (the caller saves the purchase). Returns the
    lessons delivered by this call: a lesson is delivered once per student, whatever the
    number of purchases or sweeps that reach it."""
    delivered: list[ScheduledLesson] = []
    for item in open_lessons(school, purchase, now):
        fresh = await uow.deliveries.add_if_absent(
            purchase.user_id, item.course.code, item.lesson.id, purchase.id, now
        )
        if not fresh:
            continue
        delivered.append(item)
        await events.lesson_opened(uow, purchase.user_id, item.course.code, item.lesson.id, now)
        if notify:
            await enqueue(
                uow,
                now,
                purchase.user_id,
                LessonOpened(course=item.course.code, lesson=item.lesson.id,
                             purchase=purchase.id),
                dedupe_key=f"lesson:{purchase.user_id}:{item.course.code}:{item.lesson.id}",
            )
    upcoming = next_opening(school, purchase, now)
    purchase.next_lesson_at = upcoming.opens_at if upcoming else None
    return delivered
