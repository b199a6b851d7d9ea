"""A local fake of the VK API (version 5.199) for tests: an aiohttp server on 127.0.0.1, all in
memory, driven by the real ``vk_api`` client.

    async with FakeVK() as fake:                      # or the ``fake_vk`` fixture
        vk = vk_api.VkApi(token=fake.token, api_version="5.199",
                          session=session_to(fake.url))    # or fake.vk_api()
        fake.push(fake.text_update(fake.user(42, "Anna"), "Начать"))
        ...                                           # run the bot (long poll or callback)
        await fake.wait_for_call("messages.send")
        assert fake.last_message(42)["text"] == "Welcome"
        assert fake.violations == []

``vk_api.VkApi.method()`` always POSTs to ``https://api.vk.ru/method/{name}``: ``session_to(url)``
is a ``requests.Session`` whose adapter sends those requests to the fake instead. Bots Long
Poll works unchanged: ``groups.getLongPollServer`` hands out ``{url}/whp/{group_id}``, which
``VkBotLongPoll`` polls with its own plain session.

Answers are VK's: HTTP 200 with ``{"response": ...}`` or ``{"error": {"error_code", "error_msg",
"request_params"}}``. A call the bot should never make (no ``v`` or one older than 5.131, no
``random_id``, an invalid keyboard, a text over 4096 characters, editing an unknown message,
answering an event twice or one that never was, going over ``rps_limit`` calls a second...)
is answered with VK's error and recorded in ``fake.violations``. Conditions a bot must expect
are answered without a violation: a wrong token (5), a user who never wrote or denied messages
(901), a user in the community's blacklist (900), an event answered after 60 s (100), an edit
after ``edit_window`` (909), injected failures. Where VK's exact wording is unknown the
error_msg is the fake's own, after VK's generic text for the code.

Assumptions where VK's documentation is silent: messages.edit without ``keyboard`` removes the
message's keyboard; messages are editable (and deletable for all) for ``edit_window`` (24 h).

Message ids: ``id`` is community-wide and starts at 1001, ``conversation_message_id`` counts
per peer from 1 (the users' messages take numbers too), so mixing them up fails.

Public API (see each docstring):
- server: ``start()``, ``stop()``, ``async with``, ``url``, ``token``, ``group_id``,
  ``vk_api(**kw)``, module helper ``session_to(base_url)``
- calls: ``calls`` (list of Call), ``calls_to(method)``, ``violations``, ``unimplemented``,
  ``await wait_for_call(method, where=, count=, within=)``, ``max_rate(methods, window)``
- dialogs: ``messages(peer_id)``, ``last_message(peer_id)``, ``buttons(peer_id)``,
  ``dialog(peer_id)``, ``keyboard(peer_id)``, ``event_answers``, ``is_allowed(user_id)``,
  ``users``, ``blocked``
- methods: messages.send / edit / delete / getByConversationMessageId / sendMessageEventAnswer
  / isMessagesFromGroupAllowed / setActivity, users.get, groups.getById,
  groups.getLongPollServer, utils.getServerTime (others: error 3, listed in ``unimplemented``)
- people and updates: ``user()``, ``client_info()``, ``text_update()``, ``press()``,
  ``event_update()``, ``allow()``, ``deny()``, ``block()``, ``unblock()``,
  ``confirmation_request()``
- long poll: ``push(*updates)``, ``long_poll_fail(code)``, ``long_polls``,
  ``pending_updates``, ``await wait_consumed()``, ``long_poll_wait_cap``
- callback API: ``await post_callback(url, event, secret=, retry=)``
- failures: ``fail(method, code=6, times=1, error_msg=, peer_id=)``, ``clear_failures()``
- clock: ``fake.time`` (wall clock for dates, the 60 s event lifetime, the random_id hour)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import requests
from aiohttp import web
from requests.adapters import HTTPAdapter

__all__ = [
    "API_VERSION",
    "DEFAULT_GROUP_ID",
    "DEFAULT_TOKEN",
    "VK_API_BASE",
    "Call",
    "FakeVK",
    "Violation",
    "session_to",
]

VK_API_BASE = "https://api.vk.ru/"
_OLD_VK_API_BASE = "https://api.vk.com/"  # vk_api before 11.10
API_VERSION = "5.199"
MIN_VERSION = (5, 131)
DEFAULT_TOKEN = "vk1.a.TEST-community-token"
DEFAULT_GROUP_ID = 229_000_001
CHAT_PEER_START = 2_000_000_000

MAX_TEXT = 4096  # characters in one message
EVENT_LIFETIME = 60.0  # seconds to answer a message_event
RANDOM_ID_WINDOW = 3600.0  # random_id dedupe: the last hour...
RANDOM_ID_LAST_MESSAGES = 100  # ...and at most the last 100 messages of the dialog
SNACKBAR_TEXT = 90
LABEL_CHARS = 40
PAYLOAD_CHARS = 255
INT32 = (-(2**31), 2**31 - 1)
COLORS = frozenset({"primary", "secondary", "negative", "positive"})
COLORED_ACTIONS = frozenset({"text", "callback"})
FULL_WIDTH_ACTIONS = frozenset({"location", "vkpay", "open_app"})
ACTIONS = COLORED_ACTIONS | FULL_WIDTH_ACTIONS | {
    "open_link", "intent_subscribe", "intent_unsubscribe"}
BUTTON_ACTIONS = [
    "text", "vkpay", "open_app", "location", "open_link", "callback",
    "intent_subscribe", "intent_unsubscribe",
]
LANG_IDS = {"ru": 0, "uk": 1, "be": 2, "en": 3, "es": 4, "fi": 5, "de": 6, "it": 7}

ERROR_TEXT = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    909: "Can't edit this message, because it's too old",
    911: "Keyboard format is invalid",
    914: "Message is too long",
    924: "Can't delete this message for everybody",
}


def session_to(base_url: str) -> requests.Session:
    """A ``requests.Session`` that sends ``https://api.vk.ru/...`` to ``base_url`` instead (give
    it to ``vk_api.VkApi(session=...)``). It ignores proxy settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    adapter = _RedirectAdapter(base_url)
    session.mount(VK_API_BASE, adapter)
    session.mount(_OLD_VK_API_BASE, adapter)
    return session


