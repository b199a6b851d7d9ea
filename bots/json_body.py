"""Reading a JSON request body that nobody vouched for yet: the one way every webhook and
web route takes JSON (it lives here, not in ``web``, because the messengers' webhooks use it
and dependencies point ``web -> bots``). A body too large is refused (413) before it is read
whole; one that is not UTF-8 JSON, nests deeper than any real event does, or is not an
object where an object is expected, is refused (400). Nothing recursive ever sees such a
body: orjson refuses nesting beyond its own limit with an error (Python's ``json`` raises
RecursionError), and the depth is checked again, without recursion, before anyone walks
the value."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

MAX_BODY = 1 << 20  # bytes; no messenger's event or page's request comes near it
MAX_DEPTH = 32  # Telegram's updates nest about 8 deep, VK's and Viber's events fewer


class BadBody(ValueError):
    """The body is not what the route takes; ``status`` is the HTTP answer to give."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadBody("the body is not JSON") from None
    if _deeper_than(value, max_depth):
        raise BadBody("the body nests too deep")
    return value


def parse_json_object(raw: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    value = parse_json(raw, max_depth)
    if not isinstance(value, dict):
        raise BadBody("the body is not a JSON object")
    return value


async def read_body(request: web.Request, max_size: int = MAX_BODY) -> bytes:
    """The raw body, at most ``max_size`` bytes (BadBody 413 beyond)."""
    if request.content_length is not None and request.content_length > max_size:
        raise BadBody("the body is too large", 413)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # the app's own limit, for a body of unknown size
        raise BadBody("the body is too large", 413) from None
    if len(raw) > max_size:
        raise BadBody("the body is too large", 413)
    return raw


async def read_json_object(
    request: web.Request, max_size: int = MAX_BODY, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    return parse_json_object(await read_body(request, max_size), max_depth)


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
