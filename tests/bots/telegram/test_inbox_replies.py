"""The support inbox on Telegram against the fake Bot API: a student's question is forwarded
to the staff, a staff member answers by replying to the forward (or to a colleague's answer),
and a reply to anything else is not an answer."""

from __future__ import annotations

import dataclasses

import pytest
from telegram_harness import TelegramHarness

from core.inbox import ConversationStatus
from core.staff import AuditResult, Role, StaffRef

SAM, ADA, ANNA = 900, 901, 801
RECEIVED = "✉️ Your message reached the school. We will answer here."


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    school = dataclasses.replace(school, staff=(StaffRef("telegram", str(SAM), Role.SUPPORT),
                                                StaffRef("telegram", str(ADA), Role.ADMIN)))
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        for staff_id, name in ((SAM, "Sam"), (ADA, "Ada")):
            await harness.says(harness.fake.user(staff_id, name), "/start")
        yield harness
    assert fake_telegram.violations == []


async def _replies(tg, user_id: int, text: str, to: dict) -> None:
    """``user_id`` replies in their chat to the bot's message ``to``; waits until it was
    handled and the outbox sent."""
    tg.fake.push(tg.fake.text_update(user_id, text, reply_to=to))
    await tg.settle()


def _texts(tg, chat_id: int) -> list[str]:
    return [m["text"] for m in tg.fake.sent_messages(chat_id)]


async def test_a_staff_member_answers_by_replying_to_the_forward(tg):
    anna = tg.fake.user(ANNA, "Anna")
    await tg.says(anna, "Where is lesson 2?")
    assert tg.fake.last_message(ANNA)["text"] == RECEIVED
    await tg.settle()

    forward = tg.fake.last_message(SAM)
    assert forward["text"] == ("💬 Anna (#3) · telegram:801 — conversation #1:\n\nWhere is "
                               "lesson 2?\n\n↩️ Reply to this message to answer, or press "
                               "“Answer”.")
    assert [b["callback_data"] for b in tg.keyboard(SAM)] == ["sc:3", "ia:1", "ic:1"]
    async with tg.uow_factory() as uow:  # the forward is known by its Telegram message id
        sam = await uow.users.identity("telegram", str(SAM))
        sent = await uow.outbox.sent_as(sam.id, str(forward["message_id"]))
    assert sent.kind == "inbox_question"

    await _replies(tg, SAM, "It opens on Friday.", to=forward)
    assert tg.fake.last_message(SAM)["text"] == ("✅ Your answer to Anna (#3) goes to their "
                                                 "Telegram chat.")

    assert tg.fake.last_message(ANNA)["text"] == "💬 Test School answers:\nIt opens on Friday."
    note = tg.fake.last_message(ADA)
    assert note["text"] == ("✅ Sam answered Anna (#3) — conversation #1:\n\nIt opens on "
                            "Friday.")

    # A colleague replies to that note: it answers the same conversation.
    await _replies(tg, ADA, "And the recording is online.", to=note)
    assert tg.fake.last_message(ANNA)["text"].endswith("And the recording is online.")

    async with tg.uow_factory() as uow:
        conversation = await uow.conversations.get(1)
        messages = [(m.author, m.text) for m in await uow.conversations.messages(1, 10)]
        audit = list(reversed(await uow.audit.latest(10)))
    assert conversation.status is ConversationStatus.OPEN
    assert messages == [("", "Where is lesson 2?"), ("telegram:900", "It opens on Friday."),
                        ("telegram:901", "And the recording is online.")]
    assert [(e.actor, e.action, e.result, e.user_id, e.detail) for e in audit] == [
        ("telegram:900", "inbox.answer", AuditResult.DONE, 3,
         "conversation #1: answer sent to telegram:801"),
        ("telegram:901", "inbox.answer", AuditResult.DONE, 3,
         "conversation #1: answer sent to telegram:801"),
    ]


async def test_a_reply_to_any_other_message_is_not_an_answer(tg):
    anna = tg.fake.user(ANNA, "Anna")
    await tg.says(anna, "Question one")
    await tg.settle()
    welcome = tg.fake.sent_messages(SAM)[0]  # the bot's answer to the staff member's /start
    assert welcome["text"].startswith("Welcome")

    await _replies(tg, SAM, "note to self", to=welcome)

    assert "didn't get that" in tg.fake.last_message(SAM)["text"]
    assert _texts(tg, ANNA) == [RECEIVED]  # nothing went to the student
    async with tg.uow_factory() as uow:
        assert [(m.author, m.text) for m in await uow.conversations.messages(1, 10)] == [
            ("", "Question one")]

    # A student's reply to the bot's message is a question like any other.
    await _replies(tg, ANNA, "Question two", to=tg.fake.last_message(ANNA))
    assert tg.fake.last_message(SAM)["text"].startswith(
        "💬 Anna (#3) · telegram:801 — conversation #1:\n\nQuestion two")


async def test_answering_with_the_button_on_telegram(tg):
    anna = tg.fake.user(ANNA, "Anna")
    await tg.says(anna, "Can I get an invoice?")
    await tg.settle()

    await tg.presses(tg.fake.user(SAM, "Sam"), "ia:1", wait_for="sendMessage")
    assert tg.fake.last_message(SAM)["text"].startswith("✍️ Type your answer to Anna (#3)")
    await tg.says(tg.fake.user(SAM, "Sam"), "Sure, sent by email.")
    await tg.settle()

    assert tg.fake.last_message(ANNA)["text"] == "💬 Test School answers:\nSure, sent by email."