class _RedirectAdapter(HTTPAdapter):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/") + "/"

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        for prefix in (VK_API_BASE, _OLD_VK_API_BASE):
            if request.url and request.url.startswith(prefix):
                request.url = self.base_url + request.url[len(prefix):]
        return super().send(request, *args, **kwargs)


@dataclass
class Call:
    """One API request: ``params`` as sent (strings, ``access_token`` included)."""

    method: str
    params: dict[str, str]
    at: float  # time.monotonic() on arrival
    peer_id: int | None = None
    done: bool = False  # answered (with a response or an error)
    error_code: int | None = None
    error_msg: str | None = None
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.done and self.error_code is None


@dataclass(frozen=True)
class Violation:
    """A call real VK would refuse, or one a correct bot never makes."""

    method: str
    description: str
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method}: {self.description}"


@dataclass
class _Failure:
    method: str
    code: int
    remaining: int | None
    error_msg: str | None
    peer_id: int | None


class VKError(Exception):
    """An error answer; ``violation``: the bot should never have made the call."""

    def __init__(self, code: int, detail: str = "", *, violation: bool = False,
                 msg: str | None = None) -> None:
        base = ERROR_TEXT.get(code, f"Error {code}")
        self.code = code
        self.msg = msg or (f"{base}: {detail}" if detail else base)
        self.detail = detail or base
        self.violation = violation
        super().__init__(self.msg)


def _invalid(detail: str, violation: bool = True) -> VKError:
    return VKError(100, detail, violation=violation)


def _version(v: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d+)\.(\d+)", v.strip())
    return (int(m[1]), int(m[2])) if m else None


UserLike = dict[str, Any] | int


