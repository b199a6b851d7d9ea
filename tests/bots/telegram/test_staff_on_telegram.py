"""The school's staff on Telegram, through the real aiogram client against the fake Bot API:
each staff command for each role, each staff member's own command menu, impostors
(Telegram's anonymous admins, channels and its own accounts) and staff buttons pressed by
someone else or forged."""

from __future__ import annotations

import dataclasses

import pytest
from aiogram.types import BotCommand, BotCommandScopeChat
from telegram_harness import TelegramHarness

from core.services import staff
from core.staff import AuditResult, Role, StaffMenu, StaffRef
from flows.commands import COMMANDS, command_menu
from flows.staff import commands_for
from flows.ui import Button, Peer, Screen

OWNER, ADMIN, MANAGER, SUPPORT, STRANGER = 900, 901, 902, 903, 904
ROLES = {OWNER: Role.OWNER, ADMIN: Role.ADMIN, MANAGER: Role.MANAGER, SUPPORT: Role.SUPPORT}
EVERYONE = (*ROLES, STRANGER)
CLUB = -100123  # the test school's paid group
# Telegram's stand-in accounts, as its updates carry them.
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                   "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel",
               "username": "Channel_Bot"}
TELEGRAM = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
STUDENTS_MENU = [{"command": c, "description": d} for c, d in command_menu()["en"]]


def _staff(school, **more: Role):
    team = [StaffRef("telegram", str(i), role) for i, role in ROLES.items()]
    team += [StaffRef("telegram", account, role) for account, role in more.items()]
    return dataclasses.replace(school, staff=tuple(team))


@pytest.fixture
async def tg(fake_telegram, uow_factory, school, clock):
    for user_id in EVERYONE:  # they have all written to the bot before
        fake_telegram.user(user_id, f"User {user_id}")
    async with TelegramHarness(fake_telegram, uow_factory, _staff(school), clock) as harness:
        yield harness
    assert fake_telegram.violations == []


async def _audit(tg, **only):
    async with tg.uow_factory() as uow:
        return await uow.audit.latest(100, **only)


async def _menus(tg) -> dict[str, Role]:
    async with tg.uow_factory() as uow:
        return {m.external_id: m.role for m in await uow.staff_menus.all()}


def _names(menu) -> list[str]:
    return [c["command"] for c in menu]


# ---------------------------------------------------------------- each command, each role

ALLOWED = {
    "/paid": {OWNER, ADMIN, MANAGER},
    "/refund": {OWNER, ADMIN},
    "/refunds": {OWNER, ADMIN},
    "/members": {OWNER, ADMIN, MANAGER},
    "/staff": {OWNER},
    "/audit": {OWNER, ADMIN},
}
# What a role allowed to run it writes, what it is answered, and its audit line's detail.
RUN = {
    "/paid": ("/paid", "Use: /paid ORDER_NUMBER AMOUNT", "usage shown"),
    "/refund": ("/refund 99", "There is no order #99.", "no order #99"),
    "/refunds": ("/refunds", "No money is waiting to be returned.",
                 "listed 0 payments to give back"),
    "/members": ("/members", "Use: /members GROUP report", "usage shown"),
    "/staff": ("/staff", "The team:\n• telegram:900 — owner (school file)", "listed the team"),
    "/audit": ("/audit", "Audit log, latest", "read "),
}


@pytest.mark.parametrize("command", list(ALLOWED))
async def test_each_staff_command_for_each_role(tg, command):
    text, answer, detail = RUN[command]
    for user_id in reversed(EVERYONE):  # the refused first: /audit has lines to show then
        await tg.says(user_id, text)

        reply = tg.fake.last_message(user_id)["text"]
        [line] = await _audit(tg, actor=f"telegram:{user_id}")
        assert (line.action, line.subject) == (command, text.partition(" ")[2])
        if user_id in ALLOWED[command]:
            assert reply.startswith(answer), (user_id, reply)
            assert (line.result, line.role) == (AuditResult.NOTHING, ROLES[user_id].value)
            assert line.detail.startswith(detail)
        elif user_id == STRANGER:
            assert reply.startswith("I didn't get that"), reply
            assert (line.result, line.role, line.detail) == (AuditResult.REFUSED, "",
                                                             "not staff")
        else:
            role = ROLES[user_id].value
            assert reply == f"Your role ({role}) does not allow {command}. Ask the school's owner."
            assert (line.result, line.role, line.detail) == (
                AuditResult.REFUSED, role, f"role {role} lacks the right {command}")
    assert len(await _audit(tg)) == len(EVERYONE)


