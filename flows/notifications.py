"""Turn a recorded outbox message into a screen, in the student's language, at send time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core import notices
from core.models import OrderStatus, OutboxMessage, PaymentStatus, Purchase, PurchaseStatus
from core.money import Money
from core.notices import Notice
from core.ports import UnitOfWork
from core.school import Course, Lesson, LocalText, School, pick
from core.services import groups, lessons, star_subscriptions
from core.services.upcoming import renews_automatically
from flows import inbox_notices
from flows.automation_notices import automation_screen, automation_staff
from flows.channel import Capabilities
from flows.checkout_ways import CheckoutWays
from flows.groups import included_line, invite_screen, offer_buttons
from flows.payments import GATEWAY
from flows.renewals import renew_buttons, switch_button
from flows.stats import digest_screen
from flows.texts import Texts
from flows.ui import Button, Screen, screen


@dataclass
class Render:
    uow: UnitOfWork
    school: School
    t: Texts
    message: OutboxMessage
    notice: Notice  # the message's record
    checkout: CheckoutWays  # the web pages that take payment
    capabilities: Capabilities  # of the messenger it goes out in
    now: datetime  # when it is sent: what it says holds then

    def renew(self, purchase: Purchase) -> list[Button]:
        return renew_buttons(self.t, self.school, purchase, self.now, self.capabilities,
                             self.checkout)

    def text(self, value: LocalText | None) -> str:
        return pick(value, self.t.language, self.school.default_language)

    def offer_title(self, code: str) -> str:
        """The offer's title; for access the staff granted as one product, the product's."""
        offer = self.school.offer(code)
        if offer is not None:
            return self.text(offer.title)
        product = self.school.products.get(code)
        return self.text(product.title) if product else code

    def lesson(self, course_code: str, lesson_id: str) -> tuple[Course, Lesson] | None:
        course = self.school.courses.get(course_code)
        lesson = next((x for x in course.lessons if x.id == lesson_id), None) if course else None
        return (course, lesson) if course and lesson else None

    def my_courses(self) -> Button:
        return Button(self.t("btn_my"), action="my")


async def order_paid(r: Render, n: notices.OrderPaid) -> Screen | None:
    t = r.t
    order = await r.uow.orders.get(n.order)
    purchase = await r.uow.purchases.get(n.purchase)
    if order is None or purchase is None:
        return None
    lines = [
        t("paid_free" if order.amount == 0 else "paid", id=order.id,
          title=r.offer_title(order.offer_code)),
        t("until", date=t.date(purchase.ends_at)) if purchase.ends_at else t("forever"),
    ]
    lines += [included_line(t, r.school, r.school.groups[code])
              for code in sorted(groups.groups_of(r.school, purchase.products))]
    since = r.message.created_at or purchase.starts_at
    upcoming = lessons.next_opening(r.school, purchase, since)
    if upcoming is not None:
        lines.append(t("next_lesson", title=r.text(upcoming.lesson.title),
                       date=t.datetime(upcoming.opens_at)))
    opened = [found for c, x in n.lessons if (found := r.lesson(c, x))]
    if opened:
        lines += ["", t("lessons_open_now")]
    buttons = []
    for _, lesson in opened:
        if lesson.link:
            buttons.append(Button(t("btn_open", title=r.text(lesson.title)), url=lesson.link))
        else:
            lines.append(f"• {r.text(lesson.title)}\n{r.text(lesson.text)}")
    return screen("\n".join(lines), *buttons, r.my_courses())


async def lesson_opened(r: Render, n: notices.LessonOpened) -> Screen | None:
    found = r.lesson(n.course, n.lesson)
    if found is None:
        return None
    course, lesson = found
    title = r.text(lesson.title)
    text = r.t("lesson_opened", course=r.text(course.title), title=title)
    if lesson.text:
        text += "\n\n" + r.text(lesson.text)
    rows = [Button(r.t("btn_open", title=title), url=lesson.link)] if lesson.link else []
    return screen(text, *rows, r.my_courses())


async def access_ended(r: Render, n: notices.AccessEnded) -> Screen | None:
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None:
        return None
    expired = n.reason in ("expired", "renewal_failed")
    key = "access_ended_expired" if expired else "access_ended_revoked"
    if n.reason == "refund":
        key = "access_ended_refunded"
    renew = r.renew(purchase) if expired else []
    return screen(r.t(key, title=r.offer_title(purchase.offer_code)), *renew,
                  Button(r.t("btn_catalog"), action="cat"))


async def payment_failed(r: Render, n: notices.PaymentFailed) -> Screen | None:
    order = await r.uow.orders.get(n.order)
    if order is None:
        return None
    rows = r.checkout.buttons(r.t, order) if order.status is OrderStatus.NEW else []
    return screen(r.t("payment_failed", id=order.id), *rows, r.my_courses())


async def payment_partial(r: Render, n: notices.PaymentPartial) -> Screen | None:
    order = await r.uow.orders.get(n.order)
    if order is None:
        return None
    language = r.t.language
    return screen(
        r.t("payment_partial", id=order.id,
            received=Money(n.received, n.currency).format(language),
            price=Money(order.amount, order.currency).format(language)),
        r.my_courses(),
    )


async def payment_extra(r: Render, n: notices.PaymentExtra) -> Screen | None:
    amount = Money(n.amount, n.currency).format(r.t.language)
    return screen(r.t("payment_extra", id=n.order, amount=amount), r.my_courses())


async def group_invite(r: Render, n: notices.GroupInvite) -> Screen | None:
    group = r.school.groups.get(n.group)
    purchase = await r.uow.purchases.get(n.purchase)
    if group is None or purchase is None or await groups.inside(
            r.uow, purchase.user_id, group.code):
        return None  # a member already (a renewal, a Stars subscriber): no link needed
    links = [link for link in await r.uow.invite_links.open_for(purchase.id, group.code)
             if link.expires_at is None or link.expires_at > r.now]
    if not links:  # no Telegram bot runs to make one, or none works now: nothing to send
        return None
    link = links[-1]
    return invite_screen(r.t, r.school, group, link.url, link.expires_at or purchase.starts_at)


async def group_removed(r: Render, n: notices.GroupRemoved) -> Screen | None:
    group = r.school.groups.get(n.group)
    if group is None:
        return None
    return screen(r.t("group_removed", group=r.text(group.title)),
                  *offer_buttons(r.t, r.school, group.code), r.my_courses())


async def reminder(r: Render, n: notices.Reminder) -> Screen | None:
    t = r.t
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None or purchase.status is PurchaseStatus.REVOKED:
        return None
    days, title, end = n.days, r.offer_title(purchase.offer_code), n.ends_at
    key = "reminder_before" if days < 0 else "reminder_today" if days == 0 else "reminder_after"
    return screen(t(key, title=title, date=t.date(end)),
                  *r.renew(purchase),
                  r.my_courses())


async def renewal_notice(r: Render, n: notices.RenewalNotice) -> Screen | None:
    t = r.t
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None or purchase.ends_at is None or not renews_automatically(purchase):
        return None  # switched off or ended since
    stars = star_subscriptions.subscription_of(purchase.renewal_method or "")
    if stars is not None:  # Telegram charges what the subscription's first payment was
        paid = await r.uow.payments.get(GATEWAY, stars[1])
        amount, currency, key = (paid.amount, paid.currency, "renewal_notice_stars") \
            if paid else (None, None, "")
    else:
        renewal = await r.uow.renewals.for_period(purchase.id, purchase.ends_at)
        order = await r.uow.orders.get(renewal.order_id) if renewal else None
        amount, currency, key = (order.amount, order.currency, "renewal_notice") \
            if order else (None, None, "")
    if amount is None or currency is None:
        return None
    price = Money(amount, currency).format(t.language)
    toggle = switch_button(t, purchase)
    return screen(t(key, title=r.offer_title(purchase.offer_code),
                    price=price, date=t.date(purchase.ends_at)),
                  *([toggle] if toggle else []), r.my_courses())


async def renewal_failed(r: Render, n: notices.RenewalFailed) -> Screen | None:
    t = r.t
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None:
        return None
    reason = n.reason or ""
    reason_text = t(f"reason_{reason}") if reason in (
        "card_declined", "unknown_card", "authentication_required",
        "receipt_contact_missing") \
        else reason
    lines = [t("renewal_failed", title=r.offer_title(purchase.offer_code), reason=reason_text)]
    lines.append(t("renewal_retry", date=t.datetime(n.retry_at))
                 if n.retry_at else t("renewal_gave_up"))
    return screen("\n".join(lines),
                  *r.renew(purchase),
                  r.my_courses())


async def renewal_doubled(r: Render, n: notices.RenewalDoubled) -> Screen | None:
    """The automatic charge landed after a renewal by hand: both count, and until when."""
    order = await r.uow.orders.get(n.order)
    purchase = await r.uow.purchases.get(n.purchase)
    if order is None or purchase is None or purchase.ends_at is None:
        return None
    toggle = switch_button(r.t, purchase)
    return screen(r.t("renewal_doubled", title=r.offer_title(purchase.offer_code),
                      price=Money(order.amount, order.currency).format(r.t.language),
                      date=r.t.date(purchase.ends_at)),
                  *([toggle] if toggle else []), r.my_courses())


async def refund_due(r: Render, n: notices.RefundDue) -> Screen | None:
    """To an admin: money that granted nothing, to be returned (gone once it was)."""
    payment = await r.uow.payments.get(n.gateway, n.payment)
    order = await r.uow.orders.get(n.order)
    if payment is None or order is None or payment.status is not PaymentStatus.SUCCEEDED \
            or payment.refund_reason is None:
        return None
    student = await r.uow.users.get(order.user_id)
    return screen(r.t("admin_refund_due", id=order.id,
                      amount=Money(payment.refundable_amount,
                                   payment.currency).format(r.t.language),
                      gateway=payment.gateway, student=student.name if student else "?",
                      reason=r.t(f"refund_reason_{payment.refund_reason}")))


async def refund_reported(r: Render, n: notices.RefundReported) -> Screen | None:
    """To an admin: a card gateway gave (a part of) a payment back, and what that changed."""
    payment = await r.uow.payments.get(n.gateway, n.payment)
    order = await r.uow.orders.get(n.order)
    if payment is None or order is None:
        return None
    student = await r.uow.users.get(order.user_id)

    def money(amount: int) -> str:
        return Money(amount, payment.currency).format(r.t.language)

    return screen(r.t(f"admin_gateway_refund_{n.outcome}", id=order.id, gateway=n.gateway,
                      amount=money(n.returned), paid=money(payment.amount),
                      refunded=money(n.refunded), student=student.name if student else "?"))


async def daily_digest(r: Render, n: notices.DailyDigest) -> Screen | None:
    """To a staff member: one day's figures (who may read them was checked when it was
    recorded, a minute before)."""
    return await digest_screen(r.t, r.school, r.uow, date.fromisoformat(n.day), r.now)


async def access_extended(r: Render, n: notices.AccessExtended) -> Screen | None:
    """The school's staff added days: until when it lasts now (gone if it changed since)."""
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None or purchase.status is not PurchaseStatus.ACTIVE \
            or purchase.ends_at != n.ends_at:
        return None
    return screen(r.t("access_extended", title=r.offer_title(purchase.offer_code),
                      days=r.t.period(f"P{n.days}D"), date=r.t.date(n.ends_at)),
                  r.my_courses())