class FakeVK:
    """The fake server. Start it with ``await fake.start()`` (or ``async with``), point
    ``vk_api`` at ``fake.url`` with ``session_to``; inspect ``calls``, ``violations``, dialogs.

    ``rps_limit``: calls a second VK allows a community token (20); one more is answered with
    error 6 and is a violation (``None``: no limit). ``long_poll_wait_cap``: the longest a long
    poll request waits, whatever its ``wait``. ``edit_window``: seconds a message stays
    editable (error 909 after; ``None``: forever)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        group_id: int = DEFAULT_GROUP_ID,
        group_name: str = "Test School",
        screen_name: str = "test_school",
        rps_limit: int | None = 20,
        long_poll_wait_cap: float = 1.0,
        edit_window: float | None = 24 * 3600,
        extra_tokens: Iterable[str] = (),
        api_version: str = API_VERSION,
    ) -> None:
        self.token = token
        self.group_id = group_id
        self.group = {
            "id": group_id,
            "name": group_name,
            "screen_name": screen_name,
            "is_closed": 0,
            "type": "group",
            "photo_50": f"https://sun.userapi.com/fake/{group_id}_50.jpg",
            "photo_100": f"https://sun.userapi.com/fake/{group_id}_100.jpg",
            "photo_200": f"https://sun.userapi.com/fake/{group_id}_200.jpg",
        }
        self._tokens = {token, *extra_tokens}
        self.rps_limit = rps_limit
        self.long_poll_wait_cap = long_poll_wait_cap
        self.edit_window = edit_window
        self.api_version = api_version  # the "v" of updates
        # Wall clock (epoch seconds): message dates, event lifetime, random_id window.
        self.time: Callable[[], float] = time.time
        self.url = ""
        self.port = 0

        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.unimplemented: list[str] = []
        self._failures: list[_Failure] = []

        # people and dialogs
        self.users: dict[int, dict[str, Any]] = {}
        self._allowed: dict[int, bool] = {}
        self.blocked: set[int] = set()
        self._messages: dict[int, dict[str, Any]] = {}  # by community-wide id
        self._dialogs: dict[int, list[int]] = {}  # peer -> message ids in order
        self._cmids: dict[int, int] = {}
        self._next_id = 1001
        self._keyboards: dict[int, dict[str, Any]] = {}  # current non-inline keyboard per peer
        self._events: dict[str, dict[str, Any]] = {}
        self.event_answers: list[dict[str, Any]] = []

        # Bots Long Poll
        self._lp_events: list[tuple[int, dict[str, Any]]] = []
        self._lp_ts = 1
        self._lp_key = secrets.token_hex(20)
        self._lp_failures: list[int] = []
        self._lp_acked = 0  # the highest ts a poller came back with (all before it received)
        self.long_polls: list[dict[str, Any]] = []

        self._handlers: dict[str, Callable[[dict[str, str]], Any]] = {
            "messages.send": self._m_send,
            "messages.edit": self._m_edit,
            "messages.delete": self._m_delete,
            "messages.getByConversationMessageId": self._m_get_by_cmid,
            "messages.sendMessageEventAnswer": self._m_event_answer,
            "messages.isMessagesFromGroupAllowed": self._m_is_allowed,
            "messages.setActivity": self._m_set_activity,
            "users.get": self._m_users_get,
            "groups.getById": self._m_groups_get_by_id,
            "groups.getLongPollServer": self._m_get_long_poll_server,
            "utils.getServerTime": lambda p: int(self.time()),
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._call_done = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # ================================================================ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host`` (a free port by default); returns and sets ``self.url``."""
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_route("*", "/method/{name}", self._handle_method)
        app.router.add_route("GET", "/whp/{group_id}", self._handle_long_poll)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeVK:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def vk_api(self, *, api_version: str = API_VERSION, token: str | None = None,
               rps_delay: float | None = 0.0) -> Any:
        """A ``vk_api.VkApi`` talking to this fake, with settings kept in memory.
        ``rps_delay``: the client's own pause between calls (its default 0.34 s; ``None``
        keeps it; 0 by default to keep tests fast)."""
        import jconfig.memory
        import vk_api

        vk = vk_api.VkApi(
            token=token or self.token, api_version=api_version,
            session=session_to(self.url), config=jconfig.memory.MemoryConfig,
        )
        if rps_delay is not None:
            vk.RPS_DELAY = rps_delay
        return vk

    @staticmethod
    def _json(payload: Any, status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status=status, content_type="application/json",
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._json({"error": "not found"}, status=404)

    async def _handle_method(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
        name = request.match_info["name"]
        call = Call(name, params, time.monotonic())
        self.calls.append(call)
        try:
            call.response = self._execute(call)
            payload: dict[str, Any] = {"response": call.response}
        except VKError as e:
            if e.violation:
                self._record_violation(name, e.detail, params)
            call.error_code, call.error_msg = e.code, e.msg
            payload = {"error": {
                "error_code": e.code, "error_msg": e.msg,
                "request_params": self._request_params(name, params),
            }}
        call.done = True
        self._notify()
        return self._json(payload)

    @staticmethod
    def _request_params(method: str, params: dict[str, str]) -> list[dict[str, str]]:
        shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        shown += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        return shown

    def _execute(self, call: Call) -> Any:
        p = call.params
        token = p.get("access_token")
        if not token:
            raise VKError(5, msg="User authorization failed: no access_token passed.")
        if token not in self._tokens:
            raise VKError(5)
        if "v" not in p:
            raise VKError(8, "v (version) is required", violation=True)
        version = _version(p["v"])
        if version is None:
            raise VKError(8, f"invalid version {p['v']!r}", violation=True)
        if version < MIN_VERSION:
            # Still answered (VK serves old versions), but objects then have another shape.
            self._record_violation(call.method, f"API version {p['v']} is older than 5.131", p)
        if self.rps_limit is not None:
            recent = [c for c in self.calls if c is not call and call.at - c.at < 1.0]
            if len(recent) >= self.rps_limit:
                raise VKError(6, violation=True)
        handler = self._handlers.get(call.method)
        if handler is None:
            self.unimplemented.append(call.method)
            raise VKError(3)
        for key in ("peer_id", "user_id"):
            if call.method.startswith("messages.") and p.get(key, "").lstrip("-").isdigit():
                call.peer_id = int(p[key])
                break
        self._inject_failure(call.method, call.peer_id)
        return handler(p)

    def _notify(self) -> None:
        self._call_done.set()
        self._call_done = asyncio.Event()

    def _record_violation(self, method: str, description: str, params: dict[str, str]) -> None:
        shown = {k: v for k, v in params.items() if k != "access_token"}
        self.violations.append(Violation(method, description, shown))

    # ================================================================ parameters

    @staticmethod
    def _int(p: dict[str, str], name: str, *, required: bool = False) -> int | None:
        raw = p.get(name)
        if raw is None or raw == "":
            if required:
                raise _invalid(f"{name} is undefined")
            return None
        try:
            return int(raw)
        except ValueError:
            raise _invalid(f"{name} not integer") from None

    @staticmethod
    def _ints(p: dict[str, str], name: str) -> list[int]:
        raw = p.get(name, "")
        try:
            return [int(x) for x in raw.split(",") if x.strip()]
        except ValueError:
            raise _invalid(f"{name} should be a list of integers") from None

    @staticmethod
    def _bool(p: dict[str, str], name: str) -> bool:
        return p.get(name, "0").strip().lower() in ("1", "true")

    # ================================================================ messages

    def _peers_of(self, p: dict[str, str]) -> tuple[list[int], bool]:
        """The peers of messages.send and whether several were asked (peer_ids)."""
        if p.get("peer_ids"):
            return self._ints(p, "peer_ids"), True
        for key in ("peer_id", "user_id"):
            value = self._int(p, key)
            if value is not None:
                return [value], False
        chat_id = self._int(p, "chat_id")
        if chat_id is not None:
            return [CHAT_PEER_START + chat_id], False
        raise _invalid("you should specify peer_id, user_id, chat_id or peer_ids")

    def _check_can_write(self, peer_id: int) -> None:
        if peer_id >= CHAT_PEER_START:
            return
        if peer_id in self.blocked:
            raise VKError(900)
        if peer_id <= 0 or not self._allowed.get(peer_id, False):
            raise VKError(901)

    def _m_send(self, p: dict[str, str]) -> Any:
        peers, several = self._peers_of(p)
        if "random_id" not in p:
            raise _invalid("random_id is a required parameter", violation=True)
        random_id = self._int(p, "random_id", required=True)
        assert random_id is not None
        if not INT32[0] <= random_id <= INT32[1]:
            raise _invalid(f"random_id {random_id} is out of int32 range")
        text = p.get("message", "")
        attachment = p.get("attachment", "")
        if not text.strip() and not attachment and not p.get("sticker_id"):
            raise _invalid("message is empty or invalid")
        if len(text) > MAX_TEXT:
            raise VKError(914, f"{len(text)} characters (at most {MAX_TEXT})", violation=True)
        keyboard = self._check_keyboard(p["keyboard"]) if p.get("keyboard") else None
        results = []
        for peer in peers:
            try:
                self._check_can_write(peer)
                message = self._send_one(peer, text, attachment, random_id, keyboard, p)
            except VKError as e:
                if not several:
                    raise
                results.append({"peer_id": peer, "error": {"code": e.code, "description": e.msg}})
                continue
            results.append({
                "peer_id": peer, "message_id": message["id"],
                "conversation_message_id": message["conversation_message_id"],
            })
        if several:
            return results
        return results[0]["message_id"]

    def _send_one(
        self, peer: int, text: str, attachment: str, random_id: int,
        keyboard: dict[str, Any] | None, p: dict[str, str],
    ) -> dict[str, Any]:
        now = self.time()
        if random_id != 0:
            for mid in self._dialogs.get(peer, [])[-RANDOM_ID_LAST_MESSAGES:]:
                old = self._messages.get(mid)
                if (old is not None and old["out"] and old["random_id"] == random_id
                        and now - old["date"] < RANDOM_ID_WINDOW):
                    return old  # VK's dedupe: the same message, nothing new is sent
        message = self._new_message(peer, -self.group_id, text, out=1, date=now)
        message.update(
            random_id=random_id, attachment=attachment, keyboard=keyboard,
            dont_parse_links=self._bool(p, "dont_parse_links"),
            disable_mentions=self._bool(p, "disable_mentions"),
        )
        if keyboard is not None and not keyboard.get("inline"):
            if keyboard.get("buttons"):
                self._keyboards[peer] = keyboard
            else:
                self._keyboards.pop(peer, None)
        return message

    def _new_message(
        self, peer: int, from_id: int, text: str, *, out: int, date: float | None = None
    ) -> dict[str, Any]:
        cmid = self._cmids.get(peer, 0) + 1
        self._cmids[peer] = cmid
        message = {
            "id": self._next_id,
            "conversation_message_id": cmid,
            "peer_id": peer,
            "from_id": from_id,
            "date": int(self.time() if date is None else date),
            "text": text,
            "out": out,
            "random_id": 0,
            "attachments": [],
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "update_time": None,
        }
        self._next_id += 1
        self._messages[message["id"]] = message
        self._dialogs.setdefault(peer, []).append(message["id"])
        return message

    def _find_message(self, peer: int, p: dict[str, str]) -> dict[str, Any]:
        mid = self._int(p, "message_id")
        cmid = self._int(p, "conversation_message_id")
        if mid is None and cmid is None:
            raise _invalid("message_id or conversation_message_id is required")
        for message_id in self._dialogs.get(peer, []):
            message = self._messages[message_id]
            if (mid is not None and message["id"] == mid) or (
                mid is None and message["conversation_message_id"] == cmid
            ):
                return message
        which = f"message_id {mid}" if mid is not None else f"conversation_message_id {cmid}"
        raise _invalid(f"message not found: {which} in peer {peer}")

    def _m_edit(self, p: dict[str, str]) -> int:
        peer = self._int(p, "peer_id", required=True)
        assert peer is not None
        message = self._find_message(peer, p)
        if not message["out"]:
            raise VKError(15, "can't edit a message of the user", violation=True)
        if self.edit_window is not None and self.time() - message["date"] > self.edit_window:
            raise VKError(909)
        text = p.get("message", "")
        if not text.strip() and not p.get("attachment") and not message.get("attachment"):
            raise _invalid("message is empty or invalid")
        if len(text) > MAX_TEXT:
            raise VKError(914, f"{len(text)} characters (at most {MAX_TEXT})", violation=True)
        keyboard = self._check_keyboard(p["keyboard"]) if p.get("keyboard") else None
        # An edit replaces the message: a keyboard not sent again is gone.
        message.update(text=text, keyboard=keyboard, update_time=int(self.time()))
        if "attachment" in p:
            message["attachment"] = p["attachment"]
        return 1

    def _m_delete(self, p: dict[str, str]) -> Any:
        """Without delete_for_all=1 a bot message stays in the user's dialog (``messages()``
        shows it with ``deleted_for_group``); with it, only within ``edit_window`` (924)."""
        peer = self._int(p, "peer_id")
        if p.get("cmids"):
            if peer is None:
                raise _invalid("peer_id is required with cmids")
            wanted = [self._find_message(peer, {"conversation_message_id": str(c)})
                      for c in self._ints(p, "cmids")]
        else:
            ids = self._ints(p, "message_ids")
            if not ids:
                raise _invalid("message_ids is undefined")
            wanted = []
            for mid in ids:
                if mid not in self._messages:
                    raise _invalid(f"message not found: message_id {mid}")
                wanted.append(self._messages[mid])
        for_all = self._bool(p, "delete_for_all")
        for message in wanted:
            if for_all and self.edit_window is not None and (
                self.time() - message["date"] > self.edit_window
            ):
                raise VKError(924)
        for message in wanted:
            if for_all or not message["out"]:
                self._dialogs[message["peer_id"]].remove(message["id"])
                del self._messages[message["id"]]
            else:  # gone for the community only: the user still sees it
                message["deleted_for_group"] = True
        if p.get("cmids"):
            return [{"peer_id": m["peer_id"], "message_id": m["id"],
                     "conversation_message_id": m["conversation_message_id"], "response": 1}
                    for m in wanted]
        return {str(m["id"]): 1 for m in wanted}

    def _m_get_by_cmid(self, p: dict[str, str]) -> dict[str, Any]:
        peer = self._int(p, "peer_id", required=True)
        assert peer is not None
        wanted = set(self._ints(p, "conversation_message_ids"))
        if not wanted:
            raise _invalid("conversation_message_ids is undefined")
        items = [
            self._public(self._messages[mid]) for mid in self._dialogs.get(peer, [])
            if self._messages[mid]["conversation_message_id"] in wanted
        ]
        return {"count": len(items), "items": items}

    def _public(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the API shows it: the keyboard as an object, no fake-only fields."""
        shown = {k: v for k, v in message.items()
                 if k not in ("attachment", "dont_parse_links", "disable_mentions")
                 and v is not None}
        return copy.deepcopy(shown)

    def _m_event_answer(self, p: dict[str, str]) -> int:
        event_id = p.get("event_id", "")
        user_id = self._int(p, "user_id", required=True)
        peer_id = self._int(p, "peer_id", required=True)
        if not event_id:
            raise _invalid("event_id is undefined", violation=True)
        event = self._events.get(event_id)
        if event is None:
            raise _invalid(f"event_id {event_id} is invalid", violation=True)
        if event["answered"]:
            raise _invalid(f"event_id {event_id} was already answered", violation=True)
        if self.time() - event["created"] > EVENT_LIFETIME:
            raise _invalid(f"event_id {event_id} has expired", violation=False)
        if (user_id, peer_id) != (event["user_id"], event["peer_id"]):
            raise _invalid(
                f"event {event_id} is of user {event['user_id']} in peer {event['peer_id']}",
                violation=True,
            )
        data = self._check_event_data(p["event_data"]) if "event_data" in p else None
        event["answered"] = True
        self.event_answers.append({
            "event_id": event_id, "user_id": user_id, "peer_id": peer_id,
            "event_data": data, "at": self.time(),
        })
        return 1

    @staticmethod
    def _check_event_data(raw: str) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError:
            raise _invalid("event_data is not valid JSON") from None
        if not isinstance(data, dict):
            raise _invalid("event_data must be a JSON object")
        kind = data.get("type")
        if kind == "show_snackbar":
            text = data.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= SNACKBAR_TEXT:
                raise _invalid(f"event_data.text must be 1-{SNACKBAR_TEXT} characters")
        elif kind == "open_link":
            if not isinstance(data.get("link"), str) or not re.match(
                r"https?://", data["link"]
            ):
                raise _invalid("event_data.link must be an http(s) URL")
        elif kind == "open_app":
            if not isinstance(data.get("app_id"), int):
                raise _invalid("event_data.app_id is required")
        else:
            raise _invalid(f"event_data.type {kind!r} is not show_snackbar, open_link, open_app")
        return data

    def _m_is_allowed(self, p: dict[str, str]) -> dict[str, int]:
        group_id = self._int(p, "group_id", required=True)
        user_id = self._int(p, "user_id", required=True)
        if group_id != self.group_id:
            raise VKError(15, f"no access to group {group_id}", violation=True)
        assert user_id is not None
        return {"is_allowed": int(self.is_allowed(user_id))}

    def _m_set_activity(self, p: dict[str, str]) -> int:
        peer = self._int(p, "peer_id", required=True)
        assert peer is not None
        if p.get("type", "typing") not in ("typing", "audiomessage", "photo", "video", "file"):
            raise _invalid(f"type {p.get('type')!r} is invalid")
        return 1

    def _m_users_get(self, p: dict[str, str]) -> list[dict[str, Any]]:
        raw = [x.strip() for x in p.get("user_ids", p.get("user_id", "")).split(",")]
        raw = [x for x in raw if x]
        if not raw:
            raise _invalid("user_ids is undefined (a community token has no user)",
                           violation=True)
        fields = {f.strip() for f in p.get("fields", "").split(",") if f.strip()}
        found = []
        for ref in raw:
            if ref.lstrip("-").isdigit():
                uid = int(ref)
                user = self.users.get(uid)
            else:
                user = next((u for u in self.users.values() if u["screen_name"] == ref), None)
                if user is None:
                    raise VKError(113)
                uid = user["id"]
            if user is None:
                found.append({"id": uid, "first_name": "DELETED", "last_name": "",
                              "deactivated": "deleted"})
                continue
            item = {k: user[k] for k in ("id", "first_name", "last_name")}
            item.update(can_access_closed=True, is_closed=False)
            for name in fields:
                if name in ("screen_name", "domain"):
                    item[name] = user["screen_name"]
                elif name in user and name != "lang_id":
                    item[name] = user[name]
            found.append(item)
        return found

    def _m_groups_get_by_id(self, p: dict[str, str]) -> dict[str, Any]:
        refs = p.get("group_ids") or p.get("group_id") or str(self.group_id)
        groups = []
        for ref in (r.strip() for r in refs.split(",") if r.strip()):
            if ref in (str(self.group_id), self.group["screen_name"], f"club{self.group_id}"):
                groups.append(dict(self.group))
            else:
                raise _invalid(f"group {ref} is unknown to the fake")
        return {"groups": groups, "profiles": []}

    def _m_get_long_poll_server(self, p: dict[str, str]) -> dict[str, Any]:
        group_id = self._int(p, "group_id", required=True)
        if group_id != self.group_id:
            raise VKError(15, f"the token is not of group {group_id}", violation=True)
        return {
            "key": self._lp_key,
            "server": f"{self.url}/whp/{self.group_id}",
            "ts": str(self._lp_ts),
        }

    # ================================================================ keyboards

    def _check_keyboard(self, raw: str) -> dict[str, Any]:
        """The keyboard parsed, or error 911 (a violation) naming what VK would refuse."""
        try:
            return self._parse_keyboard(raw)
        except ValueError as e:
            raise VKError(911, str(e), violation=True) from None

    @staticmethod
    def _parse_keyboard(raw: str) -> dict[str, Any]:
        try:
            kb = json.loads(raw)
        except ValueError:
            raise ValueError("keyboard is not valid JSON") from None
        if not isinstance(kb, dict) or not isinstance(kb.get("buttons"), list):
            raise ValueError("keyboard must be an object with a buttons array")
        inline = kb.get("inline", False)
        if not isinstance(inline, bool) or not isinstance(kb.get("one_time", False), bool):
            raise ValueError("inline and one_time must be booleans")
        rows = kb["buttons"]
        max_rows, max_total = (6, 10) if inline else (10, 40)
        kind = "inline keyboard" if inline else "keyboard"
        if len(rows) > max_rows:
            raise ValueError(f"{kind} has {len(rows)} rows (at most {max_rows})")
        total = 0
        for r, row in enumerate(rows, 1):
            if not isinstance(row, list):
                raise ValueError(f"row {r} is not an array")
            if len(row) > 5:
                raise ValueError(f"row {r} has {len(row)} buttons (at most 5)")
            total += len(row)
            for b, button in enumerate(row, 1):
                FakeVK._check_button(button, f"button {b} of row {r}", len(row))
        if total > max_total:
            raise ValueError(f"{kind} has {total} buttons (at most {max_total})")
        return kb

    @staticmethod
    def _check_button(button: Any, where: str, row_len: int) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("action"), dict):
            raise ValueError(f"{where}: no action object")
        action = button["action"]
        kind = action.get("type")
        if kind not in ACTIONS:
            raise ValueError(f"{where}: unknown action type {kind!r}")
        if "color" in button:
            if kind not in COLORED_ACTIONS:
                raise ValueError(f"{where}: {kind} buttons take no color")
            if button["color"] not in COLORS:
                raise ValueError(f"{where}: color {button['color']!r} is not one of {COLORS}")
        if kind in FULL_WIDTH_ACTIONS and row_len > 1:
            raise ValueError(f"{where}: a {kind} button must be alone in its row")
        if kind in COLORED_ACTIONS or kind in ("open_link", "open_app"):
            label = action.get("label")
            if not isinstance(label, str) or not label:
                raise ValueError(f"{where}: label is required")
            if len(label) > LABEL_CHARS:
                raise ValueError(f"{where}: label has {len(label)} characters "
                                 f"(at most {LABEL_CHARS})")
        if kind == "open_link" and not re.match(r"https?://\S+$", str(action.get("link", ""))):
            raise ValueError(f"{where}: link must be an http(s) URL")
        if kind == "vkpay" and not action.get("hash"):
            raise ValueError(f"{where}: vkpay buttons need a hash")
        if kind == "open_app" and not isinstance(action.get("app_id"), int):
            raise ValueError(f"{where}: open_app buttons need an app_id")
        payload = action.get("payload")
        if payload is not None:
            if not isinstance(payload, str):
                raise ValueError(f"{where}: payload must be a JSON string")
            if len(payload) > PAYLOAD_CHARS:
                raise ValueError(f"{where}: payload has {len(payload)} characters "
                                 f"(at most {PAYLOAD_CHARS})")
            try:
                json.loads(payload)
            except ValueError:
                raise ValueError(f"{where}: payload is not valid JSON") from None

    # ================================================================ inspecting

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def dialog(self, peer_id: int) -> list[dict[str, Any]]:
        """Every message with the peer now, the user's and the bot's."""
        return [copy.deepcopy(self._messages[m]) for m in self._dialogs.get(peer_id, [])]

    def messages(self, peer_id: int) -> list[dict[str, Any]]:
        """The bot's messages to the peer as they are now (edits applied, deleted ones gone);
        ``keyboard`` parsed (or None), ``random_id``, ``attachment`` as sent."""
        return [m for m in self.dialog(peer_id) if m["out"]]

    def last_message(self, peer_id: int) -> dict[str, Any] | None:
        sent = self.messages(peer_id)
        return sent[-1] if sent else None

    def buttons(self, peer_id: int, message: dict[str, Any] | int | None = None
                ) -> list[dict[str, Any]]:
        """The buttons (``{"action": ..., "color": ...}``) of a bot message, row after row:
        of ``message`` (a message or its conversation_message_id), else of the last one."""
        found = self._resolve(peer_id, message) if message is not None else \
            self.last_message(peer_id)
        if found is None or not found.get("keyboard"):
            return []
        return [copy.deepcopy(b) for row in found["keyboard"]["buttons"] for b in row]

    def keyboard(self, peer_id: int) -> dict[str, Any] | None:
        """The non-inline keyboard the user sees under the input field now."""
        kb = self._keyboards.get(peer_id)
        return copy.deepcopy(kb) if kb is not None else None

    def is_allowed(self, user_id: int) -> bool:
        """Whether the community may write to the user (messages.isMessagesFromGroupAllowed)."""
        return self._allowed.get(user_id, False)

    async def wait_for_call(
        self,
        method: str,
        *,
        where: Callable[[Call], bool] | None = None,
        count: int = 1,
        within: float = 5.0,
    ) -> Call:
        """Wait until ``count`` answered calls to ``method`` (matching ``where``) were made;
        returns the count-th one. Raises TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                done = [c for c in self.calls
                        if c.method == method and c.done and (where is None or where(c))]
                if len(done) >= count:
                    return done[count - 1]
                await self._call_done.wait()

    def max_rate(self, methods: str | Iterable[str] | None = None,
                 window_seconds: float = 1.0) -> int:
        """The most calls to ``methods`` (None: all) in any sliding window."""
        wanted = {methods} if isinstance(methods, str) else (
            set(methods) if methods is not None else None)
        times = sorted(c.at for c in self.calls if wanted is None or c.method in wanted)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] >= window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ================================================================ failures

    def fail(self, method: str, code: int = 6, times: int | None = 1, *,
             error_msg: str | None = None, peer_id: int | None = None) -> None:
        """The next ``times`` calls to ``method`` ("*": any; only to ``peer_id`` if given)
        answer error ``code`` (``times=None``: until ``clear_failures()``). Note that vk_api
        retries error 6 by itself after 0.5 s, forever."""
        self._failures.append(_Failure(method, code, times, error_msg, peer_id))

    def clear_failures(self) -> None:
        self._failures.clear()

    def _inject_failure(self, method: str, peer_id: int | None) -> None:
        for failure in self._failures:
            if failure.method not in ("*", method):
                continue
            if failure.peer_id is not None and failure.peer_id != peer_id:
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
            raise VKError(failure.code, msg=failure.error_msg)

    def block(self, user_id: int) -> None:
        """Put the user in the community's blacklist: messages to them answer error 900."""
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    # ================================================================ people and updates

    def user(self, user_id: int, first_name: str = "Test", last_name: str = "User",
             lang: str | int = "ru", *, screen_name: str | None = None,
             allowed: bool | None = None, **fields: Any) -> dict[str, Any]:
        """A VK user (``{"id", "first_name", "last_name", ...}``); ``lang`` ("ru", "en" or a VK
        lang_id) becomes ``client_info.lang_id`` of their messages. ``allowed`` sets whether
        the community may write to them (by default: once they wrote or allowed)."""
        lang_id = lang if isinstance(lang, int) else LANG_IDS.get(lang, 0)
        user = {
            "id": user_id, "first_name": first_name, "last_name": last_name,
            "screen_name": screen_name or f"id{user_id}", "lang_id": lang_id, **fields,
        }
        self.users[user_id] = user
        if allowed is not None:
            self._allowed[user_id] = allowed
        return {k: v for k, v in user.items() if k != "lang_id"}

    def _as_user(self, user: UserLike) -> dict[str, Any]:
        uid = user if isinstance(user, int) else user["id"]
        if uid not in self.users:
            self.user(uid)
        return self.users[uid]

    def client_info(self, user: UserLike, **overrides: Any) -> dict[str, Any]:
        """What the user's app supports, as in message_new."""
        info = {
            "button_actions": list(BUTTON_ACTIONS), "keyboard": True, "inline_keyboard": True,
            "carousel": True, "lang_id": self._as_user(user)["lang_id"],
        }
        info.update(overrides)
        return info

    def _envelope(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "group_id": self.group_id, "type": kind, "event_id": secrets.token_hex(20),
            "v": self.api_version, "object": obj,
        }

    def text_update(self, user: UserLike, text: str, *, payload: Any = None,
                    peer_id: int | None = None, client_info: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
        """A message_new: ``user`` writes ``text`` (in their dialog, or in ``peer_id``). It takes
        the dialog's next conversation_message_id and lets the community write to the user.
        ``payload`` (str or JSON-able) is what a text button adds."""
        sender = self._as_user(user)
        peer = peer_id if peer_id is not None else sender["id"]
        message = self._new_message(peer, sender["id"], text, out=0)
        if payload is not None:
            message["payload"] = payload if isinstance(payload, str) else json.dumps(
                payload, ensure_ascii=False, separators=(",", ":"))
        if peer == sender["id"]:
            self._allowed[sender["id"]] = True
        shown = {k: v for k, v in message.items() if v is not None}
        return self._envelope("message_new", {
            "message": copy.deepcopy(shown),
            "client_info": client_info or self.client_info(sender),
        })

    def _resolve(self, peer: int, message: dict[str, Any] | int) -> dict[str, Any] | None:
        cmid = message if isinstance(message, int) else message["conversation_message_id"]
        for mid in self._dialogs.get(peer, []):
            if self._messages[mid]["conversation_message_id"] == cmid:
                return self._messages[mid]
        return None

    @staticmethod
    def _same_payload(button_payload: str | None, payload: Any) -> bool:
        if button_payload is None:
            return payload is None
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                return False
        return json.loads(button_payload) == payload

    def press(self, user: UserLike, message: dict[str, Any] | int | None, payload: Any, *,
              peer_id: int | None = None, check: bool = True) -> dict[str, Any]:
        """``user`` presses the button with ``payload`` (str or JSON-able) under ``message`` (a
        bot message, e.g. ``fake.last_message(peer)``, or its conversation_message_id; None: the
        peer's non-inline keyboard). A callback button gives a message_event (answerable for
        60 s), a text button a message_new with its label and payload. With ``check`` the
        button must be there now: VK clients only send what a button holds."""
        sender = self._as_user(user)
        peer = peer_id if peer_id is not None else (
            message["peer_id"] if isinstance(message, dict) else sender["id"])
        current = self._resolve(peer, message) if message is not None else None
        if message is None:
            keyboard = self._keyboards.get(peer)
        elif current is None:
            if check:
                raise ValueError(f"message {message!r} is not in peer {peer}")
            keyboard = None
        else:
            keyboard = current.get("keyboard")
        button = None
        for row in (keyboard or {}).get("buttons", []):
            for b in row:
                if self._same_payload(b["action"].get("payload"), payload):
                    button = b
                    break
            if button:
                break
        if button is None:
            if check:
                raise ValueError(f"no button with payload {payload!r} on that message now")
            button = {"action": {"type": "callback", "payload": payload}}
        kind = button["action"]["type"]
        if message is None and keyboard and keyboard.get("one_time") and check:
            self._keyboards.pop(peer, None)
        if kind == "text":
            return self.text_update(sender, button["action"]["label"], peer_id=peer,
                                    payload=button["action"].get("payload"))
        if kind != "callback":
            raise ValueError(f"a {kind} button sends no event to the community")
        cmid = current["conversation_message_id"] if current is not None else (
            message if isinstance(message, int) else None)
        return self.event_update(sender, payload, peer_id=peer, conversation_message_id=cmid)

    def event_update(self, user: UserLike, payload: Any, *, peer_id: int | None = None,
                     conversation_message_id: int | None = None) -> dict[str, Any]:
        """A message_event as is (no button check: for forged presses); answerable for 60 s."""
        sender = self._as_user(user)
        peer = peer_id if peer_id is not None else sender["id"]
        if isinstance(payload, str):
            with contextlib.suppress(ValueError):  # a forged, non-JSON payload goes as is
                payload = json.loads(payload)
        event_id = secrets.token_hex(6)
        self._events[event_id] = {
            "user_id": sender["id"], "peer_id": peer, "created": self.time(), "answered": False,
        }
        obj: dict[str, Any] = {"user_id": sender["id"], "peer_id": peer, "event_id": event_id,
                               "payload": payload}
        if conversation_message_id is not None:
            obj["conversation_message_id"] = conversation_message_id
        return self._envelope("message_event", obj)

    def allow(self, user: UserLike, key: str = "") -> dict[str, Any]:
        """The user allowed messages from the community: a message_allow update."""
        sender = self._as_user(user)
        self._allowed[sender["id"]] = True
        return self._envelope("message_allow", {"user_id": sender["id"], "key": key})

    def deny(self, user: UserLike) -> dict[str, Any]:
        """The user denied messages from the community (error 901 from now on until they
        write or allow again): a message_deny update."""
        sender = self._as_user(user)
        self._allowed[sender["id"]] = False
        return self._envelope("message_deny", {"user_id": sender["id"]})

    def confirmation_request(self, group_id: int | None = None) -> dict[str, Any]:
        """What VK POSTs to confirm a Callback API server (answer: the confirmation string)."""
        return {"type": "confirmation", "group_id": group_id or self.group_id}

    # ================================================================ Bots Long Poll

    def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates for long poll requests (safe from other threads too)."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and not self._on_loop():
            loop.call_soon_threadsafe(self.push, *updates)
            return
        for update in updates:
            self._lp_events.append((self._lp_ts, update))
            self._lp_ts += 1
        self._wake_pollers()

    def long_poll_fail(self, code: int) -> None:
        """The next long poll request answers ``{"failed": code}``: 1 (history lost: the
        updates not yet fetched are skipped, polling goes on from the ts given), 2 (key
        expired: a new one from groups.getLongPollServer) or 3 (information lost: new key and
        ts, the updates not yet fetched are lost)."""
        if code not in (1, 2, 3):
            raise ValueError("Bots Long Poll fails with 1, 2 or 3")
        self._lp_failures.append(code)
        self._wake_pollers()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Pushed updates no poller has come back past yet."""
        return [u for ts, u in self._lp_events if ts >= self._lp_acked]

    async def wait_consumed(self, within: float = 5.0) -> None:
        """Wait until a poller asked for updates after every pushed one (it received them)."""
        async with asyncio.timeout(within):
            while self.pending_updates:
                await self._call_done.wait()

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _wake_pollers(self) -> None:
        if self._loop is not None and not self._on_loop():
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._wake_pollers)
            return
        self._wake.set()
        self._wake = asyncio.Event()

    async def _handle_long_poll(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        entry: dict[str, Any] = {"params": q, "at": time.monotonic(), "answer": None}
        self.long_polls.append(entry)
        answer = await self._long_poll(request.match_info["group_id"], q)
        entry["answer"] = answer
        self._notify()
        return self._json(answer)

    async def _long_poll(self, group: str, q: dict[str, str]) -> dict[str, Any]:
        if group != str(self.group_id) or q.get("act") != "a_check":
            self._record_violation("long poll", f"bad request to group {group}: {q}", q)
            return {"failed": 2}
        try:
            ts = int(q.get("ts", ""))
            wait = float(q.get("wait", "25"))
        except ValueError:
            self._record_violation("long poll", f"ts/wait not numbers: {q}", q)
            return {"failed": 1, "ts": str(self._lp_ts)}
        if wait > 90:
            self._record_violation("long poll", f"wait={wait} (at most 90)", q)
        deadline = time.monotonic() + max(0.0, min(wait, self.long_poll_wait_cap))
        while True:
            if self._lp_failures:
                code = self._lp_failures.pop(0)
                if code == 1:
                    self._lp_acked = max(self._lp_acked, self._lp_ts)
                    return {"failed": 1, "ts": str(self._lp_ts)}
                self._lp_key = secrets.token_hex(20)
                return {"failed": code}
            if q.get("key") != self._lp_key:
                return {"failed": 2}
            if ts > self._lp_acked:
                self._lp_acked = ts
                self._notify()
            updates = [u for n, u in self._lp_events if n >= ts]
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0 or self._closing:
                return {"ts": str(self._lp_ts if updates else ts),
                        "updates": copy.deepcopy(updates)}
            wake = self._wake
            with contextlib.suppress(TimeoutError):  # the poll's wait is over: answer
                async with asyncio.timeout(remaining):
                    await wake.wait()

    # ================================================================ Callback API

    async def post_callback(self, url: str, event: dict[str, Any], *,
                            secret: str | None = None, retry: int = 0) -> tuple[int, str]:
        """POST ``event`` to the bot's Callback API endpoint as VK does (JSON, ``secret`` added
        when given, ``X-Retry-Counter`` on a retry); returns (HTTP status, body). VK wants
        200 and "ok" (the confirmation string for a confirmation request)."""
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        body = dict(event)
        if secret is not None:
            body["secret"] = secret
        headers = {"Content-Type": "application/json", "User-Agent": "VKCallbackAPI"}
        if retry > 0:
            headers["X-Retry-Counter"] = str(retry)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        async with self._client.post(url, data=data, headers=headers) as resp:
            return resp.status, await resp.text()
