"""Every route the platform serves answers hostile bodies with 4xx and changes nothing.

The app is built as ``run.py`` builds it for a school on Telegram (webhook), VK (Callback
API) and Viber with test payments and the sandbox, and its routes are enumerated from the
app itself, so a route added later is covered without touching this test. Each body is sent
with the credentials of its route where it has any (Telegram's secret header, Viber's
signature, VK's secret in the body), so it reaches the parsing behind them."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from app.bootstrap import build_platform, configured_messengers
from app.lifecycle import add_webhook_routes, open_sandbox
from app.settings import Settings
from storage.tables import Base
from storage.testing import make_sqlite_uow_factory
from web.app import add_home

TELEGRAM_SECRET = "telegram-webhook-secret-0123"
VK_GROUP, VK_SECRET = 77, "vk-callback-secret"
VIBER_TOKEN = "viber-auth-token-0123"
DEPTH = 100_000


def _deep(opening: bytes, middle: bytes, closing: bytes) -> bytes:
    return opening * DEPTH + middle + closing * DEPTH


DEEP_LIST = _deep(b"[", b"1", b"]")
DEEP_OBJECT = _deep(b'{"a":', b"1", b"}")
# Fields a route reads (VK's secret and group let the body past the VK check), each holding
# a nested value too deep for a recursive parser.
AUTHENTIC = {"type": "message_new", "group_id": VK_GROUP, "secret": VK_SECRET,
             "event": "message", "update_id": 1, "event_id": "evil-1"}


def _with(fields: dict[str, Any], deep_key: str | None = None) -> bytes:
    body = orjson.dumps(fields)
    if deep_key is None:
        return body
    return body[:-1] + f',"{deep_key}":'.encode() + DEEP_LIST + b"}"


WRONG_TYPES = {
    "type": [], "group_id": {}, "secret": 1, "event": [], "update_id": "x", "event_id": {},
    "message": 5, "callback_query": "x", "object": "x", "student": [], "text": {},
    "action": 1, "advance": [], "name": {}, "language": 5, "user": "x", "sender": 5,
    "message_token": {}, "outcome": [], "token": {}, "signature": 7,
}
BODIES: dict[str, bytes] = {
    "deep list": DEEP_LIST,
    "deep object": DEEP_OBJECT,
    **{f"deep {key}": _with(AUTHENTIC, key)
       for key in ("object", "message", "callback_query", "text", "student", "advance",
                   "user", "sender", "name")},
    "huge": b'{"text":"' + b"x" * (3 * 1024 * 1024) + b'"}',
    "invalid utf-8": b'{"text": "\xff\xfe\xfd", "name": "\xc3\x28"}',
    "not json": b"{not json",
    "empty": b"",
    "a list": b"[1, 2, 3]",
    "a string": b'"an event"',
    "a number": b"42",
    "null": b"null",
    "wrong types": orjson.dumps(WRONG_TYPES),
    "wrong types, authentic": orjson.dumps({**WRONG_TYPES, **AUTHENTIC, "object": "x",
                                           "message": [], "sender": "x", "text": 5}),
    "vk event of wrong shapes": orjson.dumps({**AUTHENTIC, "type": "message_event",
                                             "object": {"user_id": "x", "peer_id": [],
                                                        "payload": 5, "event_id": {}}}),
    "telegram update of wrong shapes": orjson.dumps(
        {"update_id": 2, "callback_query": {"id": 5, "from": "x", "data": []}}),
    "viber event of wrong shapes": orjson.dumps(
        {"event": "message", "message_token": 5, "sender": "x", "message": []}),
}
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=zzz")
PATH_VALUES = {"gateway": "test"}  # the one gateway that is configured


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app`` and of its sub-apps (whose resources carry
    their prefix already)."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:  # a sub-app under a prefix
            found += _routes(info["app"])
            continue
        if "directory" in info:  # static files
            found += [("GET", info["prefix"] + "/sandbox.css"),
                      ("POST", info["prefix"] + "/sandbox.css")]
            continue
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: PATH_VALUES.get(m[1], "x"),
                      resource.canonical)
        for route in resource:
            found.append((route.method if route.method != "*" else "POST", path))
    return found


def _credentials(path: str, body: bytes) -> dict[str, str]:
    if path == "/telegram/webhook":
        return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    if path == "/viber/webhook":
        signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Viber-Content-Signature": signature}
    return {}


async def _snapshot(engines, platform, sandbox) -> tuple:
    rows = []
    for engine in engines:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                result = await connection.execute(select(table))
                rows.append((table.name, sorted(map(repr, result.all()))))
    messenger = sandbox.channels["sandbox"]
    chats = {s: len(messenger.history(s)) for s in messenger.students}
    return rows, chats, platform.clock.now(), sandbox.clock.offset


@pytest.fixture
async def served(tmp_path, school, clock):
    settings = Settings(
        _env_file=None, secret_key="s" * 32, public_url="https://school.example",
        test_payments=True, sandbox="on",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/school.db",
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db",
        telegram_bot_token="123456:TEST-token", telegram_webhook_secret=TELEGRAM_SECRET,
        vk_group_token="vk-token", vk_group_id=VK_GROUP, vk_callback_secret=VK_SECRET,
        vk_confirmation_code="confirm-me", viber_auth_token=VIBER_TOKEN,
    )
    uow_factory, engine = await make_sqlite_uow_factory(tmp_path)
    messengers = configured_messengers(settings, school.default_language, school.name)
    assert set(messengers) == {"telegram", "vk", "viber"}
    # As run.py's serve() wires them.
    platform = build_platform(settings, school, uow_factory, clock, channels=messengers)
    add_webhook_routes(platform.app, messengers)
    add_home(platform.app, "/sandbox/")
    sandbox, sandbox_engine = await open_sandbox(settings, school)
    platform.app.add_subapp("/sandbox", sandbox.app)
    handed: list = []  # what the messengers handed to the flows: nothing, for bad input

    async def record(incoming):
        handed.append(incoming)

    for messenger in messengers.values():  # running, without calling the real services
        messenger._on_incoming = record
    await sandbox.channels["sandbox"].run(sandbox.flows.handle)
    server = TestServer(platform.app, host="127.0.0.1")
    await server.start_server()
    yield server, platform, sandbox, (engine, sandbox_engine), handed
    await server.close()
    for messenger in messengers.values():
        await messenger.stop()
    await engine.dispose()
    await sandbox_engine.dispose()


# aiogram warns about an update with no type it knows, which some bodies here are.
@pytest.mark.filterwarnings("ignore:Detected unknown update type")
async def test_every_route_answers_hostile_bodies_with_4xx_and_changes_nothing(served):
    server, platform, sandbox, engines, handed = served
    routes = _routes(platform.app)
    paths = {path for _, path in routes}
    assert {"/telegram/webhook", "/vk/callback", "/viber/webhook", "/healthz",
            "/payments/test/webhook", "/sandbox/press", "/sandbox/clock"} <= paths
    before = await _snapshot(engines, platform, sandbox)
    failures = []
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for method, path in routes:
            for name, body in BODIES.items():
                kinds = CONTENT_TYPES if name in ("wrong types", "deep object") else \
                    CONTENT_TYPES[:1]
                for content_type in kinds:
                    headers = {"Content-Type": content_type, **_credentials(path, body)}
                    async with http.request(method, server.make_url(path), data=body,
                                            headers=headers) as response:
                        if response.status >= 500:
                            failures.append(f"{method} {path} [{name}, {content_type}]: "
                                            f"{response.status}")
    assert failures == []
    assert handed == []
    assert await _snapshot(engines, platform, sandbox) == before
