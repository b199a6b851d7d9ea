"""Every outbox notice has a renderer, and renders in every language the platform speaks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import notices
from core.inbox import ConversationMessage
from core.models import InviteLink, OutboxMessage
from core.services import checkout, payments, users
from core.services.payments import PaymentNotice
from flows.checkout_ways import CheckoutWay, CheckoutWays
from flows.notifications import RENDERERS, render
from flows.texts import CATALOGS, Texts

LANGUAGES = ("en", "ru", "fr")
PAGE = CheckoutWays((CheckoutWay("page", "card", lambda o: f"https://pay.example/{o.id}",
                                 lambda currency: currency != "XTR"),))


def test_every_kind_has_a_renderer():
    assert set(RENDERERS) == set(notices.KINDS.values())
    assert set(LANGUAGES) <= set(CATALOGS)


async def _scene(uow_factory, school, clock):
    """A student with a monthly club subscription renewing by saved card, paid twice (the
    second payment is money to return), and a personal link into the club."""
    now = clock.now()
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, now, "console", "s1", "Anna", "en")
        placed = await checkout.place_order(uow, school, now, user, "club-month", None,
                                            messenger="console", unlocked=True)
        await uow.commit()
    order = placed.order
    for n in (1, 2):
        async with uow_factory() as uow:
            await payments.confirm(uow, school, PaymentNotice(
                "test", f"pay-{n}", order.token, order.amount, order.currency,
                details={"saved_method": "card-1"}), now)
            await uow.commit()
    async with uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(user.id)
        await uow.invite_links.add(InviteLink(
            purchase_id=purchase.id, user_id=user.id, group="club", url="https://t.me/+club",
            created_at=now, expires_at=now + timedelta(days=7)))
        # A question in the support inbox (conversation 1, message 1) and its answer (2).
        identity = await uow.users.identity("console", "s1")
        conversation = await uow.conversations.open_for(user.id, identity.id, now)
        for author in ("", "console:admin"):
            await uow.conversations.add_message(ConversationMessage(
                conversation_id=conversation.id, at=now, author=author, text="Is it live?"))
        await uow.commit()
    assert purchase.renewal is not None and purchase.ends_at is not None
    return user, order, purchase


def _examples(order, purchase, now) -> list[notices.Notice]:
    return [
        notices.OrderPaid(order=order.id, purchase=purchase.id,
                          lessons=(("python", "intro"),)),
        notices.LessonOpened(course="python", lesson="intro", purchase=purchase.id),
        notices.AccessEnded(purchase=purchase.id, reason="expired"),
        notices.PaymentFailed(order=order.id),
        notices.PaymentPartial(order=order.id, received=100, currency=order.currency),
        notices.PaymentExtra(order=order.id, amount=order.amount, currency=order.currency),
        notices.GroupInvite(purchase=purchase.id, group="club"),
        notices.GroupRemoved(group="club"),
        notices.Reminder(purchase=purchase.id, days=-3, ends_at=purchase.ends_at),
        notices.RenewalNotice(purchase=purchase.id, days=-3, ends_at=purchase.ends_at),
        notices.RenewalFailed(purchase=purchase.id, order=order.id, reason="card_declined",
                              retry_at=now + timedelta(days=1)),
        notices.RenewalDoubled(purchase=purchase.id, order=order.id),
        notices.RefundDue(order=order.id, gateway="test", payment="pay-2"),
        notices.InboxQuestion(conversation=1, message=1),
        notices.InboxAnswer(conversation=1, message=2),
        notices.InboxAnswered(conversation=1, message=2),
        notices.RefundReported(order=order.id, gateway="test", payment="pay-1",
                               outcome="partial", returned=300, refunded=400),
        notices.DailyDigest(account="console:s1", day=(now - timedelta(days=1)).date().isoformat()),
        notices.AccessExtended(purchase=purchase.id, days=30, ends_at=purchase.ends_at),
        notices.AutomationScreen(run=1, automation="welcome",
                                 text={"en": "Hi", "ru": "Привет", "fr": "Salut"},
                                 buttons=({"offer": "python-life", "label": None},
                                          {"answer": "yes", "label": {"en": "Yes"}, "ask": 1})),
        notices.AutomationStaff(student=order.user_id, automation="welcome", run=1,
                                text={"en": "Anna asks"}),
    ]


async def _with_lessons(uow_factory, school, clock, user) -> notices.Notice:
    """Lessons sent again: of a purchase that has lessons open (the club has none)."""
    now = clock.now()
    async with uow_factory() as uow:
        placed = await checkout.place_order(uow, school, now, user, "python-life", None,
                                            messenger="console", unlocked=True)
        await payments.confirm(uow, school, PaymentNotice(
            "test", "pay-python", placed.order.token, placed.order.amount,
            placed.order.currency), now)
        [purchase] = await uow.purchases.for_order(placed.order.id)
        await uow.commit()
    return notices.LessonLinks(purchase=purchase.id)


@pytest.mark.parametrize("kind", sorted(notices.KINDS))
async def test_every_kind_renders_in_every_language(uow_factory, school, clock, kind):
    user, order, purchase = await _scene(uow_factory, school, clock)
    examples = _examples(order, purchase, clock.now())
    examples.append(await _with_lessons(uow_factory, school, clock, user))
    [notice] = [n for n in examples if n.KIND == kind]  # one each
    message = OutboxMessage(id=1, user_id=user.id, kind=notice.KIND, data=notice.data(),
                            created_at=clock.now())
    shown = {}
    async with uow_factory() as uow:
        for language in LANGUAGES:
            screen = await render(uow, school, Texts(school, language), message,
                                  PAGE, now=clock.now())
            assert screen is not None and screen.text.strip(), language
            shown[language] = screen.text
    assert len(set(shown.values())) == len(LANGUAGES), shown  # none falls back to English
