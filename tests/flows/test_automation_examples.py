"""The demo school's automations (school.example.yaml, what run.py and the sandbox load), each
end to end in the chat with the fake clock: Kwiga's paid extension, the unpaid order's
reminder and promo code, the free first lesson's question, the welcome sequence."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Harness

from bots.registry import known_messengers
from core.models import PurchaseStatus
from core.school import School
from core.school_file import load_school
from core.staff import Role, StaffRef

EXAMPLE = Path(__file__).resolve().parents[2] / "school.example.yaml"


@pytest.fixture(scope="module")
def demo_school() -> School:
    school = load_school(EXAMPLE, known_messengers())
    # The file's staff are on Telegram and VK; here the teacher reads the console.
    return dataclasses.replace(school, staff=(StaffRef("console", "teacher", Role.SUPPORT),
                                              *school.staff))


@pytest.fixture
async def demo(uow_factory, demo_school, clock):
    async with Harness(uow_factory, demo_school, clock) as h:
        await h.sweep()  # the platform is up: its sweeps have run once
        yield h


async def buy(h: Harness, chat, offer: str) -> None:  # type: ignore[no-untyped-def]
    await chat.start(offer)
    await chat.click("Buy")
    await h.pay(chat.last.screen.buttons[0].url)
    await h.sweep()


def texts(chat) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text for m in chat.messages]


async def test_kwiga_a_paid_month_extends_the_drawing_course(demo, uow_factory, clock):
    chat = demo.chat(name="Anna")
    await buy(demo, chat, "drawing-club-30d")
    clock.advance(timedelta(days=27, hours=1))  # three days before the end
    await demo.sweep()
    assert chat.last.text == "Your drawing course ends in three days. One more month?"
    await chat.click("+1 month of the drawing course")
    await chat.click("Buy")
    await demo.pay(chat.last.screen.buttons[0].url)
    await demo.sweep()
    assert "Done: your drawing course and Pixel Club run one month longer." in texts(chat)
    async with uow_factory() as uow:
        purchases = {p.offer_code: p for p in await uow.purchases.for_user(1)}
    course = purchases["drawing-club-30d"]
    assert course.status is PurchaseStatus.ACTIVE
    # 30 days from 2 March, then a month from that end: 1 April -> 1 May.
    assert course.ends_at == datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    clock.advance(timedelta(days=5))  # past the old end: still running
    await demo.sweep()
    async with uow_factory() as uow:
        assert (await uow.purchases.get(course.id)).status is PurchaseStatus.ACTIVE


async def test_kwiga_an_extension_with_no_course_to_extend_goes_to_the_staff(demo):
    teacher = demo.chat("teacher", "Teacher")
    await teacher.send("/help")
    chat = demo.chat(name="Bob")
    await buy(demo, chat, "drawing-extension")
    assert any(text.startswith("Thank you! We could not find your drawing course")
               for text in texts(chat))
    assert teacher.last.text.startswith("⚠️ The automation Paid extension: +1 month of "
                                        "drawing could not act for Bob")
    assert teacher.last.screen.buttons[0].action == "sc:2"


async def test_an_unpaid_order_gets_its_pay_button_then_a_promo_code(demo, clock):
    chat = demo.chat(name="Anna")
    await chat.start("python-lifetime")
    await chat.click("Buy")
    clock.advance(timedelta(minutes=59))
    await demo.sweep()
    assert not any("still waiting" in text for text in texts(chat))
    clock.advance(timedelta(minutes=1))
    await demo.sweep()
    assert chat.last.text == "Your order is still waiting for you: it takes a minute to finish."
    await chat.click("Python from zero — forever")  # the order expired: its offer again
    assert "Python from zero — forever" in chat.last.text
    clock.advance(timedelta(days=1))
    await demo.sweep()
    assert chat.last.text.startswith("Still thinking? Here is 10% off")
    await chat.click("Python from zero — forever")
    await chat.click("promo code")
    await chat.send("COMEBACK10")
    assert "44.91 EUR" in chat.last.text
    clock.advance(timedelta(days=3))
    await demo.sweep()  # once only (the offer card took the message's place in the chat)
    async with demo.uow_factory() as uow:
        screens = [m.data["text"]["en"] for m in await uow.outbox.for_user(1)
                   if m.kind == "automation_screen"]
    assert len(screens) == 2 and screens[1].startswith("Still thinking?")


async def test_an_order_paid_meanwhile_gets_no_promo_code(demo, clock):
    chat = demo.chat(name="Anna")
    await chat.start("python-lifetime")
    await chat.click("Buy")
    clock.advance(timedelta(hours=1))
    await demo.sweep()
    assert chat.last.text.startswith("Your order is still waiting")
    await chat.click("Python from zero — forever")
    await chat.click("Buy")
    await demo.pay(chat.last.screen.buttons[0].url)
    clock.advance(timedelta(days=2))
    await demo.sweep()
    assert not any("Still thinking?" in text for text in texts(chat))


async def test_a_free_first_lesson_then_the_course_for_those_who_liked_it(demo, clock):
    chat = demo.chat(name="Anna")
    await chat.send("/courses")
    await chat.click("Python: first lesson free · free")
    await chat.click("Get it free")
    await demo.deliver()
    assert "Install Python and say hello" in " ".join(chat.last.labels)  # the lesson
    clock.advance(timedelta(hours=3))
    await demo.sweep()
    assert chat.last.text == "Did you like the first Python lesson?"
    await chat.click("Yes")
    await demo.deliver()
    assert chat.last.text.startswith("Glad to hear it!")
    assert chat.last.labels == ["Python from zero — forever · 49.90 EUR"]
    await chat.click("Python from zero — forever")
    assert "49.90 EUR" in chat.last.text and "Buy" in " ".join(chat.last.labels)


async def test_a_free_first_lesson_that_missed_something_is_forwarded_to_the_staff(demo,
                                                                                 clock):
    teacher = demo.chat("teacher", "Teacher")
    await teacher.send("/help")
    chat = demo.chat(name="Bob", language="ru")
    await chat.send("/courses")
    await chat.click("первый урок бесплатно")
    await chat.click("Получить бесплатно")
    clock.advance(timedelta(hours=3))
    await demo.sweep()
    await chat.click("Не очень")
    await demo.deliver()
    assert chat.last.text.startswith("Жаль. Чего не хватило?")
    await chat.send("Больше практики")
    await demo.deliver()
    assert chat.last.text == "Спасибо, это очень помогает. Преподаватель вам ответит."
    assert teacher.last.text == ("🤖 First lesson feedback · Bob (#2):\n\nBob did not like "
                                 "the free Python lesson. What was missing: Больше практики")


async def test_a_welcome_sequence_over_three_days_after_a_purchase(demo, uow_factory, clock):
    chat = demo.chat(name="Anna")
    await buy(demo, chat, "python-lifetime")
    assert chat.last.text.startswith("Welcome to Pixel School, Anna!")
    clock.advance(timedelta(days=1))
    await demo.sweep()
    assert chat.last.text.startswith("Day 2:")
    clock.advance(timedelta(hours=23))
    await demo.sweep()
    assert chat.last.text.startswith("Day 2:")
    clock.advance(timedelta(hours=1))
    await demo.sweep()
    assert chat.last.text == ("Day 3: questions? Our members answer each other in Pixel "
                              "Club, and the support is here: @pixel_support.")
    await buy(demo, chat, "english-early-bird")  # a second purchase: no second welcome
    clock.advance(timedelta(days=3))
    await demo.sweep()
    assert sum(text.startswith("Welcome to Pixel School") for text in texts(chat)) == 1
    async with uow_factory() as uow:
        assert [t.tag for t in await uow.tags.of_user(1)] == ["welcomed"]


async def test_asking_for_prices_lists_the_offers(demo):
    chat = demo.chat(language="fr")
    await chat.send("Prix")
    await demo.deliver()
    assert chat.last.text == "Voici ce que nous enseignons :"
    assert chat.last.screen.buttons[2].action == "o:python-first-lesson"
