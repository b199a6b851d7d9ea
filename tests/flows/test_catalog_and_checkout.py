"""Browsing, deep links, promo codes, seats and cancelling, as a student sees them."""

from __future__ import annotations

from datetime import timedelta

from core.models import OrderStatus


async def test_deep_link_opens_the_offer_and_records_attribution(harness):
    chat = harness.chat()
    await chat.start("o-python-30__src-instagram__med-story__cmp-spring")
    assert chat.last.text.startswith("Python 30 days")
    assert "Access: 30 days" in chat.last.text
    async with harness.uow_factory() as uow:
        user = await uow.users.get(1)
    assert (user.start_offer, user.utm_source, user.utm_medium, user.utm_campaign) == (
        "python-30", "instagram", "story", "spring")


async def test_referral_link_records_the_referrer(harness):
    anna = harness.chat("1", "Anna")
    await anna.start()
    async with harness.uow_factory() as uow:
        code = (await uow.users.get(1)).referral_code
    boris = harness.chat("2", "Boris")
    await boris.start(f"ref-{code}")
    async with harness.uow_factory() as uow:
        assert (await uow.users.get(2)).referred_by == code


async def test_hidden_offer_only_through_its_deep_link(harness):
    chat = harness.chat()
    await chat.start()
    await chat.click("Courses")
    assert not any("Secret" in label for label in chat.last.labels)
    await chat.start("secret")
    assert "Secret drawing" in chat.last.text
    await chat.click("Buy")
    assert "Order #1" in chat.last.text


async def test_offer_not_yet_on_sale_is_not_listed_nor_buyable(harness, clock):
    chat = harness.chat()
    await chat.start("later")
    assert "isn't available right now" in chat.last.text
    assert not any("Buy" in label for label in chat.last.labels)
    clock.advance(timedelta(days=61))
    await chat.start("later")
    assert any("Buy for 30 EUR" in label for label in chat.last.labels)


async def test_promo_code_lowers_the_price(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("promo code")
    assert "Send me your promo code" in chat.last.text
    await chat.send("ten")
    assert "Code TEN applied." in chat.last.text
    assert "Price: 44.10 EUR instead of 49 EUR (code TEN)" in chat.last.text
    await chat.click("Buy for 44.10 EUR")
    assert "To pay: 44.10 EUR" in chat.last.text


async def test_wrong_and_expired_promo_codes_are_refused(harness):
    chat = harness.chat()
    await chat.start("python-30")
    for code in ("NOPE", "OLD", "PYONLY"):
        await chat.click("promo code")
        await chat.send(code)
        assert f"Code {code} doesn't work for this offer." in chat.last.text
        assert "Price: 19.90 EUR" in chat.last.text


async def test_fixed_discount_never_goes_below_the_minimum(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("promo code")
    await chat.send("minus100")
    assert "Price: 1 EUR instead of 49 EUR" in chat.last.text


async def test_full_discount_completes_without_payment(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("promo code")
    await chat.send("FREE")
    await chat.click("Get it free")
    assert "Order #1 is complete, no payment needed." in chat.last.text
    await harness.deliver()
    assert "Access activated without payment. Order #1" in chat.last.text
    async with harness.uow_factory() as uow:
        assert (await uow.orders.get(1)).status is OrderStatus.PAID
        assert await uow.payments.for_order(1) == []


async def test_used_up_single_use_code_is_refused_for_the_next_student(harness):
    first, second = harness.chat("1"), harness.chat("2")
    for chat in (first, second):
        await chat.start("python-life")
        await chat.click("promo code")
        await chat.send("FREE")
    await first.click("Get it free")
    await second.click("Get it free")
    assert "Code FREE has been used up." in second.last.text
    async with harness.uow_factory() as uow:
        assert await uow.orders.for_user(2) == []


async def test_buying_twice_reuses_the_open_order(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    first = await chat.click("Pay")
    await chat.click("Back")
    await chat.click("Buy")
    assert await chat.click("Pay") == first
    async with harness.uow_factory() as uow:
        assert len(await uow.orders.for_user(1)) == 1


async def test_last_seat_then_sold_out_and_cancel_gives_the_seat_back(harness):
    a, b, c = harness.chat("1"), harness.chat("2"), harness.chat("3")
    for chat in (a, b):
        await chat.start("drawing-seats")
        await chat.click("Buy")
    await c.start("drawing-seats")
    assert "Seats left: 0" in c.last.text
    assert "all seats are taken" in c.last.text
    await a.click("Cancel order")
    assert "Order #1 is cancelled." in a.last.text
    await c.start("drawing-seats")
    assert "Seats left: 1" in c.last.text
    await c.click("Buy")
    assert "Order #3" in c.last.text


async def test_unpaid_order_expires_and_releases_its_seat(harness, clock):
    chat = harness.chat()
    await chat.start("drawing-seats")
    await chat.click("Buy")
    clock.advance(timedelta(hours=1, seconds=1))
    await harness.sweep()
    async with harness.uow_factory() as uow:
        order = await uow.orders.get(1)
        assert (order.status, order.close_reason) == (OrderStatus.CANCELLED, "expired")
        assert await uow.counters.used("seats:drawing-seats") == 0


async def test_lifetime_course_cannot_be_bought_twice(harness):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    await chat.start("python-life")
    assert "You already have this" in chat.last.text
    await chat.press("b:python-life")
    assert "You already have this" in chat.last.text
    async with harness.uow_factory() as uow:
        assert len(await uow.orders.for_user(1)) == 1


async def test_renewal_offer_only_for_holders(harness):
    chat = harness.chat()
    await chat.start("club-extend")
    assert "for students who already have this access" in chat.last.text
    await chat.press("b:club-extend")
    async with harness.uow_factory() as uow:
        assert await uow.orders.for_user(1) == []
