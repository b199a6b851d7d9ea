"""Telegram's refunded_payment: a payment given back in Telegram (or by the bot's own refund
whose recording a crash lost) withdraws the access it gave, exactly once."""

from __future__ import annotations

import dataclasses

import pytest
from telegram_harness import TelegramHarness

from core.models import OrderStatus, PaymentStatus, PurchaseStatus
from core.staff import Role, StaffRef

STAFF = 900


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    school = dataclasses.replace(school, staff=(StaffRef("telegram", str(STAFF), Role.ADMIN),))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        await harness.says(harness.fake.user(STAFF, "Staff"), "/start")
        yield harness
    assert fake_telegram.violations == []


async def _bought_in_stars(tg, user_id: int, charge: str):
    user = tg.fake.user(user_id, "Anna")
    await tg.says(user, "/start python-life")
    await tg.presses(user, "bs:python-life", wait_for="sendInvoice")
    invoice = tg.fake.calls_to("sendInvoice")[-1].params
    tg.fake.push(tg.fake.successful_payment_update(user, invoice["payload"], "XTR", 250, charge))
    await tg.settle()
    return user


def _texts(tg, chat_id: int, part: str) -> list[str]:
    return [m["text"] for m in tg.fake.sent_messages(chat_id) if part in m.get("text", "")]


async def _state(tg):
    async with tg.uow_factory() as uow:
        [order] = await uow.orders.for_user(2)
        [payment] = await uow.payments.for_order(order.id)
        [purchase] = await uow.purchases.for_user(2)
    return order.status, payment.status, purchase.status


async def test_a_refund_made_in_telegram_withdraws_the_access_once(tg):
    await _bought_in_stars(tg, 801, "ch-801")
    assert await _state(tg) == (OrderStatus.PAID, PaymentStatus.SUCCEEDED,
                                PurchaseStatus.ACTIVE)

    for _ in range(2):  # Telegram may deliver it again
        tg.fake.push(tg.fake.refunded_payment_update("ch-801"))
        await tg.settle()

    assert await _state(tg) == (OrderStatus.REFUNDED, PaymentStatus.REFUNDED,
                                PurchaseStatus.REVOKED)
    told = _texts(tg, 801, "was refunded")
    assert told == ["Your payment for “Python forever” was refunded, so the access it gave "
                    "was withdrawn."]
    [alert] = _texts(tg, STAFF, "Telegram refunded")
    assert "250 ⭐" in alert and "ch-801" in alert and "withdrawn" in alert


async def test_a_refund_our_crash_did_not_record_is_recorded_from_telegram(tg):
    await _bought_in_stars(tg, 802, "ch-802")
    async with tg.uow_factory() as uow:
        [payment] = await uow.payments.for_order(1)
    await tg.bot.refund(payment)  # refundStarPayment went through; then the process died
    assert tg.fake.refunds == ["ch-802"]
    assert await _state(tg) == (OrderStatus.PAID, PaymentStatus.SUCCEEDED,
                                PurchaseStatus.ACTIVE)

    tg.fake.push(tg.fake.refunded_payment_update("ch-802"))
    await tg.settle()

    assert await _state(tg) == (OrderStatus.REFUNDED, PaymentStatus.REFUNDED,
                                PurchaseStatus.REVOKED)
    assert len(_texts(tg, 802, "was refunded")) == 1


async def test_the_update_after_our_own_refund_changes_nothing_more(tg):
    await _bought_in_stars(tg, 803, "ch-803")
    await tg.says(tg.fake.user(STAFF, "Staff"), "/refund 1")
    await tg.settle()
    assert await _state(tg) == (OrderStatus.REFUNDED, PaymentStatus.REFUNDED,
                                PurchaseStatus.REVOKED)
    student_before, staff_before = tg.fake.sent_messages(803), tg.fake.sent_messages(STAFF)

    tg.fake.push(tg.fake.refunded_payment_update("ch-803"))
    await tg.settle()

    assert tg.fake.sent_messages(803) == student_before
    assert tg.fake.sent_messages(STAFF) == staff_before
    assert len(_texts(tg, 803, "was refunded")) == 1


async def test_an_unknown_charge_is_flagged_and_changes_nothing(tg, caplog):
    await _bought_in_stars(tg, 804, "ch-804")
    stranger = tg.fake.user(805, "Eve")

    tg.fake.push(tg.fake.refunded_payment_update(
        "ch-unknown", stranger, currency="XTR", total_amount=99, invoice_payload="forged"))
    await tg.settle()

    assert await _state(tg) == (OrderStatus.PAID, PaymentStatus.SUCCEEDED,
                                PurchaseStatus.ACTIVE)
    [alert] = _texts(tg, STAFF, "matches no payment")
    assert "ch-unknown" in alert and "805" in alert and "nothing was changed" in alert
    assert "ch-unknown" in caplog.text
    assert tg.fake.sent_messages(805) == []
