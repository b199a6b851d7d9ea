"""A student buys through the console messenger and the test checkout page."""

from __future__ import annotations

from datetime import timedelta

from core.models import OrderStatus, PurchaseStatus


async def test_student_buys_course_and_gets_open_lessons(harness):
    chat = harness.chat()
    await chat.start()
    assert "Welcome to Test School" in chat.last.text
    await chat.click("Courses")
    assert "Python forever · 49 EUR" in chat.last.labels
    assert "Secret drawing" not in " ".join(chat.last.labels)
    await chat.click("Python forever")
    assert "All lessons, forever." in chat.last.text
    await chat.click("Buy for 49 EUR")
    assert "Order #1" in chat.last.text
    link = await chat.click("Pay 49 EUR")
    assert link.endswith("/pay/" + link.rsplit("/", 1)[1])

    status, html = await harness.pay(link)
    assert status == 200 and 'data-status="paid"' in html
    await harness.deliver()

    confirmation = chat.last
    assert "Payment received! Order #1: Python forever." in confirmation.text
    assert "Your access never ends." in confirmation.text
    assert "▶️ Intro" in confirmation.labels
    assert "▶️ Variables" not in confirmation.labels
    assert "Next lesson: “Variables”" in confirmation.text
    async with harness.uow_factory() as uow:
        order = await uow.orders.get(1)
        assert order.status is OrderStatus.PAID
        [purchase] = await uow.purchases.for_user(order.user_id)
        assert purchase.status is PurchaseStatus.ACTIVE and purchase.ends_at is None


async def test_delayed_lesson_arrives_once_when_its_time_comes(harness, clock):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))
    await harness.deliver()
    before = len(chat.messages)

    clock.advance(timedelta(hours=23))
    await harness.sweep()
    assert len(chat.messages) == before

    clock.advance(timedelta(hours=1))
    await harness.sweep()
    assert len(chat.messages) == before + 1
    assert "A new lesson of “Python” is open: Variables" in chat.last.text
    assert "▶️ Variables" in chat.last.labels

    await harness.sweep()
    clock.advance(timedelta(minutes=5))
    await harness.sweep()
    assert len(chat.messages) == before + 1
