"""A local fake of the Telegram Bot API for tests: an aiohttp server on 127.0.0.1, all in memory.

    async with FakeBotAPI() as fake:                  # or the ``fake_telegram`` fixture
        bot = Bot(fake.token, session=AiohttpSession(
            api=TelegramAPIServer.from_base(fake.url)))
        fake.push(fake.text_update(fake.user(42), "/start"))
        ...                                           # run the bot (polling or webhook)
        await fake.wait_for_call("sendMessage")
        assert fake.last_message(42)["text"] == "Welcome"
        assert fake.violations == []

Every call is checked against the Bot API spec (``shared/telegram-bot-api.json``): required
parameters, no unknown ones, types, nested objects (``validate=False`` skips that for speed).
Telegram's own rules are always applied (text 1-4096, callback_data 1-64 bytes, button URLs,
parse_mode, invoices, ...). A call the bot should never make is answered 400 like Telegram
would and recorded in ``fake.violations``. Where the real server's wording is unknown the
description is the fake's own, always "Bad Request: ...".

Public API (see each docstring):
- calls: ``calls`` (list of Call), ``calls_to(method)``, ``violations``, ``unimplemented``,
  ``await wait_for_call(method, where=, count=, within=)``
- chats: ``sent_messages(chat_id)``, ``last_message(chat_id)``, ``messages(chat_id)``,
  ``files`` (file_id -> Upload of every photo and document sent, multipart or by file_id),
  ``deleted_messages``, ``reply_keyboards``, ``member(chat_id, user_id)``,
  ``member_status(...)``, ``commands(scope, language_code)``, ``menu_for(chat_id, language)``,
  ``invite_links``, ``callback_answers``, ``pre_checkout_answers``, ``invoice_links``,
  ``charges``, ``refunds``, ``star_subscriptions``
- people and updates (fake_updates): ``user()``, ``group()``, ``text_update()``,
  ``callback_update()``, ``pre_checkout_update()``, ``successful_payment_update()``,
  ``refunded_payment_update()``,
  ``chat_member_update()``, ``chat_join_request_update()``, ``my_chat_member_update()``,
  ``pay_invoice_link()``, ``renew_star_subscription()``
- delivery (fake_bot_delivery): ``push(*updates)``, ``await post_to_webhook(update, secret=)``,
  ``await deliver(update)``, ``await wait_consumed()``, ``pending_updates``, ``webhook``,
  ``allowed_updates``, ``dropped_updates``, ``filtered_updates``
- failures: ``fail(method, code=429, retry_after=2, times=1)``, ``clear_failures()``,
  ``block(chat_id)``, ``unblock(chat_id)``, ``limit_per_chat(count, window, retry_after)``,
  ``limit_overall(count, window, retry_after)``
- rates: ``max_rate(methods, window_seconds)``, ``max_rate_per_chat(...)``,
  ``rates_per_chat(...)`` (methods default to SEND_METHODS; chats="private" / "group")

Modules: fake_bot_spec (spec index and validation), fake_bot_text (parse_mode),
fake_bot_methods (messages, keyboards, commands, payments), fake_bot_groups (members, bans,
invite links, join requests), fake_bot_delivery (getUpdates queue and webhooks),
fake_updates (Update builders).
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from fake_bot_delivery import NOT_DELIVERED_BY_DEFAULT, UpdateDelivery
from fake_bot_groups import GroupHandlers
from fake_bot_methods import ApiError, Upload, bad
from fake_bot_spec import SPEC, decode_params
from fake_updates import BOT_ADMIN_RIGHTS, UpdateBuilders, member_object

__all__ = [
    "BLOCKABLE_METHODS",
    "BOT_ADMIN_RIGHTS",
    "DEFAULT_TOKEN",
    "EDIT_METHODS",
    "NOT_DELIVERED_BY_DEFAULT",
    "SEND_METHODS",
    "ApiError",
    "Upload",
    "Call",
    "FakeBotAPI",
    "Violation",
    "member_object",
]

DEFAULT_TOKEN = "123456:TEST-token"

SEND_METHODS = frozenset(
    name
    for name in SPEC.methods
    if (name.startswith("send") and name != "sendChatAction")
    or name in ("copyMessage", "copyMessages", "forwardMessage", "forwardMessages")
)
EDIT_METHODS = frozenset(name for name in SPEC.methods if name.startswith("editMessage"))
# Methods that a user who blocked the bot (or a group that removed it) answers with 403.
BLOCKABLE_METHODS = SEND_METHODS | EDIT_METHODS | {"sendChatAction"}


@dataclass
class Call:
    """One request to the fake: ``params`` decoded (JSON values as objects, ints as ints)."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    chat_id: int | str | None = None
    status: int | None = None  # HTTP status of the answer (None while running)
    description: str | None = None  # the error description, if any
    via: str = "http"  # or "webhook-reply": returned by the bot as a webhook answer


