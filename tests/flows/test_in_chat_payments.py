"""Paying inside the chat (Telegram's invoices), driven through the console messenger with
the same capability: Stars and card invoices, the check before the charge, the charge, and
an admin's refund."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from harness import Harness

from core.models import OrderStatus, PurchaseStatus
from core.money import Money


async def _order_in_stars(harness, chat):
    await chat.start("python-life")
    await chat.click("Buy for 250 ⭐")
    return chat.last.screen.invoice


async def test_a_chat_that_takes_stars_offers_them_beside_the_card_price(stars, harness):
    chat = stars.chat()
    await chat.start("python-life")
    assert chat.last.labels[:2] == ["💳 Buy for 49 EUR", "💳 Buy for 250 ⭐"]
    plain = harness.chat("2")
    await plain.start("python-life")
    assert not any("⭐" in label for label in plain.last.labels)
    await plain.press("bs:python-life")
    assert "out of date" in plain.last.text


async def test_buying_in_stars_sends_an_invoice_for_the_order(stars):
    chat = stars.chat()
    invoice = await _order_in_stars(stars, chat)
    async with stars.uow_factory() as uow:
        [order] = await uow.orders.for_user(1)
    assert (invoice.currency, invoice.amount, invoice.payload) == ("XTR", 250, order.token)
    assert invoice.title == "Python forever"
    assert not any(b.url for b in chat.last.screen.buttons)  # no web page takes Stars


async def test_check_then_payment_grants_once_and_confirms(stars):
    chat = stars.chat()
    invoice = await _order_in_stars(stars, chat)
    assert await chat.check_payment(invoice.payload, "XTR", 250) is None
    for _ in range(3):  # Telegram may deliver the same successful_payment again
        await chat.pay_in_chat(invoice.payload, "XTR", 250, "charge-1")
    await stars.deliver()
    assert sum("Payment received! Order #1" in m.text for m in chat.messages) == 1
    async with stars.uow_factory() as uow:
        [payment] = await uow.payments.for_order(1)
        assert (payment.gateway, payment.gateway_payment_id, payment.details["payer"]) == (
            "telegram", "charge-1", chat.user_id)
        assert len(await uow.purchases.for_user(1)) == 1


async def test_the_check_refuses_what_can_no_longer_be_paid(stars, school, clock):
    chat = stars.chat()
    invoice = await _order_in_stars(stars, chat)
    assert "price" in await chat.check_payment(invoice.payload, "XTR", 1)
    assert "couldn't find" in await chat.check_payment("forged-token", "XTR", 250)
    other = stars.chat("2", "Boris")
    await other.start()
    assert "couldn't find" in await other.check_payment(invoice.payload, "XTR", 250)

    offers = dict(school.offers)
    offers["python-life"] = dataclasses.replace(offers["python-life"], stars=Money(300, "XTR"))
    stars.platform.school.school = dataclasses.replace(school, offers=offers)
    assert "price of this offer has changed" in await chat.check_payment(
        invoice.payload, "XTR", 250)

    stars.platform.school.school = school
    clock.advance(timedelta(hours=2))
    assert "can no longer be paid" in await chat.check_payment(invoice.payload, "XTR", 250)
    async with stars.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.NEW  # the check changes nothing


async def test_the_check_refuses_an_offer_sold_out_since_the_order(stars, school):
    chat = stars.chat()
    invoice = await _order_in_stars(stars, chat)  # no seat limit when ordered
    offers = dict(school.offers)
    offers["python-life"] = dataclasses.replace(offers["python-life"], seats=1)
    stars.platform.school.school = dataclasses.replace(school, offers=offers)
    other = stars.chat("2", "Boris")
    await other.start("python-life")
    await other.click("Buy for 250 ⭐")  # takes the only seat
    assert "all seats are taken" in await chat.check_payment(invoice.payload, "XTR", 250)
    assert await other.check_payment(other.last.screen.invoice.payload, "XTR", 250) is None


async def test_a_card_invoice_where_a_provider_is_configured(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, invoices=frozenset({"EUR", "XTR"})) as h:
        chat = h.chat()
        await chat.start("python-life")
        await chat.click("Buy for 49 EUR")
        assert (chat.last.screen.invoice.currency, chat.last.screen.invoice.amount) == (
            "EUR", 4900)


async def test_an_admin_refunds_a_stars_payment_and_the_access_goes(stars):
    chat = stars.chat()
    invoice = await _order_in_stars(stars, chat)
    await chat.pay_in_chat(invoice.payload, "XTR", 250, "charge-9")
    admin = stars.chat("admin", "Staff")
    await admin.send("/refund 1")
    assert admin.last.text == "Order #1: 250 ⭐ returned, and the access it gave is withdrawn."
    assert [p.gateway_payment_id for p in stars.refunded] == ["charge-9"]
    async with stars.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.REFUNDED
        [purchase] = await uow.purchases.for_user(1)
        assert purchase.status is PurchaseStatus.REVOKED
    await admin.send("/refund 1")
    assert "is not paid (it is refunded)" in admin.last.text
    assert len(stars.refunded) == 1


async def test_refund_is_for_admins_and_stars_payments_only(stars):
    chat = stars.chat()
    await chat.start("python-life")
    await chat.click("Buy for 49 EUR")
    await stars.pay(await chat.click("Pay"))
    await chat.send("/refund 1")
    assert "didn't get that" in chat.last.text  # not an admin: an unknown command
    admin = stars.chat("admin", "Staff")
    for command, answer in (("/refund 1", "was not paid with Telegram Stars"),
                            ("/refund 99", "There is no order #99."),
                            ("/refund abc", "Use: /refund ORDER_NUMBER")):
        await admin.send(command)
        assert answer in admin.last.text
    assert stars.refunded == []
