"""The fake Viber REST Bot API, driven with a plain aiohttp client and a tiny aiohttp "bot"
that records every callback: what the bot sends is checked like Viber would, and what the
fake posts to the webhook is signed and shaped like Viber's callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fake_viber_api import DEFAULT_TOKEN, SIGNATURE_HEADER, TOKEN_HEADER, FakeViber

ANNA = "anNa0123456789abcdefg=="
BORIS = "bOris0123456789abcdef=="
SENDER = {"name": "Test School"}


@dataclass
class BotStub:
    """The bot's webhook: records each callback; answers ``status`` with ``reply`` as JSON."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        if self.reply is not None:
            return web.json_response(self.reply, status=self.status)
        return web.Response(status=self.status)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.received]

    def verified(self, index: int = -1, token: str = DEFAULT_TOKEN) -> bool:
        headers, raw = self.received[index]
        expected = hmac.new(token.encode(), raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, ""))


@pytest.fixture
async def bot():
    stub = BotStub()
    app = web.Application()
    app.router.add_post("/viber", stub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}/viber"
    yield stub
    await runner.cleanup()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(fake_viber, http):
    """``await api(endpoint, body, token=...)`` -> the decoded JSON answer."""

    async def call(endpoint: str, body: Any = None, *, token: str | None = DEFAULT_TOKEN,
                   raw: bytes | None = None) -> dict[str, Any]:
        headers = {TOKEN_HEADER: token} if token is not None else {}
        data = raw if raw is not None else json.dumps(body or {}, ensure_ascii=False).encode()
        async with http.post(fake_viber.api_url + endpoint, data=data, headers=headers) as resp:
            assert resp.status == 200
            return await resp.json()

    return call


@pytest.fixture
async def hooked(fake_viber, bot, api):
    """The fake with the bot's webhook set (send_name and send_photo on)."""
    answer = await api("set_webhook", {"url": bot.url, "send_name": True, "send_photo": True})
    assert answer["status"] == 0
    bot.received.clear()
    return fake_viber


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": list(buttons)}


def reply(body: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": body,
            "Text": text or body, **extra}


def text_message(receiver: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"receiver": receiver, "sender": SENDER, "type": "text", "text": text, **extra}


# ---------------------------------------------------------------- webhook


async def test_set_webhook_posts_a_signed_check_and_answers_event_types(fake_viber, bot, api):
    answer = await api("set_webhook", {"url": bot.url, "event_types": ["delivered", "seen"]})
    assert answer == {"status": 0, "status_message": "ok", "event_types": ["delivered", "seen"]}
    [check] = bot.events()
    assert set(check) == {"event", "timestamp", "chat_hostname", "message_token"}
    assert check["event"] == "webhook" and isinstance(check["message_token"], int)
    assert check["timestamp"] > 1_600_000_000_000  # milliseconds
    assert bot.verified()
    assert bot.received[0][0]["Content-Type"] == "application/json"
    assert fake_viber.webhook == {"url": bot.url, "event_types": ["delivered", "seen"],
                                  "send_name": False, "send_photo": False}
    info = await api("get_account_info")
    assert info["status"] == 0 and info["webhook"] == bot.url
    assert info["subscribers_count"] == 0 and info["id"].startswith("pa:")
    assert fake_viber.violations == []


async def test_set_webhook_fails_unless_the_check_gets_200(fake_viber, bot, api):
    bot.status = 500
    assert (await api("set_webhook", {"url": bot.url}))["status"] == 1
    assert fake_viber.webhook is None and len(bot.received) == 1
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}/viber"
    assert (await api("set_webhook", {"url": closed}))["status_message"] == "invalidUrl"
    assert (await api("set_webhook", {"url": "http://example.com/hook"}))["status"] == 1
    assert fake_viber.callbacks[-1].status == 0  # the closed port: nobody answered
    bot.status = 200
    assert (await api("set_webhook", {"url": bot.url}))["event_types"][0] == "delivered"
    assert (await api("set_webhook", {"url": ""})) == {"status": 0, "status_message": "ok"}
    assert fake_viber.webhook is None
    assert fake_viber.violations == []


