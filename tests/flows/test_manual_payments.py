"""``/paid``: an admin confirms an order paid outside any gateway (bank transfer, cash); it
grants as a gateway payment would, and the admin is told exactly what changed."""

from __future__ import annotations

import pytest

from core.models import OrderStatus, PaymentStatus, PurchaseStatus


async def _ordered(harness):
    """Anna orders “Python forever” (49 EUR) and does not pay online."""
    chat = harness.chat("1001", "Anna")
    await chat.start("python-life")
    await chat.click("Buy")
    assert "Order #1" in chat.last.text
    return chat


async def _admin(harness):
    admin = harness.chat("admin", "Olga")
    await admin.send("/start")  # the bot can write only to those who wrote to it
    return admin


async def _state(harness):
    async with harness.uow_factory() as uow:
        order = await uow.orders.get(1)
        return (order.status, await uow.payments.for_order(1),
                await uow.purchases.for_user(order.user_id))


async def test_an_admin_confirms_a_bank_transfer_and_the_student_gets_access(harness):
    chat = await _ordered(harness)
    admin = await _admin(harness)

    await admin.send("/paid 1 49 bank transfer of May 3")
    assert admin.last.text == ("✅ Order #1 is paid: 49 EUR recorded as paid by hand (note: "
                               "bank transfer of May 3). Anna now has “Python forever”.")
    await harness.deliver()
    assert "Payment received! Order #1: Python forever." in chat.last.text

    status, [payment], [purchase] = await _state(harness)
    assert status is OrderStatus.PAID and purchase.status is PurchaseStatus.ACTIVE
    assert (payment.gateway, payment.amount, payment.currency, payment.status) == (
        "manual", 4900, "EUR", PaymentStatus.SUCCEEDED)
    assert payment.details == {"confirmed_by": "console:admin",
                               "note": "bank transfer of May 3"}

    await admin.send("/paid #1 49,00 bank transfer of May 3")
    assert admin.last.text == ("49 EUR for order #1 with this note was recorded before: "
                               "nothing changed.")
    assert len((await _state(harness))[1]) == 1


async def test_too_little_grants_nothing_until_the_rest_is_confirmed(harness):
    chat = await _ordered(harness)
    admin = await _admin(harness)

    await admin.send("/paid 1 20 cash")
    assert admin.last.text == (
        "Order #1: 20 EUR recorded as paid by hand; 20 EUR of 49 EUR received, so no access "
        "yet. Confirm the rest with /paid, or return the money (/refunds lists it).")
    status, _, purchases = await _state(harness)
    assert (status, purchases) == (OrderStatus.PARTIALLY_PAID, [])
    await harness.deliver()
    assert admin.last.text.startswith("⚠️ Money to return: 20 EUR (manual) from Anna for "
                                      "order #1 gives nothing")

    await admin.send("/paid 1 29 cash, the rest")
    assert admin.last.text.startswith("✅ Order #1 is paid: 29 EUR recorded as paid by hand")
    await harness.deliver()
    assert "Payment received! Order #1" in chat.last.text
    status, payments, [purchase] = await _state(harness)
    assert status is OrderStatus.PAID and [p.refund_reason for p in payments] == [None, None]
    await admin.send("/refunds")
    assert admin.last.text == "No money is waiting to be returned."


async def test_a_part_of_money_paid_by_hand_is_recorded_returned_across_payments(harness):
    await _ordered(harness)
    admin = await _admin(harness)
    await admin.send("/paid 1 20 cash")
    await admin.send("/paid 1 29 cash, the rest")

    await admin.send("/refund 1 25")

    assert admin.last.text == (
        "Order #1: 25 EUR returned; the access stays.\n✋ 25 EUR of it was paid by hand "
        "(/paid): give it back yourself; the bot only recorded it as returned.")
    status, payments, [purchase] = await _state(harness)
    assert (status, purchase.status) == (OrderStatus.PAID, PurchaseStatus.ACTIVE)
    assert [(p.amount, p.refunded_amount, p.status) for p in payments] == [
        (2000, 2000, PaymentStatus.SUCCEEDED), (2900, 500, PaymentStatus.SUCCEEDED)]
    await admin.send("/refund 1 24.01")
    assert admin.last.text.startswith("Order #1: 24.01 EUR is more than the 24 EUR left")


