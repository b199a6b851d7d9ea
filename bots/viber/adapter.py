"""Viber through its REST Bot API, called directly with aiohttp (the ``viberbot`` package is
unmaintained, synchronous, and compares signatures with ``==``).

Callbacks arrive on ``WEBHOOK_PATH``. Each is checked against ``X-Viber-Content-Signature``
(HMAC-SHA256 of the raw body keyed with the token) in constant time: a bad or missing one gets
403 and changes nothing. Viber re-sends a callback until it gets HTTP 200: repeats are known
by their ``message_token`` and handled once. ``conversation_started`` is answered with the
welcome screen in the HTTP response itself (the only message Viber lets a bot send to someone
who has not subscribed). Viber answers every API call with HTTP 200: a non-zero ``status`` is
an error, never a success."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bots.base import Capabilities, MessengerError, OnIncoming, RetryAfter, UserBlocked
from bots.json_body import BadBody, parse_json_object, read_body
from bots.ratelimit import Pacer
from bots.viber import render
from bots.viber_setup import BULK_PER_SECOND
from flows.ui import Incoming, IncomingKind, MessageRef, Peer, Screen, Sender

log = logging.getLogger(__name__)

NAME = "viber"
API_URL = "https://chatapi.viber.com/pa/"
WEBHOOK_PATH = "/viber/webhook"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
EVENT_TYPES = ["conversation_started", "subscribed", "unsubscribed", "failed"]
MAX_SENDER_NAME = 28
NOT_REACHABLE = {5, 6, 7, 11}  # not registered, not subscribed, blocked, no suitable device
TOO_MANY = 12
REMEMBERED = 10_000  # callback tokens kept to recognise Viber's repeats
MIN_API_VERSION = 7  # rich keyboards with these keys
# The welcome screen of a conversation_started callback, answered in its HTTP response.
_WELCOME: ContextVar[list[dict[str, Any]] | None] = ContextVar("viber_welcome", default=None)


class ViberApiError(MessengerError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Viber status {status}: {message}")
        self.status = status


class ViberMessenger:
    name = NAME

    def __init__(
        self,
        token: str,
        *,
        sender_name: str,
        api_url: str | None = None,
        webhook_url: str | None = None,
        sender_avatar: str | None = None,
        bulk_per_second: float = BULK_PER_SECOND,
    ) -> None:
        self.token = token
        self._pace = Pacer(bulk_per_second)
        self.api_url = (api_url or API_URL).rstrip("/") + "/"
        self.webhook_url = webhook_url
        self.sender = {"name": sender_name[:MAX_SENDER_NAME]}
        if sender_avatar:
            self.sender["avatar"] = sender_avatar
        self.capabilities = Capabilities(can_edit=False, url_buttons=True)
        self.uri: str | None = None  # the bot's public name, for deep links
        self._http: aiohttp.ClientSession | None = None
        self._on_incoming: OnIncoming | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._webhook_task: asyncio.Task | None = None

    # --- running ---------------------------------------------------------------------------

    async def run(self, on_incoming: OnIncoming) -> None:
        self._on_incoming = on_incoming
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        try:
            account = await self.call("get_account_info", {})
            self.uri = account.get("uri")
        except MessengerError as exc:
            log.warning("Viber account info unavailable: %s", exc)
        if self.webhook_url:
            # Viber checks the webhook by calling it at once: this server may still be
            # starting, so the webhook is set in the background until Viber accepts it.
            self._webhook_task = asyncio.create_task(self._set_webhook(), name="viber webhook")

    async def _set_webhook(self, every: float = 5.0) -> None:
        while True:
            try:
                await self.call("set_webhook", {"url": self.webhook_url,
                                                "event_types": EVENT_TYPES, "send_name": True})
                log.info("Viber webhook set to %s", self.webhook_url)
                return
            except MessengerError as exc:
                log.warning("Viber webhook not set yet (%s): trying again", exc)
                await asyncio.sleep(every)

    async def stop(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._http is not None:
            await self._http.close()
            self._http = None

    def webhook_routes(self) -> list[web.RouteDef]:
        return [web.post(WEBHOOK_PATH, self.handle_callback)] if self.webhook_url else []

    def add_webhook_route(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.handle_callback)

    def deep_link(self, payload: str) -> str | None:
        """Opens the bot in Viber; ``payload`` comes back as conversation_started's context."""
        return f"viber://pa?chatURI={self.uri}&context={payload}" if self.uri else None

    # --- calling Viber ---------------------------------------------------------------------

    async def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            raise MessengerError("the Viber messenger is not running")
        try:
            async with self._http.post(
                self.api_url + endpoint, data=orjson.dumps(body),
                headers={"X-Viber-Auth-Token": self.token, "Content-Type": "application/json"},
            ) as response:
                if response.status != 200:
                    raise MessengerError(f"Viber answered HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise MessengerError(f"Viber {endpoint}: {exc!r}") from exc
        status = answer.get("status")
        if status != 0:
            message = str(answer.get("status_message", ""))
            if status in NOT_REACHABLE:
                raise UserBlocked(f"Viber status {status}: {message}")
            if status == TOO_MANY:
                raise RetryAfter(1.0)
            raise ViberApiError(int(status) if isinstance(status, int) else -1, message)
        return answer

    # --- sending ---------------------------------------------------------------------------

    def _body(self, screen: Screen) -> dict[str, Any]:
        text, keyboard = render.message(screen)
        body: dict[str, Any] = {"sender": self.sender, "type": "text", "text": text,
                                "min_api_version": MIN_API_VERSION}
        if keyboard is not None:
            body["keyboard"] = keyboard
        return body

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        body = self._body(screen)
        welcome = _WELCOME.get()
        if welcome is not None and not welcome:  # the answer to conversation_started
            welcome.append(body)
            return MessageRef(peer, "welcome")
        if bulk:
            await self._pace.wait()
        else:
            self._pace.take()  # an answer goes at once; the paced ones after it make room
        if screen.picture is not None:  # a picture message of its own, the text after it
            await self.call("send_message", {
                "receiver": peer.chat_id, "sender": self.sender, "type": "picture",
                "text": "", "media": screen.picture, "min_api_version": MIN_API_VERSION})
            if bulk:
                await self._pace.wait()
        answer = await self.call("send_message", {"receiver": peer.chat_id, **body})
        return MessageRef(peer, str(answer.get("message_token", "")))

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        """Viber cannot edit: the screen goes out as a new message."""
        return await self.send(ref.peer, screen, bulk)

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        """Viber has no answer to a button press: the screen that follows is the answer."""

    # --- receiving -------------------------------------------------------------------------

    def _signed(self, raw: bytes, given: str) -> bool:
        expected = hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), given.strip().lower().encode())

    def _repeat(self, token: str) -> bool:
        if token in self._seen:
            return True
        self._seen[token] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return False

    async def handle_callback(self, request: web.Request) -> web.Response:
        try:
            raw = await read_body(request)
        except BadBody as exc:
            return web.Response(status=exc.status, text=str(exc))
        if not self._signed(raw, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning("Viber callback with a bad signature refused")
            return web.Response(status=403, text="bad signature")
        try:
            event = parse_json_object(raw)
        except BadBody as exc:
            return web.Response(status=exc.status, text=str(exc))
        kind = event.get("event")
        if not isinstance(kind, str):
            return web.Response(status=400, text="not a Viber callback")
        token = _token(event.get("message_token"))
        if kind in ("webhook", "delivered", "seen") or (token and self._repeat(f"{kind}:{token}")):
            return web.json_response({"status": 0})
        incoming = self._incoming(event)
        if incoming is None:
            return web.json_response({"status": 0})
        welcome: list[dict[str, Any]] | None = [] if kind == "conversation_started" else None
        marker = _WELCOME.set(welcome)
        try:
            await self._deliver(incoming)
        except Exception:
            self._seen.pop(f"{kind}:{token}", None)  # let Viber's repeat try again
            log.exception("Viber callback %s failed", kind)
            return web.Response(status=500, text="failed")
        finally:
            _WELCOME.reset(marker)
        if welcome:
            return web.Response(body=orjson.dumps(welcome[0]), content_type="application/json")
        return web.json_response({"status": 0})

    async def _deliver(self, incoming: Incoming) -> None:
        if self._on_incoming is None:
            raise RuntimeError("the Viber messenger is not running")
        await self._on_incoming(incoming)

    def _incoming(self, event: dict[str, Any]) -> Incoming | None:
        """The event as an Incoming; None for what is not for the flows, or is malformed."""
        kind = event["event"]
        token = _token(event.get("message_token"))
        if kind == "conversation_started":
            return self._make(event.get("user"), IncomingKind.STARTED,
                              text=_text(event.get("context")), event_id=token)
        if kind == "subscribed":
            return self._make(event.get("user"), IncomingKind.SUBSCRIBED)
        if kind == "unsubscribed":
            return self._make({"id": event.get("user_id")}, IncomingKind.BLOCKED)
        if kind == "failed":
            log.info("Viber could not deliver to %r: %r", event.get("user_id"), event.get("desc"))
            return None
        if kind == "message":
            message = event.get("message")
            if not isinstance(message, dict) or message.get("type") != "text":
                return None
            text = _text(message.get("text"))
            if not text:
                return None
            if render.opened_link(text):
                return None  # an open-url button's press, echoed as text
            action = render.action_of(text)
            if action is not None:
                return self._make(event.get("sender"), IncomingKind.ACTION,
                                  action=action, event_id=token)
            return self._make(event.get("sender"), IncomingKind.TEXT, text=text,
                              event_id=token)
        return None

    @staticmethod
    def _make(user: object, kind: IncomingKind, **fields: Any) -> Incoming | None:
        if not isinstance(user, dict):
            return None
        user_id = user.get("id")
        if not isinstance(user_id, str) or not user_id:
            return None
        language = user.get("language")
        sender = Sender(user_id, _text(user.get("name")),
                        language if isinstance(language, str) else None)
        return Incoming(Peer(NAME, user_id), sender, kind, **fields)


def _token(value: object) -> str:
    """Viber's message_token is a number; a string one is taken as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _text(value: object) -> str:
    """A string field of an event; anything else (a list, a number, nothing) is empty."""
    return value if isinstance(value, str) else ""
