"""Webhook calls to a school's own system, a real aiohttp server on 127.0.0.1: the JSON body
signed with the platform's secret, retried with a growing wait, given up in the end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from automation_scene import Scene, school_of

from core.automations import webhooks
from core.automations.records import CallStatus
from web.webhook_client import AiohttpPoster

SECRET = b"s" * 32


@pytest.fixture
def uow_factory(db_uow_factory):
    """Every test here on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""
    return db_uow_factory


class SchoolSystem:
    """The school's own endpoint: answers with the statuses it is given, in turn, and keeps
    what it received."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[bytes, dict[str, str]]] = []
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.server = TestServer(app, host="127.0.0.1")

    async def hook(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))


async def hooked(uow_factory, clock, url: str) -> tuple[Scene, object]:
    scene = Scene(uow_factory, school_of({
        "code": "crm", "trigger": {"offer_paid": "any"},
        "steps": [{"webhook": {"url": url, "body": {"event": "bought", "score": 1.5}}}]}),
        clock)
    anna = await scene.student()
    await scene.buy(anna, "python-life")
    await scene.run()
    return scene, anna


async def send(scene: Scene) -> int:
    return await webhooks.send_due(scene.uow_factory, AiohttpPoster(), SECRET,
                                   scene.clock.now())


async def calls(scene: Scene):  # type: ignore[no-untyped-def]
    async with scene.uow_factory() as uow:
        [run] = await uow.automation_runs.for_user(1)
        return await uow.webhook_calls.for_run(run.id)


async def test_the_body_is_signed_and_sent_once(uow_factory, clock):
    system = SchoolSystem(200)
    await system.server.start_server()
    try:
        scene, anna = await hooked(uow_factory, clock, system.url)
        assert await send(scene) == 1
        assert await send(scene) == 0
    finally:
        await system.server.close()
    [(body, headers)] = system.received
    assert headers["Content-Type"] == "application/json"
    assert headers[webhooks.SIGNATURE] == webhooks.sign(SECRET, body)
    assert webhooks.verify(SECRET, body, headers[webhooks.SIGNATURE])
    assert not webhooks.verify(b"another secret", body, headers[webhooks.SIGNATURE])
    [call] = await calls(scene)
    assert headers[webhooks.DELIVERY] == str(call.id)
    sent = json.loads(body)
    assert sent["data"] == {"event": "bought", "score": 1.5}
    assert sent["automation"] == "crm" and sent["student"] == {"id": 1, "name": "Anna"}
    assert sent["event"]["offer"] == "python-life"
    assert call.status is CallStatus.SENT and call.attempts == 1


async def test_failures_are_tried_again_later_with_the_same_body(uow_factory, clock):
    system = SchoolSystem(500, 503, 429, 200)
    await system.server.start_server()
    try:
        scene, _ = await hooked(uow_factory, clock, system.url)
        assert await send(scene) == 1
        assert await send(scene) == 0  # not due yet: 30 s
        waits = []
        for _ in range(3):
            [call] = await calls(scene)
            assert call.status is CallStatus.PENDING and call.last_error
            waits.append(call.due_at - clock.now())
            clock.advance(call.due_at - clock.now())
            assert await send(scene) == 1
    finally:
        await system.server.close()
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    [call] = await calls(scene)
    assert call.status is CallStatus.SENT and call.attempts == 4
    bodies = {body for body, _ in system.received}
    signatures = {headers[webhooks.SIGNATURE] for _, headers in system.received}
    assert len(system.received) == 4 and len(bodies) == 1 and len(signatures) == 1


async def test_an_unreachable_system_is_given_up_after_the_last_attempt(uow_factory, clock):
    closed = SchoolSystem()
    await closed.server.start_server()
    url = closed.url
    await closed.server.close()  # nothing listens there any more
    scene, _ = await hooked(uow_factory, clock, url)
    for _ in range(webhooks.MAX_ATTEMPTS):
        clock.advance(timedelta(hours=2))
        assert await send(scene) == 1
    [call] = await calls(scene)
    assert call.status is CallStatus.FAILED and call.attempts == webhooks.MAX_ATTEMPTS
    assert "ClientConnectorError" in (call.last_error or "")
    clock.advance(timedelta(days=1))
    assert await send(scene) == 0


async def test_a_refusal_is_final_at_once(uow_factory, clock):
    system = SchoolSystem(404)
    await system.server.start_server()
    try:
        scene, _ = await hooked(uow_factory, clock, system.url)
        await send(scene)
        clock.advance(timedelta(hours=1))
        assert await send(scene) == 0
    finally:
        await system.server.close()
    [call] = await calls(scene)
    assert call.status is CallStatus.FAILED and call.last_error == "HTTP 404"


async def test_a_call_whose_sender_died_is_sent_again(uow_factory, clock):
    system = SchoolSystem(200)
    await system.server.start_server()
    try:
        scene, _ = await hooked(uow_factory, clock, system.url)
        async with uow_factory() as uow:  # claimed by a process that died before sending
            assert len(await uow.webhook_calls.claim(clock.now(), clock.now(), 10)) == 1
            await uow.commit()
        assert await send(scene) == 0
        clock.advance(webhooks.STALE_AFTER + timedelta(seconds=1))
        assert await send(scene) == 1
    finally:
        await system.server.close()
    assert len(system.received) == 1
