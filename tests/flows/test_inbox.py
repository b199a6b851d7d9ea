"""The support inbox: a student's free text reaches every staff member who may answer it,
the student is told once per burst, staff answer with the button (replies on Telegram are in
tests/bots/telegram/test_inbox_replies.py), the answer goes back where the student wrote from,
conversations close and reopen, and staff actions are guarded and audited."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from bots.console import ConsoleMessenger
from core.inbox import ConversationStatus
from core.models import OutboxStatus
from core.staff import AuditResult, Role, StaffRef

READERS = {"owner": "Olga", "admin": "Ada", "mgr": "Max", "help": "Sam"}
RECEIVED = "✉️ Your message reached the school. We will answer here."


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "admin", Role.ADMIN),
        StaffRef("console", "mgr", Role.MANAGER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


@pytest.fixture
async def staff(harness):
    """Every staff member has written to the bot (a messenger lets it write back only then)."""
    chats = {account: harness.chat(account, name) for account, name in READERS.items()}
    for chat in chats.values():
        await chat.send("/start")
    return chats


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return list(reversed(await uow.audit.latest(50, **only)))


async def _conversations(harness):
    async with harness.uow_factory() as uow:
        found = [*await uow.conversations.latest(ConversationStatus.OPEN, 50),
                 *await uow.conversations.latest(ConversationStatus.CLOSED, 50)]
        return {c.id: (c, [(m.author, m.text) for m in await uow.conversations.messages(c.id, 50)])
                for c in sorted(found, key=lambda c: c.id)}


async def _user_id(harness, messenger, external_id):
    async with harness.uow_factory() as uow:
        return (await uow.users.identity(messenger, external_id)).user_id


async def test_a_question_reaches_every_reader_and_the_student_is_told_once_per_burst(
        harness, staff, clock):
    anna, boris = harness.chat("1001", "Anna"), harness.chat("1002", "Boris")
    await boris.start()
    await anna.send("How long is the course?")

    assert anna.last.text == RECEIVED and anna.last.labels == ["🏠 Menu"]
    await harness.deliver()
    anna_id = await _user_id(harness, "console", "1001")
    for chat in staff.values():  # every role has the inbox right: owner, admin, manager, support
        forward = chat.last
        assert forward.text == (f"💬 Anna (#{anna_id}) · console:1001 — conversation #1:\n\n"
                                "How long is the course?\n\nPress “Answer” to answer.")
        assert [(b.text, b.action) for b in forward.screen.buttons] == [
            ("🪪 Card", f"sc:{anna_id}"), ("✍️ Answer", "ia:1"), ("✅ Close", "ic:1")]
    assert "conversation" not in boris.last.text  # another student sees nothing of it

    told = len(anna.messages)
    clock.advance(timedelta(minutes=4))
    await anna.send("And is there homework?")
    clock.advance(timedelta(minutes=9))  # 9 minutes after the last line: the same burst
    await anna.send("Thanks!")
    assert len(anna.messages) == told  # not told again on every line
    await harness.deliver()
    assert staff["help"].last.text.startswith(f"💬 Anna (#{anna_id}) · console:1001 — "
                                              "conversation #1:\n\nThanks!")

    clock.advance(timedelta(minutes=10))
    await anna.send("Hello again?")
    assert len(anna.messages) == told + 1 and anna.last.text == RECEIVED

    [(conversation, messages)] = (await _conversations(harness)).values()
    assert conversation.status is ConversationStatus.OPEN and conversation.user_id == anna_id
    assert messages == [("", "How long is the course?"), ("", "And is there homework?"),
                        ("", "Thanks!"), ("", "Hello again?")]
    assert [line.action for line in await _audit(harness)] == []  # a student's message is not
    # a staff action


async def test_staff_answer_with_the_button_and_the_others_see_it(harness, staff):
    anna = harness.chat("1001", "Anna")
    await anna.send("Is lesson 3 out?")
    await harness.deliver()
    anna_id = await _user_id(harness, "console", "1001")
    sam = staff["help"]

    await sam.click("Answer")
    assert sam.last.text == (f"✍️ Type your answer to Anna (#{anna_id}), conversation #1. It "
                             "goes to their console chat. /menu cancels.")
    await sam.send("Yes, since this morning.")
    assert sam.last.text == f"✅ Your answer to Anna (#{anna_id}) goes to their console chat."
    await harness.deliver()

    assert anna.last.text == "💬 Test School answers:\nYes, since this morning."
    assert anna.last.labels == ["🏠 Menu"]
    for account in ("owner", "admin", "mgr"):
        assert staff[account].last.text == (
            f"✅ Sam answered Anna (#{anna_id}) — conversation #1:\n\nYes, since this morning.")
    assert "answered" not in sam.last.text  # the one who answered is not told of it again
    [(_, messages)] = (await _conversations(harness)).values()
    assert messages == [("", "Is lesson 3 out?"), ("console:help", "Yes, since this morning.")]

    lines = [(e.actor, e.action, e.result, e.user_id, e.detail) for e in await _audit(harness)]
    assert lines == [
        ("console:help", "inbox.answer", AuditResult.NOTHING, anna_id,
         "conversation #1: typing an answer"),
        ("console:help", "inbox.answer", AuditResult.DONE, anna_id,
         "conversation #1: answer sent to console:1001"),
    ]
    await sam.send("see you at lunch")  # the answer step is over: plain text again
    assert "didn't get that" in sam.last.text


async def test_an_answer_too_long_changes_nothing_and_waits_for_a_shorter_one(harness, staff):
    anna = harness.chat("1001", "Anna")
    await anna.send("Question?")
    await harness.deliver()
    sam = staff["help"]
    await sam.click("Answer")

    await sam.send("x" * 3501)

    assert sam.last.text == ("The answer is too long (3501 characters, at most 3500): nothing "
                             "was sent. Type a shorter one.")
    anna_id = await _user_id(harness, "console", "1001")
    async with harness.uow_factory() as uow:
        assert await uow.outbox.for_user(anna_id) == []
    await sam.send("Short.")
    await harness.deliver()
    assert anna.last.text.endswith("Short.")
    assert [e.result for e in await _audit(harness, actor="console:help")] == [
        AuditResult.NOTHING, AuditResult.NOTHING, AuditResult.DONE]  # pressed, too long, sent


@pytest.fixture
async def vk(harness):
    """A second messenger, "vk" (a console standing in for it)."""
    vk = ConsoleMessenger(name="vk")
    harness.platform.channels["vk"] = vk
    await vk.run(harness.platform.flows.handle)
    return vk


async def _linked(anna, phone) -> None:
    """Anna links her VK account to her console one and wants messages on the console."""
    await anna.send("/menu")
    await anna.click("Link another messenger")
    code = re.search(r"\b([A-Z2-9]{8})\b", anna.last.text).group(1)
    await phone.send(f"/link {code}")
    assert "now one account" in phone.last.text
    await anna.send("/menu")
    await anna.click("Link another messenger")
    await anna.click("Messages to Console")


async def test_the_answer_goes_to_the_messenger_the_student_wrote_from(harness, staff, vk):
    anna, phone = harness.chat("1001", "Anna"), vk.chat("v-1001", "Anna")
    await _linked(anna, phone)

    await phone.send("Can I pay in two parts?")  # from VK, though she prefers the console
    assert phone.last.text == RECEIVED
    await harness.deliver()
    anna_id = await _user_id(harness, "console", "1001")
    assert await _user_id(harness, "vk", "v-1001") == anna_id
    sam = staff["help"]
    assert sam.last.text.startswith(f"💬 Anna (#{anna_id}) · vk:v-1001 — conversation #1")
    before = len(anna.messages)

    await sam.click("Answer")
    assert "It goes to their VK chat." in sam.last.text
    await sam.send("Yes: write to us after the first.")
    await harness.deliver()

    assert phone.last.text == "💬 Test School answers:\nYes: write to us after the first."
    assert len(anna.messages) == before  # nothing went to the console chat

    # She blocks the bot on VK: the next answer reaches her on the console instead.
    vk.blocked.add("v-1001")
    await sam.click("Answer")
    await sam.send("Also: the second part is due in a month.")
    await harness.deliver()
    assert anna.last.text.endswith("the second part is due in a month.")
    async with harness.uow_factory() as uow:
        console = await uow.users.identity("console", "1001")
        [first, second] = [m for m in await uow.outbox.for_user(anna_id)
                           if m.kind == "inbox_answer"]
    assert (first.status, second.status) == (OutboxStatus.SENT, OutboxStatus.SENT)
    assert second.identity_id == console.id


async def test_closing_and_a_new_message_opening_a_new_conversation(harness, staff):
    anna = harness.chat("1001", "Anna")
    await anna.send("Where is the certificate?")
    await harness.deliver()
    anna_id = await _user_id(harness, "console", "1001")
    ada = staff["admin"]

    await ada.click("Close")
    assert ada.last.text == (f"✅ Conversation #1 with Anna (#{anna_id}) is closed. Their next "
                             "message opens a new one.")
    await ada.press("ic:1")  # pressed again (or by a colleague meanwhile)
    assert ada.last.text == "Conversation #1 was closed already: nothing changed."

    await ada.press("ia:1")  # an answer to a closed conversation still reaches her
    await ada.send("It is in the mail.")
    await harness.deliver()
    assert anna.last.text == "💬 Test School answers:\nIt is in the mail."

    await anna.send("Still no certificate.")
    assert anna.last.text == RECEIVED  # a new conversation: told again
    await harness.deliver()
    assert ada.last.text.startswith(f"💬 Anna (#{anna_id}) · console:1001 — conversation #2:")

    found = await _conversations(harness)
    assert [(c.status, c.closed_by, messages) for c, messages in found.values()] == [
        (ConversationStatus.CLOSED, "console:admin", [("", "Where is the certificate?"),
                                                      ("console:admin", "It is in the mail.")]),
        (ConversationStatus.OPEN, "", [("", "Still no certificate.")]),
    ]
    assert [(e.action, e.result, e.user_id, e.detail)
            for e in await _audit(harness, actor="console:admin")] == [
        ("inbox.close", AuditResult.DONE, anna_id, "conversation #1 closed"),
        ("inbox.close", AuditResult.NOTHING, anna_id, "conversation #1 was closed already"),
        ("inbox.answer", AuditResult.NOTHING, anna_id, "conversation #1: typing an answer"),
        ("inbox.answer", AuditResult.DONE, anna_id,
         "conversation #1: answer sent to console:1001"),
    ]


async def test_the_inbox_lists_open_and_closed_conversations(harness, staff, clock):
    anna, boris = harness.chat("1001", "Anna"), harness.chat("1002", "Boris")
    await anna.send("First question")
    clock.advance(timedelta(minutes=1))
    await boris.send("Second question")
    await harness.deliver()
    sam = staff["help"]
    await sam.press("ic:1")
    clock.advance(timedelta(minutes=1))
    await anna.send("Anna again")
    anna_id, boris_id = (await _user_id(harness, "console", "1001"),
                         await _user_id(harness, "console", "1002"))

    await sam.send("/inbox")
    assert sam.last.text.splitlines() == [
        "Open conversations (2), newest first:",
        f"#3 · Anna (#{anna_id}) · Mar 2, 2026 10:02 · ⏳ waiting",
        "   Anna again",
        f"#2 · Boris (#{boris_id}) · Mar 2, 2026 10:01 · ⏳ waiting",
        "   Second question",
    ]
    assert sam.last.labels == ["#3 Anna", "#2 Boris"]

    await sam.click("#2 Boris")  # opens the conversation in place of the list
    assert sam.last.text == (f"Conversation #2 with Boris (#{boris_id}) · console:1002 · open"
                             "\n\nMar 2, 2026 10:01 Boris: Second question")
    assert sam.last.labels == ["🪪 Card", "✍️ Answer", "✅ Close", "📥 Inbox"]
    await sam.click("Answer")
    await sam.send("Hello Boris.")
    await sam.send("/inbox")
    assert f"#2 · Boris (#{boris_id}) · Mar 2, 2026 10:02 · ✅ answered" in sam.last.text

    await sam.send("/inbox closed")
    assert sam.last.text.splitlines() == [
        "Closed conversations, the latest 1:",
        f"#1 · Anna (#{anna_id}) · Mar 2, 2026 10:00 · ⏳ waiting",
        "   First question",
    ]
    await sam.click("#1 Anna")
    assert sam.last.text.startswith(f"Conversation #1 with Anna (#{anna_id}) · console:1001 · "
                                    "closed Mar 2, 2026 10:01 by console:help")
    assert "✅ Close" not in sam.last.labels

    await sam.send("/inbox everything")
    assert sam.last.text.startswith("Use: /inbox")
    assert [(e.action, e.detail) for e in await _audit(harness, actor="console:help")
            if e.action in ("/inbox", "inbox.open")] == [
        ("/inbox", "listed 2 open conversations"),
        ("inbox.open", "read conversation #2"),
        ("/inbox", "listed 2 open conversations"),
        ("/inbox", "listed 1 closed conversations"),
        ("inbox.open", "read conversation #1"),
        ("/inbox", "usage shown"),
    ]


async def test_a_strangers_forged_answer_and_close_are_refused_and_audited(harness, staff):
    anna, mallory = harness.chat("1001", "Anna"), harness.chat("666", "Mallory")
    await mallory.start()
    await anna.send("Question")
    await harness.deliver()

    await mallory.press("ia:1")
    assert mallory.toasts[-1] == "This button is not for you."
    await mallory.send("I am staff now")  # not an answer: her own question to the school
    await mallory.press("ic:1")
    assert mallory.toasts[-1] == "This button is not for you."
    await mallory.send("/inbox")
    assert "didn't get that" in mallory.last.text

    found = await _conversations(harness)
    assert [(c.user_id, c.status, m) for c, m in found.values()] == [
        (await _user_id(harness, "console", "1001"), ConversationStatus.OPEN, [("", "Question")]),
        (await _user_id(harness, "console", "666"), ConversationStatus.OPEN,
         [("", "I am staff now")]),
    ]
    assert [(e.action, e.result, e.subject, e.detail)
            for e in await _audit(harness, actor="console:666")] == [
        ("inbox.answer", AuditResult.REFUSED, "1", "not staff"),
        ("inbox.close", AuditResult.REFUSED, "1", "not staff"),
        ("/inbox", AuditResult.REFUSED, "", "not staff"),
    ]
    await harness.deliver()
    assert anna.last.text == RECEIVED  # Anna got nothing from Mallory's presses


async def test_a_button_for_a_conversation_that_does_not_exist_is_stale_and_audited(
        harness, staff):
    sam = staff["help"]
    await sam.press("ic:99")
    assert "out of date" in sam.last.text
    [line] = await _audit(harness, actor="console:help")
    assert (line.action, line.result) == ("inbox.close", AuditResult.NOTHING)
    assert "Stale" in line.detail


async def test_staff_free_text_is_not_forwarded(harness, staff):
    await staff["help"].send("hello team, anyone here?")

    assert "didn't get that" in staff["help"].last.text
    assert await _conversations(harness) == {}
    await harness.deliver()
    assert all("hello team" not in chat.last.text for chat in staff.values())


async def test_a_student_typing_in_a_step_is_not_forwarded(harness, staff):
    anna = harness.chat("1001", "Anna")
    await anna.start("python-30")
    await anna.click("promo code")

    await anna.send("NOPE")

    assert "Code NOPE doesn't work for this offer." in anna.last.text
    assert await _conversations(harness) == {}


async def test_with_no_staff_member_to_read_it_the_student_gets_the_menu(harness):
    anna = harness.chat("1001", "Anna")  # the staff never wrote to the bot: none can be told

    await anna.send("Anyone there?")

    assert "didn't get that" in anna.last.text and "📚 Courses" in anna.last.labels
    assert await _conversations(harness) == {}


async def test_inbox_is_in_every_roles_help(harness, staff):
    for chat in staff.values():
        await chat.send("/help")
        assert "/inbox — students' questions: /inbox [closed]" in chat.last.text
