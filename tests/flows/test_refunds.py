"""Money that grants nothing reaches the school's staff: an alert in the admin's chat, the
``/refunds`` list (for admins only), and ``/refund`` returning just that money."""

from __future__ import annotations

from core.models import OrderStatus, PurchaseStatus


async def _paid_twice(stars):
    """Anna pays her Stars order, then the same order again."""
    chat = stars.chat("1001", "Anna")
    await chat.start("python-life")
    await chat.click("Buy for 250 ⭐")
    payload = chat.last.screen.invoice.payload
    await chat.pay_in_chat(payload, "XTR", 250, "charge-1")
    await chat.pay_in_chat(payload, "XTR", 250, "charge-2")
    await stars.deliver()
    return chat


async def test_the_admin_is_alerted_lists_and_returns_the_extra_money(stars):
    admin = stars.chat("admin", "Olga")
    await admin.send("/start")  # the bot can write only to those who wrote to it
    chat = await _paid_twice(stars)
    assert "The money will be returned" in chat.last.text

    assert admin.last.text.startswith(
        "⚠️ Money to return: 250 ⭐ (telegram) from Anna for order #1 gives nothing: "
        "the order was already paid or closed")
    await admin.send("/refunds")
    lines = admin.last.text.splitlines()
    assert lines[0] == "Money to return (oldest first):"
    assert lines[1] == ("• Order #1 · Anna (#2) · 250 ⭐ · telegram · the order was already "
                        "paid or closed, or the student has this already · Mar 2, 2026")

    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 250 ⭐ returned; the access the order gives stays."
    assert [p.gateway_payment_id for p in stars.refunded] == ["charge-2"]
    async with stars.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        [purchase] = await uow.purchases.for_user(2)
        assert purchase.status is PurchaseStatus.ACTIVE
    await admin.send("/refunds")
    assert admin.last.text == "No money is waiting to be returned."


async def test_refunds_does_not_exist_for_students(stars):
    chat = await _paid_twice(stars)
    await chat.send("/refunds")
    assert "didn't get that" in chat.last.text


async def test_stars_go_back_only_in_full(stars):
    admin = stars.chat("admin", "Olga")
    await admin.send("/start")
    chat = stars.chat("1001", "Anna")
    await chat.start("python-life")
    await chat.click("Buy for 250 ⭐")
    await chat.pay_in_chat(chat.last.screen.invoice.payload, "XTR", 250, "charge-1")

    await admin.send("/refund 1 100")

    assert admin.last.text == (
        "Order #1 was paid through a gateway that gives money back only in full (Telegram "
        "Stars): use /refund 1 without an amount. Nothing was refunded.")
    assert stars.refunded == []
    async with stars.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        [payment] = await uow.payments.for_order(1)
        assert payment.refunded_amount == 0
    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 250 ⭐ returned, and the access it gave is withdrawn."
