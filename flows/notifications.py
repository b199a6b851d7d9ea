"""Turn a recorded outbox message into a screen, in the student's language, at send time."""

from __future__ import annotations

from core.models import OrderStatus, OutboxMessage
from core.money import Money
from core.ports import UnitOfWork
from core.school import Course, Lesson, School, pick
from core.services import lessons
from flows.texts import Texts
from flows.ui import Button, Screen, screen


def _offer_title(school: School, t: Texts, code: str) -> str:
    offer = school.offer(code)
    return pick(offer.title, t.language, school.default_language) if offer else code


def _lesson(school: School, course_code: str, lesson_id: str) -> tuple[Course, Lesson] | None:
    course = school.courses.get(course_code)
    lesson = next((x for x in course.lessons if x.id == lesson_id), None) if course else None
    return (course, lesson) if course and lesson else None


async def render(
    uow: UnitOfWork, school: School, t: Texts, message: OutboxMessage, checkout_url
) -> Screen | None:
    """None when what the message speaks of is gone: nothing to send."""
    data = message.data
    my = Button(t("btn_my"), action="my")
    if message.kind == "order_paid":
        order = await uow.orders.get(data["order"])
        purchase = await uow.purchases.get(data["purchase"])
        if order is None or purchase is None:
            return None
        lines = [t("paid", id=order.id, title=_offer_title(school, t, order.offer_code))]
        lines.append(t("until", date=t.date(purchase.ends_at)) if purchase.ends_at else t("forever"))
        upcoming = lessons.next_opening(school, purchase, message.created_at or purchase.starts_at)
        if upcoming is not None:
            title = pick(upcoming.lesson.title, t.language, school.default_language)
            lines.append(t("next_lesson", title=title, date=t.datetime(upcoming.opens_at)))
        opened = [_lesson(school, c, x) for c, x in data.get("lessons", [])]
        opened = [lesson for lesson in opened if lesson is not None]
        if opened:
            lines += ["", t("lessons_open_now")]
        buttons = []
        for course, lesson in opened:
            title = pick(lesson.title, t.language, school.default_language)
            if lesson.link:
                buttons.append(Button(t("btn_open", title=title), url=lesson.link))
            else:
                body = pick(lesson.text, t.language, school.default_language)
                lines.append(f"• {title}\n{body}")
        return screen("\n".join(lines), *buttons, my)
    if message.kind == "lesson_opened":
        found = _lesson(school, data["course"], data["lesson"])
        if found is None:
            return None
        course, lesson = found
        title = pick(lesson.title, t.language, school.default_language)
        text = t("lesson_opened",
                 course=pick(course.title, t.language, school.default_language), title=title)
        if lesson.text:
            text += "\n\n" + pick(lesson.text, t.language, school.default_language)
        rows = [Button(t("btn_open", title=title), url=lesson.link)] if lesson.link else []
        return screen(text, *rows, my)
    if message.kind == "access_ended":
        purchase = await uow.purchases.get(data["purchase"])
        if purchase is None:
            return None
        key = "access_ended_revoked" if data.get("reason") != "expired" else "access_ended_expired"
        return screen(t(key, title=_offer_title(school, t, purchase.offer_code)),
                      Button(t("btn_catalog"), action="cat"))
    if message.kind in ("payment_failed", "payment_partial"):
        order = await uow.orders.get(data["order"])
        if order is None:
            return None
        price = Money(order.amount, order.currency).format(t.language)
        if message.kind == "payment_partial":
            received = Money(data["received"], data["currency"]).format(t.language)
            return screen(t("payment_partial", id=order.id, received=received, price=price), my)
        rows = []
        if order.status is OrderStatus.NEW:
            rows.append(Button(t("btn_pay", price=price), url=checkout_url(order)))
        return screen(t("payment_failed", id=order.id), *rows, my)
    raise ValueError(f"unknown outbox message kind {message.kind!r}")
