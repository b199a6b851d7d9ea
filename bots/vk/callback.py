"""VK's Callback API: VK POSTs each event as JSON to the bot's endpoint.

A ``confirmation`` request for this community is answered with the confirmation string
(what VK shows in the community's Callback API settings). Every other event must carry the
secret key set there (compared in constant time); a missing or wrong one, or another
community's event, is refused with 403 and changes nothing. Accepted events are answered
"ok" at once (VK retries an event that is not answered "ok" within a few seconds, with an
``X-Retry-Counter`` header) and handled afterwards; repeats are dropped by their event_id."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bots.json_body import BadBody, read_json_object

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/vk/callback"
MAX_BODY = 1 << 20  # VK's events are small; a bigger body is not VK's


class CallbackEndpoint:
    """``accept(event)`` takes an authenticated event of the community; it returns False when
    the bot is not running (VK is then told to try again later)."""

    def __init__(
        self,
        group_id: int,
        secret: str,
        confirmation_code: str | None,
        accept: Callable[[dict[str, Any]], bool],
    ) -> None:
        if not secret:
            raise ValueError("a VK Callback API endpoint needs a secret key")
        self.group_id = group_id
        self.secret = secret.encode()
        self.confirmation_code = confirmation_code
        self.accept = accept

    def _ours(self, body: dict[str, Any]) -> bool:
        group = body.get("group_id")
        return isinstance(group, int | str) and str(group) == str(self.group_id)

    def _signed(self, body: dict[str, Any]) -> bool:
        secret = body.get("secret")
        return isinstance(secret, str) and hmac.compare_digest(secret.encode(), self.secret)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await read_json_object(request, MAX_BODY)
        except BadBody as exc:
            return web.Response(status=exc.status, text=str(exc))
        if body.get("type") == "confirmation":
            if self._ours(body) and self.confirmation_code:
                return web.Response(text=self.confirmation_code)
            log.warning("VK Callback API confirmation for group %r refused", body.get("group_id"))
            return web.Response(status=403, text="forbidden")
        if not self._signed(body) or not self._ours(body):
            log.warning("VK Callback API event refused: wrong secret or group (from %s)",
                        request.remote)
            return web.Response(status=403, text="forbidden")
        if not self.accept(body):
            return web.Response(status=503, text="not running")
        return web.Response(text="ok")