async def test_bad_and_missing_token(fake_viber, api):
    answer = await api("get_account_info", token="nope")
    assert answer == {"status": 2, "status_message": "invalidAuthToken"}
    assert fake_viber.violations == []
    assert (await api("get_account_info", token=None))["status"] == 2
    [violation] = fake_viber.violations
    assert violation.description == "missing_auth_token"
    assert [c.status for c in fake_viber.calls_to("get_account_info")] == [2, 2]


async def test_unknown_endpoint_and_bad_json_are_violations(fake_viber, api, http):
    async with http.post(fake_viber.api_url + "send_telepathy",
                         headers={TOKEN_HEADER: DEFAULT_TOKEN}) as resp:
        assert resp.status == 404
    answer = await api("send_message", raw=b"{not json")
    assert answer["status"] == 3
    assert [v.endpoint for v in fake_viber.violations] == ["send_telepathy", "send_message"]


# ---------------------------------------------------------------- send_message


async def test_send_message_with_reply_and_open_url_buttons(hooked, api):
    fake = hooked
    fake.user(ANNA, "Anna", subscribed=True)
    kb = keyboard(
        reply("course:1", "Python"),
        {"Columns": 3, "ActionType": "open-url", "ActionBody": "https://school.test/pay/1",
         "Text": "Pay", "Silent": True, "TextSize": "regular", "BgColor": "#2db9b9"},
    )
    answer = await api("send_message", text_message(
        ANNA, "Pick a course", keyboard=kb, tracking_data="menu:1", min_api_version=3))
    assert answer["status"] == 0 and answer["status_message"] == "ok"
    assert isinstance(answer["message_token"], int) and answer["chat_hostname"]
    last = fake.last_message(ANNA)
    assert last["text"] == "Pick a course" and last["tracking_data"] == "menu:1"
    assert last["keyboard"] == kb and last["sender"] == SENDER
    assert last["message_token"] == answer["message_token"] and last["via"] == "send_message"
    assert [b["ActionBody"] for b in fake.buttons(ANNA)] == [
        "course:1", "https://school.test/pay/1"]
    await api("send_message", text_message(ANNA, "Plain"))
    assert fake.buttons(ANNA) == [] and len(fake.messages(ANNA)) == 2
    call = await fake.wait_for_call("send_message", count=2, within=1)
    assert call.receiver == ANNA and call.body["text"] == "Plain" and call.status == 0
    assert fake.violations == []


@pytest.mark.parametrize(("kb", "detail"), [
    (keyboard(reply("a", Columns=7)), "Columns must be an integer 1..6"),
    (keyboard(reply("a", Rows=3)), "Rows must be an integer 1..2"),
    (keyboard({"Columns": 6, "ActionType": "reply", "Text": "x"}), "ActionBody"),
    (keyboard(reply("a" * 251)), "ActionBody is longer than 250"),
    (keyboard({"ActionType": "open-url", "ActionBody": "www.school.test"}), "http(s) URL"),
    (keyboard({"ActionType": "call", "ActionBody": "x"}), "ActionType 'call'"),
    (keyboard(reply("a", columns=2)), "unknown properties ['columns']"),
    ({"Type": "keyboard", "buttons": []}, "unknown keyboard properties"),
    ({"Type": "keyboard", "Buttons": []}, "non-empty array"),
    ({"Type": "menu", "Buttons": [reply("a")]}, "Type must be"),
    ({**keyboard(reply("a")), "InputFieldState": "gone"}, "InputFieldState"),
])
async def test_bad_keyboard_is_bad_data_and_a_violation(hooked, api, kb, detail):
    hooked.user(ANNA, "Anna", subscribed=True)
    answer = await api("send_message", text_message(ANNA, "Menu", keyboard=kb))
    assert answer["status"] == 3
    assert answer["status_message"].startswith("keyboard is not valid.")
    assert detail in answer["status_message"]
    [violation] = hooked.violations
    assert violation.endpoint == "send_message" and violation.body["keyboard"] == kb
    assert hooked.messages(ANNA) == []


