"""What a review of the Telegram bot found, each shown fixed: answers that must come in time,
acks that must not sink replies, links Telegram would refuse, pauses that must not release a
burst, students who block the bot, payments over a webhook, refunds that must be exact."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from telegram_harness import TelegramHarness

from bots.telegram import adapter as telegram_adapter
from bots.telegram.render import message as render_message
from core.models import OrderStatus
from core.money import Money
from core.services import checkout
from core.services.payments import PaymentNotice, confirm
from core.staff import Role, StaffRef
from flows.ui import Button, Screen


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    school = dataclasses.replace(school, staff=(StaffRef("telegram", "900", Role.ADMIN),))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness


async def _stars_order(tg, user_id: int):
    user = tg.fake.user(user_id)
    await tg.says(user, "/start python-life")
    await tg.presses(user, "bs:python-life", wait_for="sendInvoice")
    return user, tg.fake.calls_to("sendInvoice")[-1].params


async def test_a_slow_decision_is_still_answered_in_time(tg, monkeypatch):
    monkeypatch.setattr(telegram_adapter, "PRE_CHECKOUT_DEADLINE", 0.3)
    user, invoice = await _stars_order(tg, 601)
    original = tg.platform.flows.handle

    async def slow(incoming):
        await asyncio.sleep(2)
        await original(incoming)

    tg.bot._on_incoming = slow
    tg.fake.push(tg.fake.pre_checkout_update(user, invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery", within=1.5)
    assert answer.params["ok"] is False and answer.params["error_message"]


async def test_a_failed_ack_does_not_keep_the_screen_from_the_student(tg):
    user = tg.fake.user(602)
    await tg.says(user, "/start")
    tg.fake.fail("answerCallbackQuery", code=429, retry_after=1)
    await tg.presses(user, "cat")
    assert "Choose what you'd like to learn" in tg.fake.last_message(602)["text"]


async def test_the_check_refuses_a_course_the_student_already_has(tg):
    user, stars_invoice = await _stars_order(tg, 603)
    async with tg.uow_factory() as uow:  # meanwhile the student bought it on the web
        student = await uow.users.get(1)
        euro = (await checkout.place_order(uow, tg.platform.school(), tg.clock.now(), student,
                                           "python-life")).order
        await confirm(uow, tg.platform.school(), PaymentNotice(
            "test", "web-1", euro.token, euro.amount, "EUR"), tg.clock.now())
        await uow.commit()
    tg.fake.push(tg.fake.pre_checkout_update(user, stars_invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery")
    assert answer.params["ok"] is False and "already have" in answer.params["error_message"]


async def test_a_student_who_blocks_the_bot_is_marked_at_once(tg):
    user = tg.fake.user(604)
    await tg.says(user, "/start")
    tg.fake.push(tg.fake.my_chat_member_update(user, old_status="member", new_status="kicked"))
    await tg.settle()
    async with tg.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
    assert identity.reachable is False


async def test_refund_returns_money_that_granted_nothing(tg):
    user, invoice = await _stars_order(tg, 605)
    async with tg.uow_factory() as uow:
        [order] = await uow.orders.for_user(1)
    await tg.presses(user, f"x:{order.id}")  # cancelled while the payment sheet was open...
    school = tg.platform.school.school  # ...and the offer is no longer sold when it is paid
    offer = school.offers["python-life"]
    tg.platform.school.school = dataclasses.replace(school, offers={
        **school.offers, offer.code: dataclasses.replace(offer, sale_ends=tg.clock.now())})
    tg.fake.push(tg.fake.successful_payment_update(user, invoice["payload"], "XTR", 250, "late"))
    await tg.settle()
    await tg.says(tg.fake.user(900, "Staff"), "/refund 1")
    assert tg.fake.refunds == ["late"]
    async with tg.uow_factory() as uow:
        [payment] = await uow.payments.for_order(1)
        assert payment.status.value == "refunded"
        assert (await uow.orders.get(1)).status is OrderStatus.CANCELLED


async def test_refund_of_a_renewed_period_is_left_to_a_human(fake_telegram, uow_factory,
                                                             school, clock):
    offers = dict(school.offers)
    offers["python-30"] = dataclasses.replace(offers["python-30"], stars=Money(100, "XTR"))
    school = dataclasses.replace(school, offers=offers,
                                 staff=(StaffRef("telegram", "900", Role.ADMIN),))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        staff, user = tg.fake.user(900, "Staff"), tg.fake.user(606)
        for charge in ("first", "second"):  # the second 30 days extend the first purchase
            await tg.says(user, "/start python-30")
            await tg.presses(user, "bs:python-30", wait_for="sendInvoice")
            payload = tg.fake.calls_to("sendInvoice")[-1].params["payload"]
            tg.fake.push(tg.fake.successful_payment_update(user, payload, "XTR", 100, charge))
            await tg.settle()
        for order in (1, 2):
            await tg.says(staff, f"/refund {order}")
            assert "refund it by hand" in tg.fake.last_message(900)["text"]
        assert tg.fake.calls_to("refundStarPayment") == []


async def test_payments_work_over_the_webhook_too(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock, webhook=True) as tg:
        user, invoice = await _stars_order(tg, 607)
        assert await tg.fake.post_to_webhook(
            tg.fake.pre_checkout_update(user, invoice["payload"], "XTR", 250)) == 200
        assert tg.fake.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
        for _ in range(2):
            assert await tg.fake.post_to_webhook(tg.fake.successful_payment_update(
                user, invoice["payload"], "XTR", 250, "hook-charge")) == 200
        await tg.platform.dispatcher.drain()
        async with uow_factory() as uow:
            assert len(await uow.purchases.for_user(1)) == 1
        assert sum("Payment received" in m.get("text", "")
                   for m in tg.fake.messages(607)) == 1


def test_links_telegram_would_refuse_go_in_the_text():
    links = ["http://127.0.0.1:8080/pay/x", "http://school:8080/pay/x", "http://10.0.0.5/p",
             "ftp://school.example/p"]
    screen = Screen("Pay here", tuple((Button(f"b{i}", url=u),) for i, u in enumerate(links)))
    text, keyboard = render_message(screen)
    assert keyboard is None
    assert all(link in text for link in links)
    text, keyboard = render_message(Screen("x", ((Button("ok", url="https://school.example"),),)))
    assert keyboard.inline_keyboard[0][0].url == "https://school.example"
