"""The sandbox page: talk to the school as pretend students, or as its pretend owner, in a
browser, with a clock the owner moves forward. Served under ``/sandbox/`` by a platform of its
own (its own SQLite file and clock), so nothing done here touches the real school."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bots.json_body import BadBody, read_json_object
from bots.sandbox import SandboxMessenger
from core.clock import OffsetClock
from core.periods import Period
from core.school import School

STATIC = Path(__file__).parent / "static"
KEEPALIVE = 15  # seconds between comments that keep an idle event stream open
MAX_TEXT = 4096
MAX_BODY = 64 * 1024  # a request of the page: a message of MAX_TEXT characters at most
MAX_STEP = timedelta(days=62)
LANGUAGE = re.compile(r"^[a-z]{2}$")


@dataclass
class Sandbox:
    messenger: SandboxMessenger
    clock: OffsetClock
    school: Callable[[], School]
    database: str  # shown on the page, so nobody mistakes it for the real one
    move_time: Callable[[timedelta], Awaitable[None]]  # advance, run the sweeps, deliver
    # The staff roles of the pretend people now, by their id (school file, then /staff).
    roles: Callable[[], Awaitable[dict[str, str]]] | None = None


SANDBOX = web.AppKey("sandbox", Sandbox)


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The page's requests are small JSON objects; anything else is refused with 4xx."""
    try:
        return await read_json_object(request, MAX_BODY)
    except BadBody as exc:
        problem = {"text": json.dumps({"error": str(exc)}), "content_type": "application/json"}
        if exc.status == 413:
            raise web.HTTPRequestEntityTooLarge(
                MAX_BODY, request.content_length or MAX_BODY + 1, **problem) from None
        raise web.HTTPBadRequest(**problem) from None


def _human(delta: timedelta) -> str:
    """``8 days 1 hour``; ``""`` for no time at all."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n)


async def _state(sandbox: Sandbox) -> dict[str, Any]:
    school = sandbox.school()
    now = sandbox.clock.now()
    roles = await sandbox.roles() if sandbox.roles is not None else {}
    return {
        "school": school.name,
        "database": sandbox.database,
        "now": now.isoformat(),
        "local_time": now.astimezone(school.timezone).strftime("%Y-%m-%d %H:%M"),
        "timezone": str(school.timezone),
        "moved": _human(sandbox.clock.offset),
        "messenger": sandbox.messenger.name,  # accounts are ``sandbox:<id>``
        "students": [{**vars(s), "role": roles.get(s.id, "")}
                     for s in sandbox.messenger.students.values()],
    }


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "sandbox.html")


async def state(request: web.Request) -> web.Response:
    return web.json_response(await _state(request.app[SANDBOX]))


async def add_student(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    body = await _json_body(request)
    name, language = str(body.get("name", "")).strip(), str(body.get("language", "")).strip()
    if not 0 < len(name) <= 40:
        return _problem(400, "a name is 1 to 40 characters")
    if not LANGUAGE.match(language):
        return _problem(400, "a language is a two-letter code such as en, ru or fr")
    return web.json_response(vars(sandbox.messenger.add_student(name, language)))


def _student(sandbox: Sandbox, student_id: object) -> str:
    if not isinstance(student_id, str) or student_id not in sandbox.messenger.students:
        raise web.HTTPNotFound(text='{"error": "no such student"}',
                               content_type="application/json")
    return student_id


async def history(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    student = _student(sandbox, request.query.get("student"))
    return web.json_response(sandbox.messenger.history(student))


async def send_text(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    body = await _json_body(request)
    student = _student(sandbox, body.get("student"))
    text = body.get("text")
    if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_TEXT:
        return _problem(400, f"a message is 1 to {MAX_TEXT} characters")
    await sandbox.messenger.type_text(student, text)
    return web.json_response({"ok": True})


async def press(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    body = await _json_body(request)
    student = _student(sandbox, body.get("student"))
    message, action = body.get("message"), body.get("action")
    if not isinstance(message, str) or not isinstance(action, str):
        return _problem(400, "a press names a message and an action")
    if not 0 < len(action.encode()) <= 64:
        return _problem(400, "an action is 1 to 64 bytes")
    await sandbox.messenger.press(student, message, action)
    return web.json_response({"ok": True})


async def move_clock(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    body = await _json_body(request)
    try:
        period = Period.parse(str(body.get("advance", "")))
    except ValueError as exc:
        return _problem(400, str(exc))
    step = period.approx()
    if step > MAX_STEP:
        return _problem(400, "move at most 62 days at a time")
    await sandbox.move_time(step)
    return web.json_response(await _state(sandbox))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every message, edit and toast of every pretend student."""
    sandbox = request.app[SANDBOX]
    headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    if request.method == "HEAD":  # the headers only: a stream here would break the connection
        return web.Response(headers=headers)
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    queue = sandbox.messenger.watch()
    try:
        with contextlib.suppress(ConnectionResetError):  # the page went away
            await _stream(response, queue)
    finally:
        sandbox.messenger.unwatch(queue)
    return response


async def _stream(response: web.StreamResponse, queue: asyncio.Queue) -> None:
    await response.write(b": connected\n\n")
    while True:
        try:
            event = await asyncio.wait_for(queue.get(), KEEPALIVE)
        except TimeoutError:
            await response.write(b": keepalive\n\n")
            continue
        if event is None:  # the server is stopping
            return
        payload = json.dumps(event, ensure_ascii=False)
        await response.write(f"data: {payload}\n\n".encode())


async def _close_streams(app: web.Application) -> None:
    app[SANDBOX].messenger.close_feeds()


def add_sandbox_routes(app: web.Application, sandbox: Sandbox) -> None:
    app[SANDBOX] = sandbox
    app.router.add_get("/", page)
    app.router.add_get("/state", state)
    app.router.add_post("/students", add_student)
    app.router.add_get("/history", history)
    app.router.add_post("/send", send_text)
    app.router.add_post("/press", press)
    app.router.add_post("/clock", move_clock)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC)
    app.on_shutdown.append(_close_streams)