async def test_message_limits(hooked, api):
    fake = hooked
    fake.user(ANNA, "Anna", subscribed=True)
    assert (await api("send_message", text_message(ANNA, "я" * 7000)))["status"] == 0
    assert (await api("send_message", text_message(ANNA, "😀" * 3501)))["status"] == 3
    too_long_name = {**text_message(ANNA, "hi"), "sender": {"name": "x" * 29}}
    assert (await api("send_message", too_long_name))["status"] == 3
    assert (await api("send_message", text_message(ANNA, "hi", tracking_data="t" * 4001))
            )["status"] == 3
    no_sender = {"receiver": ANNA, "type": "text", "text": "hi"}
    assert (await api("send_message", no_sender))["status"] == 4
    assert (await api("send_message", {**text_message(ANNA, "hi"), "type": "txt"}))[
        "status"] == 3
    huge = text_message(ANNA, "hi", keyboard=keyboard(*[reply(f"b{i}" + "x" * 200)
                                                        for i in range(150)]))
    answer = await api("send_message", huge)
    assert answer["status"] == 3 and "30720" in answer["status_message"]
    assert len(fake.violations) == 6 and len(fake.messages(ANNA)) == 1


async def test_receivers_must_be_known_and_subscribed(hooked, api, bot):
    fake = hooked
    assert (await api("send_message", text_message("stranger==", "hi")))["status"] == 5
    fake.user(ANNA, "Anna")
    answer = await api("send_message", text_message(ANNA, "hi"))
    assert answer == {"status": 6, "status_message": "receiverNotSubscribed"}
    assert await fake.says(ANNA, "hello") == (200, "")  # writing subscribes
    assert (await api("send_message", text_message(ANNA, "hi")))["status"] == 0
    assert (await fake.unsubscribes(ANNA))[0] == 200
    assert bot.events()[-1]["user_id"] == ANNA and bot.events()[-1]["event"] == "unsubscribed"
    assert (await api("send_message", text_message(ANNA, "hi again")))["status"] == 6
    await fake.subscribes(ANNA)
    assert bot.events()[-1]["user"]["name"] == "Anna"
    assert (await api("send_message", text_message(ANNA, "welcome back")))["status"] == 0
    assert fake.violations == []


async def test_no_webhook_is_status_10(fake_viber, api):
    fake_viber.user(ANNA, "Anna", subscribed=True)
    assert (await api("send_message", text_message(ANNA, "hi")))["status"] == 10
    with pytest.raises(RuntimeError, match="no webhook"):
        await fake_viber.says(ANNA, "hi")


async def test_100_unanswered_messages_then_too_many_requests(hooked, api):
    fake = hooked
    fake.user(ANNA, "Anna", subscribed=True)
    for i in range(100):
        assert (await api("send_message", text_message(ANNA, f"lesson {i}")))["status"] == 0
    answer = await api("send_message", text_message(ANNA, "one more"))
    assert answer["status"] == 12 and "message_token" in answer
    clock = fake.time
    fake.time = lambda: clock() + 3601  # an hour later the old ones no longer count
    for i in range(100):
        assert (await api("send_message", text_message(ANNA, f"next {i}")))["status"] == 0
    assert (await api("send_message", text_message(ANNA, "x")))["status"] == 12
    await fake.says(ANNA, "I'm here")
    assert (await api("send_message", text_message(ANNA, "thanks")))["status"] == 0
    assert fake.violations == []


