"""How updates reach the bot in the fake Bot API: the getUpdates queue (long polling with
offset, timeout, limit, allowed_updates, and 409 for a second poller or an active webhook) and
webhooks (setWebhook / deleteWebhook / getWebhookInfo, POSTing updates with the secret token,
executing a method the bot returns in its webhook answer).

Mixed into FakeBotAPI, which records calls and owns the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from fake_bot_methods import ApiError, bad
from fake_bot_spec import SPEC

# Delivered by default (allowed_updates never set or []): all but these.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_WEBHOOK_PORTS = {80, 88, 443, 8443}
_UNSET: Any = object()
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


class UpdateDelivery:
    """The update queue, long polling and webhooks."""

    # State that FakeBotAPI owns.
    allowed_updates: list[str] | None
    webhook: dict[str, Any] | None
    dropped_updates: list[dict[str, Any]]
    filtered_updates: list[dict[str, Any]]
    _queue: list[dict[str, Any]]
    _poller: object | None
    _wake: asyncio.Event
    _call_done: asyncio.Event
    _closing: bool
    _client: aiohttp.ClientSession | None

    # ---------------------------------------------------------------- polling

    def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates for getUpdates (and count them as pending for getWebhookInfo)."""
        for update in updates:
            self._queue.append(update)
        self._queue.sort(key=lambda u: u["update_id"])
        self._wake_pollers()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        return list(self._queue)

    async def wait_consumed(self, within: float = 5.0) -> None:
        """Wait until every queued update was confirmed (the bot polled past it)."""
        async with asyncio.timeout(within):
            while self._queue:
                await self._call_done.wait()

    def _wake_pollers(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    def _allowed(self) -> frozenset[str] | set[str]:
        if not self.allowed_updates:
            return frozenset(SPEC.update_types) - NOT_DELIVERED_BY_DEFAULT
        return set(self.allowed_updates)

    @staticmethod
    def update_type(update: dict[str, Any]) -> str:
        return next(k for k in update if k != "update_id")

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed()
        kept, out = [], []
        for update in self._queue:
            if self.update_type(update) not in allowed:
                self.filtered_updates.append(update)
                continue
            kept.append(update)
            if len(out) < limit:
                out.append(update)
        self._queue = kept
        return out

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        else:
            self._queue = self._queue[offset:]
        self._notify()

    async def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if p.get("allowed_updates") is not None and self.webhook is None:
            self.allowed_updates = list(p["allowed_updates"])
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = max(int(p.get("timeout") or 0), 0)
        self._confirm(p.get("offset"))
        ticket = object()
        self._poller = ticket
        self._wake_pollers()  # an older long poll ends with 409, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.webhook is not None:
                raise ApiError(409, _WEBHOOK_CONFLICT)
            if self._poller is not ticket:
                raise ApiError(409, _POLL_CONFLICT)
            updates = self._deliverable(limit)
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or self._closing:
                return updates
            wake = self._wake
            with contextlib.suppress(TimeoutError):  # the long poll's time is up
                await asyncio.wait_for(wake.wait(), remaining)

    # ---------------------------------------------------------------- webhook

    def _m_setWebhook(self, p: dict[str, Any]) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return self._m_deleteWebhook(p)
        parts = urlsplit(url)
        local = parts.hostname in _LOCAL_HOSTS
        if parts.scheme != "https" and not (local and parts.scheme == "http"):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook", violation=True)
        if not local and (parts.port or 443) not in _WEBHOOK_PORTS:
            raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
                      violation=True)
        secret = p.get("secret_token")
        if secret is not None and not (
            1 <= len(secret) <= 256
            and all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)
        ):
            raise bad("secret token contains unallowed characters", violation=True)
        max_connections = p.get("max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise bad("bad webhook: max_connections must be 1-100", violation=True)
        if p.get("allowed_updates") is not None:
            self.allowed_updates = list(p["allowed_updates"])
        if p.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections or 40,
            "ip_address": p.get("ip_address"),
        }
        self._poller = None
        self._wake_pollers()
        return True

    def _m_deleteWebhook(self, p: dict[str, Any]) -> bool:
        if p.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = None
        return True

    def _drop_pending(self) -> None:
        self.dropped_updates.extend(self._queue)
        self._queue = []

    def _m_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = self.webhook["ip_address"] or "127.0.0.1"
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    async def post_to_webhook(
        self, update: dict[str, Any], *, secret: str | None = _UNSET, force: bool = False
    ) -> int | None:
        """POST ``update`` to the webhook set with setWebhook, as Telegram does, with header
        X-Telegram-Bot-Api-Secret-Token = the bot's secret_token (or ``secret``; None: no
        header). Returns the HTTP status. An update type the bot did not ask for in
        allowed_updates is not sent (returns None; ``force=True`` sends it anyway). A method
        the bot returns in the answer body is executed and recorded (``via="webhook-reply"``)."""
        if self.webhook is None:
            raise RuntimeError("no webhook is set (the bot has not called setWebhook)")
        if not force and self.update_type(update) not in self._allowed():
            self.filtered_updates.append(update)
            return None
        token = self.webhook["secret_token"] if secret is _UNSET else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        async with self._client.post(self.webhook["url"], json=update, headers=headers) as resp:
            if resp.status == 200:
                await self._webhook_reply(resp)
            return resp.status

    async def deliver(self, update: dict[str, Any]) -> int | None:
        """Hand ``update`` to the bot however it receives them: webhook if set, else the queue."""
        if self.webhook is not None:
            return await self.post_to_webhook(update)
        self.push(update)
        return None

    async def _webhook_reply(self, resp: aiohttp.ClientResponse) -> None:
        raw: dict[str, Any] = {}
        uploads: set[str] = set()
        content_type = resp.headers.get("Content-Type", "")
        body = await resp.read()
        if content_type.startswith("application/json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                return
            if isinstance(parsed, dict):
                raw = dict(parsed)
        elif content_type.startswith("multipart/"):
            raw, uploads = _form_data(content_type, body)
        name = raw.pop("method", None)
        if not name:
            return
        method = SPEC.by_lower.get(str(name).lower())
        if method is None:
            self._record_violation(str(name), "Not Found: method not found", raw)
            return
        params = SPEC.methods[method].params
        for upload in uploads:
            if upload in params:
                raw[upload] = f"attach://{upload}"
        await self._execute(method, raw, via="webhook-reply")


_PARAM = re.compile(r';\s*(\w+)="?([^";]*)"?')


def _form_data(content_type: str, body: bytes) -> tuple[dict[str, Any], set[str]]:
    """The fields and the names of file parts of a multipart/form-data body (RFC 7578).
    Written out rather than through aiohttp's reader, which costs the benchmark more than
    a whole API call of the bot it measures."""
    boundary = dict(_PARAM.findall(content_type)).get("boundary", "").encode()
    fields: dict[str, Any] = {}
    uploads: set[str] = set()
    if not boundary:
        return fields, uploads
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = next((line for line in head.decode("utf-8", "replace").split("\r\n")
                            if line.lower().startswith("content-disposition:")), "")
        params = dict(_PARAM.findall(disposition))
        if "name" not in params:
            continue
        if "filename" in params:
            uploads.add(params["name"])
        else:
            fields[params["name"]] = data.decode()
    return fields, uploads
