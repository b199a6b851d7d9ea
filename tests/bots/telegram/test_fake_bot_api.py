"""The fake Bot API, driven through the real aiogram client: what aiogram sends is accepted,
what the fake answers parses, and Telegram's errors map to aiogram's exceptions."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import zlib

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from fake_bot_api import DEFAULT_TOKEN, Call, FakeBotAPI

GROUP = -1001234567890


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d)] for t, d in pairs]
    )


@pytest.fixture
async def bot(fake_telegram):
    bot = Bot(
        fake_telegram.token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.url)),
    )
    yield bot
    await bot.session.close()


@pytest.fixture
async def webhook_app():
    """Run an aiohttp app on a free port of 127.0.0.1; yields a starter returning its URL."""
    runners = []

    async def serve(app: web.Application, path: str) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        runners.append(runner)
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"

    yield serve
    for runner in runners:
        await runner.cleanup()


# ---------------------------------------------------------------- basics


async def test_get_me_is_the_bot_of_the_token(bot, fake_telegram):
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "test_school_bot"
    assert fake_telegram.calls_to("getMe")[0].status == 200
    assert fake_telegram.violations == []


async def test_wrong_token_is_unauthorized(fake_telegram):
    stranger = Bot(
        "654321:OTHER", session=AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.url))
    )
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()
    await stranger.session.close()


async def test_unknown_method_is_not_found_and_names_are_case_insensitive(fake_telegram):
    async with aiohttp.ClientSession() as http:
        base = f"{fake_telegram.url}/bot{DEFAULT_TOKEN}"
        async with http.post(f"{base}/sendTelepathy") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"
        async with http.post(f"{base}/getme") as resp:
            assert (await resp.json())["result"]["id"] == 123456


async def test_send_message_with_keyboard_then_edit_it(bot, fake_telegram):
    fake = fake_telegram
    anna = fake.user(42, "Anna")
    sent = await bot.send_message(anna["id"], "Pick a course", reply_markup=keyboard(
        ("Python", "course:1"), ("Design", "course:2")))
    second = await bot.send_message(anna["id"], "Another")
    assert (sent.message_id, second.message_id) == (1, 2)
    assert sent.chat.first_name == "Anna" and sent.date.timestamp() > 0
    assert sent.reply_markup.inline_keyboard[1][0].callback_data == "course:2"

    edited = await bot.edit_message_text(
        "Python: 10 lessons", chat_id=42, message_id=sent.message_id,
        reply_markup=keyboard(("Buy", "buy:1")),
    )
    assert edited.text == "Python: 10 lessons" and edited.edit_date is not None
    stored = fake.sent_messages(42)
    assert [m["text"] for m in stored] == ["Python: 10 lessons", "Another"]
    assert stored[0]["reply_markup"]["inline_keyboard"] == [
        [{"text": "Buy", "callback_data": "buy:1"}]
    ]
    assert fake.last_message(42)["text"] == "Another"
    call = fake.calls_to("editMessageText")[0]
    assert call.chat_id == 42 and call.params["message_id"] == 1
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Buy"
    assert fake.violations == []


async def test_edit_without_markup_removes_the_keyboard_and_delete_removes_the_message(
    bot, fake_telegram
):
    sent = await bot.send_message(42, "Menu", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_text("Menu, no buttons", chat_id=42, message_id=sent.message_id)
    assert "reply_markup" not in fake_telegram.last_message(42)
    assert await bot.delete_message(42, sent.message_id)
    assert fake_telegram.sent_messages(42) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(42, sent.message_id)


async def test_not_modified_is_a_bad_request(bot, fake_telegram):
    sent = await bot.send_message(42, "Same", reply_markup=keyboard(("A", "a")))
    with pytest.raises(TelegramBadRequest, match="message is not modified") as error:
        await bot.edit_message_text(
            "Same", chat_id=42, message_id=sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    assert error.value.message.startswith("Bad Request: message is not modified: ")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=42, message_id=sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)
    assert fake_telegram.violations == []  # Telegram's answers, not the bot's mistakes


async def test_html_is_parsed_and_bad_html_is_refused(bot, fake_telegram):
    sent = await bot.send_message(42, "<b>Python</b> &amp; more", parse_mode="HTML")
    assert sent.text == "Python & more"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 6
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(42, "line<br>line", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Character '.' is reserved"):
        await bot.send_message(42, "Price: 9.99", parse_mode="MarkdownV2")
    assert len(fake_telegram.violations) == 2


async def test_telegram_limits_on_text_and_buttons(bot, fake_telegram):
    fake = fake_telegram
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(42, "   ")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "Курс", reply_markup=keyboard(("Курс", "курс:" + "я" * 30)))
    with pytest.raises(TelegramBadRequest, match="Wrong HTTP URL"):
        await bot.send_message(42, "Pay", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="Pay", url="http://localhost:8080/pay/1")]]))
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(42, "Hi", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Plain")]]))
    assert len(fake.violations) == 5 and fake.sent_messages(42) == []
    assert "BUTTON_DATA_INVALID" in str(fake.violations[2])


async def test_unknown_parameter_is_a_violation(bot, fake_telegram):
    with pytest.raises(TelegramBadRequest, match='unknown parameter "colour"'):
        await bot(SendMessage(chat_id=42, text="hi", colour="red"))
    [violation] = fake_telegram.violations
    assert violation.method == "sendMessage" and violation.params["colour"] == "red"


async def test_legacy_reply_to_message_id_is_still_accepted(bot, fake_telegram):
    first = await bot.send_message(42, "Question")
    answer = await bot.send_message(42, "Answer", reply_to_message_id=first.message_id)
    assert answer.reply_to_message.message_id == first.message_id
    assert fake_telegram.violations == []


async def test_validation_can_be_turned_off():
    async with FakeBotAPI(validate=False) as fake:
        async with aiohttp.ClientSession() as http:
            url = f"{fake.url}/bot{fake.token}/sendMessage"
            async with http.post(url, data={"chat_id": "7", "text": "hi", "colour": "red"}) as r:
                assert r.status == 200
        assert fake.violations == [] and fake.last_message(7)["text"] == "hi"


# ---------------------------------------------------------------- errors


async def test_429_is_retry_after(bot, fake_telegram):
    fake_telegram.fail("sendMessage", code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(42, "hi")
    assert error.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in error.value.message
    assert (await bot.send_message(42, "hi again")).text == "hi again"  # times=1
    assert [c.status for c in fake_telegram.calls_to("sendMessage")] == [429, 200]


async def test_injected_server_error_for_one_chat_until_cleared(bot, fake_telegram):
    fake_telegram.fail("*", code=502, times=None, chat_id=7)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(7, "hi")
    await bot.send_message(8, "other chat is fine")
    fake_telegram.clear_failures()
    await bot.send_message(7, "hi")


async def test_blocked_user_is_forbidden(bot, fake_telegram):
    fake = fake_telegram
    sent = await bot.send_message(42, "Hello")
    fake.block(42)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(42, "Still there?")
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text("Edited", chat_id=42, message_id=sent.message_id)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_invoice(42, "Course", "Python", "order:1", currency="XTR",
                               prices=[LabeledPrice(label="Course", amount=100)])
    fake.unblock(42)
    await bot.send_message(42, "Welcome back")
    # The user blocking the bot from Telegram: my_chat_member with status kicked.
    fake.my_chat_member_update(fake.user(43), new_status="kicked")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(43, "hi")


# ---------------------------------------------------------------- updates


async def test_get_updates_returns_pushed_updates_and_confirms_by_offset(bot, fake_telegram):
    fake = fake_telegram
    anna = fake.user(42)
    first, second = fake.text_update(anna, "/start"), fake.text_update(anna, "hi")
    fake.push(first, second)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert updates[0].message.text == "/start" and updates[0].message.from_user.id == 42
    assert updates[1].message.message_id == updates[0].message.message_id + 1
    again = await bot.get_updates(timeout=0)  # not confirmed yet: delivered again
    assert len(again) == 2
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == []
    assert fake.pending_updates == []

    # long polling: waits for the next update
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=second["update_id"] + 1, timeout=5))
    await asyncio.sleep(0.2)
    third = fake.text_update(anna, "late")
    fake.push(third)
    [late] = await poll
    assert late.update_id == third["update_id"] and time.monotonic() - started < 3


async def test_long_poll_times_out_empty(bot, fake_telegram):
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_allowed_updates_filter_and_stick(bot, fake_telegram):
    fake = fake_telegram
    member = fake.chat_member_update(GROUP, fake.user(42), new_status="member")
    fake.push(member)
    assert await bot.get_updates(timeout=0) == []  # chat_member only when asked for
    assert fake.filtered_updates == [member]
    member2 = fake.chat_member_update(GROUP, fake.user(43), new_status="member")
    fake.push(member2, fake.text_update(43, "hi"))
    [update] = await bot.get_updates(timeout=0, allowed_updates=["chat_member"])
    assert update.chat_member.new_chat_member.status == "member"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []  # sticks


async def test_second_poller_terminates_the_first(bot, fake_telegram):
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first


async def test_dispatcher_polling_delivers_a_text_update_to_a_handler(bot, fake_telegram):
    fake = fake_telegram
    dp = Dispatcher()
    seen = []

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(message.text)
        await message.answer(f"echo: {message.text}")

    fake.push(fake.text_update(fake.user(42, "Anna"), "hello"))
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        reply = await fake.wait_for_call("sendMessage", within=10)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 10)
    assert seen == ["hello"] and reply.status == 200
    assert fake.last_message(42)["text"] == "echo: hello"
    get_updates = fake.calls_to("getUpdates")
    assert get_updates[0].params["allowed_updates"] == ["message"]
    assert fake.violations == []


async def test_callback_query_answered_once(bot, fake_telegram):
    fake = fake_telegram
    anna = fake.user(42)
    await bot.send_message(42, "Pick", reply_markup=keyboard(("Python", "course:1")))
    update = fake.callback_update(anna, fake.last_message(42), "course:1")
    parsed = Update.model_validate(update, context={"bot": bot})
    assert isinstance(parsed.callback_query, CallbackQuery)
    assert parsed.callback_query.message.message_id == 1
    query_id = update["callback_query"]["id"]
    assert await bot.answer_callback_query(query_id, text="Opening")
    assert fake.callback_answers[query_id] == {"text": "Opening"}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(ValueError, match="no button"):
        fake.callback_update(anna, fake.last_message(42), "course:2")


async def test_webhook_with_secret_token(bot, fake_telegram, webhook_app):
    fake = fake_telegram
    dp = Dispatcher()
    seen = []

    @dp.message()
    async def on_message(message: Message) -> None:
        seen.append(message.text)

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token="s3cret").register(
        app, path="/tg/webhook"
    )
    url = await webhook_app(app, "/tg/webhook")
    assert await bot.set_webhook(
        url, secret_token="s3cret", allowed_updates=dp.resolve_used_update_types()
    )
    info = await bot.get_webhook_info()
    assert info.url == url and info.allowed_updates == ["message"]

    anna = fake.user(42)
    assert await fake.post_to_webhook(fake.text_update(anna, "hi")) == 200
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.02)
    assert seen == ["hi"]
    assert await fake.post_to_webhook(fake.text_update(anna, "forged"), secret="wrong") == 401
    assert await fake.post_to_webhook(fake.text_update(anna, "no secret"), secret=None) == 401
    await asyncio.sleep(0.1)
    assert seen == ["hi"]
    member = fake.chat_member_update(GROUP, anna)  # the bot did not ask for chat_member
    assert await fake.post_to_webhook(member) is None and fake.filtered_updates == [member]

    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    fake.push(fake.text_update(anna, "queued"))
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert [u["message"]["text"] for u in fake.dropped_updates] == ["queued"]
    assert fake.calls_to("deleteWebhook")[0].params["drop_pending_updates"] is True
    assert (await bot.get_webhook_info()).url == ""


async def test_webhook_answer_with_a_method_is_executed(bot, fake_telegram, webhook_app):
    fake = fake_telegram
    dp = Dispatcher()

    @dp.message()
    async def pong(message: Message):
        return message.answer("pong")

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, handle_in_background=False).register(
        app, path="/hook"
    )
    await bot.set_webhook(await webhook_app(app, "/hook"))
    assert await fake.post_to_webhook(fake.text_update(fake.user(42), "ping")) == 200
    [call] = fake.calls_to("sendMessage")
    assert call.via == "webhook-reply" and call.status == 200
    assert fake.last_message(42)["text"] == "pong"


async def test_builders_make_updates_aiogram_parses(bot, fake_telegram):
    fake = fake_telegram
    anna = fake.user(42, "Anna", "ru", username="anna")
    fake.group(GROUP, "Python group", owner=fake.user(7, "Owner"))
    link = (await bot.create_chat_invite_link(GROUP, name="anna", member_limit=1)).invite_link
    updates = [
        fake.text_update(anna, "/start promo"),
        fake.pre_checkout_update(anna, "order:1", "XTR", 100),
        fake.successful_payment_update(anna, "order:1", "XTR", 100, "charge-1",
                                       is_recurring=True, subscription_expiration_date=1),
        fake.chat_member_update(GROUP, anna, new_status="member", invite_link=link),
        fake.chat_join_request_update(GROUP, fake.user(43), bio="hi"),
        fake.my_chat_member_update(anna, GROUP, "administrator", "left"),
    ]
    ids = [u["update_id"] for u in updates]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = [Update.model_validate(u, context={"bot": bot}) for u in updates]
    assert parsed[0].message.entities[0].type == "bot_command"
    assert parsed[1].pre_checkout_query.invoice_payload == "order:1"
    assert parsed[2].message.successful_payment.telegram_payment_charge_id == "charge-1"
    assert parsed[3].chat_member.invite_link.invite_link == link
    assert parsed[4].chat_join_request.user_chat_id == 43
    assert parsed[5].my_chat_member.new_chat_member.status == "left"
    assert fake.member_status(GROUP, 42) == "member"


# ---------------------------------------------------------------- payments


async def test_invoice_rules(bot, fake_telegram):
    fake = fake_telegram
    sent = await bot.send_invoice(42, "Python course", "10 lessons", "order:1", currency="XTR",
                                  prices=[LabeledPrice(label="Course", amount=250)])
    assert sent.invoice.total_amount == 250 and sent.invoice.currency == "XTR"
    assert fake.calls_to("sendInvoice")[0].params["prices"] == [
        {"label": "Course", "amount": 250}
    ]
    assert fake.violations == []
    with pytest.raises(TelegramBadRequest, match="STARS_INVOICE_INVALID"):
        await bot.send_invoice(42, "Python course", "10 lessons", "order:2", currency="XTR",
                               prices=[LabeledPrice(label="Course", amount=200),
                                       LabeledPrice(label="Tax", amount=50)])
    with pytest.raises(TelegramBadRequest, match="PAYMENT_PROVIDER_INVALID"):
        await bot.send_invoice(42, "Python course", "10 lessons", "order:3", currency="EUR",
                               prices=[LabeledPrice(label="Course", amount=1000)])
    await bot.send_invoice(42, "Python course", "10 lessons", "order:4", currency="EUR",
                           provider_token="284685063:TEST:abc",
                           prices=[LabeledPrice(label="Course", amount=1000)])
    assert [str(v) for v in fake.violations] == [
        "sendInvoice: Bad Request: STARS_INVOICE_INVALID",
        "sendInvoice: Bad Request: PAYMENT_PROVIDER_INVALID",
    ]


async def test_create_invoice_link(bot, fake_telegram):
    link = await bot.create_invoice_link("Monthly", "Club access", "sub:1", currency="XTR",
                                         prices=[LabeledPrice(label="Month", amount=300)],
                                         subscription_period=2592000)
    assert link.startswith("https://t.me/$") and len(link) > len("https://t.me/$") + 10
    assert fake_telegram.invoice_links[link]["subscription_period"] == 2592000
    with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION_PERIOD_INVALID"):
        await bot.create_invoice_link("Weekly", "Club", "sub:2", currency="XTR",
                                      prices=[LabeledPrice(label="Week", amount=100)],
                                      subscription_period=604800)


async def test_pre_checkout_and_refund(bot, fake_telegram):
    fake = fake_telegram
    anna = fake.user(42)
    query_id = fake.pre_checkout_update(anna, "order:1", "XTR", 100)["pre_checkout_query"]["id"]
    with pytest.raises(TelegramBadRequest):
        await bot.answer_pre_checkout_query(query_id, ok=False)  # needs error_message
    assert "error_message" in fake.violations[0].description
    assert await bot.answer_pre_checkout_query(query_id, ok=True)
    assert fake.pre_checkout_answers[query_id] == {"ok": True, "error_message": None}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(query_id, ok=True)

    fake.successful_payment_update(anna, "order:1", "XTR", 100, "charge-1")
    assert await bot.refund_star_payment(42, "charge-1")
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(42, "charge-1")
    assert fake.refunds == ["charge-1"]


# ---------------------------------------------------------------- groups and commands


async def test_invite_links_join_requests_and_removal(bot, fake_telegram):
    fake = fake_telegram
    owner = fake.user(7, "Owner")
    fake.group(GROUP, "Python group", owner=owner)
    anna, boris = fake.user(42, "Anna"), fake.user(43, "Boris")

    link = await bot.create_chat_invite_link(GROUP, name="anna", member_limit=1)
    assert link.invite_link.startswith("https://t.me/+") and link.member_limit == 1
    with pytest.raises(TelegramBadRequest, match="member_limit"):
        await bot.create_chat_invite_link(GROUP, member_limit=1, creates_join_request=True)
    fake.chat_member_update(GROUP, anna, new_status="member", invite_link=link.invite_link)
    with pytest.raises(ValueError, match="full"):
        fake.chat_member_update(GROUP, boris, new_status="member", invite_link=link.invite_link)
    revoked = await bot.revoke_chat_invite_link(GROUP, link.invite_link)
    assert revoked.is_revoked

    request_link = await bot.create_chat_invite_link(GROUP, creates_join_request=True)
    fake.chat_join_request_update(GROUP, boris, invite_link=request_link.invite_link)
    assert await bot.approve_chat_join_request(GROUP, 43)
    assert isinstance(await bot.get_chat_member(GROUP, 43), ChatMemberMember)
    with pytest.raises(TelegramBadRequest, match="HIDE_REQUESTER_MISSING"):
        await bot.decline_chat_join_request(GROUP, 43)

    # kick = ban, then unban only_if_banned: out now, may come back later
    assert await bot.ban_chat_member(GROUP, 42)
    banned = await bot.get_chat_member(GROUP, 42)
    assert isinstance(banned, ChatMemberBanned)
    assert await bot.unban_chat_member(GROUP, 42, only_if_banned=True)
    assert fake.member_status(GROUP, 42) == "left"
    assert await bot.unban_chat_member(GROUP, 43)  # without only_if_banned: removed
    assert fake.member_status(GROUP, 43) == "left"
    with pytest.raises(TelegramBadRequest, match="can't remove chat owner"):
        await bot.ban_chat_member(GROUP, 7)

    admins = await bot.get_chat_administrators(GROUP)
    kinds = {type(a) for a in admins}
    assert kinds == {ChatMemberOwner, ChatMemberAdministrator}
    assert [v.method for v in fake.violations] == ["createChatInviteLink"]  # the one above


async def test_bot_without_rights_and_bot_removed(bot, fake_telegram):
    fake = fake_telegram
    fake.group(GROUP, bot_status="member")
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.create_chat_invite_link(GROUP)
    fake.my_chat_member_update(fake.user(7), GROUP, "member", "kicked")
    with pytest.raises(TelegramForbiddenError, match="bot was kicked"):
        await bot.send_message(GROUP, "hello group")


async def test_commands_per_scope_and_language(bot, fake_telegram):
    fake = fake_telegram
    en = [BotCommand(command="start", description="Start"),
          BotCommand(command="courses", description="Courses")]
    ru = [BotCommand(command="start", description="Начать")]
    admin = [BotCommand(command="stats", description="Sales")]
    await bot.set_my_commands(en)
    await bot.set_my_commands(ru, language_code="ru")
    await bot.set_my_commands(admin, scope=BotCommandScopeChat(chat_id=7))
    assert [c.command for c in await bot.get_my_commands()] == ["start", "courses"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=7))
            ] == ["stats"]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == []
    assert fake.commands({"type": "chat", "chat_id": 7}) == [
        {"command": "stats", "description": "Sales"}
    ]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Buy-Now", description="x")])


def _png(width: int, height: int) -> bytes:
    """A real PNG of one grey colour."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_other_methods(bot, fake_telegram):
    assert await bot.send_chat_action(42, "typing")
    photo = await bot.send_photo(
        42, BufferedInputFile(_png(3, 2), "lesson.png"), caption="<b>Lesson 1</b>",
        parse_mode="HTML",
    )
    assert photo.photo and photo.caption == "Lesson 1" and photo.caption_entities[0].length == 8
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2)
    assert fake_telegram.files[photo.photo[-1].file_id].data == _png(3, 2)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(42, BufferedInputFile(b"\x89PNG...", "broken.png"))
    with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
        await bot.send_photo(42, BufferedInputFile(_png(210, 10), "strip.png"))
    fake_telegram.violations.clear()  # refused on purpose
    assert (await bot.send_document(42, "https://example.com/notes.pdf")).document
    assert await bot.pin_chat_message(42, photo.message_id)
    chat = await bot.get_chat(GROUP)
    assert chat.id == GROUP and chat.type == "supergroup"
    assert fake_telegram.violations == []
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(42, "dancing")
    with pytest.raises(TelegramServerError, match="does not implement"):
        await bot.get_star_transactions()
    assert fake_telegram.unimplemented == ["getStarTransactions"]