async def test_injected_failures(hooked, api):
    hooked.user(ANNA, "Anna", subscribed=True)
    hooked.user(BORIS, "Boris", subscribed=True)
    hooked.fail("send_message", status=12, times=1, receiver=BORIS)
    assert (await api("send_message", text_message(ANNA, "hi")))["status"] == 0
    assert (await api("send_message", text_message(BORIS, "hi")))["status"] == 12
    assert (await api("send_message", text_message(BORIS, "hi")))["status"] == 0
    hooked.fail("*", status=9, times=None)
    assert (await api("get_account_info"))["status_message"] == "publicAccountSuspended"
    hooked.clear_failures()
    assert (await api("get_account_info"))["status"] == 0


async def test_broadcast_and_user_details(hooked, api):
    hooked.user(ANNA, "Anna", subscribed=True)
    hooked.user(BORIS, "Boris")
    body = {"broadcast_list": [ANNA, BORIS, "nobody=="], "sender": SENDER, "type": "text",
            "text": "New course!"}
    answer = await api("broadcast_message", body)
    assert answer["status"] == 0
    assert [(f["receiver"], f["status"]) for f in answer["failed_list"]] == [
        (BORIS, 6), ("nobody==", 5)]
    assert hooked.last_message(ANNA)["via"] == "broadcast_message"
    too_many = {**body, "broadcast_list": [ANNA] * 301}
    assert (await api("broadcast_message", too_many))["status"] == 3
    details = await api("get_user_details", {"id": ANNA})
    assert details["user"]["name"] == "Anna" and details["user"]["language"] == "en"
    await api("get_user_details", {"id": ANNA})
    assert (await api("get_user_details", {"id": ANNA}))["status"] == 12  # twice per 12 h
    assert len(hooked.violations) == 1


# ---------------------------------------------------------------- callbacks


async def test_callbacks_are_signed_and_shaped_like_viber(hooked, bot):
    fake = hooked
    fake.user(ANNA, "Анна", language="uk", avatar="https://example.com/a.jpg")
    assert await fake.starts(ANNA, context="course-7") == (200, "")
    assert await fake.says(ANNA, "Привіт") == (200, "")
    started, said = bot.events()
    assert started["event"] == "conversation_started" and started["type"] == "open"
    assert started["context"] == "course-7" and started["subscribed"] is False
    assert started["user"] == {"id": ANNA, "name": "Анна", "avatar": "https://example.com/a.jpg",
                               "language": "uk", "country": "GB", "api_version": 10}
    assert said["sender"]["id"] == ANNA and said["message"] == {"type": "text", "text": "Привіт"}
    assert started["message_token"] != said["message_token"]
    assert all(bot.verified(i) for i in range(2))
    assert "Привіт".encode() in bot.received[1][1]  # raw UTF-8, sign the bytes as received
    assert not bot.verified(1, token="another-token")
    assert [c.event for c in fake.callbacks] == ["webhook", "conversation_started", "message"]


async def test_forged_duplicate_raw_and_retried_callbacks(hooked, bot):
    fake = hooked
    fake.user(ANNA, "Anna")
    assert (await fake.post({"event": "message", "sender": {"id": ANNA},
                             "message": {"type": "text", "text": "hi"}}, signature="bad"))[0] == 200
    headers, raw = bot.received[-1]
    assert SIGNATURE_HEADER in headers and not bot.verified()
    assert headers[SIGNATURE_HEADER] != fake.sign(raw)
    await fake.post({"event": "seen"}, signature="missing")
    assert SIGNATURE_HEADER not in bot.received[-1][0]
    await fake.post({"event": "seen"}, signature="abc123")
    assert bot.received[-1][0][SIGNATURE_HEADER] == "abc123"

    await fake.post({"event": "seen"}, raw_body=b'{"event": "seen" }')
    assert bot.received[-1][1] == b'{"event": "seen" }' and bot.verified()

    first = await fake.says(ANNA, "pay")
    token = bot.events()[-1]["message_token"]
    await fake.post(bot.events()[-1], repeat_token=token)
    assert bot.events()[-1]["message_token"] == token and first == (200, "")

    bot.status = 503
    assert (await fake.post({"event": "seen"}, retries=2))[0] == 503
    assert len({raw for _, raw in bot.received[-3:]}) == 1  # the identical body, three times
    assert [c.attempt for c in fake.callbacks[-3:]] == [1, 2, 3]