async def test_help_lists_what_each_role_may_do_and_nothing_more(tg):
    shown = {}
    for user_id in EVERYONE:
        await tg.says(user_id, "/help")
        text = tg.fake.last_message(user_id)["text"]
        shown[user_id] = {c for c in ("paid", "refund", "refunds", "members", "staff", "audit")
                          if f"\n/{c} — " in text}
    assert shown == {OWNER: {"paid", "refund", "refunds", "members", "staff", "audit"},
                     ADMIN: {"paid", "refund", "refunds", "members", "audit"},
                     MANAGER: {"paid", "members"}, SUPPORT: set(), STRANGER: set()}
    assert "Staff commands for your role (support)" in tg.fake.last_message(SUPPORT)["text"]
    assert "Staff commands" not in tg.fake.last_message(STRANGER)["text"]
    assert await _audit(tg) == []  # /help is everyone's: nothing to audit


# ---------------------------------------------------------------- menus

async def test_each_staff_member_sees_the_menu_of_their_role_from_the_start(tg):
    for user_id, role in ROLES.items():
        menu = tg.fake.menu_for(user_id, "ru")  # the chat's own menu, whatever the language
        assert menu[:len(COMMANDS)] == STUDENTS_MENU
        assert _names(menu)[len(COMMANDS):] == [c.name for c in commands_for(role)]
    owner = tg.fake.menu_for(OWNER)
    assert {"command": "audit", "description": "who did what: /audit [#student | messenger:id]"
            } in owner
    assert {"staff", "refund", "paid"} <= set(_names(owner))
    assert {"paid", "members"} <= set(_names(tg.fake.menu_for(MANAGER)))
    assert "refund" not in _names(tg.fake.menu_for(MANAGER))
    support = _names(tg.fake.menu_for(SUPPORT))
    assert not {"refund", "refunds", "paid", "audit", "staff"} & set(support)
    assert tg.fake.menu_for(STRANGER) == STUDENTS_MENU  # everyone else: the students' menu
    assert await _menus(tg) == {str(i): role for i, role in ROLES.items()}


async def test_the_menu_follows_staff_add_and_remove_at_once(tg):
    await tg.says(OWNER, "/staff add telegram:904 manager")
    assert tg.fake.last_message(OWNER)["text"] == "✅ telegram:904 is now manager."
    await tg.settle()  # the menu follows once the change is committed
    assert _names(tg.fake.menu_for(STRANGER))[len(COMMANDS):] == [
        c.name for c in commands_for(Role.MANAGER)]

    await tg.says(OWNER, "/staff add telegram:904 support")
    await tg.settle()
    assert "paid" not in _names(tg.fake.menu_for(STRANGER))
    assert (await _menus(tg))["904"] is Role.SUPPORT

    await tg.says(OWNER, "/staff remove telegram:904")
    await tg.settle()
    assert [c.status for c in tg.fake.calls_to("deleteMyCommands")] == [200]
    assert tg.fake.menu_for(STRANGER) == STUDENTS_MENU
    assert "904" not in await _menus(tg)
    assert tg.fake.last_message(OWNER)["text"] == \
        "✅ telegram:904 is no longer on the staff (was support)."


