"""aiogram's HTTP session, tuned for a bot that answers hundreds of presses a second.

- JSON through orjson, both ways.
- Every answer is validated as ``Response[<the method's result type>]``, a pydantic generic
  model that pydantic keeps only in a weak cache: once the garbage collector drops it, the
  next call builds the class again, which takes milliseconds. The classes this bot has used
  are kept here for the life of the process (a few dozen at most)."""

from __future__ import annotations

from typing import Any

import orjson
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.methods import Response, TelegramMethod

_RESPONSE_TYPES: dict[Any, type] = {}


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


class TunedSession(AiohttpSession):
    def __init__(self, api_url: str | None = None) -> None:
        api = TelegramAPIServer.from_base(api_url) if api_url else PRODUCTION
        super().__init__(api=api, json_loads=orjson.loads, json_dumps=_json_text)

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)