async def test_press_sends_the_action_body_as_a_message(hooked, api, bot):
    fake = hooked
    fake.user(ANNA, "Anna", subscribed=True)
    kb = keyboard(reply("course:1", "Python"),
                  {"ActionType": "open-url", "ActionBody": "https://school.test/pay"},
                  {"ActionType": "share-phone", "ActionBody": "phone"},
                  {"ActionType": "none", "ActionBody": ""})
    await api("send_message", text_message(ANNA, "Menu", keyboard=kb, tracking_data="menu"))
    assert await fake.press(ANNA, "course:1") == (200, "")
    event = bot.events()[-1]
    assert event["event"] == "message" and event["message"] == {
        "type": "text", "text": "course:1", "tracking_data": "menu"}
    await fake.press(ANNA, "https://school.test/pay")
    assert bot.events()[-1]["message"]["text"] == "https://school.test/pay"
    await fake.press(ANNA, "phone")
    assert bot.events()[-1]["message"]["contact"]["phone_number"].startswith("+")
    with pytest.raises(ValueError, match="ActionType none"):
        await fake.press(ANNA, "")
    with pytest.raises(ValueError, match="no button with ActionBody 'course:2'"):
        await fake.press(ANNA, "course:2")
    await api("send_message", text_message(ANNA, "No keyboard"))
    with pytest.raises(ValueError, match="no button"):
        await fake.press(ANNA, "course:1")  # the last message hid the keyboard


async def test_welcome_message_in_the_answer_to_conversation_started(hooked, bot):
    fake = hooked
    bot.reply = {"sender": SENDER, "type": "text", "text": "Welcome!",
                 "keyboard": keyboard(reply("start"))}
    status, text = await fake.starts(ANNA)
    assert status == 200 and json.loads(text)["text"] == "Welcome!"
    welcome = fake.last_message(ANNA)
    assert welcome["via"] == "welcome" and welcome["text"] == "Welcome!"
    assert "context" not in bot.events()[-1] and ANNA not in fake.subscribed
    assert fake.violations == []
    bot.reply = {"type": "text", "text": "no sender"}
    await fake.starts(BORIS)
    assert fake.messages(BORIS) == []
    assert [v.endpoint for v in fake.violations] == ["welcome_message"]
    bot.reply = {"ok": True}  # not a message: ignored, like Viber
    await fake.starts(BORIS)
    assert len(fake.violations) == 1


async def test_event_types_filter_and_hidden_names(fake_viber, bot, api):
    fake = fake_viber
    await api("set_webhook", {"url": bot.url, "event_types": ["delivered"]})
    fake.user(ANNA, "Anna", subscribed=True, avatar="https://example.com/a.jpg")
    status, text = await fake.starts(ANNA)
    assert status == 0 and text.startswith("filtered")
    assert fake.filtered_events[0]["event"] == "conversation_started"
    await api("send_message", text_message(ANNA, "hi"))
    assert (await fake.seen(ANNA))[0] == 0
    assert await fake.delivered(ANNA) == (200, "")
    receipt = bot.events()[-1]
    assert receipt["message_token"] == fake.last_message(ANNA)["message_token"]
    assert receipt["user_id"] == ANNA
    await fake.says(ANNA, "hi")  # message is always sent; no send_name / send_photo
    assert bot.events()[-1]["sender"] == {"id": ANNA, "language": "en", "country": "GB",
                                          "api_version": 10}


async def test_own_fake_instance_with_context_manager(bot):
    async with FakeViber(token="other-token") as fake, aiohttp.ClientSession() as http:
        async with http.post(fake.api_url + "set_webhook", json={"url": bot.url},
                             headers={TOKEN_HEADER: "other-token"}) as resp:
            assert (await resp.json())["status"] == 0
        assert bot.verified(token="other-token") and not bot.verified()
