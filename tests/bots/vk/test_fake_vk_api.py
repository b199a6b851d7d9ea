"""The fake VK API, driven through the real vk_api client: what vk_api sends is accepted, what
the fake answers parses, VK's errors come back as vk_api's ApiError, and VkBotLongPoll polls it
(in a thread: vk_api is synchronous)."""

from __future__ import annotations

import asyncio
import json
import time

import jconfig.memory
import pytest
import vk_api
from aiohttp import web
from fake_vk_api import API_VERSION, DEFAULT_GROUP_ID, FakeVK, session_to
from vk_api.bot_longpoll import VkBotEventType, VkBotLongPoll
from vk_api.keyboard import VkKeyboard, VkKeyboardColor
from vk_api.utils import get_random_id


def make_vk(fake: FakeVK, token: str | None = None, api_version: str = API_VERSION):
    vk = vk_api.VkApi(
        token=token or fake.token, api_version=api_version, session=session_to(fake.url),
        config=jconfig.memory.MemoryConfig,
    )
    vk.RPS_DELAY = 0  # the client's own 0.34 s pause between calls, not needed here
    return vk


@pytest.fixture
def vk(fake_vk):
    return make_vk(fake_vk)


async def call(vk, method: str, **values):
    return await asyncio.to_thread(vk.method, method, values)


async def send(vk, peer_id: int, text: str, keyboard: VkKeyboard | str | None = None, **extra):
    values = {"peer_id": peer_id, "message": text, "random_id": get_random_id(), **extra}
    if keyboard is not None:
        values["keyboard"] = keyboard if isinstance(keyboard, str) else keyboard.get_keyboard()
    return await call(vk, "messages.send", **values)


async def raw(fake: FakeVK, method: str, http: str = "post", **values) -> dict:
    """A request as is (no vk_api: no retries, no defaults) through session_to."""
    session = session_to(fake.url)
    url = f"https://api.vk.ru/method/{method}"

    def go() -> dict:
        if http == "get":
            return session.get(url, params=values, timeout=5).json()
        return session.post(url, data=values, timeout=5).json()

    try:
        return await asyncio.to_thread(go)
    finally:
        session.close()


def shop_keyboard() -> VkKeyboard:
    kb = VkKeyboard(inline=True)
    kb.add_callback_button("Buy", color=VkKeyboardColor.POSITIVE, payload={"cmd": "buy", "id": 7})
    kb.add_button("Help", payload={"cmd": "help"})
    kb.add_line()
    kb.add_openlink_button("Site", "https://school.example/courses")
    return kb


# ---------------------------------------------------------------- basics


async def test_vk_api_reaches_the_fake_through_session_to(fake_vk, vk):
    fake_vk.time = lambda: 1_700_000_000.5
    assert await call(vk, "utils.getServerTime") == 1_700_000_000
    sent = fake_vk.calls_to("utils.getServerTime")[0]
    assert sent.ok and sent.params["v"] == "5.199" and sent.params["access_token"] == vk.token[
        "access_token"]
    by_get = await raw(fake_vk, "utils.getServerTime", http="get",
                       access_token=fake_vk.token, v="5.199")
    assert by_get == {"response": 1_700_000_000}
    assert fake_vk.violations == []


async def test_fake_vk_api_helper_and_group_and_users(fake_vk):
    api = fake_vk.vk_api().get_api()
    fake_vk.user(42, "Anna", "Petrova", "en", screen_name="anna")
    users = await asyncio.to_thread(api.users.get, user_ids=[42, 43], fields="screen_name")
    assert users[0] == {"id": 42, "first_name": "Anna", "last_name": "Petrova",
                        "can_access_closed": True, "is_closed": False, "screen_name": "anna"}
    assert users[1]["deactivated"] == "deleted"
    group = await asyncio.to_thread(api.groups.get_by_id)
    assert group["groups"][0]["id"] == DEFAULT_GROUP_ID and group["profiles"] == []
    assert fake_vk.violations == []