@dataclass(frozen=True)
class Violation:
    """A call the real Bot API would refuse, or one the spec does not allow."""

    method: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method}: {self.description}"


@dataclass
class _Failure:
    method: str
    code: int
    retry_after: int | None
    remaining: int | None
    description: str | None
    chat_id: int | str | None


class FakeBotAPI(GroupHandlers, UpdateDelivery, UpdateBuilders):
    """The fake server. Start it with ``await fake.start()`` (or ``async with``), point the
    bot at ``fake.url``; inspect ``fake.calls``, ``fake.violations`` and the chats."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        validate: bool = True,
        extra_tokens: Iterable[str] = (),
        bot_first_name: str = "Test School Bot",
        bot_username: str = "test_school_bot",
    ) -> None:
        self.token = token
        self.validate = validate
        self._tokens = {token, *extra_tokens}
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        # Wall clock for message dates; replace with a test clock if needed.
        self.time: Callable[[], float] = time.time
        self.pre_checkout_timeout = 10.0
        self.url = ""
        self.port = 0

        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.unimplemented: list[str] = []
        self.blocked: set[int] = set()
        self._failures: list[_Failure] = []
        self._chat_limit: tuple[int, float, int] | None = None
        self._chat_sends: dict[int | str, list[float]] = {}
        self._overall_limit: tuple[int, float, int] | None = None
        self._overall_sends: collections.deque[float] = collections.deque()

        # updates and webhook
        self._queue: list[dict[str, Any]] = []
        self._next_update_id = 100_000
        self.allowed_updates: list[str] | None = None
        self.webhook: dict[str, Any] | None = None
        self.dropped_updates: list[dict[str, Any]] = []
        self.filtered_updates: list[dict[str, Any]] = []
        self._poller: object | None = None
        self._wake = asyncio.Event()
        self._call_done = asyncio.Event()
        self._closing = False

        # chats, messages, members
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._message_counters: dict[int, int] = {}
        self.deleted_messages: list[dict[str, Any]] = []
        self.files: dict[str, Upload] = {}
        self.reply_keyboards: dict[int, dict[str, Any]] = {}
        self._members: dict[tuple[int, int], dict[str, Any]] = {}
        self._joined_via: dict[tuple[int, int], str] = {}
        self._join_requests: dict[tuple[int, int], dict[str, Any]] = {}
        self.invite_links: dict[str, dict[str, Any]] = {}
        self._primary_links: dict[int, str] = {}
        self.subscription_charges: list[tuple[int, int, int]] = []  # chat, user, Stars
        self._commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}

        # queries and payments
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self._pre_checkouts: dict[str, dict[str, Any]] = {}
        self.pre_checkout_answers: dict[str, dict[str, Any]] = {}
        self.invoice_links: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: list[str] = []
        # Stars subscriptions to the bot, by the charge id of their first payment.
        self.star_subscriptions: dict[str, dict[str, Any]] = {}

        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: getattr(self, "_m_" + name)
            for name in SPEC.methods
            if hasattr(self, "_m_" + name)
        }
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # ================================================================ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host`` (a free port by default); returns and sets ``self.url``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        site = web.SockSite(self._runner, sock)
        await site.start()
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

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def aiogram_bot(self, **kwargs: Any) -> Any:
        """An aiogram ``Bot`` talking to this fake (close it: ``await bot.session.close()``)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url))
        return Bot(self.token, session=session, **kwargs)

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> web.Response:
        return web.Response(
            text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status=status,
            content_type="application/json",
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self._tokens:
            return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = SPEC.by_lower.get(request.match_info["method"].lower())
        if method is None:
            return self._json(
                404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            )
        try:
            raw = await self._read_params(request, method)
        except ApiError as e:
            return self._json(e.status, e.payload())
        status, payload = await self._execute(method, raw)
        return self._json(status, payload)

    async def _read_params(self, request: web.Request, method: str) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query) if request.query_string else {}
        if not request.can_read_body:
            return raw
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON encoded request body") from None
            if isinstance(body, dict):
                raw.update(body)
            return raw
        form = await request.post()
        params = SPEC.methods[method].params
        parts: dict[str, Upload] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                parts[key] = Upload(value.filename, value.content_type, value.file.read())
                # An upload named as a parameter is that parameter; others are attach:// parts.
                if key in params:
                    raw[key] = f"attach://{key}"
            else:
                raw[key] = value if isinstance(value, str) else bytes(value).decode()
        # A file parameter naming an uploaded part (``attach://<name>``, as aiogram sends
        # one) is that part's bytes; one naming no part is refused as Telegram does.
        for key, value in list(raw.items()):
            spec = params.get(key)
            if spec is not None and spec.kind == "file" and isinstance(value, str) \
                    and value.startswith("attach://"):
                name = value.removeprefix("attach://")
                if name not in parts:
                    raise bad(f"file for {key} not found in the request: {value}")
                raw[key] = parts[name]
        return raw

    async def _execute(
        self, method: str, raw: dict[str, Any], via: str = "http"
    ) -> tuple[int, dict[str, Any]]:
        call = Call(method, raw, time.monotonic(), via=via)
        self.calls.append(call)
        try:
            params, errors = decode_params(SPEC, SPEC.methods[method], raw, validate=self.validate)
            call.params = params
            call.chat_id = params.get("chat_id") if "chat_id" in params else None
            if errors:
                raise bad(errors[0], violation=True)
            self._inject_failure(method, call.chat_id)
            self._enforce_chat_limit(method, call.chat_id, call.at)
            self._enforce_overall_limit(method, call.at)
            if method in BLOCKABLE_METHODS and call.chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if "reply_markup" in params:
                self._check_markup(params["reply_markup"])
            handler = self._handlers.get(method)
            try:
                result = handler(params) if handler else self._generic(method, params)
                if asyncio.iscoroutine(result):
                    result = await result
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                # Only reachable with validate=False: a malformed call the spec would refuse.
                raise bad(f"can't process the request ({type(e).__name__}: {e})",
                          violation=True) from None
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as e:
            if e.violation:
                self._record_violation(method, e.description, call.params)
            status, payload = e.status, e.payload()
        call.status = status
        call.description = payload.get("description")
        self._notify()
        return status, payload

    def _notify(self) -> None:
        """Wake whoever waits for a call to finish or the queue to shrink."""
        self._call_done.set()
        self._call_done = asyncio.Event()

    def _record_violation(self, method: str, description: str, params: dict[str, Any]) -> None:
        self.violations.append(Violation(method, description, dict(params)))

    def _generic(self, method: str, p: dict[str, Any]) -> Any:
        """Known methods without their own handler: Boolean ones succeed, send* ones make a
        message; anything else is answered 500 and listed in ``fake.unimplemented``."""
        spec = SPEC.methods[method]
        if spec.returns == ("Boolean",):
            return True
        if spec.returns[:1] == ("Message",) and method.startswith("send"):
            return self._send_generic(method, p)
        self.unimplemented.append(method)
        raise ApiError(500, f"Internal Server Error: the fake Bot API does not implement {method}")

    # ================================================================ inspecting calls

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in the chat as they are now (edits applied, deleted ones gone)."""
        bot_id = self.bot_user["id"]
        return [
            m for m in self._messages.get(chat_id, {}).values() if m["from"]["id"] == bot_id
        ]

    def last_message(self, chat_id: int) -> dict[str, Any] | None:
        sent = self.sent_messages(chat_id)
        return sent[-1] if sent else None

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message in the chat now, the user's and the bot's."""
        return list(self._messages.get(chat_id, {}).values())

    def member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """The ChatMember the fake would answer getChatMember with."""
        return self._member_state(chat_id, user_id)

    def member_status(self, chat_id: int, user_id: int) -> str:
        return self._member_state(chat_id, user_id)["status"]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands set for that scope (dict or type name) and language. ``menu_for(chat_id,
        language_code)``: the menu Telegram shows that user in their chat with the bot."""
        key = self._commands_key(scope, language_code, check=False)
        return [dict(c) for c in self._commands.get(key, [])]

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
                done = [
                    c for c in self.calls
                    if c.method == method and c.status is not None and (where is None or where(c))
                ]
                if len(done) >= count:
                    return done[count - 1]
                await self._call_done.wait()

    # ================================================================ failures and blocking

    def fail(
        self,
        method: str,
        code: int = 429,
        retry_after: int | None = 2,
        times: int | None = 1,
        *,
        description: str | None = None,
        chat_id: int | str | None = None,
    ) -> None:
        """The next ``times`` calls to ``method`` ("*" for any; only to ``chat_id`` if given)
        fail with ``code`` (``times=None``: until ``clear_failures()``). A 429 carries
        ``parameters.retry_after`` and "Too Many Requests: retry after N"."""
        self._failures.append(_Failure(method, code, retry_after, times, description, chat_id))

    def clear_failures(self) -> None:
        self._failures.clear()

    def _inject_failure(self, method: str, chat_id: int | str | None) -> None:
        for failure in self._failures:
            if failure.method not in ("*", method):
                continue
            if failure.chat_id is not None and failure.chat_id != chat_id:
                continue
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
            code = failure.code
            if code == 429:
                after = failure.retry_after if failure.retry_after is not None else 1
                raise ApiError(
                    429,
                    failure.description or f"Too Many Requests: retry after {after}",
                    parameters={"retry_after": after},
                )
            default = {
                400: "Bad Request: injected failure",
                401: "Unauthorized",
                403: "Forbidden: bot was blocked by the user",
                404: "Not Found",
                409: "Conflict: terminated by other getUpdates request; make sure that only "
                "one bot instance is running",
            }.get(code, "Internal Server Error" if code >= 500 else f"Error {code}")
            raise ApiError(code, failure.description or default)

    def limit_per_chat(self, count: int, window: float = 1.0, retry_after: int = 5) -> None:
        """Enforce a per-chat limit as Telegram does: a message sent or edited in a chat that
        already had ``count`` of them in the last ``window`` seconds is answered 429 with
        ``retry_after`` (refused calls do not count)."""
        self._chat_limit = (count, window, retry_after)

    def _enforce_chat_limit(self, method: str, chat_id: int | str | None, at: float) -> None:
        if self._chat_limit is None or chat_id is None:
            return
        if method not in SEND_METHODS and method not in EDIT_METHODS:
            return
        count, window, retry_after = self._chat_limit
        recent = [t for t in self._chat_sends.get(chat_id, []) if t > at - window]
        if len(recent) >= count:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           parameters={"retry_after": retry_after})
        self._chat_sends[chat_id] = [*recent, at]

    def limit_overall(self, count: int = 30, window: float = 1.0, retry_after: int = 1) -> None:
        """Enforce the bot's overall limit as Telegram does: a message sent or edited when
        ``count`` of them (to any chats) arrived in the last ``window`` seconds is answered
        429 with ``retry_after`` (refused calls do not count)."""
        self._overall_limit = (count, window, retry_after)

    def _enforce_overall_limit(self, method: str, at: float) -> None:
        if self._overall_limit is None or (method not in SEND_METHODS
                                           and method not in EDIT_METHODS):
            return
        count, window, retry_after = self._overall_limit
        recent = self._overall_sends
        while recent and recent[0] <= at - window:
            recent.popleft()
        if len(recent) >= count:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           parameters={"retry_after": retry_after})
        recent.append(at)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: messages to them answer 403 "bot was blocked by the user"."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    # ================================================================ rates

    def _selected_calls(
        self, methods: str | Iterable[str] | None, since: float | None
    ) -> list[Call]:
        if methods is None:
            wanted: Any = SEND_METHODS
        elif methods == "*":
            wanted = None
        elif isinstance(methods, str):
            wanted = {methods}
        else:
            wanted = set(methods)
        return [
            c for c in self.calls
            if (wanted is None or c.method in wanted) and (since is None or c.at >= since)
        ]

    @staticmethod
    def max_in_window(times: Iterable[float], window_seconds: float) -> int:
        """The most of ``times`` inside any window [t, t + window_seconds)."""
        ordered = sorted(times)
        best = start = 0
        for end, t in enumerate(ordered):
            while t - ordered[start] >= window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def max_rate(
        self,
        methods: str | Iterable[str] | None = None,
        window_seconds: float = 1.0,
        *,
        since: float | None = None,
    ) -> int:
        """The most calls to ``methods`` (default SEND_METHODS, "*" for all) in any sliding
        window of ``window_seconds``, over all chats."""
        return self.max_in_window(
            (c.at for c in self._selected_calls(methods, since)), window_seconds
        )

    def rates_per_chat(
        self,
        methods: str | Iterable[str] | None = None,
        window_seconds: float = 1.0,
        *,
        chats: str | Callable[[Any], bool] | None = None,
        since: float | None = None,
    ) -> dict[int | str, int]:
        """For each chat, the most calls to it in any sliding window. ``chats``: "private"
        (positive ids), "group" (negative ids: groups, supergroups, channels) or a predicate."""
        if chats == "private":
            keep: Callable[[Any], bool] = lambda c: isinstance(c, int) and c > 0  # noqa: E731
        elif chats == "group":
            keep = lambda c: isinstance(c, int) and c < 0  # noqa: E731
        elif callable(chats):
            keep = chats
        else:
            keep = lambda c: True  # noqa: E731
        per_chat: dict[int | str, list[float]] = {}
        for c in self._selected_calls(methods, since):
            if c.chat_id is not None and keep(c.chat_id):
                per_chat.setdefault(c.chat_id, []).append(c.at)
        return {
            chat: self.max_in_window(times, window_seconds) for chat, times in per_chat.items()
        }

    def max_rate_per_chat(
        self,
        methods: str | Iterable[str] | None = None,
        window_seconds: float = 1.0,
        *,
        chats: str | Callable[[Any], bool] | None = None,
        since: float | None = None,
    ) -> int:
        """The most calls to any one chat in any sliding window (see ``rates_per_chat``)."""
        rates = self.rates_per_chat(methods, window_seconds, chats=chats, since=since)
        return max(rates.values(), default=0)
