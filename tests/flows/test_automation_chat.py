"""Automations as a student meets them in the chat (the console messenger, the whole platform,
the fake clock): screens and their buttons, answers by button and by typing, keywords and
commands, /start with a payload, free offers, the staff's notices, a restart mid-wait."""

from __future__ import annotations

from datetime import timedelta

from automation_scene import school_of
from harness import Harness

from core.automations.records import RunStatus
from core.models import OrderStatus
from storage.engine import create_engine, session_factory
from storage.factory import sql_uow_factory
from storage.testing import make_sqlite_uow_factory

QUIZ = {"code": "quiz", "trigger": {"started": "quiz"}, "steps": [
    {"send": {"text": "Hi {name}!", "picture": "https://school.example/hi.png",
              "buttons": [{"offer": "python-life"}, {"url": "https://school.example",
                                                      "label": "Our site"},
                          {"my_courses": True}]}},
    {"ask": {"text": {"en": "Did you like it?", "ru": "Понравилось?"},
             "buttons": [{"answer": "yes", "label": {"en": "Yes", "ru": "Да"}},
                         {"answer": "no", "label": {"en": "No", "ru": "Нет"}}]},
     "on": {"yes": [{"send": {"text": "Great!"}}],
            "no": [{"ask": {"text": "Your email, please?", "expect": "email",
                            "save_as": "email"}},
                   {"notify_staff": "{name} ({email}) did not like it"},
                   {"send": {"text": "Thanks, we will write to {email}."}}]}},
]}
PRICES = {"code": "prices", "repeatable": True, "trigger": {"keyword": ["price", "цена"]},
          "steps": [{"send": {"text": "Prices:", "buttons": [{"offer": "taster"}]}}]}
WEBINAR = {"code": "webinar", "trigger": {"command": "/webinar"},
           "steps": [{"send": {"text": "The webinar is on Friday."}}]}


def harness(uow_factory, clock, *automations) -> Harness:  # type: ignore[no-untyped-def]
    return Harness(uow_factory, school_of(*automations), clock)


async def test_a_screen_shows_its_text_picture_and_buttons(uow_factory, clock):
    async with harness(uow_factory, clock, QUIZ) as h:
        chat = h.chat(name="Anna")
        await chat.start("quiz")
        await h.deliver()
        greeting, question = chat.messages[-2:]
    assert greeting.text == "https://school.example/hi.png\n\nHi Anna!"
    assert greeting.labels == ["Python forever · 49 EUR", "Our site", "🎓 My courses"]
    buttons = greeting.screen.buttons
    assert buttons[0].action == "o:python-life" and buttons[1].url == "https://school.example"
    assert buttons[2].action == "my"
    assert question.text == "Did you like it?" and question.labels == ["Yes", "No"]
    assert len(question.screen.rows) == 1  # answers side by side
    assert question.screen.buttons[0].action.startswith("aa:")


async def test_an_answer_button_answers_once_and_shows_the_answer(uow_factory, clock):
    async with harness(uow_factory, clock, QUIZ) as h:
        bob = h.chat("2002", "Bob")
        await bob.start("quiz")  # run 1
        chat = h.chat(name="Anna", language="ru")
        await chat.start("quiz")  # run 2
        await h.deliver()
        question = chat.last
        yes = question.screen.buttons[0].action
        assert yes == "aa:2:1:yes"
        await chat.click("Да")
        assert question.text == "Понравилось?\n\n✓ Да" and question.labels == []
        await h.deliver()
        assert chat.last.text == "Great!"
        await chat.press(yes, question)  # the same answer again, from a stale client
        assert chat.toasts[-1] == "На этот вопрос уже нельзя ответить."
        stale = "Эта кнопка устарела. Вот меню."
        for tampered in ("aa:1:1:yes", "aa:99:1:yes", "aa:2:1:maybe", "aa:2:x:yes"):
            await chat.press(tampered, question)  # Bob's run, none, no such answer, junk
            assert chat.toasts[-1] == stale
        assert bob.messages[-1].text == "Did you like it?"  # Bob's question still waits


async def test_a_typed_answer_is_checked_before_anything_else_reads_it(uow_factory, clock):
    async with harness(uow_factory, clock, QUIZ, PRICES) as h:
        admin = h.chat("admin", "Boss")
        await admin.send("/help")  # staff who wrote once can be told
        chat = h.chat(name="Anna")
        await chat.start("quiz")
        await h.deliver()
        await chat.click("No")
        await h.deliver()
        assert chat.last.text == "Your email, please?"
        await chat.send("price")  # a keyword, but the question waits for an email
        assert chat.last.text.startswith("That doesn't look like an email address.")
        await chat.send("anna@example.com")
        await h.deliver()
        assert chat.last.text == "Thanks, we will write to anna@example.com."
        staff_note = admin.last
        assert staff_note.text == "🤖 quiz · Anna (#2):\n\nAnna (anna@example.com) did not " \
                                  "like it"
        assert staff_note.screen.buttons[0].action == "sc:2"
        await chat.send("PRICE")  # nothing waits for text any more: the keyword
        await h.deliver()
        assert chat.last.text == "Prices:" and chat.last.labels == ["First lesson · free"]
        await chat.send("hello?")  # no automation wants it: a question to the school
        assert chat.last.text == "✉️ Your message reached the school. We will answer here."