async def test_someone_who_never_wrote_gets_the_staff_menu_once_they_do(tg):
    await tg.says(OWNER, "/staff add telegram:905 admin")
    await tg.settle()
    assert tg.fake.last_message(OWNER)["text"] == (
        "ℹ️ telegram:905 has not written to the bot yet: their staff command menu appears "
        "once they do.")
    [refused] = [c for c in tg.fake.calls_to("setMyCommands")
                 if (c.params.get("scope") or {}).get("chat_id") == 905]
    assert refused.description == "Bad Request: chat not found"
    assert "905" not in await _menus(tg)

    tg.fake.user(905, "Vera")
    await tg.says(905, "/start")
    await tg.settle()
    assert _names(tg.fake.menu_for(905))[len(COMMANDS):] == [
        c.name for c in commands_for(Role.ADMIN)]
    assert (await _menus(tg))["905"] is Role.ADMIN


async def test_a_menu_of_an_account_no_longer_on_the_staff_is_taken_back_at_start(
        fake_telegram, uow_factory, school, clock):
    """An earlier run showed telegram:906 a manager's menu; the owner has since taken 906 out
    of the school file."""
    for user_id in (*EVERYONE, 906):
        fake_telegram.user(user_id)
    bot = fake_telegram.aiogram_bot()
    try:
        await bot.set_my_commands([BotCommand(command="paid", description="confirm")],
                                  scope=BotCommandScopeChat(chat_id=906))
    finally:
        await bot.session.close()
    async with uow_factory() as uow:
        await uow.staff_menus.put(StaffMenu("telegram", "906", Role.MANAGER, clock.now()))
        await uow.commit()

    async with TelegramHarness(fake_telegram, uow_factory, _staff(school), clock) as tg:
        assert fake_telegram.menu_for(906) == STUDENTS_MENU
        assert [c.status for c in fake_telegram.calls_to("deleteMyCommands")] == [200]
        assert await _menus(tg) == {str(i): role for i, role in ROLES.items()}
    assert fake_telegram.violations == []


# ---------------------------------------------------------------- impostors

def _signed_by(update, chat: dict) -> dict:
    """The message as Telegram sends one written on behalf of a chat."""
    update["message"]["sender_chat"] = chat
    return update


IMPOSTORS = {
    # The school file names the stand-in account's id, as copied from a group by mistake.
    "anonymous group admin": lambda fake: fake.text_update(ANONYMOUS_ADMIN, TEAM_CHANGE),
    "channel bot": lambda fake: fake.text_update(CHANNEL_BOT, TEAM_CHANGE),
    "Telegram's service account": lambda fake: fake.text_update(TELEGRAM, TEAM_CHANGE),
    # The owner's own id, but the message is signed by a channel.
    "signed by a channel": lambda fake: _signed_by(
        fake.text_update(OWNER, TEAM_CHANGE),
        {"id": -1001000000042, "type": "channel", "title": "School news"}),
}
TEAM_CHANGE = "/staff add telegram:555 admin"


@pytest.mark.parametrize("impostor", list(IMPOSTORS))
async def test_an_impersonal_sender_with_an_owners_id_is_refused_and_audited(
        fake_telegram, uow_factory, school, clock, impostor):
    fake_telegram.user(OWNER)
    owners = {str(user["id"]): Role.OWNER for user in (ANONYMOUS_ADMIN, CHANNEL_BOT, TELEGRAM)}
    async with TelegramHarness(fake_telegram, uow_factory, _staff(school, **owners),
                               clock) as tg:
        update = IMPOSTORS[impostor](fake_telegram)
        sender = update["message"]["from"]["id"]
        await tg._wait_after(update, "sendMessage")

        assert tg.fake.last_message(sender)["text"].startswith("I didn't get that")
        [line] = await _audit(tg)
        assert (line.actor, line.action, line.result, line.role, line.detail) == (
            f"telegram:{sender}", "/staff", AuditResult.REFUSED, "",
            "an impersonal sender (anonymous admin or channel) is never staff")
        async with tg.uow_factory() as uow:
            assert await uow.staff.all() == []
    assert fake_telegram.violations == []


