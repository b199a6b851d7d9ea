"""``/broadcast`` on the console: a manager composes a broadcast step by step (text, picture,
each kind of button, each segment, preview, estimate) and sends it now or at a time, or
discards it; support and strangers are refused; bad input changes nothing; every step is
audited."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.broadcasts import BroadcastStatus, RecipientStatus
from core.services import staff_access, tags
from core.services.broadcast_estimate import MessagePrice, SendingTerms
from core.staff import AuditResult, Role, StaffRef
from flows.formatting import plain
from flows.ui import Incoming, IncomingKind

PICTURE = "https://example.com/sale.png"


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(
        StaffRef("console", "owner", Role.OWNER),
        StaffRef("console", "mgr", Role.MANAGER),
        StaffRef("console", "help", Role.SUPPORT),
    ))


async def _student(harness, chat_id: str, name: str, language: str = "en", offer: str = ""):
    chat = harness.chat(chat_id, name, language)
    await chat.start()
    if offer:
        async with harness.uow_factory() as uow:
            user = await uow.users.identity("console", chat_id)
            await staff_access.grant_offer(uow, harness.platform.school(), user.user_id,
                                           offer, "console:owner", harness.clock.now())
            await uow.commit()
    return chat

async def _tag(harness, chat, tag: str) -> None:
    async with harness.uow_factory() as uow:
        user = await uow.users.identity("console", chat.user_id)
        await tags.add(uow, user.user_id, tag, "console:owner", harness.clock.now())
        await uow.commit()


async def _broadcasts(harness):
    async with harness.uow_factory() as uow:
        found, broadcast_id = [], 1
        while (broadcast := await uow.broadcasts.get(broadcast_id)) is not None:
            found.append(broadcast)
            broadcast_id += 1
        return found


async def _recipients(harness, broadcast_id: int) -> list[str]:
    """The console chats a broadcast goes to (read without sending anything)."""
    async with harness.uow_factory() as uow:
        claimed = await uow.broadcasts.claim(broadcast_id, "console", harness.clock.now(),
                                             harness.clock.now(), 1000)
        found = []
        for row in claimed:
            identity = await uow.users.identity_by_id(row.recipient.identity_id)
            found.append(identity.external_id)
        return sorted(found)


async def _audit(harness, **only):
    async with harness.uow_factory() as uow:
        return list(reversed(await uow.audit.latest(100, **only)))


async def _compose(manager, text: str = "Spring sale: -20% on every course!") -> None:
    await manager.send("/broadcast")
    await manager.send(text)


# --- composing and sending ---------------------------------------------------------------------


async def test_a_manager_composes_everything_and_sends_it_now(harness):
    anna = await _student(harness, "1001", "Anna", offer="python-life")
    await _student(harness, "1002", "Boris")
    manager = harness.chat("mgr", "Max")

    await manager.send("/broadcast")
    assert "Send the message text" in manager.last.text
    await manager.send("Spring sale!\n-20% on every course.")
    assert manager.last.text.startswith("📣 Broadcast draft\n\nSpring sale!\n-20% on every")
    assert "👥 Audience: Everyone" in manager.last.text
    assert "Promotion: students who turned promotions off won't get it." in manager.last.text

    await manager.click("Picture")
    await manager.send(PICTURE)
    assert f"🖼 Picture: {PICTURE}" in manager.last.text
    await manager.click("➕ Offer")
    assert "Python forever" in manager.last.labels and "Secret drawing" in manager.last.labels
    await manager.click("Python forever")
    await manager.click("➕ Link")
    await manager.send("https://example.com/webinar Sign up for the webinar")
    await manager.click("➕ My courses")
    assert ("🔘 Buttons: Python forever; Sign up for the webinar "
            "(https://example.com/webinar); 🎓 My courses") in manager.last.text

    await manager.click("Preview")
    preview, draft = manager.messages[-2], manager.messages[-1]
    assert preview.text == "Spring sale!\n-20% on every course."
    assert preview.screen.picture == PICTURE
    assert preview.labels[:3] == ["Python forever", "Sign up for the webinar", "🎓 My courses"]
    assert [b.url for b in preview.screen.buttons][1] == "https://example.com/webinar"
    assert any("Stop promotions" in label for label in preview.labels)
    assert draft.text.startswith("📣 Broadcast draft")

    await manager.click("Estimate and send")
    # Anna, Boris and the manager's own chat: everyone who wrote to the bot.
    assert manager.last.text.startswith("📊 Estimate for Everyone. Students: 3.")
    assert "• console: 3 — 1 s at 30 messages/s" in manager.last.text
    assert manager.last.labels == ["🚀 Send now", "🕒 Send later…", "⬅️ Back"]
    estimate = manager.last

    await manager.click("Send now")
    assert manager.last.text == ("🚀 Broadcast #1 is on its way (students: 3). Its progress "
                                 "follows here.")
    [made] = await _broadcasts(harness)
    assert (made.text, made.picture_url, made.segment, made.marketing, made.total) == (
        "Spring sale!\n-20% on every course.", PICTURE, "everyone", True, 3)
    assert made.status is BroadcastStatus.SENDING
    assert (made.author, made.author_messenger, made.author_chat_id) == (
        "console:mgr", "console", "mgr")
    assert made.buttons == [
        {"kind": "offer", "label": "Python forever", "value": "python-life"},
        {"kind": "url", "label": "Sign up for the webinar",
         "value": "https://example.com/webinar"},
        {"kind": "courses", "label": "", "value": ""}]
    assert await _recipients(harness, 1) == ["1001", "1002", "mgr"]
    sent = [e for e in await _audit(harness) if e.action == "broadcast.send"]
    assert sent[-1].result is AuditResult.DONE
    assert sent[-1].detail.startswith(
        "broadcast #1 now to everyone (marketing): 3 students; picture "
        f"{PICTURE}; buttons offer python-life, url https://example.com/webinar, courses; "
        "text 'Spring sale!")

    # The same "Send now" again: the draft is gone, nothing is sent twice.
    await manager.press("bcg", estimate)
    assert manager.last.text.startswith("This draft was sent or discarded already.")
    assert len(await _broadcasts(harness)) == 1
    assert anna.last.text  # students' chats are untouched by composing


@pytest.mark.parametrize("picker, choice, expected", [
    (None, "Everyone", 7),  # with the manager's own chat
    ("Holders of an offer", "Python forever", 1),
    ("Holders of a product", "Club", 1),
    ("Access ended within", "7 days", 1),
    (None, "Never bought", 4),  # with the manager
    (None, "Ordered but never paid", 1),
    ("By messenger", "console", 7),
    ("By language", "RU", 1),
    ("By tag", "#vip · 1", 1),
])
async def test_each_segment_is_picked_with_buttons_and_counted(harness, clock, picker, choice,
                                                              expected):
    await _student(harness, "1001", "Anna", offer="python-life")
    await _student(harness, "1002", "Boris", offer="python-30")  # python-course and club
    clock.advance(timedelta(days=35))  # Boris's 30 days ended 5 days ago
    await _student(harness, "1003", "Cem", offer="club-month")
    cem_unpaid = await _student(harness, "1004", "Dora")
    await cem_unpaid.click("Courses")
    await cem_unpaid.click("Python forever")
    await cem_unpaid.click("Buy")  # an order, never paid
    await _student(harness, "1005", "Egor", language="ru")
    eve = await _student(harness, "1006", "Eve")
    await _tag(harness, eve, "vip")
    manager = harness.chat("mgr", "Max")
    await _compose(manager)

    await manager.click("👥 Audience")
    if picker:
        await manager.click(picker)
    await manager.click(choice)
    await manager.click("Estimate and send")
    assert f". Students: {expected}." in manager.last.text.splitlines()[0]
    await manager.click("Send now")
    [made] = await _broadcasts(harness)
    assert made.total == expected


async def test_days_of_ended_access_may_be_typed(harness, clock):
    await _student(harness, "1001", "Anna", offer="python-30")
    clock.advance(timedelta(days=50))
    manager = harness.chat("mgr", "Max")
    await _compose(manager)
    await manager.click("👥 Audience")
    await manager.click("Access ended within")
    await manager.send("0")
    assert manager.last.text.startswith("⚠️ Give a number of days from 1 to 3650.")
    await manager.send("21")
    assert "👥 Audience: access ended within 21 days" in manager.last.text
    await manager.click("Estimate and send")
    assert manager.last.text.startswith("📊 Estimate for access ended within 21 days. Students: 1")


async def test_a_service_announcement_reaches_holders_who_turned_promotions_off(harness):
    anna = await _student(harness, "1001", "Anna", offer="python-life")
    await _student(harness, "1002", "Boris", offer="python-life")
    await anna.press("mk:off")
    manager = harness.chat("mgr", "Max")
    await _compose(manager, "The lesson of Monday moves to Tuesday.")
    assert "Service announcement" not in " ".join(manager.last.labels)  # everyone: no
    await manager.click("👥 Audience")
    await manager.click("Holders of an offer")
    await manager.click("Python forever")
    await manager.click("Estimate and send")
    assert ". Students: 1." in manager.last.text
    assert "Students who turned promotions off are not counted." in manager.last.text
    await manager.click("Back")
    await manager.click("Service announcement: no")
    assert "Service announcement: every holder gets it" in manager.last.text
    await manager.click("Preview")
    assert not any("Stop promotions" in label for label in manager.messages[-2].labels)
    await manager.click("Estimate and send")
    assert ". Students: 2." in manager.last.text
    await manager.click("Send now")
    [made] = await _broadcasts(harness)
    assert made.marketing is False and made.segment == "holders:offer:python-life"
    assert await _recipients(harness, 1) == ["1001", "1002"]

    # Back to everyone: a service announcement goes to holders only, so it is marketing again.
    await _compose(manager)
    await manager.click("👥 Audience")
    await manager.click("Holders of an offer")
    await manager.click("Python forever")
    await manager.click("Service announcement: no")
    await manager.click("👥 Audience")
    await manager.click("Everyone")
    assert "Promotion: students who turned promotions off" in manager.last.text


async def test_sent_at_a_time_typed_in_the_schools_time(harness, clock):
    await _student(harness, "1001", "Anna")
    manager = harness.chat("mgr", "Max")
    await _compose(manager)
    await manager.click("Estimate and send")
    await manager.click("Send later")
    assert "Type the school's time (Europe/Berlin)" in manager.last.text

    await manager.send("2026-03-01 10:00")  # yesterday
    assert manager.last.text.startswith("⚠️ That moment has passed")
    await manager.send("soon")
    assert manager.last.text.startswith("⚠️ That is not a time I understand.")
    assert await _broadcasts(harness) == []

    await manager.send("tomorrow 10:00")
    assert manager.last.text == ("🕒 Broadcast #1 (students: 2) will go out Mar 3, 2026 10:00 "
                                 "(Europe/Berlin).")
    [made] = await _broadcasts(harness)
    assert made.status is BroadcastStatus.SCHEDULED
    assert made.start_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    async with harness.uow_factory() as uow:
        assert (await uow.broadcasts.counts(1)) == {RecipientStatus.PENDING: 2}
    [line] = [e for e in await _audit(harness) if e.result is AuditResult.DONE]
    assert line.detail.startswith("broadcast #1 at 2026-03-03T09:00:00+00:00 to everyone")


async def test_discarded_at_any_step_sends_nothing(harness):
    await _student(harness, "1001", "Anna")
    manager = harness.chat("mgr", "Max")
    await manager.send("/broadcast")
    await manager.click("Discard")
    assert manager.last.text == "🗑 Draft discarded: nothing was sent."
    await manager.send("Hello?")  # no longer the text of a draft
    assert "Broadcast draft" not in manager.last.text

    await _compose(manager)
    await manager.click("Estimate and send")
    estimate = manager.last
    await manager.click("Back")
    await manager.click("Discard")
    await manager.press("bcg", estimate)
    assert manager.last.text.startswith("This draft was sent or discarded already.")
    assert await _broadcasts(harness) == []


# --- who may, and bad input ----------------------------------------------------------------------


async def test_support_and_strangers_are_refused_and_audited(harness):
    helper, stranger = harness.chat("help", "Sue"), harness.chat("1001", "Anna")
    await helper.send("/broadcast")
    assert helper.last.text == ("Your role (support) does not allow /broadcast. Ask the "
                                "school's owner.")
    await stranger.send("/broadcast")
    assert stranger.last.text.startswith("I didn't get that.")
    await helper.press("bcg")
    assert helper.toasts[-1].startswith("Your role (support) does not allow broadcast.send")
    lines = [(e.actor, e.action, e.result) for e in await _audit(harness)]
    assert lines == [("console:help", "/broadcast", AuditResult.REFUSED),
                     ("console:1001", "/broadcast", AuditResult.REFUSED),
                     ("console:help", "broadcast.send", AuditResult.REFUSED)]
    assert await _broadcasts(harness) == []


async def test_help_lists_the_command_for_managers_only(harness):
    manager, helper = harness.chat("mgr", "Max"), harness.chat("help", "Sue")
    await manager.send("/help")
    assert "/broadcast — send a message to a segment of students" in manager.last.text
    await helper.send("/help")
    assert "/broadcast" not in helper.last.text


async def test_bad_input_is_refused_and_changes_nothing(harness):
    await _student(harness, "1001", "Anna")
    manager = harness.chat("mgr", "Max")
    await manager.send("/broadcast")
    await manager.send("x" * 3501)
    assert manager.last.text.startswith("⚠️ The text is too long: at most 3500 characters.")
    await manager.send("   ")
    assert manager.last.text.startswith("⚠️ The text is empty")
    await manager.send("Sale!")
    draft = manager.last.text

    await manager.click("Picture")
    for bad in ("ftp://example.com/a.png", "example.com/a.png", "https://"):
        await manager.send(bad)
        assert manager.last.text.startswith("⚠️ That is not a web address")
    await manager.click("Back")
    assert manager.last.text == draft

    await manager.click("➕ Link")
    await manager.send("https://example.com")
    assert manager.last.text.startswith("⚠️ Give the button a label after the address.")
    await manager.send("javascript:alert(1) Click")
    assert manager.last.text.startswith("⚠️ That is not a web address")
    await manager.click("Back")
    assert manager.last.text == draft

    for tampered in ("bco:nope", "bcs:holders:offer:nope", "bcs:bogus", "bcs:ended:0",
                     "bcs:messenger:viber", "bck:nope", "bcv"):
        await manager.press(tampered, manager.messages[0])
        assert manager.messages[0].text == "This button is out of date. Here is the menu."
    await manager.click("👥 Audience")  # the draft is as it was
    assert "Now: Everyone." in manager.last.text
    await manager.click("Back")

    for _ in range(6):
        await manager.click("➕ My courses")
    assert "➕ My courses" not in manager.last.labels  # six buttons: no more to add
    await manager.press("bcc")
    assert manager.last.text.startswith("⚠️ At most 6 buttons.")
    refused = [e.detail for e in await _audit(harness, actor="console:mgr")
               if e.result is AuditResult.NOTHING and ("refused" in e.detail
                                                       or "Stale" in e.detail)]
    assert len(refused) >= 15
    assert await _broadcasts(harness) == []


async def test_an_audience_nobody_is_in_cannot_be_sent(harness):
    await _student(harness, "1001", "Anna")
    manager = harness.chat("mgr", "Max")
    await _compose(manager)
    await manager.click("👥 Audience")
    await manager.click("Holders of an offer")
    await manager.click("Python forever")
    await manager.click("Estimate and send")
    assert "Nobody to send to" in manager.last.text
    assert manager.last.labels == ["⬅️ Back"]
    await manager.press("bcg")
    assert manager.last.text.startswith("⚠️ Nobody is in this audience now")
    assert await _broadcasts(harness) == []


async def test_the_estimate_counts_the_messages_a_messenger_charges_for(harness, clock):
    """The console charging as Viber does: only students who have not written for a day."""
    await _student(harness, "1001", "Anna")
    clock.advance(timedelta(days=2))
    await _student(harness, "1002", "Boris")  # wrote just now: inside a session
    harness.platform.flows.sending = SendingTerms(
        {"console": 2}, {"console": MessagePrice(Decimal("0.0053"), "EUR")})
    manager = harness.chat("mgr", "Max")
    await _compose(manager)
    await manager.click("Estimate and send")
    assert manager.last.text.splitlines()[1:3] == [
        "• console: 3 — 2 s at 2 messages/s",
        "  paid messages (no chat in the last 24 h): 1, about 0.01 EUR"]


async def test_text_is_kept_as_typed_and_formatting_where_the_messenger_has_it(harness):
    await _student(harness, "1001", "Anna")
    manager = harness.chat("mgr", "Max")
    await _compose(manager, "Tom & Jerry <3 — 50% off")  # no formatting on the console
    await manager.click("Preview")
    preview = manager.messages[-2].screen
    assert preview.html and plain(preview.text) == "Tom & Jerry <3 — 50% off"

    await manager.click("✏️ Text")  # Telegram tells the formatting: it is kept
    await harness.console.deliver(Incoming(
        manager.peer, manager.sender, IncomingKind.TEXT, text="Big sale",
        html="<b>Big</b> sale"))
    assert manager.last.screen.html
    assert manager.last.text.startswith("📣 Broadcast draft\n\n<b>Big</b> sale\n\n")
    await manager.click("Estimate and send")
    await manager.click("Send now")
    [made] = await _broadcasts(harness)
    assert made.text == "<b>Big</b> sale"


async def test_a_tag_not_listed_may_be_typed(harness, clock):
    anna = await _student(harness, "1001", "Anna")
    await _tag(harness, anna, "webinar-2027")
    manager = harness.chat("mgr", "Max")
    await _compose(manager)
    await manager.click("👥 Audience")
    await manager.click("By tag")
    await manager.send("a b")
    assert manager.last.text.startswith("⚠️ A tag is 1 to 32 latin letters")
    await manager.send("#Webinar-2027")
    assert "👥 Audience: students tagged #webinar-2027" in manager.last.text
    await manager.click("Estimate and send")
    assert ". Students: 1." in manager.last.text