async def test_wrong_token_is_error_5_without_a_violation(fake_vk):
    stranger = make_vk(fake_vk, token="vk1.a.someone-else")
    with pytest.raises(vk_api.ApiError) as e:
        await call(stranger, "utils.getServerTime")
    assert e.value.code == 5 and "authorization failed" in e.value.error["error_msg"]
    keys = {p["key"] for p in e.value.error["request_params"]}
    assert "method" in keys and "access_token" not in keys
    assert fake_vk.violations == []


async def test_old_or_missing_api_version_is_a_violation(fake_vk):
    old = vk_api.VkApi(token=fake_vk.token, session=session_to(fake_vk.url),
                       config=jconfig.memory.MemoryConfig)
    old.RPS_DELAY = 0
    assert old.api_version == "5.92"  # vk_api's default
    await call(old, "utils.getServerTime")
    no_v = await raw(fake_vk, "utils.getServerTime", access_token=fake_vk.token)
    assert no_v["error"]["error_code"] == 8
    assert [str(v) for v in fake_vk.violations] == [
        "utils.getServerTime: API version 5.92 is older than 5.131",
        "utils.getServerTime: v (version) is required",
    ]


async def test_unknown_method_is_error_3(fake_vk, vk):
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.sendTelepathy", peer_id=1)
    assert e.value.code == 3 and fake_vk.unimplemented == ["messages.sendTelepathy"]


# ---------------------------------------------------------------- messages.send


async def test_send_with_an_inline_keyboard_of_callback_text_and_link_buttons(fake_vk, vk):
    fake = fake_vk
    fake.push(fake.text_update(fake.user(42, "Anna"), "Начать"))
    message_id = await send(vk, 42, "Pick a course", shop_keyboard(), dont_parse_links=1)
    assert isinstance(message_id, int)
    call_made = await fake.wait_for_call("messages.send")
    assert call_made.peer_id == 42 and call_made.response == message_id

    last = fake.last_message(42)
    assert last["id"] == message_id and last["text"] == "Pick a course"
    assert last["conversation_message_id"] == 2  # the user's "Начать" was 1
    assert last["from_id"] == -DEFAULT_GROUP_ID and last["out"] == 1 and last["dont_parse_links"]
    assert last["keyboard"]["inline"] is True
    buttons = fake.buttons(42)
    assert [b["action"]["type"] for b in buttons] == ["callback", "text", "open_link"]
    assert json.loads(buttons[0]["action"]["payload"]) == {"cmd": "buy", "id": 7}
    assert buttons[0]["color"] == "positive" and "color" not in buttons[2]
    assert buttons[2]["action"]["link"] == "https://school.example/courses"
    assert fake.keyboard(42) is None  # inline: nothing under the input field
    assert [m["text"] for m in fake.dialog(42)] == ["Начать", "Pick a course"]
    assert fake.violations == []