# ---------------------------------------------------------------- rates


def test_rate_helpers_count_sliding_windows():
    fake = FakeBotAPI()
    at = 1000.0
    for i in range(35):  # 35 messages to 35 users within 0.7 s
        fake.calls.append(Call("sendMessage", {}, at + i * 0.02, chat_id=100 + i))
    for i in range(3):  # a private chat: 3 messages 0.4 s apart
        fake.calls.append(Call("sendMessage", {}, at + 5 + i * 0.4, chat_id=42))
    for i in range(25):  # a group: 25 messages 2 s apart (50 s)
        fake.calls.append(Call("sendMessage", {}, at + 10 + i * 2.0, chat_id=GROUP))
    fake.calls.append(Call("getUpdates", {}, at, chat_id=None))
    assert fake.max_rate(window_seconds=1.0) == 35
    assert fake.max_rate("*", 1.0) == 36
    assert fake.max_rate(["sendInvoice"], 1.0) == 0
    assert fake.max_rate_per_chat(window_seconds=1.0, chats="private") == 3
    assert fake.rates_per_chat(window_seconds=1.0)[42] == 3
    assert fake.max_rate_per_chat(window_seconds=60.0, chats="group") == 25
    assert fake.max_rate_per_chat(window_seconds=10.0, chats="group") == 5
    assert fake.max_rate(window_seconds=1.0, since=at + 5) == 3
    assert FakeBotAPI.max_in_window([0.0, 1.0, 2.0], 1.0) == 1  # windows are [t, t + 1)
    assert FakeBotAPI.max_in_window([], 1.0) == 0


async def test_live_calls_are_timed(bot, fake_telegram):
    for i in range(5):
        await bot.send_message(42, f"m{i}")
    await bot.send_message(-100777, "group")
    assert fake_telegram.max_rate_per_chat(window_seconds=30) == 5
    assert fake_telegram.max_rate_per_chat(window_seconds=30, chats="group") == 1


async def test_throughput_without_validation():
    async with FakeBotAPI(validate=False) as fake:
        bot = fake.aiogram_bot()
        started = time.perf_counter()
        for batch in range(10):
            await asyncio.gather(
                *(bot.send_message(1000 + i, f"news {batch}") for i in range(50))
            )
        elapsed = time.perf_counter() - started
        await bot.session.close()
    assert len(fake.calls_to("sendMessage")) == 500
    assert all(c.status == 200 for c in fake.calls)
    assert elapsed < 20  # a few hundred requests a second even on a slow machine
