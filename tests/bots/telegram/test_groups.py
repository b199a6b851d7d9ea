"""Paid groups against the fake Bot API: payers in, everyone else out, membership following
access exactly, and no removal because of a failed call."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from factories import make_school
from telegram_harness import TelegramHarness

from core.money import Money
from core.school import Group, JoinMode
from core.staff import Role, StaffRef

CLUB, CIRCLE = -100123, -100777
ADMIN = 900


@pytest.fixture
def school():
    base = make_school()
    offers = dict(base.offers)
    offers["club-month"] = dataclasses.replace(offers["club-month"], stars=Money(100, "XTR"))
    return dataclasses.replace(
        base,
        offers=offers,
        groups={"club": Group("club", CLUB, {"en": "Club"}, allow=frozenset({"777"}))},
        staff=(StaffRef("telegram", str(ADMIN), Role.ADMIN),),
    )


@pytest.fixture(autouse=True)
def same_time(fake_telegram, clock):
    """Telegram's clock is the platform's: links expire in the same time."""
    fake_telegram.time = lambda: clock.now().timestamp()


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    fake_telegram.user(ADMIN, "Admin")
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as harness:
        yield harness


async def _buy_club(tg, user, charge: str) -> str:
    """Buy the club with Stars; returns the personal link the bot sent."""
    await tg.says(user, "/start club-month")
    await tg.presses(user, "bs:club-month", wait_for="sendInvoice")
    invoice = tg.fake.calls_to("sendInvoice")[-1].params
    tg.fake.push(tg.fake.pre_checkout_update(user, invoice["payload"], "XTR", 100))
    await tg.fake.wait_for_call("answerPreCheckoutQuery")
    tg.fake.push(tg.fake.successful_payment_update(user, invoice["payload"], "XTR", 100, charge))
    await tg.settle()
    link = tg.fake.calls_to("createChatInviteLink")[-1]
    assert link.params["expire_date"]
    assert link.params.get("member_limit") == 1 or link.params.get("creates_join_request")
    sent = tg.fake.last_message(user["id"])
    [button] = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    return button["url"]


async def _event(tg, update) -> None:
    tg.fake.push(update)
    await tg.settle()


def _alerts(tg) -> list[str]:
    return [m["text"] for m in tg.fake.sent_messages(ADMIN)]


async def test_a_buyer_joins_with_a_one_time_link_that_nobody_else_can_use(tg):
    anna, boris = tg.fake.user(501, "Anna"), tg.fake.user(502, "Boris")
    url = await _buy_club(tg, anna, "charge-1")
    await _event(tg, tg.fake.chat_member_update(CLUB, anna, new_status="member",
                                                invite_link=url))
    assert tg.fake.member_status(CLUB, 501) == "member"
    [revoked] = tg.fake.calls_to("revokeChatInviteLink")
    assert revoked.params["invite_link"] == url  # used up: revoked at once
    with pytest.raises(ValueError, match="revoked|full"):
        tg.fake.chat_member_update(CLUB, boris, new_status="member", invite_link=url)
    assert tg.fake.calls_to("banChatMember") == []


async def test_a_stranger_who_gets_in_is_removed_and_the_admins_are_told(tg):
    await _event(tg, tg.fake.chat_member_update(CLUB, tg.fake.user(503, "Mallory"),
                                                new_status="member", actor=504))
    [ban] = tg.fake.calls_to("banChatMember")
    [unban] = tg.fake.calls_to("unbanChatMember")
    assert ban.params["user_id"] == unban.params["user_id"] == 503
    assert tg.fake.member_status(CLUB, 503) == "left"  # banned then unbanned: may come back
    assert any("Mallory" in text and "without access" in text for text in _alerts(tg))


async def test_admins_and_the_allow_list_are_never_removed(tg):
    for user, status in ((ADMIN, "member"), (777, "member"), (505, "administrator")):
        await _event(tg, tg.fake.chat_member_update(CLUB, user, new_status=status))
    tg.clock.advance(timedelta(days=400))
    await tg.platform.run_sweeps()
    assert tg.fake.calls_to("banChatMember") == []


async def test_join_requests_approved_for_buyers_declined_with_an_offer_for_others(
        fake_telegram, uow_factory, school, clock):
    school = dataclasses.replace(school, groups={
        "club": Group("club", CIRCLE, {"en": "Club"}, join=JoinMode.JOIN_REQUEST)})
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        anna, carl = tg.fake.user(511, "Anna"), tg.fake.user(512, "Carl")
        url = await _buy_club(tg, anna, "charge-2")
        link = tg.fake.calls_to("createChatInviteLink")[-1].params
        assert link["creates_join_request"] is True and "member_limit" not in link
        await _event(tg, tg.fake.chat_join_request_update(CIRCLE, anna, invite_link=url))
        assert tg.fake.calls_to("approveChatJoinRequest")[-1].params["user_id"] == 511
        await _event(tg, tg.fake.chat_join_request_update(CIRCLE, carl))
        assert tg.fake.calls_to("declineChatJoinRequest")[-1].params["user_id"] == 512
        offer = tg.fake.last_message(512)
        assert "get access first" in offer["text"]
        actions = [b.get("callback_data") for row in offer["reply_markup"]["inline_keyboard"]
                   for b in row]
        assert "o:club-month" in actions and "o:python-30" in actions


async def test_at_expiry_the_member_is_removed_and_rejoins_after_renewing(tg):
    anna = tg.fake.user(521, "Anna")
    url = await _buy_club(tg, anna, "charge-3")
    await _event(tg, tg.fake.chat_member_update(CLUB, anna, new_status="member",
                                                invite_link=url))
    tg.clock.advance(timedelta(days=32))
    await tg.platform.sweep("expiry")
    await tg.platform.dispatcher.drain()
    assert [c.method for c in tg.fake.calls if c.method.endswith("banChatMember")] == [
        "banChatMember", "unbanChatMember"]
    assert tg.fake.member_status(CLUB, 521) == "left"
    assert any("removed" in m.get("text", "") for m in tg.fake.sent_messages(521))
    fresh = await _buy_club(tg, anna, "charge-4")
    assert fresh != url
    await _event(tg, tg.fake.chat_member_update(CLUB, anna, new_status="member",
                                                invite_link=fresh))
    assert tg.fake.member_status(CLUB, 521) == "member"
    assert len(tg.fake.calls_to("banChatMember")) == 1  # in with access: left alone


async def test_a_failed_removal_is_retried_and_never_taken_for_no_access(tg):
    anna = tg.fake.user(531, "Anna")
    url = await _buy_club(tg, anna, "charge-5")
    await _event(tg, tg.fake.chat_member_update(CLUB, anna, new_status="member",
                                                invite_link=url))
    tg.fake.fail("banChatMember", code=500, times=1)
    tg.clock.advance(timedelta(days=32))
    await tg.platform.sweep("expiry")
    assert tg.fake.member_status(CLUB, 531) == "member"  # still in: the call failed
    await tg.platform.sweep("groups")  # not due yet: nothing happens before the backoff
    assert tg.fake.member_status(CLUB, 531) == "member"
    tg.clock.advance(timedelta(minutes=5))
    await tg.platform.sweep("groups")
    assert tg.fake.member_status(CLUB, 531) == "left"


async def test_a_student_gets_a_fresh_link_from_my_courses(tg):
    anna = tg.fake.user(541, "Anna")
    first = await _buy_club(tg, anna, "charge-6")
    async with tg.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
    await tg.says(anna, "/my")
    await tg.presses(anna, f"p:{purchase.id}")
    await tg.presses(anna, f"gl:{purchase.id}:club", wait_for="sendMessage")
    await tg.settle()
    fresh = tg.fake.last_message(541)["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert fresh != first
    assert tg.fake.calls_to("revokeChatInviteLink")[-1].params["invite_link"] == first


async def test_losing_admin_rights_alerts_the_admins(tg):
    await _event(tg, tg.fake.my_chat_member_update(ADMIN, chat_id=CLUB,
                                                   old_status="administrator",
                                                   new_status="member"))
    assert any("no longer an admin" in text for text in _alerts(tg))


async def test_missing_rights_at_start_alert_the_admins(fake_telegram, uow_factory, school, clock):
    fake_telegram.group(CLUB, "Club", can_restrict_members=False)
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        await tg.platform.groups.check_rights()
        assert any("can_restrict_members" in text for text in _alerts(tg))


async def test_the_dry_run_lists_exactly_the_members_without_access(tg):
    anna = tg.fake.user(551, "Anna")
    url = await _buy_club(tg, anna, "charge-7")
    await _event(tg, tg.fake.chat_member_update(CLUB, anna, new_status="member",
                                                invite_link=url))
    admin = tg.fake.user(ADMIN, "Admin")
    await tg.says(admin, "/members club import 551 552 553 777")
    assert "3 members recorded" in tg.fake.last_message(ADMIN)["text"]
    await tg.says(admin, "/members club report")
    report = tg.fake.last_message(ADMIN)["text"]
    assert "(552)" in report and "(553)" in report
    assert "(551)" not in report and "(777)" not in report  # a buyer; the allow-list
    assert tg.fake.calls_to("banChatMember") == []  # a dry run removes nobody
    await tg.says(admin, "/members club enforce")
    await tg.platform.sweep("groups")
    assert sorted(c.params["user_id"] for c in tg.fake.calls_to("banChatMember")) == [552, 553]


async def test_members_commands_are_for_admins_only(tg):
    await tg.says(tg.fake.user(561, "Eve"), "/members club enforce")
    assert "enforcement" not in tg.fake.last_message(561)["text"]


async def test_a_tampered_link_button_makes_no_link(tg):
    anna, eve = tg.fake.user(571, "Anna"), tg.fake.user(572, "Eve")
    await _buy_club(tg, anna, "charge-8")
    made = len(tg.fake.calls_to("createChatInviteLink"))
    async with tg.uow_factory() as uow:
        [purchase] = await uow.purchases.for_user(1)
    await tg.says(eve, "/start")
    for action in (f"gl:{purchase.id}:club", "gl:999:club", f"gl:{purchase.id}:nope", "gl:x"):
        message = tg.fake.last_message(572)  # a forged press: no such button was shown
        await _event(tg, tg.fake.callback_update(eve, message, action, check=False))
    assert len(tg.fake.calls_to("createChatInviteLink")) == made
    assert "out of date" in tg.fake.last_message(572)["text"]


async def _without_rights_meanwhile(tg, anna_url: str) -> None:
    """While the bot is a plain member, people get in (Telegram tells it nothing) and write."""
    tg.fake.chat_member_update(CLUB, 581, new_status="member", invite_link=anna_url)
    for user_id, name in ((582, "Mallory"), (583, "Trudy"), (ADMIN, "Admin"), (777, "Guest")):
        tg.fake.chat_member_update(CLUB, tg.fake.user(user_id, name), new_status="member")
    tg.fake.chat_member_update(CLUB, tg.fake.user(584, "Owner's deputy"),
                               new_status="administrator")
    for user_id in (581, 582, 583, ADMIN, 777, 584):
        await _event(tg, tg.fake.text_update(user_id, "hello", chat_id=CLUB))


async def test_strangers_seen_while_the_bot_had_no_rights_go_when_they_are_back(tg):
    tg.fake.chat_member_update(CLUB, tg.fake.user(580, "Early"), new_status="member")
    await _event(tg, tg.fake.text_update(580, "I was here before the bot", chat_id=CLUB))
    anna_url = await _buy_club(tg, tg.fake.user(581, "Anna"), "charge-9")
    await _event(tg, tg.fake.my_chat_member_update(ADMIN, chat_id=CLUB,
                                                   old_status="administrator",
                                                   new_status="member"))
    await _without_rights_meanwhile(tg, anna_url)
    assert tg.fake.calls_to("banChatMember") == []

    await _event(tg, tg.fake.my_chat_member_update(ADMIN, chat_id=CLUB, old_status="member",
                                                   new_status="administrator"))

    assert sorted(c.params["user_id"] for c in tg.fake.calls_to("banChatMember")) == [582, 583]
    assert [tg.fake.member_status(CLUB, u) for u in (582, 583)] == ["left", "left"]
    for stays in (580, 581, ADMIN, 777):
        assert tg.fake.member_status(CLUB, stays) == "member"
    assert tg.fake.member_status(CLUB, 584) == "administrator"
    [told] = [text for text in _alerts(tg) if "rights in “Club” again" in text]
    assert "Of the 6 people" in told and "2 had no access and were removed" in told
    assert "Mallory (582)" in told and "Trudy (583)" in told and "Anna" not in told

    await _event(tg, tg.fake.my_chat_member_update(ADMIN, chat_id=CLUB, old_status="member",
                                                   new_status="administrator"))
    assert len(tg.fake.calls_to("banChatMember")) == 2  # looked at once


async def test_rights_missing_since_start_are_noticed_too(fake_telegram, uow_factory, school,
                                                          clock):
    fake_telegram.group(CLUB, "Club", bot_status="member")
    async with TelegramHarness(fake_telegram, uow_factory, school, clock) as tg:
        tg.fake.chat_member_update(CLUB, tg.fake.user(591, "Mallory"), new_status="member")
        await _event(tg, tg.fake.text_update(591, "hi", chat_id=CLUB))
        await _event(tg, tg.fake.my_chat_member_update(ADMIN, chat_id=CLUB,
                                                       old_status="member",
                                                       new_status="administrator"))
        assert [c.params["user_id"] for c in tg.fake.calls_to("banChatMember")] == [591]
        assert tg.fake.member_status(CLUB, 591) == "left"
        assert any("Mallory (591)" in text for text in _alerts(tg))