async def test_a_non_inline_keyboard_stays_under_the_input_field(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    kb = VkKeyboard(one_time=True)
    kb.add_button("Courses", payload={"cmd": "courses"})
    await send(vk, 42, "Menu", kb)
    await send(vk, 42, "No keyboard param: the menu stays")
    assert fake_vk.keyboard(42)["buttons"][0][0]["action"]["label"] == "Courses"
    update = fake_vk.press(42, None, {"cmd": "courses"})
    assert update["object"]["message"]["text"] == "Courses"
    assert fake_vk.keyboard(42) is None  # one_time
    await send(vk, 42, "Menu again", kb)
    await send(vk, 42, "Removed", VkKeyboard.get_empty_keyboard())
    assert fake_vk.keyboard(42) is None and fake_vk.violations == []


async def test_same_random_id_in_the_hour_is_the_same_message(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    first = await call(vk, "messages.send", peer_id=42, message="Paid", random_id=555)
    again = await call(vk, "messages.send", peer_id=42, message="Paid", random_id=555)
    other = await call(vk, "messages.send", peer_id=42, message="Paid", random_id=556)
    assert first == again != other
    assert [m["random_id"] for m in fake_vk.messages(42)] == [555, 556]
    now = time.time()
    fake_vk.time = lambda: now + 3601
    later = await call(vk, "messages.send", peer_id=42, message="Paid", random_id=555)
    assert later not in (first, other) and len(fake_vk.messages(42)) == 3


async def test_missing_random_id_or_empty_text_is_error_100_and_a_violation(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.send", peer_id=42, message="Hi")
    assert e.value.code == 100 and "random_id" in e.value.error["error_msg"]
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.send", peer_id=42, message="", random_id=1)
    assert e.value.code == 100
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.send", peer_id=42, message="x" * 4097, random_id=2)
    assert e.value.code == 914
    assert len(fake_vk.violations) == 3 and fake_vk.messages(42) == []
    await call(vk, "messages.send", peer_id=42, message="x" * 4096, random_id=3)


async def test_901_without_permission_and_900_in_the_blacklist(fake_vk, vk):
    fake = fake_vk
    fake.user(42, "Anna")

    async def allowed() -> int:
        answer = await call(vk, "messages.isMessagesFromGroupAllowed",
                            group_id=fake.group_id, user_id=42)
        return answer["is_allowed"]

    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 42, "Never wrote to us")
    assert e.value.code == 901
    assert e.value.error["error_msg"] == "Can't send messages for users without permission"
    assert await allowed() == 0

    fake.push(fake.text_update(42, "Hi"))
    assert await allowed() == 1
    await send(vk, 42, "Hello")
    fake.push(fake.deny(42))
    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 42, "Denied")
    assert e.value.code == 901 and await allowed() == 0
    fake.push(fake.allow(42, key="promo"))
    await send(vk, 42, "Allowed again")
    fake.block(42)
    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 42, "Blacklisted")
    assert e.value.code == 900
    assert [m["text"] for m in fake.messages(42)] == ["Hello", "Allowed again"]
    assert fake.violations == []


async def test_peer_ids_answer_per_peer(fake_vk, vk):
    fake_vk.user(1, allowed=True)
    answer = await call(vk, "messages.send", peer_ids="1,2", message="News", random_id=9)
    assert answer[0]["peer_id"] == 1 and answer[0]["conversation_message_id"] == 1
    assert answer[1] == {"peer_id": 2, "error": {
        "code": 901, "description": "Can't send messages for users without permission"}}


# ---------------------------------------------------------------- keyboards


async def test_eleven_inline_buttons_are_error_911(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    kb = VkKeyboard(inline=True)  # vk_api checks 5 a row and 6 rows, not 10 in all
    for i in range(11):
        if i and i % 5 == 0:
            kb.add_line()
        kb.add_callback_button(f"Lesson {i}", payload={"lesson": i})
    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 42, "Too many", kb)
    assert e.value.code == 911
    assert e.value.error["error_msg"].startswith("Keyboard format is invalid")
    assert [v.description for v in fake_vk.violations] == [
        "inline keyboard has 11 buttons (at most 10)"]
    assert fake_vk.messages(42) == []


def _inline(*buttons: dict, rows: int = 1) -> str:
    return json.dumps({"inline": True, "buttons": [list(buttons)] * rows})


def _callback(label: str = "Go", payload: str | None = '{"a":1}', **extra) -> dict:
    return {"action": {"type": "callback", "label": label, "payload": payload}, **extra}


