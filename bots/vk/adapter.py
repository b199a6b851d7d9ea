"""VK community messages -> Incoming, and screens -> VK API calls, through vk_api.

vk_api is synchronous (requests): every API call runs in a worker thread, off the event loop,
one at a time at most 20 a second (a community token's limit). Events arrive through the Bots
Long Poll, polled in a thread of its own that hands each event to the loop and waits until it
was handled before taking the next (order kept, nothing piles up); or, with ``webhook``,
through the Callback API (``add_webhook_route``).

Long Poll needs "Long Poll API" switched on with the events message_new, message_event and
message_deny in the community's settings (the Callback API the same events). Events that
arrive while the bot is stopped are not fetched later (the Bots Long Poll starts from "now");
the Callback API, which VK retries, loses none."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from typing import Any
from urllib.parse import quote

import jconfig.memory
import requests
import vk_api
from aiohttp import web
from vk_api.bot_longpoll import VkBotLongPoll
from vk_api.exceptions import TOO_MANY_RPS_CODE, ApiError, VkApiError

from bots.base import Capabilities, MessengerError, OnIncoming, RetryAfter, UserBlocked
from bots.vk import render
from bots.vk.callback import WEBHOOK_PATH, CallbackEndpoint
from bots.vk.lru import Recent
from bots.vk.session import AbortableAdapter, api_session, long_poll_session
from bots.vk_setup import RPS
from flows.ui import Incoming, IncomingKind, MessageRef, Peer, Screen, Sender

log = logging.getLogger(__name__)

__all__ = ["API_VERSION", "NAME", "WEBHOOK_PATH", "VkMessenger"]

NAME = "vk"
API_VERSION = "5.199"
CHAT_PEER_START = 2_000_000_000  # peer ids from here on are group chats
SNACKBAR = 90  # characters of a snackbar (the answer to a button press)
# The student blocked the community (900), never allowed its messages or took that back
# (901), keeps them off in their privacy settings (902), or VK denies it (7): stop writing.
UNREACHABLE = frozenset({7, 900, 901, 902})
TOO_FAST = frozenset({6, 9, 29})  # too many requests a second, flood control, rate limit
RETRY_AFTER = 1.0
# VK's lang_id (client_info of message_new) -> language code. 0-7 are VK API's "lang"
# values; the rest as VK ID's SDK lists them (its Languages enum: 15 pl, 16 fr, 65 uz ...).
LANGUAGES = {
    0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it",
    15: "pl", 16: "fr", 65: "uz", 82: "tr", 97: "kk", 114: "be",
}
POLL_BACKOFF = (0.5, 30.0)  # seconds: first and longest pause after a failed long poll
STOP_GRACE = 2.0  # seconds stop() waits for a long poll request in flight to end
SEEN_EVENTS = 10_000  # event ids remembered to drop VK's repeats
KNOWN_USERS = 10_000  # names and languages remembered


def _no_retry(error: ApiError) -> None:
    """vk_api sleeps 0.5 s and retries error 6 forever; returning None lets it raise, so the
    platform's sender sees RetryAfter and decides."""
    return None


def _error(code: int, message: str) -> MessengerError:
    if code in UNREACHABLE:
        return UserBlocked(message)
    if code in TOO_FAST:
        return RetryAfter(RETRY_AFTER)
    return MessengerError(message)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _private(peer_id: int | None) -> bool:
    return peer_id is not None and 0 < peer_id < CHAT_PEER_START