async def lesson_links(r: Render, n: notices.LessonLinks) -> Screen | None:
    """The lessons open now, again: a button for each with a link, the text of the others."""
    purchase = await r.uow.purchases.get(n.purchase)
    if purchase is None or not groups.running(purchase, r.now):
        return None
    opened = lessons.open_lessons(r.school, purchase, r.now)
    if not opened:
        return None
    lines = [r.t("lessons_again", title=r.offer_title(purchase.offer_code))]
    buttons = []
    for item in opened:
        title = r.text(item.lesson.title)
        if item.lesson.link:
            buttons.append(Button(r.t("btn_open", title=title), url=item.lesson.link))
        else:
            lines.append(f"• {r.text(item.course.title)}: {title}\n{r.text(item.lesson.text)}")
    return screen("\n".join(lines), *buttons, r.my_courses())


RENDERERS: dict[type[Notice], Callable[[Render, Any], Awaitable[Screen | None]]] = {
    notices.OrderPaid: order_paid,
    notices.LessonOpened: lesson_opened,
    notices.AccessEnded: access_ended,
    notices.PaymentFailed: payment_failed,
    notices.PaymentPartial: payment_partial,
    notices.PaymentExtra: payment_extra,
    notices.GroupInvite: group_invite,
    notices.GroupRemoved: group_removed,
    notices.Reminder: reminder,
    notices.RenewalNotice: renewal_notice,
    notices.RenewalFailed: renewal_failed,
    notices.RefundDue: refund_due,
    notices.RefundReported: refund_reported,
    notices.RenewalDoubled: renewal_doubled,
    notices.InboxQuestion: inbox_notices.question,
    notices.InboxAnswer: inbox_notices.answer,
    notices.InboxAnswered: inbox_notices.answered,
    notices.DailyDigest: daily_digest,
    notices.AccessExtended: access_extended,
    notices.LessonLinks: lesson_links,
    notices.AutomationScreen: automation_screen,
    notices.AutomationStaff: automation_staff,
}


async def render(
    uow: UnitOfWork,
    school: School,
    t: Texts,
    message: OutboxMessage,
    checkout: CheckoutWays,
    capabilities: Capabilities | None = None,
    now: datetime | None = None,
) -> Screen | None:
    """None when what the message speaks of is gone: nothing to send. ``now``: the time of
    sending (links, dates and offers are as of then); ``capabilities``: the messenger's."""
    notice = notices.parse(message.kind, message.data)
    sent_at = now or message.created_at
    capabilities = capabilities or Capabilities()
    assert sent_at is not None, "an outbox message has its creation time"
    context = Render(uow, school, t, message, notice, checkout, capabilities, sent_at)
    return await RENDERERS[type(notice)](context, notice)