@pytest.mark.parametrize(("keyboard", "problem"), [
    (_inline(_callback("L" * 41)), "label has 41 characters (at most 40)"),
    (_inline(_callback(payload=json.dumps("p" * 254))), "payload has 256 characters"),
    (_inline(_callback(payload="not json")), "payload is not valid JSON"),
    (_inline(_callback(color="green")), "color 'green'"),
    (_inline({"action": {"type": "open_link", "label": "Site", "link": "https://x.example"},
              "color": "primary"}), "open_link buttons take no color"),
    (_inline({"action": {"type": "open_link", "label": "Site", "link": "x.example"}}),
     "link must be an http(s) URL"),
    (_inline(_callback(), rows=7), "inline keyboard has 7 rows (at most 6)"),
    (_inline(*[_callback()] * 6), "row 1 has 6 buttons (at most 5)"),
    ('{"inline": true, "buttons": [[{"action": {"type": "teleport"}}]]}', "unknown action"),
    ("{not json", "keyboard is not valid JSON"),
])
async def test_invalid_keyboards_are_error_911(fake_vk, vk, keyboard, problem):
    fake_vk.user(42, allowed=True)
    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 42, "Menu", keyboard)
    assert e.value.code == 911
    assert problem in fake_vk.violations[0].description


async def test_limits_themselves_are_accepted(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    edge = _inline(*[_callback("L" * 40, json.dumps("p" * 253))] * 5, rows=2)
    await send(vk, 42, "Ten buttons", edge)
    assert len(fake_vk.buttons(42)) == 10 and fake_vk.violations == []


# ---------------------------------------------------------------- messages.edit


async def test_edit_replaces_text_and_keyboard(fake_vk, vk):
    fake = fake_vk
    fake.user(42, allowed=True)
    message_id = await send(vk, 42, "Pick a course", shop_keyboard())
    cmid = fake.last_message(42)["conversation_message_id"]
    paid = VkKeyboard(inline=True)
    paid.add_callback_button("Open lesson 1", payload={"cmd": "lesson", "n": 1})
    assert await call(vk, "messages.edit", peer_id=42, conversation_message_id=cmid,
                      message="Paid", keyboard=paid.get_keyboard()) == 1
    last = fake.last_message(42)
    assert last["text"] == "Paid" and last["update_time"] is not None
    assert [b["action"]["label"] for b in fake.buttons(42)] == ["Open lesson 1"]

    assert await call(vk, "messages.edit", peer_id=42, message_id=message_id,
                      message="Paid, no buttons") == 1
    assert fake.buttons(42) == []  # not sent again: gone
    assert fake.violations == []

    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.edit", peer_id=42, conversation_message_id=99, message="?")
    assert e.value.code == 100 and "message not found" in e.value.error["error_msg"]
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.edit", peer_id=7, message_id=message_id, message="?")
    assert e.value.code == 100 and len(fake.violations) == 2


async def test_edit_after_a_day_is_909(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    await send(vk, 42, "Old")
    now = time.time()
    fake_vk.time = lambda: now + 86_401
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.edit", peer_id=42, conversation_message_id=1, message="New")
    assert e.value.code == 909 and fake_vk.violations == []


# ---------------------------------------------------------------- Bots Long Poll


async def long_poll(vk, fake: FakeVK) -> VkBotLongPoll:
    return await asyncio.to_thread(VkBotLongPoll, vk, fake.group_id)


async def test_long_poll_waits_and_returns_at_once_on_a_push(fake_vk, vk):
    fake = fake_vk
    lp = await long_poll(vk, fake)
    started = time.monotonic()
    assert await asyncio.to_thread(lp.check) == []
    assert 0.25 <= time.monotonic() - started < 1.0  # wait=25 capped to 0.3 s
    assert fake.long_polls[0]["params"]["wait"] == "25"

    fake.user(42, "Anna", lang="en")
    polling = asyncio.create_task(asyncio.to_thread(lp.check))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    fake.push(fake.text_update(42, "/start"))
    events = await polling
    assert time.monotonic() - started < 0.2
    [event] = events
    assert event.type is VkBotEventType.MESSAGE_NEW and event.from_user
    assert event.group_id == fake.group_id and event.raw["v"] == "5.199"
    assert event.message.text == "/start" and event.message.from_id == 42
    assert event.message.peer_id == 42 and event.message.conversation_message_id == 1
    assert event.client_info.lang_id == 3 and "callback" in event.client_info.button_actions
    assert lp.ts == str(fake.long_polls[-1]["answer"]["ts"])
    await asyncio.to_thread(lp.check)
    await fake.wait_consumed()
    assert fake.pending_updates == [] and fake.violations == []


async def test_long_poll_message_event_and_its_answer(fake_vk, vk):
    fake = fake_vk
    fake.push(fake.text_update(fake.user(42), "Hi"))
    await send(vk, 42, "Pick", shop_keyboard())
    lp = await long_poll(vk, fake)
    menu = fake.last_message(42)
    fake.push(fake.press(42, menu, {"cmd": "buy", "id": 7}))
    [event] = await asyncio.to_thread(lp.check)
    assert event.type is VkBotEventType.MESSAGE_EVENT
    assert event.object.payload == {"cmd": "buy", "id": 7}
    assert event.object.user_id == 42 and event.object.peer_id == 42
    assert event.object.conversation_message_id == menu["conversation_message_id"]

    snackbar = json.dumps({"type": "show_snackbar", "text": "Added to cart"})
    assert await call(vk, "messages.sendMessageEventAnswer", event_id=event.object.event_id,
                      user_id=42, peer_id=42, event_data=snackbar) == 1
    assert fake.event_answers[0]["event_data"] == {"type": "show_snackbar",
                                                   "text": "Added to cart"}
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.sendMessageEventAnswer", event_id=event.object.event_id,
                   user_id=42, peer_id=42)
    assert e.value.code == 100 and "already answered" in e.value.error["error_msg"]
    assert len(fake.violations) == 1

    late = fake.press(42, menu["conversation_message_id"], '{"cmd":"buy","id":7}')
    now = time.time()
    fake.time = lambda: now + 61
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.sendMessageEventAnswer", event_id=late["object"]["event_id"],
                   user_id=42, peer_id=42)
    assert e.value.code == 100 and "expired" in e.value.error["error_msg"]
    assert len(fake.violations) == 1  # late is not the bot's fault


