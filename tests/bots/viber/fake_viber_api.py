"""A local fake of the Viber REST Bot API for tests: an aiohttp server on 127.0.0.1, all in memory.

    async with FakeViber() as fake:                    # or the ``fake_viber`` fixture
        # the bot uses base URL fake.api_url (instead of https://chatapi.viber.com/pa/)
        # and sends the header X-Viber-Auth-Token: fake.token
        ...                                            # the bot calls set_webhook
        fake.user("u1==", "Anna")
        await fake.starts("u1==", context="course-7")  # conversation_started (+ welcome msg)
        await fake.says("u1==", "hi")                  # a signed `message` callback
        await fake.wait_for_call("send_message")
        assert fake.last_message("u1==")["text"] == "Welcome"
        await fake.press("u1==", "buy:7")              # a button of the last keyboard
        assert fake.violations == []

The real API, as modelled here (the fake's own words where Viber's are unknown):

- Base ``https://chatapi.viber.com/pa/``; the fake serves ``POST {fake.url}/pa/<endpoint>``
  (``fake.api_url``). Every request carries a JSON body and the header ``X-Viber-Auth-Token``.
- Answers are HTTP 200 with JSON: success ``{"status": 0, "status_message": "ok", ...}``,
  failure ``{"status": N, "status_message": "..."}``. N: 1 invalidUrl, 2 invalidAuthToken,
  3 badData, 4 missingData, 5 receiverNotRegistered, 6 receiverNotSubscribed,
  7 publicAccountBlocked, 8 publicAccountNotFound, 9 publicAccountSuspended, 10 webhookNotSet,
  11 receiverNoSuitableDevice, 12 tooManyRequests, 13 apiVersionNotSupported. The message is
  the name, except for 3 and 4, where the fake explains what is wrong in its own words (Viber
  sends detail there too, e.g. "keyboard is not valid. [...]"), and for a missing token
  header ("missing_auth_token", wording from Viber's docs).
- ``set_webhook {url, event_types?, send_name?, send_photo?}``: before answering, Viber POSTs
  ``{"event": "webhook", "timestamp", "chat_hostname", "message_token"}`` (signed) to ``url``;
  only an HTTP 200 makes it succeed (``status 0`` + ``event_types``), anything else is status 1.
  ``url: ""`` removes the webhook. Real Viber requires https with a CA-signed certificate; the
  fake also accepts ``http://`` to 127.0.0.1 / localhost / [::1] (other plain http: status 1).
  ``event_types`` filters delivered, seen, failed and conversation_started; message,
  subscribed and unsubscribed are always sent. Without ``send_name`` / ``send_photo`` the
  user's ``name`` / ``avatar`` are left out of callbacks.
- ``send_message {receiver, sender: {name <= 28, avatar?}, type, text, tracking_data? <= 4000,
  min_api_version?, keyboard?}`` -> ``{status 0, message_token, chat_hostname}``. Text <= 7000
  (UTF-16 units), the whole body <= 30 KB (30720 bytes). Only subscribed users can be messaged:
  unknown receiver -> 5, not (or no longer) subscribed -> 6; a user subscribes by sending a
  message (no `subscribed` callback then) or via `subscribed`. Without a webhook -> 10. At most
  100 messages per user per hour without a reply -> 12 (reset when the user writes).
- The welcome message: the bot's HTTP answer to ``conversation_started`` may be a send_message
  body without ``receiver``; it reaches the user even though they are not subscribed.
- Keyboard ``{"Type": "keyboard", "Buttons": [...], "DefaultHeight"?, "BgColor"?,
  "InputFieldState"?: regular|minimized|hidden}``; button ``Columns`` 1..6, ``Rows`` 1..2,
  ``ActionType`` reply|open-url|location-picker|share-phone|none (default reply),
  ``ActionBody`` required (<= 250; an http(s) URL for open-url: the fake is stricter here,
  Viber's own examples use "www.x.com"), ``Text`` <= 250, known keys only, case-sensitive.
  Viber validates much of a keyboard on the device (a bad one may then yield a `failed`
  callback); the fake refuses it at once with status 3.
- ``broadcast_message {broadcast_list <= 300, ...}`` -> ``failed_list``;
  ``get_account_info``; ``get_user_details {id}`` (twice per user per 12 h, then 12).
- Callbacks to the webhook: JSON with ``event``, ``timestamp`` (ms), ``chat_hostname``,
  ``message_token`` (int, unique per event; for delivered/seen/failed it is the bot message's)
  and header ``X-Viber-Content-Signature`` = hex HMAC-SHA256 of the raw body keyed with the
  auth token. Events: conversation_started {user, type "open", context?, subscribed},
  subscribed {user}, unsubscribed {user_id}, message {sender, message: {type, text,
  tracking_data?}} (tracking_data is that of the bot's last message to the user),
  delivered / seen / failed {user_id, desc?}. A pressed button of ActionType reply (or
  open-url) arrives as a text `message` whose text is its ActionBody. Viber re-sends a callback
  that got no HTTP 200 (for about an hour); ``post(..., retries=N)`` re-sends it at once.

Calls the bot should never make (bad or missing data, a missing token header, unknown
endpoints, a malformed welcome message) are answered like Viber would and recorded in
``fake.violations``. Refusals that depend on the world (unsubscribed users, injected failures,
the 100-message limit) are not violations.

Public API (see each docstring):
- server: ``start()``, ``stop()``, ``url``, ``api_url``, ``token``, ``webhook``, ``sign(raw)``
- calls: ``calls``, ``calls_to(endpoint)``, ``violations``, ``unimplemented``,
  ``await wait_for_call(endpoint, where=, count=, within=)``
- failures: ``fail(endpoint, status=12, times=1, receiver=)``, ``clear_failures()``
- users: ``user(id, name, language=...)``, ``users``, ``subscribed``
- bot messages: ``messages(user_id)``, ``last_message(user_id)``, ``buttons(user_id)``
- callbacks (each returns ``(http_status, body_text)``; 0 = not delivered): ``await post(event,
  signature=, raw_body=, repeat_token=, retries=)``, ``starts``, ``subscribes``,
  ``unsubscribes``, ``says``, ``press``, ``delivered``, ``seen``, ``failed``; ``callbacks``
  (every POST made) and ``filtered_events``
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = [
    "ALL_EVENT_TYPES",
    "DEFAULT_TOKEN",
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "STATUS_MESSAGES",
    "TOKEN_HEADER",
    "Call",
    "Callback",
    "FakeViber",
    "ViberError",
    "Violation",
]

DEFAULT_TOKEN = "4a5b6c7d8e9f0a1b-2c3d4e5f6a7b8c9d-0e1f2a3b4c5d6e7f"
TOKEN_HEADER = "X-Viber-Auth-Token"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
MAX_BODY_BYTES = 30 * 1024

STATUS_MESSAGES = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
}

ALL_EVENT_TYPES = (
    "delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started",
)
FILTERABLE_EVENTS = frozenset({"delivered", "seen", "failed", "conversation_started"})

ENDPOINTS = (
    "set_webhook", "send_message", "broadcast_message", "get_account_info", "get_user_details",
)
# Real endpoints the fake does not model: answered 501 and listed in ``fake.unimplemented``.
UNIMPLEMENTED_ENDPOINTS = frozenset({"get_online", "post"})

MESSAGE_TYPES = frozenset({
    "text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media",
})
# Fields each message type needs besides sender and type.
REQUIRED_BY_TYPE = {
    "text": ("text",),
    "picture": ("media",),
    "video": ("media", "size"),
    "file": ("media", "size", "file_name"),
    "location": ("location",),
    "contact": ("contact",),
    "sticker": ("sticker_id",),
    "url": ("media",),
    "rich_media": ("rich_media",),
}
MAX_TEXT = 7000
MAX_PICTURE_TEXT = 512
MAX_URL = 2000
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4000
MAX_ACTION_BODY = 250
MAX_BUTTON_TEXT = 250
MAX_BROADCAST = 300
UNANSWERED_LIMIT = 100
UNANSWERED_WINDOW = 3600.0
USER_DETAILS_LIMIT = 2
USER_DETAILS_WINDOW = 12 * 3600.0

ACTION_TYPES = frozenset({"reply", "open-url", "location-picker", "share-phone", "none"})
KEYBOARD_KEYS = frozenset({
    "Type", "Buttons", "BgColor", "DefaultHeight", "CustomDefaultHeight", "HeightScale",
    "ButtonsGroupColumns", "ButtonsGroupRows", "InputFieldState", "FavoritesMetadata",
})
BUTTON_KEYS = frozenset({
    "Columns", "Rows", "BgColor", "Silent", "BgMediaType", "BgMedia", "BgMediaScaleType",
    "ImageScaleType", "BgLoop", "ActionType", "ActionBody", "Image", "Text", "TextVAlign",
    "TextHAlign", "TextPaddings", "TextOpacity", "TextSize", "OpenURLType", "OpenURLMediaType",
    "TextBgGradientColor", "TextShouldFit", "InternalBrowser", "Map", "Frame", "MediaPlayer",
})
BUTTON_ENUMS = {
    "TextSize": {"small", "regular", "large"},
    "TextVAlign": {"top", "middle", "bottom"},
    "TextHAlign": {"left", "center", "right"},
    "OpenURLType": {"internal", "external"},
    "OpenURLMediaType": {"not-media", "video", "gif", "picture"},
    "BgMediaType": {"picture", "gif"},
}
HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ViberError(Exception):
    """A refusal: answered as ``{"status": status, "status_message": message}``."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        violation: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.message = message or STATUS_MESSAGES.get(status, "generalError")
        self.violation = violation
        self.extra = extra or {}
        super().__init__(f"{status} {self.message}")

    def payload(self) -> dict[str, Any]:
        return {"status": self.status, "status_message": self.message, **self.extra}


