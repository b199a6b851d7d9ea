"""The Telegram webhook endpoint.

aiogram's ``SimpleRequestHandler`` runs each update in a task of its own under a 55-second
timer and writes a method it returns as multipart form data. This endpoint awaits the update
in the request itself and answers with JSON, which Telegram accepts as well: at hundreds of
presses a second, that difference is a large part of what a press costs. The rules stay:
the secret token is checked in constant time (a wrong or missing one gets 401 and nothing is
handled), a body that is not an update gets 400 (413 when too large), and an update that
fails answers 500 so that Telegram delivers it again."""

from __future__ import annotations

import hmac
import logging

import orjson
from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bots.json_body import BadBody, read_json_object

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookEndpoint:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret: str) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self._secret = secret.encode()

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=401, text="Unauthorized")
        try:
            body = await read_json_object(request)
        except BadBody as exc:
            return web.Response(status=exc.status, text=str(exc))
        try:
            update = Update.model_validate(body, context={"bot": self.bot})
        except ValidationError:
            return web.Response(status=400, text="Not an update")
        try:
            result = await self.dispatcher.feed_update(self.bot, update)
        except Exception:
            log.exception("update %s failed: Telegram will send it again", update.update_id)
            return web.Response(status=500, text="Failed")
        if isinstance(result, TelegramMethod):
            body = result.model_dump(mode="json", exclude_none=True)
            body["method"] = result.__api_method__
            return web.Response(body=orjson.dumps(body), content_type="application/json")
        return web.Response(body=b"{}", content_type="application/json")