async def test_messages_signed_by_a_chat_in_a_paid_group_name_no_member(tg):
    tg.fake.group(CLUB, "Club")
    anonymous = _signed_by(tg.fake.text_update(ANONYMOUS_ADMIN, "/audit", chat_id=CLUB),
                           {"id": CLUB, "type": "supergroup", "title": "Club"})
    forwarded = _signed_by(tg.fake.text_update(TELEGRAM, "Lesson 3 is out", chat_id=CLUB),
                           {"id": -1001000000042, "type": "channel", "title": "School news"})
    forwarded["message"]["is_automatic_forward"] = True
    member = tg.fake.text_update(STRANGER, "hello", chat_id=CLUB)
    tg.fake.push(anonymous, forwarded, member)
    await tg.settle()

    async with tg.uow_factory() as uow:
        seen = [m.external_id for m in await uow.memberships.of_chat(CLUB)]
    assert seen == [str(STRANGER)]  # only the person who wrote as themself
    assert await _audit(tg) == [] and tg.fake.sent_messages(CLUB) == []


# ---------------------------------------------------------------- staff buttons

async def _older_button(tg) -> str:
    """The /audit page's Older button, from a log longer than a page."""
    async with tg.uow_factory() as uow:
        for n in range(25):
            await staff.audit(uow, tg.clock.now(), "telegram:900", "/paid", AuditResult.NOTHING,
                              role=Role.OWNER, subject=str(n), detail="usage shown")
        await uow.commit()
    await tg.says(OWNER, "/audit")
    return tg.button_data(OWNER, "Older")


async def test_a_staff_button_posted_in_a_group_answers_only_to_staff_allowed(tg):
    data = await _older_button(tg)
    tg.fake.group(CLUB, "Club")
    await tg.bot.send(Peer("telegram", str(CLUB)),
                      Screen("Audit log", ((Button("Older ›", action=data),),)))
    posted = tg.fake.last_message(CLUB)
    edits = len(tg.fake.calls_to("editMessageText"))

    for presser, toast in ((STRANGER, "This button is not for you."),
                           (SUPPORT, "Your role (support) does not allow audit.older. Ask the "
                                     "school's owner.")):
        answers = len(tg.fake.calls_to("answerCallbackQuery"))
        tg.fake.push(tg.fake.callback_update(presser, posted, data))
        answer = await tg.fake.wait_for_call("answerCallbackQuery", count=answers + 1)
        assert answer.params["text"] == toast
    assert tg.fake.sent_messages(CLUB) == [posted]  # the group's message stays as it was
    assert len(tg.fake.calls_to("editMessageText")) == edits
    refused = [(e.actor, e.role, e.detail) for e in await _audit(tg)
               if e.result is AuditResult.REFUSED]
    assert refused == [("telegram:903", "support", "role support lacks the right audit.older"),
                       ("telegram:904", "", "not staff")]

    # The press is the presser's, whoever's chat it is in: the owner gets the older page.
    await tg._wait_after(tg.fake.callback_update(OWNER, posted, data), "sendMessage")
    older = tg.fake.last_message(CLUB)["text"]
    assert older.startswith("Audit log, latest 5:") and "/paid 4 — usage shown" in older
    [line] = [e for e in await _audit(tg, actor="telegram:900") if e.action == "audit.older"]
    assert (line.result, line.detail) == (AuditResult.NOTHING,
                                          f"read 5 lines before #{data.split(':')[1]}")


async def test_a_forged_staff_button_is_refused_and_audited(tg):
    data = await _older_button(tg)
    await tg.says(STRANGER, "/start")
    own = tg.fake.last_message(STRANGER)
    tg.fake.push(tg.fake.callback_update(STRANGER, own, data, check=False))
    answer = await tg.fake.wait_for_call("answerCallbackQuery")
    assert answer.params["text"] == "This button is not for you."
    assert tg.fake.last_message(STRANGER) == own  # nothing in their chat changed either
    [line] = await _audit(tg, actor="telegram:904")
    assert (line.action, line.result, line.subject, line.detail) == (
        "audit.older", AuditResult.REFUSED, data.partition(":")[2], "not staff")