async def test_another_currency_grants_nothing_and_is_listed_to_return(harness):
    await _ordered(harness)
    admin = await _admin(harness)

    await admin.send("/paid 1 49 usd")
    assert admin.last.text == ("Order #1 is priced in EUR: 49 USD recorded as money to "
                               "return, no access given (/refunds lists it).")
    status, [payment], purchases = await _state(harness)
    assert (status, purchases, payment.refund_reason) == (
        OrderStatus.PARTIALLY_PAID, [], "currency")


async def test_an_order_paid_already_records_the_money_to_return(harness):
    chat = await _ordered(harness)
    await harness.pay(await chat.click("Pay"))
    admin = await _admin(harness)

    await admin.send("/paid 1 49 cash")
    assert admin.last.text == (
        "Order #1 was already paid or closed, or the student already has this: 49 EUR "
        "recorded as money to return, no access given (/refunds lists it).")
    _, payments, [purchase] = await _state(harness)
    assert [(p.gateway, p.refund_reason) for p in payments] == [("test", None),
                                                                ("manual", "extra")]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/paid", "Use: /paid ORDER_NUMBER AMOUNT [CURRENCY] [note]"),
        ("/paid 1", "Use: /paid ORDER_NUMBER AMOUNT [CURRENCY] [note]"),
        ("/paid one 49", "Use: /paid ORDER_NUMBER AMOUNT [CURRENCY] [note]"),
        ("/paid 7 49", "There is no order #7."),
        ("/paid 1 forty", "“forty” is not an amount in EUR above zero."),
        ("/paid 1 -49", "“-49” is not an amount in EUR above zero."),
        ("/paid 1 0", "“0” is not an amount in EUR above zero."),
        ("/paid 1 49.999", "“49.999” is not an amount in EUR above zero."),
        ("/paid 1 49 " + "x" * 201, "The note is too long: at most 200 characters."),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_changes_nothing(harness, command, answer):
    await _ordered(harness)
    admin = await _admin(harness)

    await admin.send(command)

    assert admin.last.text.startswith(answer)
    assert await _state(harness) == (OrderStatus.NEW, [], [])


async def test_paid_does_not_exist_for_students(harness, caplog):
    chat = await _ordered(harness)

    await chat.send("/paid 1 49 cash")

    assert "didn't get that" in chat.last.text
    assert await _state(harness) == (OrderStatus.NEW, [], [])
    assert "refused /paid 1 49 cash from console:1001: not staff" in caplog.text
    async with harness.uow_factory() as uow:
        [line] = await uow.audit.latest(5)
    assert (line.actor, line.action, line.result, line.subject, line.detail) == (
        "console:1001", "/paid", "refused", "1 49 cash", "not staff")


async def test_refund_of_money_paid_by_hand_is_recorded_and_withdraws_the_access(harness):
    chat = await _ordered(harness)
    admin = await _admin(harness)
    await admin.send("/paid 1 49 cash")

    await admin.send("/refund 1")

    assert admin.last.text == (
        "Order #1: 49 EUR returned, and the access it gave is withdrawn.\n"
        "✋ 49 EUR of it was paid by hand (/paid): give it back yourself; the bot only "
        "recorded it as returned.")
    status, [payment], [purchase] = await _state(harness)
    assert (status, payment.status, purchase.status) == (
        OrderStatus.REFUNDED, PaymentStatus.REFUNDED, PurchaseStatus.REVOKED)
    await harness.deliver()
    assert "refunded, so the access it gave was withdrawn" in chat.last.text


async def test_too_little_paid_by_hand_is_returned_and_leaves_the_list(harness):
    await _ordered(harness)
    admin = await _admin(harness)
    await admin.send("/paid 1 20 cash")

    await admin.send("/refund 1")

    assert admin.last.text.startswith(
        "Order #1: 20 EUR returned; the access the order gives stays.\n✋ 20 EUR of it")
    await admin.send("/refunds")
    assert admin.last.text == "No money is waiting to be returned."