async def test_snackbar_over_90_characters_is_a_violation(fake_vk, vk):
    update = fake_vk.event_update(fake_vk.user(42, allowed=True), {"cmd": "x"})
    with pytest.raises(vk_api.ApiError) as e:
        await call(vk, "messages.sendMessageEventAnswer", event_id=update["object"]["event_id"],
                   user_id=42, peer_id=42,
                   event_data=json.dumps({"type": "show_snackbar", "text": "x" * 91}))
    assert e.value.code == 100 and fake_vk.event_answers == []
    assert "1-90 characters" in fake_vk.violations[0].description


async def test_press_only_what_the_message_holds(fake_vk, vk):
    fake = fake_vk
    fake.user(42, allowed=True)
    await send(vk, 42, "Pick", shop_keyboard())
    menu = fake.last_message(42)
    with pytest.raises(ValueError, match="no button"):
        fake.press(42, menu, {"cmd": "refund"})
    with pytest.raises(ValueError, match="sends no event"):
        fake.press(42, menu, None)  # the open_link button has no payload
    forged = fake.press(42, menu, {"cmd": "refund"}, check=False)
    assert forged["type"] == "message_event"
    text = fake.press(42, menu, {"cmd": "help"})
    assert text["type"] == "message_new"
    assert text["object"]["message"]["text"] == "Help"
    assert json.loads(text["object"]["message"]["payload"]) == {"cmd": "help"}


async def test_failed_2_and_3_are_recovered_by_vk_api(fake_vk, vk):
    fake = fake_vk
    fake.user(42, allowed=True)
    lp = await long_poll(vk, fake)
    old_key, ts = lp.key, lp.ts
    fake.push(fake.text_update(42, "kept"))
    fake.long_poll_fail(2)
    assert await asyncio.to_thread(lp.check) == []
    assert lp.key != old_key and lp.ts == ts  # new key, same ts
    assert len(fake.calls_to("groups.getLongPollServer")) == 2
    [event] = await asyncio.to_thread(lp.check)
    assert event.message.text == "kept"

    fake.push(fake.text_update(42, "lost"))
    fake.long_poll_fail(3)
    assert await asyncio.to_thread(lp.check) == []
    assert len(fake.calls_to("groups.getLongPollServer")) == 3
    fake.push(fake.text_update(42, "after"))
    assert [e.message.text for e in await asyncio.to_thread(lp.check)] == ["after"]

    fake.push(fake.text_update(42, "skipped"))
    fake.long_poll_fail(1)
    assert await asyncio.to_thread(lp.check) == []
    fake.push(fake.text_update(42, "next"))
    assert [e.message.text for e in await asyncio.to_thread(lp.check)] == ["next"]
    assert fake.violations == []