def _bad(message: str) -> ViberError:
    return ViberError(3, message, violation=True)


def _missing(name: str) -> ViberError:
    return ViberError(4, f"missing mandatory field: {name}", violation=True)


def _length(text: str) -> int:
    """Characters as Java (and so, presumably, Viber) counts them: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass
class Call:
    """One request to the fake. ``status`` is Viber's ``status`` (None while running, or when
    the request never got a JSON answer, see ``http_status``)."""

    endpoint: str
    body: dict[str, Any]
    raw: bytes
    at: float  # time.monotonic() on arrival
    receiver: str | None = None
    status: int | None = None
    status_message: str | None = None
    http_status: int = 200


@dataclass(frozen=True)
class Violation:
    """A call the real API would refuse as malformed, or one the bot should never make."""

    endpoint: str
    description: str
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.description}"


@dataclass
class Callback:
    """One POST the fake made to a webhook (each retry is its own Callback)."""

    url: str
    event: str | None
    body: bytes
    headers: dict[str, str]
    status: int  # the bot's HTTP status; 0 if it never answered
    text: str
    attempt: int = 1


@dataclass
class _Failure:
    endpoint: str
    status: int
    remaining: int | None
    status_message: str | None
    receiver: str | None


class FakeViber:
    """The fake server. Start it with ``await fake.start()`` (or ``async with``), point the bot
    at ``fake.api_url`` with ``fake.token``; inspect ``fake.calls``, ``fake.violations`` and
    ``fake.messages(user_id)``; drive the bot with ``fake.says(...)`` and friends."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        account_name: str = "Test School",
        account_uri: str = "testschool",
        chat_hostname: str = "SN-CHAT-05_",
        callback_timeout: float = 5.0,
    ) -> None:
        self.token = token
        self.account_id = "pa:5012345678901234567"
        self.account_name = account_name
        self.account_uri = account_uri
        self.chat_hostname = chat_hostname
        self.callback_timeout = callback_timeout
        # Viber answers send_message with 10 webhookNotSet until set_webhook succeeded.
        self.require_webhook = True
        # Wall clock for timestamps and the hourly limits; replace with a test clock if needed.
        self.time: Callable[[], float] = time.time
        self.url = ""
        self.api_url = ""
        self.port = 0

        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.unimplemented: list[str] = []
        self.webhook: dict[str, Any] | None = None
        self.callbacks: list[Callback] = []
        self.filtered_events: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.subscribed: set[str] = set()
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._unanswered: dict[str, list[float]] = {}
        self._details_asked: dict[str, list[float]] = {}
        self._failures: list[_Failure] = []
        self._tokens = itertools.count(5_741_311_803_571_721_087, 7_919)
        self._call_done = asyncio.Event()
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: getattr(self, "_e_" + name) for name in ENDPOINTS
        }
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # ================================================================ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host`` (a free port by default); returns and sets ``self.url``."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/pa/{endpoint}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.api_url = f"{self.url}/pa/"
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.callback_timeout)
        )
        return self.url

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeViber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def sign(self, raw: bytes) -> str:
        """The X-Viber-Content-Signature of ``raw``: hex HMAC-SHA256 keyed with the token."""
        return hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()

    @staticmethod
    def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status=status,
            content_type="application/json",
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        self.violations.append(Violation(request.path, "not a Viber API path"))
        return web.Response(status=404, text="Not Found")

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        raw = await request.read()
        call = Call(endpoint, {}, raw, time.monotonic())
        self.calls.append(call)
        handler = self._handlers.get(endpoint)
        if handler is None or request.method != "POST":
            if handler is None and endpoint in UNIMPLEMENTED_ENDPOINTS:
                self.unimplemented.append(endpoint)
                call.http_status, text = 501, f"the fake Viber API does not implement {endpoint}"
            elif handler is None:
                call.http_status, text = 404, "Not Found"
                self.violations.append(Violation(endpoint, "unknown endpoint"))
            else:
                call.http_status, text = 405, "Method Not Allowed"
                self.violations.append(Violation(endpoint, f"{request.method} instead of POST"))
            call.status_message = text
            self._notify()
            return web.Response(status=call.http_status, text=text)
        try:
            token = request.headers.get(TOKEN_HEADER)
            if token is None:
                raise ViberError(2, "missing_auth_token", violation=True)
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                raise ViberError(2)
            if len(raw) > MAX_BODY_BYTES:
                raise _bad(f"request body is {len(raw)} bytes, the limit is {MAX_BODY_BYTES}")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise _bad("the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise _bad("the body must be a JSON object")
            call.body = body
            if isinstance(body.get("receiver"), str):
                call.receiver = body["receiver"]
            result = await handler(body)
            payload = {"status": 0, "status_message": "ok", **result}
        except ViberError as e:
            if e.violation:
                self.violations.append(Violation(endpoint, e.message, dict(call.body)))
            payload = e.payload()
        call.status = payload["status"]
        call.status_message = payload["status_message"]
        self._notify()
        return self._json(payload)

    def _notify(self) -> None:
        self._call_done.set()
        self._call_done = asyncio.Event()

    # ================================================================ endpoints

    async def _e_set_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        url = body.get("url")
        if url is None:
            raise _missing("url")
        if not isinstance(url, str):
            raise _bad("url must be a string")
        event_types = body.get("event_types")
        if event_types is not None:
            if not isinstance(event_types, list) or not all(
                isinstance(t, str) for t in event_types
            ):
                raise _bad("event_types must be an array of strings")
            unknown = [t for t in event_types if t not in ALL_EVENT_TYPES]
            if unknown:
                raise _bad(f"unknown event_types {unknown}; allowed: {list(ALL_EVENT_TYPES)}")
        for flag in ("send_name", "send_photo"):
            if flag in body and not isinstance(body[flag], bool):
                raise _bad(f"{flag} must be a boolean")
        self._inject("set_webhook", None)
        if url == "":
            self.webhook = None
            return {}
        parts = urlsplit(url)
        if not parts.netloc or not (
            parts.scheme == "https"
            or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)
        ):
            raise ViberError(1)
        types = list(event_types) if event_types is not None else list(ALL_EVENT_TYPES)
        status, _ = await self.post({"event": "webhook"}, url=url)
        if status != 200:
            raise ViberError(1)
        self.webhook = {
            "url": url,
            "event_types": types,
            "send_name": bool(body.get("send_name", False)),
            "send_photo": bool(body.get("send_photo", False)),
        }
        return {"event_types": types}

    async def _e_send_message(self, body: dict[str, Any]) -> dict[str, Any]:
        receiver = body.get("receiver")
        if receiver is None:
            raise _missing("receiver")
        if not isinstance(receiver, str):
            raise _bad("receiver must be a string")
        self._check_message(body)
        self._inject("send_message", receiver)
        if self.require_webhook and self.webhook is None:
            raise ViberError(10)
        self._check_receiver(receiver)
        token = self._record_message(receiver, body, "send_message")
        return {"message_token": token, "chat_hostname": self.chat_hostname}

    async def _e_broadcast_message(self, body: dict[str, Any]) -> dict[str, Any]:
        receivers = body.get("broadcast_list")
        if receivers is None:
            raise _missing("broadcast_list")
        if not isinstance(receivers, list) or not all(isinstance(r, str) for r in receivers):
            raise _bad("broadcast_list must be an array of user ids")
        if not 1 <= len(receivers) <= MAX_BROADCAST:
            raise _bad(f"broadcast_list has {len(receivers)} ids, allowed 1..{MAX_BROADCAST}")
        self._check_message(body)
        self._inject("broadcast_message", None)
        if self.require_webhook and self.webhook is None:
            raise ViberError(10)
        token = next(self._tokens)
        failed = []
        for receiver in receivers:
            try:
                self._check_receiver(receiver)
            except ViberError as e:
                failed.append(
                    {"receiver": receiver, "status": e.status, "status_message": e.message}
                )
                continue
            self._record_message(receiver, body, "broadcast_message", token=token)
        return {"message_token": token, "failed_list": failed}

    async def _e_get_account_info(self, body: dict[str, Any]) -> dict[str, Any]:
        self._inject("get_account_info", None)
        return {
            "id": self.account_id,
            "name": self.account_name,
            "uri": self.account_uri,
            "icon": "https://example.com/icon.png",
            "background": "https://example.com/background.png",
            "category": "Education",
            "subcategory": "Online courses",
            "location": {"lon": 0.0, "lat": 0.0},
            "country": "GB",
            "webhook": self.webhook["url"] if self.webhook else "",
            "event_types": list(self.webhook["event_types"]) if self.webhook else [],
            "subscribers_count": len(self.subscribed),
            "members": [
                {"id": "admin0000000000000000==", "name": "Admin", "avatar": "", "role": "admin"}
            ],
        }

    async def _e_get_user_details(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body.get("id")
        if user_id is None:
            raise _missing("id")
        if not isinstance(user_id, str):
            raise _bad("id must be a string")
        self._inject("get_user_details", user_id)
        if user_id not in self.users:
            raise ViberError(5)
        now = self.time()
        asked = [t for t in self._details_asked.get(user_id, []) if now - t < USER_DETAILS_WINDOW]
        if len(asked) >= USER_DETAILS_LIMIT:
            raise ViberError(12)
        self._details_asked[user_id] = [*asked, now]
        user = self.users[user_id]
        details = {
            **{k: user[k] for k in ("id", "name", "avatar", "country", "language") if k in user},
            "primary_device_os": "Android 14",
            "api_version": user["api_version"],
            "viber_version": "24.0.0.0",
            "mcc": 255,
            "mnc": 1,
            "device_type": "Pixel 8",
        }
        return {"chat_hostname": self.chat_hostname, "message_token": next(self._tokens),
                "user": details}

    # ================================================================ validation

    def _check_message(self, m: dict[str, Any]) -> None:
        """send_message's rules (without receiver); raises ViberError 3 / 4 (violations)."""
        sender = m.get("sender")
        if sender is None:
            raise _missing("sender")
        if not isinstance(sender, dict):
            raise _bad("sender must be an object")
        name = sender.get("name")
        if name is None:
            raise _missing("sender.name")
        if not isinstance(name, str) or not name.strip():
            raise _bad("sender.name must be a non-empty string")
        if _length(name) > MAX_SENDER_NAME:
            raise _bad(f"sender.name is longer than {MAX_SENDER_NAME} characters")
        if "avatar" in sender and not isinstance(sender["avatar"], str):
            raise _bad("sender.avatar must be a string")
        mtype = m.get("type")
        if mtype is None:
            raise _missing("type")
        if mtype not in MESSAGE_TYPES:
            raise _bad(f"unknown message type {mtype!r}")
        for key in REQUIRED_BY_TYPE[mtype]:
            if key not in m:
                raise _missing(key)
        if mtype == "text":
            if not isinstance(m["text"], str) or not m["text"]:
                raise _bad("text must be a non-empty string")
            if _length(m["text"]) > MAX_TEXT:
                raise _bad(f"text is longer than {MAX_TEXT} characters")
        if mtype == "picture" and "text" in m:
            if not isinstance(m["text"], str) or _length(m["text"]) > MAX_PICTURE_TEXT:
                raise _bad(f"picture text must be a string of at most {MAX_PICTURE_TEXT}")
        if mtype in ("picture", "video", "file", "url"):
            if not _is_http_url(m["media"]) or _length(m["media"]) > MAX_URL:
                raise _bad(f"media must be an http(s) URL of at most {MAX_URL} characters")
        if "tracking_data" in m:
            data = m["tracking_data"]
            if not isinstance(data, str):
                raise _bad("tracking_data must be a string")
            if _length(data) > MAX_TRACKING_DATA:
                raise _bad(f"tracking_data is longer than {MAX_TRACKING_DATA} characters")
        if "min_api_version" in m:
            version = m["min_api_version"]
            if not _is_int(version) or version < 1:
                raise _bad("min_api_version must be an integer >= 1")
        if "keyboard" in m:
            self._check_keyboard(m["keyboard"])

    @staticmethod
    def _check_keyboard(kb: Any) -> None:
        def invalid(detail: str) -> ViberError:
            return _bad(f"keyboard is not valid. [{detail}]")

        if not isinstance(kb, dict):
            raise invalid("keyboard must be an object")
        unknown = sorted(set(kb) - KEYBOARD_KEYS)
        if unknown:
            raise invalid(f"unknown keyboard properties {unknown} (keys are case-sensitive)")
        if "Type" in kb and kb["Type"] != "keyboard":
            raise invalid(f"Type must be \"keyboard\", not {kb['Type']!r}")
        if "DefaultHeight" in kb and not isinstance(kb["DefaultHeight"], bool):
            raise invalid("DefaultHeight must be a boolean")
        if "InputFieldState" in kb and kb["InputFieldState"] not in (
            "regular", "minimized", "hidden"
        ):
            raise invalid("InputFieldState must be regular, minimized or hidden")
        if "BgColor" in kb and not HEX_COLOR.match(str(kb["BgColor"])):
            raise invalid("BgColor must be a #RRGGBB color")
        buttons = kb.get("Buttons")
        if buttons is None:
            raise invalid("object has missing required properties ([\"Buttons\"])")
        if not isinstance(buttons, list) or not buttons:
            raise invalid("Buttons must be a non-empty array")
        for i, b in enumerate(buttons):
            where = f"Buttons[{i}]"
            if not isinstance(b, dict):
                raise invalid(f"{where} must be an object")
            unknown = sorted(set(b) - BUTTON_KEYS)
            if unknown:
                raise invalid(f"{where}: unknown properties {unknown} (keys are case-sensitive)")
            for key, top in (("Columns", 6), ("Rows", 2)):
                if key in b and (not _is_int(b[key]) or not 1 <= b[key] <= top):
                    raise invalid(f"{where}.{key} must be an integer 1..{top}")
            action = b.get("ActionType", "reply")
            if action not in ACTION_TYPES:
                raise invalid(f"{where}.ActionType {action!r} is not one of "
                              f"{sorted(ACTION_TYPES)}")
            if "ActionBody" not in b:
                raise invalid(f"{where}: object has missing required properties "
                              "([\"ActionBody\"])")
            body = b["ActionBody"]
            if not isinstance(body, str) or (not body and action != "none"):
                raise invalid(f"{where}.ActionBody must be a non-empty string")
            if _length(body) > MAX_ACTION_BODY:
                raise invalid(f"{where}.ActionBody is longer than {MAX_ACTION_BODY} characters")
            if action == "open-url" and not _is_http_url(body):
                raise invalid(f"{where}.ActionBody of an open-url button must be an http(s) "
                              f"URL, not {body!r}")
            if "Text" in b and (not isinstance(b["Text"], str)
                                or _length(b["Text"]) > MAX_BUTTON_TEXT):
                raise invalid(f"{where}.Text must be a string of at most {MAX_BUTTON_TEXT}")
            for key, allowed in BUTTON_ENUMS.items():
                if key in b and b[key] not in allowed:
                    raise invalid(f"{where}.{key} must be one of {sorted(allowed)}")
            for key in ("Silent", "BgLoop", "TextShouldFit"):
                if key in b and not isinstance(b[key], bool):
                    raise invalid(f"{where}.{key} must be a boolean")
            if "BgColor" in b and not HEX_COLOR.match(str(b["BgColor"])):
                raise invalid(f"{where}.BgColor must be a #RRGGBB color")
            if "TextOpacity" in b and (not _is_int(b["TextOpacity"])
                                       or not 0 <= b["TextOpacity"] <= 100):
                raise invalid(f"{where}.TextOpacity must be an integer 0..100")

    def _check_receiver(self, user_id: str) -> None:
        if user_id not in self.users:
            raise ViberError(5)
        if user_id not in self.subscribed:
            raise ViberError(6)
        now = self.time()
        recent = [t for t in self._unanswered.get(user_id, []) if now - t < UNANSWERED_WINDOW]
        self._unanswered[user_id] = recent
        if len(recent) >= UNANSWERED_LIMIT:
            raise ViberError(12, "Too many requests", extra={
                "message_token": next(self._tokens), "chat_hostname": self.chat_hostname})

    def _record_message(
        self, user_id: str, body: dict[str, Any], via: str, *, token: int | None = None
    ) -> int:
        token = next(self._tokens) if token is None else token
        self._messages.setdefault(user_id, []).append({
            "message_token": token,
            "receiver": user_id,
            "type": body.get("type"),
            "text": body.get("text"),
            "keyboard": copy.deepcopy(body.get("keyboard")),
            "tracking_data": body.get("tracking_data"),
            "sender": copy.deepcopy(body.get("sender")),
            "min_api_version": body.get("min_api_version"),
            "via": via,  # send_message, broadcast_message or welcome
            "at": self.time(),
            "body": copy.deepcopy(body),
        })
        self._unanswered.setdefault(user_id, []).append(self.time())
        return token

    # ================================================================ failures

    def fail(
        self,
        endpoint: str,
        status: int = 12,
        times: int | None = 1,
        *,
        receiver: str | None = None,
        status_message: str | None = None,
    ) -> None:
        """The next ``times`` valid calls to ``endpoint`` ("*" for any; only to ``receiver`` if
        given) are refused with ``status`` (``times=None``: until ``clear_failures()``)."""
        self._failures.append(_Failure(endpoint, status, times, status_message, receiver))

    def clear_failures(self) -> None:
        self._failures.clear()

    def _inject(self, endpoint: str, receiver: str | None) -> None:
        for failure in self._failures:
            if failure.endpoint not in ("*", endpoint):
                continue
            if failure.receiver is not None and failure.receiver != receiver:
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
            raise ViberError(failure.status, failure.status_message)

    # ================================================================ inspection

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def messages(self, user_id: str) -> list[dict[str, Any]]:
        """The bot's messages that reached the user, oldest first: dicts with message_token,
        type, text, keyboard, tracking_data, sender, min_api_version, via, at, body."""
        return list(self._messages.get(user_id, []))

    def last_message(self, user_id: str) -> dict[str, Any] | None:
        sent = self._messages.get(user_id)
        return sent[-1] if sent else None

    def buttons(self, user_id: str) -> list[dict[str, Any]]:
        """The buttons the user sees: the keyboard of the last message (Viber shows the last
        keyboard sent; a message without one hides it)."""
        last = self.last_message(user_id)
        if not last or not last["keyboard"]:
            return []
        return list(last["keyboard"]["Buttons"])

    async def wait_for_call(
        self,
        endpoint: str,
        *,
        where: Callable[[Call], bool] | None = None,
        count: int = 1,
        within: float = 5.0,
    ) -> Call:
        """Wait until ``count`` answered calls to ``endpoint`` (matching ``where``) were made;
        returns the count-th one. Raises TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                done = [
                    c for c in self.calls
                    if c.endpoint == endpoint and c.status_message is not None
                    and (where is None or where(c))
                ]
                if len(done) >= count:
                    return done[count - 1]
                await self._call_done.wait()

    # ================================================================ users

    def user(
        self,
        user_id: str,
        name: str = "Test User",
        language: str = "en",
        *,
        country: str = "GB",
        avatar: str | None = None,
        api_version: int = 10,
        subscribed: bool = False,
    ) -> dict[str, Any]:
        """Register (or update) a Viber user and return the full user object. A new user is
        not subscribed: the bot may only send them a welcome message until they write or
        subscribe (``subscribed=True`` skips that)."""
        user: dict[str, Any] = {"id": user_id, "name": name}
        if avatar is not None:
            user["avatar"] = avatar
        user.update(language=language, country=country, api_version=api_version)
        self.users[user_id] = user
        if subscribed:
            self.subscribed.add(user_id)
        return dict(user)

    def _known(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            self.user(user_id, f"User {user_id}")
        return self.users[user_id]

    def _user_view(self, user_id: str) -> dict[str, Any]:
        """The user as callbacks show them: no name / avatar without send_name / send_photo."""
        user = dict(self._known(user_id))
        if not (self.webhook or {}).get("send_name"):
            user.pop("name", None)
        if not (self.webhook or {}).get("send_photo"):
            user.pop("avatar", None)
        return user

    # ================================================================ callbacks

    def _encode(self, event: dict[str, Any]) -> bytes:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()

    def _webhook_url(self) -> str:
        if self.webhook is None:
            raise RuntimeError("no webhook: the bot has not called set_webhook successfully")
        return self.webhook["url"]

    async def post(
        self,
        event: dict[str, Any],
        *,
        signature: str | None = None,
        raw_body: bytes | str | None = None,
        repeat_token: int | None = None,
        retries: int = 0,
        url: str | None = None,
    ) -> tuple[int, str]:
        """POST a callback to the webhook (or ``url``) as Viber would; returns the bot's
        ``(http_status, body_text)``, status 0 if it never answered. ``event`` gets
        ``timestamp``, ``chat_hostname`` and a fresh ``message_token`` unless it has them
        (``repeat_token``: use that token, to send a duplicate). ``raw_body`` is sent verbatim
        instead of ``event``. ``signature``: None = correct, "bad" = a wrong HMAC, "missing" =
        no header, any other string = that header value. ``retries``: re-send the identical
        body up to that many more times while the answer is not 200. No event_types filter."""
        target = url or self._webhook_url()
        if raw_body is None:
            full = {
                "event": event.get("event"),
                "timestamp": event.get("timestamp", int(self.time() * 1000)),
                "chat_hostname": event.get("chat_hostname", self.chat_hostname),
                "message_token": repeat_token if repeat_token is not None
                else event.get("message_token", next(self._tokens)),
                **{k: v for k, v in event.items() if k not in (
                    "event", "timestamp", "chat_hostname", "message_token")},
            }
            raw = self._encode(full)
            name = full["event"]
        else:
            raw = raw_body.encode() if isinstance(raw_body, str) else raw_body
            name = event.get("event")
        headers = {"Content-Type": "application/json"}
        if signature is None:
            headers[SIGNATURE_HEADER] = self.sign(raw)
        elif signature == "bad":
            headers[SIGNATURE_HEADER] = hmac.new(
                b"not-" + self.token.encode(), raw, hashlib.sha256
            ).hexdigest()
        elif signature != "missing":
            headers[SIGNATURE_HEADER] = signature
        status, text = 0, ""
        for attempt in range(1, retries + 2):
            status, text = await self._send(target, raw, headers)
            self.callbacks.append(Callback(target, name, raw, dict(headers), status, text,
                                           attempt))
            if status == 200:
                break
        return status, text

    async def _send(self, url: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
        if self._client is None:
            raise RuntimeError("the fake is not started")
        try:
            async with self._client.post(url, data=raw, headers=headers) as resp:
                return resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return 0, f"not delivered: {type(e).__name__}: {e}"

    async def _deliver(self, event: dict[str, Any]) -> tuple[int, str]:
        """``post`` honouring the webhook's event_types (filtered: ``(0, "filtered ...")``)."""
        self._webhook_url()
        name = event["event"]
        if name in FILTERABLE_EVENTS and name not in self.webhook["event_types"]:
            self.filtered_events.append(event)
            return 0, f"filtered: {name} is not in the webhook's event_types"
        return await self.post(event)

    async def starts(
        self, user_id: str, context: str | None = None, **event: Any
    ) -> tuple[int, str]:
        """The user opens the chat (``context``: a deep-link payload, viber://pa?chatURI=
        <uri>&context=<context>). A send_message body (without receiver) in the bot's 200
        answer is the welcome message: checked, then delivered (``via="welcome"``)."""
        self._webhook_url()
        payload: dict[str, Any] = {"event": "conversation_started", "type": "open"}
        if context is not None:
            payload["context"] = context
        payload["user"] = self._user_view(user_id)
        payload["subscribed"] = user_id in self.subscribed
        payload.update(event)
        status, text = await self._deliver(payload)
        if status == 200:
            self._take_welcome(user_id, text)
        return status, text

    def _take_welcome(self, user_id: str, text: str) -> None:
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            return  # not JSON: no welcome message
        if not isinstance(body, dict) or not {"type", "text", "sender", "keyboard"} & set(body):
            return
        try:
            if len(text.encode()) > MAX_BODY_BYTES:
                raise _bad(f"welcome message is {len(text.encode())} bytes, over 30 KB")
            self._check_message(body)
        except ViberError as e:
            self.violations.append(Violation("welcome_message", e.message, body))
            return
        self._record_message(user_id, body, "welcome")

    async def subscribes(self, user_id: str) -> tuple[int, str]:
        """The user subscribes (e.g. from the chat info screen): a `subscribed` callback."""
        self._webhook_url()
        self.subscribed.add(user_id)
        return await self._deliver({"event": "subscribed", "user": self._user_view(user_id)})

    async def unsubscribes(self, user_id: str) -> tuple[int, str]:
        """The user unsubscribes: later send_message to them answers 6."""
        self._webhook_url()
        self._known(user_id)
        self.subscribed.discard(user_id)
        return await self._deliver({"event": "unsubscribed", "user_id": user_id})

    async def says(
        self, user_id: str, text: str, *, tracking_data: str | None = None
    ) -> tuple[int, str]:
        """The user sends a text message (subscribing them, resetting the 100-message limit).
        ``tracking_data`` defaults to that of the bot's last message to the user."""
        return await self._user_message(
            user_id, {"type": "text", "text": text}, tracking_data=tracking_data
        )

    async def press(
        self,
        user_id: str,
        action_body: str,
        *,
        phone: str = "+447700900123",
        location: tuple[float, float] = (51.5072, -0.1276),
    ) -> tuple[int, str]:
        """The user taps the button with ``action_body`` in the keyboard of the last message
        sent to them (ValueError if there is none). reply / open-url send a text message with
        the ActionBody; share-phone a contact (``phone``); location-picker a location."""
        buttons = self.buttons(user_id)
        button = next((b for b in buttons if b.get("ActionBody") == action_body), None)
        if button is None:
            shown = [b.get("ActionBody") for b in buttons]
            raise ValueError(
                f"no button with ActionBody {action_body!r} in the keyboard of the last "
                f"message to {user_id!r}; it has {shown}"
            )
        action = button.get("ActionType", "reply")
        if action in ("reply", "open-url"):
            message: dict[str, Any] = {"type": "text", "text": action_body}
        elif action == "share-phone":
            user = self._known(user_id)
            message = {"type": "contact", "contact": {
                "name": user.get("name", ""), "phone_number": phone}}
        elif action == "location-picker":
            message = {"type": "location", "location": {"lat": location[0], "lon": location[1]}}
        else:
            raise ValueError(f"the button {action_body!r} has ActionType none: it sends nothing")
        return await self._user_message(user_id, message)

    async def _user_message(
        self, user_id: str, message: dict[str, Any], *, tracking_data: str | None = None
    ) -> tuple[int, str]:
        self._webhook_url()
        self._known(user_id)
        last = self.last_message(user_id)
        message = dict(message)
        if tracking_data is None and last is not None:
            tracking_data = last["tracking_data"]
        if tracking_data is not None:
            message["tracking_data"] = tracking_data
        self.subscribed.add(user_id)
        self._unanswered.pop(user_id, None)
        return await self._deliver(
            {"event": "message", "sender": self._user_view(user_id), "message": message}
        )

    async def _receipt(
        self, kind: str, user_id: str, message_token: int | None, **extra: Any
    ) -> tuple[int, str]:
        if message_token is None:
            last = self.last_message(user_id)
            if last is None:
                raise ValueError(f"the bot sent nothing to {user_id!r}")
            message_token = last["message_token"]
        return await self._deliver(
            {"event": kind, "message_token": message_token, "user_id": user_id, **extra}
        )

    async def delivered(self, user_id: str, message_token: int | None = None) -> tuple[int, str]:
        """A `delivered` receipt for ``message_token`` (default: the last message)."""
        return await self._receipt("delivered", user_id, message_token)

    async def seen(self, user_id: str, message_token: int | None = None) -> tuple[int, str]:
        return await self._receipt("seen", user_id, message_token)

    async def failed(
        self, user_id: str, message_token: int | None = None, desc: str = "failure description"
    ) -> tuple[int, str]:
        return await self._receipt("failed", user_id, message_token, desc=desc)
