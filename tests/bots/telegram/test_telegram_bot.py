"""The school on Telegram: the real aiogram client against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import pytest
from telegram_harness import TelegramHarness

from bots.telegram.adapter import ALLOWED_UPDATES
from core.models import OrderStatus, PurchaseStatus
from core.staff import Role, StaffRef


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness
    assert fake_telegram.violations == []


@pytest.fixture
async def tg_hook(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock, webhook=True) as h:
        yield h
    assert fake_telegram.violations == []


async def test_polling_starts_without_dropping_updates_and_sets_menus(tg):
    [delete] = tg.fake.calls_to("deleteWebhook")
    assert delete.params.get("drop_pending_updates") in (None, False)
    polls = tg.fake.calls_to("getUpdates")
    assert polls and set(ALLOWED_UPDATES) <= set(polls[0].params["allowed_updates"])
    languages = {c.params.get("language_code") for c in tg.fake.calls_to("setMyCommands")}
    assert languages == {None, "en", "ru", "fr"}
    ru = next(c for c in tg.fake.calls_to("setMyCommands")
              if c.params.get("language_code") == "ru")
    assert {"command": "my", "description": "Мои курсы и уроки"} in ru.params["commands"]


async def test_a_student_starts_browses_and_the_message_is_edited_in_place(tg):
    anna = tg.fake.user(501, "Anna", "en")
    await tg.says(anna, "/start")
    welcome = tg.fake.last_message(501)
    assert welcome["text"].startswith("Welcome to Test School")
    assert tg.button_data(501, "Courses") == "cat"
    await tg.presses(anna, "cat")
    edited = tg.fake.last_message(501)
    assert edited["message_id"] == welcome["message_id"]
    assert "Choose what you'd like to learn" in edited["text"]
    assert tg.fake.calls_to("editMessageText")


async def test_deep_link_opens_the_offer_in_the_students_language(tg):
    dima = tg.fake.user(502, "Дима", "ru")
    await tg.says(dima, "/start o-python-life__src-ads")
    card = tg.fake.last_message(502)
    assert card["text"].startswith("Питон навсегда")
    assert [b["text"] for b in tg.keyboard(502)][:2] == ["💳 Купить за 49 EUR",
                                                          "💳 Купить за 250 ⭐"]
    async with tg.uow_factory() as uow:
        assert (await uow.users.get(1)).utm_source == "ads"


async def test_a_stale_button_is_answered_politely(tg):
    anna = tg.fake.user(503)
    await tg.says(anna, "/start")
    message = tg.fake.last_message(503)
    tg.fake.push(tg.fake.callback_update(anna, message, "zz:gone", check=False))
    answer = await tg.fake.wait_for_call("answerCallbackQuery")
    assert "out of date" in answer.params["text"]


async def _buy_in_stars(tg, user):
    await tg.says(user, "/start python-life")
    await tg.presses(user, "bs:python-life", wait_for="sendInvoice")
    return tg.fake.calls_to("sendInvoice")[-1].params


async def test_buying_with_stars_end_to_end_and_a_repeated_payment_grants_once(tg):
    anna = tg.fake.user(504)
    invoice = await _buy_in_stars(tg, anna)
    assert (invoice["currency"], invoice["prices"][0]["amount"]) == ("XTR", 250)
    assert not invoice.get("provider_token")
    assert invoice["reply_markup"]["inline_keyboard"][0][0].get("pay") is True

    tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery")
    assert answer.params["ok"] is True

    for _ in range(2):
        tg.fake.push(tg.fake.successful_payment_update(anna, invoice["payload"], "XTR", 250,
                                                       "stars-charge-1"))
    await tg.settle()
    confirmations = [m for m in tg.fake.messages(504) if "Payment received" in m.get("text", "")]
    assert len(confirmations) == 1
    assert any(b.get("url") == "https://school.example/intro" for b in tg.keyboard(504))
    async with tg.uow_factory() as uow:
        assert len(await uow.purchases.for_user(1)) == 1
        [payment] = await uow.payments.for_order(1)
        assert payment.gateway_payment_id == "stars-charge-1"


async def test_pre_checkout_for_a_changed_or_closed_order_is_refused(tg, clock):
    from datetime import timedelta

    anna = tg.fake.user(505)
    invoice = await _buy_in_stars(tg, anna)
    tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "XTR", 999))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery")
    assert answer.params["ok"] is False and "price" in answer.params["error_message"]
    clock.advance(timedelta(hours=2))
    tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery", count=2)
    assert answer.params["ok"] is False
    assert "can no longer be paid" in answer.params["error_message"]


async def test_pre_checkout_for_a_sold_out_offer_is_refused(tg, school):
    import dataclasses

    anna, boris = tg.fake.user(506), tg.fake.user(507, "Boris")
    invoice = await _buy_in_stars(tg, anna)
    offers = dict(school.offers)
    offers["python-life"] = dataclasses.replace(offers["python-life"], seats=1)
    tg.platform.school.school = dataclasses.replace(school, offers=offers)
    await _buy_in_stars(tg, boris)  # takes the only seat
    tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "XTR", 250))
    answer = await tg.fake.wait_for_call("answerPreCheckoutQuery")
    assert answer.params["ok"] is False and "seats" in answer.params["error_message"]


async def test_buying_by_card_with_a_provider_token(fake_telegram, uow_factory, school, clock):
    async with TelegramHarness(fake_telegram, uow_factory, school, clock,
                               provider_token="284685063:TEST:abc") as tg:
        anna = tg.fake.user(508)
        await tg.says(anna, "/start python-life")
        await tg.presses(anna, "b:python-life", wait_for="sendInvoice")
        invoice = tg.fake.calls_to("sendInvoice")[-1].params
        assert (invoice["currency"], invoice["provider_token"]) == ("EUR", "284685063:TEST:abc")
        assert invoice["prices"][0]["amount"] == 4900
        tg.fake.push(tg.fake.pre_checkout_update(anna, invoice["payload"], "EUR", 4900))
        assert (await tg.fake.wait_for_call("answerPreCheckoutQuery")).params["ok"] is True
        tg.fake.push(tg.fake.successful_payment_update(
            anna, invoice["payload"], "EUR", 4900, "tg-charge-2", "provider-charge-2"))
        await tg.settle()
        async with uow_factory() as uow:
            assert (await uow.orders.get(1)).status is OrderStatus.PAID
            [payment] = await uow.payments.for_order(1)
            assert payment.details["provider_charge_id"] == "provider-charge-2"
    assert fake_telegram.violations == []


async def test_an_admin_refunds_stars_and_the_access_ends(fake_telegram, uow_factory, school,
                                                        clock):
    import dataclasses


    school = dataclasses.replace(school, staff=(StaffRef("telegram", "900", Role.ADMIN),))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        anna, admin = tg.fake.user(509), tg.fake.user(900, "Staff")
        invoice = await _buy_in_stars(tg, anna)
        tg.fake.push(tg.fake.successful_payment_update(anna, invoice["payload"], "XTR", 250,
                                                       "stars-charge-3"))
        await tg.settle()
        await tg.says(admin, "/refund 1")
        [refund] = tg.fake.calls_to("refundStarPayment")
        assert (refund.params["user_id"], refund.params["telegram_payment_charge_id"]) == (
            509, "stars-charge-3")
        assert "250 ⭐ returned" in tg.fake.last_message(900)["text"]
        async with uow_factory() as uow:
            assert (await uow.orders.get(1)).status is OrderStatus.REFUNDED
            [purchase] = await uow.purchases.for_user(1)
            assert purchase.status is PurchaseStatus.REVOKED


async def test_webhook_mode_checks_the_secret(tg_hook):
    [hook] = tg_hook.fake.calls_to("setWebhook")
    assert hook.params["secret_token"] == "s3cret-token-for-tests"
    assert set(ALLOWED_UPDATES) <= set(hook.params["allowed_updates"])
    assert hook.params.get("drop_pending_updates") in (None, False)
    assert tg_hook.fake.calls_to("getUpdates") == []

    anna = tg_hook.fake.user(510)
    await tg_hook.says(anna, "/start")
    assert tg_hook.fake.last_message(510)["text"].startswith("Welcome")
    sent = len(tg_hook.fake.calls_to("sendMessage"))
    for secret in ("wrong-secret", None):
        status = await tg_hook.fake.post_to_webhook(tg_hook.fake.text_update(anna, "/start"),
                                                    secret=secret)
        assert status == 401
    assert len(tg_hook.fake.calls_to("sendMessage")) == sent


async def test_a_student_who_blocked_the_bot_is_marked_unreachable(tg):
    anna = tg.fake.user(511)
    invoice = await _buy_in_stars(tg, anna)
    tg.fake.block(511)
    tg.fake.push(tg.fake.successful_payment_update(anna, invoice["payload"], "XTR", 250,
                                                   "stars-charge-4"))
    await tg.settle()
    async with tg.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is False
        [message] = await uow.outbox.for_user(1)
        assert message.status.value == "pending"  # kept until the student writes again
    tg.fake.unblock(511)
    await tg.says(anna, "/start")
    async with tg.uow_factory() as uow:
        [identity] = await uow.users.identities(1)
        assert identity.reachable is True


async def test_a_refund_telegram_already_made_counts_as_done(tg):
    anna = tg.fake.user(512)
    invoice = await _buy_in_stars(tg, anna)
    tg.fake.push(tg.fake.successful_payment_update(anna, invoice["payload"], "XTR", 250,
                                                   "stars-charge-5"))
    await tg.settle()
    async with tg.uow_factory() as uow:
        [payment] = await uow.payments.for_order(1)
    await tg.bot.refund(payment)
    await tg.bot.refund(payment)  # Telegram answers CHARGE_ALREADY_REFUNDED: done already
    assert [c.status for c in tg.fake.calls_to("refundStarPayment")] == [200, 400]
    assert tg.fake.refunds == ["stars-charge-5"]


async def test_a_school_that_takes_money_only_in_telegram(fake_telegram, uow_factory, school,
                                                        clock):
    from app.bootstrap import build_platform
    from app.settings import Settings
    from bots.telegram.adapter import TelegramMessenger

    bot = TelegramMessenger(fake_telegram.token, api_url=fake_telegram.url)
    platform = build_platform(Settings(_env_file=None, test_payments=False), school,
                              uow_factory, clock, channels={"telegram": bot})
    # No gateway with a checkout page: Telegram's own in-chat payments only.
    assert {name: g.in_chat for name, g in platform.gateways.items()} == {"telegram": True}
    await bot.run(platform.flows.handle)
    try:
        anna = fake_telegram.user(520)
        fake_telegram.push(fake_telegram.text_update(anna, "/start python-life"))
        await fake_telegram.wait_for_call("sendMessage")
        labels = [b["text"] for row in fake_telegram.last_message(520)["reply_markup"][
            "inline_keyboard"] for b in row]
        assert "💳 Buy for 250 ⭐" in labels  # Stars, in the chat
        assert "💳 Buy for 49 EUR" not in labels  # no card provider, no checkout page
    finally:
        await bot.stop()