async def test_a_chat_step_takes_typed_text_before_a_waiting_question(uow_factory, clock):
    ask = {"code": "ask", "trigger": {"started": ""}, "steps": [
        {"ask": {"text": "Anything to tell us?", "expect": "text", "save_as": "note"}},
        {"send": {"text": "Noted: {note}"}}]}
    async with harness(uow_factory, clock, ask) as h:
        chat = h.chat()
        await chat.start()
        await h.deliver()
        await chat.start("python-life")  # the offer card ...
        await chat.click("promo code")  # ... waits for a promo code now
        await chat.send("BACK10")
        assert "BACK10" in chat.last.text
        await chat.send("I love it")
        await h.deliver()
        assert chat.last.text == "Noted: I love it"


async def test_keywords_commands_and_start_payloads(uow_factory, clock):
    async with harness(uow_factory, clock, QUIZ, PRICES, WEBINAR) as h:
        chat = h.chat(language="ru")
        await chat.start()  # no payload: not the quiz
        await h.deliver()
        assert "Понравилось?" not in [m.text for m in chat.messages]
        await chat.send("  Цена ")
        await h.deliver()
        assert chat.last.text == "Prices:"
        await chat.send("/webinar")
        await h.deliver()
        assert chat.last.text == "The webinar is on Friday."
        await chat.send("/webinar")  # once per student: the usual answer now
        await h.deliver()
        assert chat.last.text != "The webinar is on Friday."


async def test_a_free_offer_is_given_with_one_button(uow_factory, clock):
    async with harness(uow_factory, clock) as h:
        chat = h.chat()
        await chat.send("/courses")
        assert "First lesson · free" in chat.last.labels
        await chat.click("First lesson")
        assert "Price: free" in chat.last.text
        assert [label for label in chat.last.labels if "🎁" in label] == ["🎁 Get it free"]
        assert not any("Pay" in label or "promo" in label.lower() for label in chat.last.labels)
        await chat.click("Get it free")
        assert chat.last.text.startswith("✅ Order #1 is complete")
        await h.deliver()
        async with uow_factory() as uow:
            [order] = await uow.orders.for_user(1)
            [purchase] = await uow.purchases.for_user(1)
            assert await uow.payments.for_order(order.id) == []
        assert order.free and order.amount == 0 and order.status is OrderStatus.PAID
        assert purchase.products == ("taster",)
        assert any("First lesson" in label for label in chat.last.labels)  # open now


async def test_the_pay_button_pays_the_order_while_it_can_else_opens_the_offer(uow_factory,
                                                                               clock):
    unpaid = {"code": "unpaid", "repeatable": True,
              "trigger": {"order_unpaid": {"after": "PT30M"}},
              "steps": [{"send": {"text": "Finish your order", "buttons": [{"pay": True}]}},
                        {"wait": "PT1H"},
                        {"send": {"text": "Still there?", "buttons": [{"pay": True}]}}]}
    async with harness(uow_factory, clock, unpaid) as h:
        chat = h.chat()
        await h.sweep()
        await chat.start("python-life")
        await chat.click("Buy")
        clock.advance(timedelta(minutes=31))
        await h.sweep()
        assert chat.last.text == "Finish your order"
        [pay] = chat.last.screen.buttons
        assert pay.url is not None and "/pay/" in pay.url  # the order's own checkout page
        clock.advance(timedelta(hours=1))  # the order expired meanwhile (order_ttl PT1H)
        await h.sweep()
        assert chat.last.text == "Still there?"
        assert [b.action for b in chat.last.screen.buttons] == ["o:python-life"]


async def test_a_wait_survives_a_restart_of_the_whole_platform(tmp_path, clock):
    welcome = {"code": "welcome", "trigger": {"offer_paid": "any"}, "steps": [
        {"send": {"text": "Welcome!"}}, {"wait": "P1D"}, {"send": {"text": "Day 2"}}]}
    school = school_of(welcome)
    factory, engine = await make_sqlite_uow_factory(tmp_path)
    try:
        async with Harness(factory, school, clock) as h:
            chat = h.chat()
            await chat.start("python-life")
            await chat.click("Buy")
            await h.pay(chat.last.screen.buttons[0].url)
            await h.sweep()
            assert chat.last.text == "Welcome!"
    finally:
        await factory.close()
        await engine.dispose()
    clock.advance(timedelta(days=2))  # down for two days
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'school.db'}")
    factory = sql_uow_factory(session_factory(engine))
    try:
        async with Harness(factory, school, clock) as h:
            chat = h.chat()
            await h.sweep()
            await h.sweep()
            assert [m.text for m in chat.messages if "Day" in m.text] == ["Day 2"]
            async with factory() as uow:
                [run] = await uow.automation_runs.for_user(1)
            assert run.status is RunStatus.DONE
    finally:
        await factory.close()
        await engine.dispose()