async def test_long_poll_server_of_another_group_is_refused(fake_vk, vk):
    with pytest.raises(vk_api.ApiError) as e:
        await asyncio.to_thread(VkBotLongPoll, vk, 1)
    assert e.value.code == 15 and len(fake_vk.violations) == 1


# ---------------------------------------------------------------- rates and failures


async def test_injected_error_6_is_retried_by_vk_api(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    fake_vk.fail("messages.send", code=6)
    message_id = await send(vk, 42, "Retried")  # vk_api sleeps 0.5 s and tries again
    first, second = fake_vk.calls_to("messages.send")
    assert first.error_code == 6 and first.error_msg == "Too many requests per second"
    assert second.response == message_id and len(fake_vk.messages(42)) == 1
    assert fake_vk.violations == []


async def test_more_than_rps_limit_calls_a_second_is_error_6_and_a_violation(fake_vk):
    fake_vk.rps_limit = 3
    answers = [await raw(fake_vk, "utils.getServerTime", access_token=fake_vk.token, v="5.199")
               for _ in range(4)]
    assert [("error" in a) for a in answers] == [False, False, False, True]
    assert answers[3]["error"]["error_code"] == 6
    assert fake_vk.max_rate() == 4 and len(fake_vk.violations) == 1


async def test_failure_for_one_peer_only(fake_vk, vk):
    fake_vk.user(1, allowed=True)
    fake_vk.user(2, allowed=True)
    fake_vk.fail("messages.send", code=10, times=None, peer_id=2)
    await send(vk, 1, "fine")
    with pytest.raises(vk_api.ApiError) as e:
        await send(vk, 2, "broken")
    assert e.value.code == 10
    fake_vk.clear_failures()
    await send(vk, 2, "fine now")


# ---------------------------------------------------------------- Callback API


async def test_post_callback_sends_json_with_secret_and_retry_counter(fake_vk):
    received = []

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((body, request.headers.get("X-Retry-Counter")))
        if body["type"] == "confirmation":
            return web.Response(text="a1b2c3")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/vk", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/vk"
    try:
        confirmation = fake_vk.confirmation_request()
        assert await fake_vk.post_callback(url, confirmation) == (200, "a1b2c3")
        update = fake_vk.text_update(fake_vk.user(42), "Hi")
        assert await fake_vk.post_callback(url, update, secret="s3", retry=2) == (200, "ok")
    finally:
        await runner.cleanup()
    assert received[0] == ({"type": "confirmation", "group_id": DEFAULT_GROUP_ID}, None)
    body, retry = received[1]
    assert body["secret"] == "s3" and retry == "2" and body["object"]["message"]["text"] == "Hi"
    assert "secret" not in update


async def test_delete_for_all_or_only_for_the_community(fake_vk, vk):
    fake_vk.user(42, allowed=True)
    first = await send(vk, 42, "one")
    await send(vk, 42, "two")
    assert await call(vk, "messages.delete", message_ids=first) == {str(first): 1}
    assert fake_vk.messages(42)[0]["deleted_for_group"] is True  # the user still sees it
    answer = await call(vk, "messages.delete", peer_id=42, cmids=2, delete_for_all=1)
    assert answer[0]["conversation_message_id"] == 2 and answer[0]["response"] == 1
    assert [m["text"] for m in fake_vk.messages(42)] == ["one"]