class VkMessenger:
    name = NAME

    def __init__(
        self,
        token: str,
        group_id: int,
        *,
        api_url: str | None = None,
        callback_secret: str | None = None,
        confirmation_code: str | None = None,
        webhook: bool = False,
        long_poll_wait: int = 25,
    ) -> None:
        if webhook and not (callback_secret and confirmation_code):
            raise ValueError("the VK Callback API needs a secret key and a confirmation code")
        if not 1 <= long_poll_wait <= 90:
            raise ValueError("a VK long poll waits 1 to 90 seconds")
        self.group_id = int(group_id)
        self.api_url = api_url
        self.callback_secret = callback_secret
        self.confirmation_code = confirmation_code
        self.webhook = webhook
        self.long_poll_wait = long_poll_wait
        self.vk = vk_api.VkApi(
            token=token, api_version=API_VERSION, session=api_session(api_url),
            config=jconfig.memory.MemoryConfig,
        )
        self.vk.RPS_DELAY = 1 / RPS
        self.vk.error_handlers[TOO_MANY_RPS_CODE] = _no_retry
        self.capabilities = Capabilities(
            can_edit=True, max_buttons=render.MAX_BUTTONS, url_buttons=True,
            invoices=frozenset(),
        )
        self._on_incoming: OnIncoming | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: Recent[str, bool] = Recent(SEEN_EVENTS)
        self._names: Recent[int, str] = Recent(KNOWN_USERS)
        self._languages: Recent[int, str] = Recent(KNOWN_USERS)
        self._tasks: set[asyncio.Task] = set()  # Callback API events being handled
        # Bots Long Poll
        self._longpoll: VkBotLongPoll | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._handover = threading.Lock()  # no event is handed over once stop() began
        self._current: concurrent.futures.Future | None = None
        self._poll_adapter: AbortableAdapter | None = None

    # --- calling VK ------------------------------------------------------------------------

    async def _call(self, method: str, **params: Any) -> Any:
        try:
            return await asyncio.to_thread(self.vk.method, method, params)
        except ApiError as exc:
            raise _error(exc.code, f"{method}: {exc}") from exc
        except (VkApiError, requests.RequestException, ValueError) as exc:
            raise MessengerError(f"{method}: {exc!r}") from exc

    # --- running ---------------------------------------------------------------------------

    async def run(self, on_incoming: OnIncoming) -> None:
        """Start receiving. With the Callback API this only opens the endpoint; otherwise it
        asks for the long poll server (a wrong token or group, or Long Poll switched off,
        fails here) and starts the polling thread."""
        self._on_incoming = on_incoming
        self._loop = asyncio.get_running_loop()
        if self.webhook:
            return
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)  # a stopped poller still finishing
        if self._longpoll is None:
            try:
                self._longpoll = await asyncio.to_thread(self._new_long_poll)
            except ApiError as exc:
                raise _error(exc.code, f"groups.getLongPollServer: {exc}") from exc
            except (VkApiError, requests.RequestException, ValueError) as exc:
                raise MessengerError(f"groups.getLongPollServer: {exc!r}") from exc
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._poll, args=(self._longpoll, self._loop), name="vk long poll",
            daemon=True,
        )
        self._thread.start()

    def _new_long_poll(self) -> VkBotLongPoll:
        longpoll = VkBotLongPoll(self.vk, self.group_id, wait=self.long_poll_wait)
        longpoll.session.close()
        longpoll.session, self._poll_adapter = long_poll_session(self.api_url)
        return longpoll

    def _poll(self, longpoll: VkBotLongPoll, loop: asyncio.AbstractEventLoop) -> None:
        """The polling thread: check(), hand the events over one by one, again."""
        pause = 0.0
        while not self._stopping.is_set():
            ts = longpoll.ts
            try:
                events = longpoll.check()
            except Exception as exc:  # network, VK down, a bad answer: wait and try again
                if self._stopping.is_set():
                    return  # stop() cut the poll off
                pause = min(max(pause * 2, POLL_BACKOFF[0]), POLL_BACKOFF[1])
                log.warning("VK long poll failed (%r); again in %.1f s", exc, pause)
                self._stopping.wait(pause)
                continue
            pause = 0.0
            for event in events:
                with self._handover:
                    if self._stopping.is_set():
                        # Fetched but not handled: a later run() asks for them again (the
                        # ones already handled are dropped as repeats).
                        longpoll.ts = ts
                        return
                    try:
                        future = asyncio.run_coroutine_threadsafe(
                            self._handle_event(event.raw), loop)
                    except RuntimeError:  # the loop is gone
                        longpoll.ts = ts
                        return
                    self._current = future
                try:
                    future.result()
                except Exception:
                    log.exception("VK event %s was not handled", event.raw.get("type"))

    def webhook_routes(self) -> list[web.RouteDef]:
        return [self._webhook_route()] if self.webhook else []

    def add_webhook_route(self, app: web.Application) -> None:
        app.router.add_routes([self._webhook_route()])

    def _webhook_route(self) -> web.RouteDef:
        assert self.callback_secret, "the VK Callback API needs a secret key"
        endpoint = CallbackEndpoint(self.group_id, self.callback_secret,
                                    self.confirmation_code, self._accept)
        return web.post(WEBHOOK_PATH, endpoint.handle)

    def _accept(self, event: dict[str, Any]) -> bool:
        """A Callback API event: handled in the background, answered at once."""
        if self._on_incoming is None:
            return False
        event_id = event.get("event_id")
        if isinstance(event_id, str) and event_id in self._seen:
            return True  # VK's retry of an event already taken
        task = asyncio.create_task(self._handle_event(event), name="vk callback event")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def stop(self) -> None:
        """Stops taking events; returns once the event being handled is done. A long poll
        request in flight is cut off (its socket shut down); should that fail, the thread is
        given STOP_GRACE seconds and then left to end by itself, handing nothing over."""
        with self._handover:
            self._stopping.set()
            current = self._current
        if self._poll_adapter is not None:
            self._poll_adapter.abort()
        if current is not None:
            await asyncio.gather(asyncio.wrap_future(current), return_exceptions=True)
            self._current = None
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_GRACE)
            if not self._thread.is_alive():
                self._thread = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._on_incoming = None

    # --- receiving -------------------------------------------------------------------------

    async def _handle_event(self, event: dict[str, Any]) -> None:
        """One event from either source; a failure is logged, never raised."""
        event_id = event.get("event_id")
        if isinstance(event_id, str) and not self._seen.first_time(event_id, True):
            return
        try:
            incoming = await self._incoming(event)
            if incoming is None:
                return
            if self._on_incoming is None:
                log.error("VK event %s arrived while the bot is stopped", event_id)
                return
            await self._on_incoming(incoming)
        except Exception:
            log.exception("VK event %s (%s) failed", event_id, event.get("type"))

    async def _incoming(self, event: dict[str, Any]) -> Incoming | None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return None
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        if kind == "message_new":
            return await self._message(obj, event_id)
        if kind == "message_event":
            return await self._button(obj)
        if kind in ("message_deny", "message_allow"):
            user_id = _int(obj.get("user_id"))
            if not _private(user_id):
                return None
            allowed = IncomingKind.SUBSCRIBED if kind == "message_allow" else IncomingKind.BLOCKED
            return Incoming(Peer(NAME, str(user_id)), await self._sender(user_id, fetch=False),
                            allowed, event_id=event_id)
        return None  # message_reply, typing... : nothing to answer

    async def _message(self, obj: dict[str, Any], event_id: str | None) -> Incoming | None:
        message = obj.get("message")
        if not isinstance(message, dict):
            return None
        peer_id, from_id = _int(message.get("peer_id")), _int(message.get("from_id"))
        if not _private(peer_id) or from_id != peer_id:
            return None  # group chats, and the community's own messages
        assert peer_id is not None
        info = obj.get("client_info")
        lang_id = _int(info.get("lang_id")) if isinstance(info, dict) else None
        language = LANGUAGES.get(lang_id) if lang_id is not None else None
        sender = await self._sender(peer_id, language)
        peer = Peer(NAME, str(peer_id))
        ref = message.get("ref")
        payload = _json(message.get("payload"))
        started = isinstance(payload, dict) and payload.get("command") == "start"
        if (isinstance(ref, str) and ref) or started:
            text = ref if isinstance(ref, str) else ""
            return Incoming(peer, sender, IncomingKind.STARTED, text=text, event_id=event_id)
        text = message.get("text")
        return Incoming(peer, sender, IncomingKind.TEXT, text=text if isinstance(text, str)
                        else "", event_id=event_id)

    async def _button(self, obj: dict[str, Any]) -> Incoming | None:
        user_id, peer_id = _int(obj.get("user_id")), _int(obj.get("peer_id"))
        event_id = obj.get("event_id")
        if user_id is None or peer_id is None or not isinstance(event_id, str):
            return None
        peer = Peer(NAME, str(peer_id))
        payload = _json(obj.get("payload"))
        action = payload.get("a") if isinstance(payload, dict) else None
        if not _private(peer_id) or user_id != peer_id or not isinstance(action, str) \
                or not action:
            # Not a button of this bot: the spinner is stopped, nothing else happens.
            log.info("VK button press with payload %r in %s dropped", payload, peer_id)
            await self.ack(Incoming(peer, Sender(str(user_id)), IncomingKind.ACTION,
                                    event_id=event_id))
            return None
        cmid = _int(obj.get("conversation_message_id"))
        ref = MessageRef(peer, str(cmid)) if cmid is not None else None
        return Incoming(peer, await self._sender(user_id), IncomingKind.ACTION, action=action,
                        message=ref, event_id=event_id)

    async def _sender(self, user_id: int, language: str | None = None,
                      fetch: bool = True) -> Sender:
        """The user's name (users.get, remembered) and language (from their last message)."""
        if language:
            self._languages.put(user_id, language)
        else:
            language = self._languages.get(user_id)
        name = self._names.get(user_id)
        if name is None and fetch:
            try:
                [user] = await self._call("users.get", user_ids=str(user_id))
                name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
                self._names.put(user_id, name)
            except (MessengerError, ValueError, TypeError, AttributeError) as exc:
                log.info("no name for VK user %s: %s", user_id, exc)
        return Sender(str(user_id), name or "", language)

    # --- sending ---------------------------------------------------------------------------

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        """One message, or several when the screen has more than 10 buttons; the reference
        is to the first. ``random_id`` comes from ``key``, so a retry shows nothing twice."""
        peer_id = int(peer.chat_id)
        first: MessageRef | None = None
        for part, (text, keyboard) in enumerate(render.messages(screen), 1):
            params: dict[str, Any] = {
                "peer_ids": str(peer_id), "message": text,
                "random_id": render.random_id(key, part),
            }
            if keyboard is not None:
                params["keyboard"] = keyboard
            sent = await self._call("messages.send", **params)
            ref = MessageRef(peer, str(self._conversation_message_id(sent, peer_id)))
            first = first or ref
        assert first is not None
        return first

    @staticmethod
    def _conversation_message_id(sent: Any, peer_id: int) -> int:
        """messages.send with ``peer_ids`` answers a list with one item per peer: its
        conversation_message_id, or its error."""
        items = sent if isinstance(sent, list) else []
        for item in items:
            if isinstance(item, dict) and _int(item.get("peer_id")) == peer_id:
                error = item.get("error")
                if isinstance(error, dict):
                    code = _int(error.get("code")) or 0
                    raise _error(code, f"messages.send: [{code}] {error.get('description')}")
                cmid = _int(item.get("conversation_message_id"))
                if cmid is not None:
                    return cmid
        raise MessengerError(f"messages.send: unexpected answer {sent!r}")

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        """The message shows the new screen; a screen that needs several messages, or a
        message VK no longer lets the bot edit, raises MessengerError: the caller sends it."""
        parts = render.messages(screen)
        if len(parts) > 1:
            raise MessengerError("the screen needs more than one message")
        [(text, keyboard)] = parts
        await self._call(
            "messages.edit", peer_id=int(ref.peer.chat_id),
            conversation_message_id=int(ref.message_id), message=text,
            keyboard=keyboard or render.NO_KEYBOARD,
        )
        return ref

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        """Answers a button press (a snackbar with ``toast``); a failure is logged only."""
        if incoming.kind is not IncomingKind.ACTION or not incoming.event_id:
            return
        params: dict[str, Any] = {
            "event_id": incoming.event_id, "user_id": int(incoming.sender.external_id),
            "peer_id": int(incoming.peer.chat_id),
        }
        if toast and toast.strip():
            params["event_data"] = json.dumps(
                {"type": "show_snackbar", "text": toast.strip()[:SNACKBAR]}, ensure_ascii=False)
        try:
            await self._call("messages.sendMessageEventAnswer", **params)
        except MessengerError as exc:
            log.info("could not answer VK event %s: %s", incoming.event_id, exc)

    def deep_link(self, payload: str) -> str:
        """Opens the dialog with the community; the first message then carries ``ref``."""
        return f"https://vk.me/club{self.group_id}?ref={quote(payload, safe='-_.~')}"
