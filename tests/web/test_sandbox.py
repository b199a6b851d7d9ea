"""The sandbox's HTTP side, in process: pretend students, the live feed, the clock, and
paying under the /sandbox/ prefix. (The browser test drives the page itself.)"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from harness import checkout_forms, sandbox_server

from app.lifecycle import open_sandbox, sandbox_wanted
from app.settings import Settings
from core.school_file import load_school

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox(tmp_path, school):
    async with sandbox_server(tmp_path, school, home=True) as served:
        yield served


async def _post(http, path, body):
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def test_the_root_leads_to_the_sandbox_page(sandbox):
    http, _ = sandbox
    async with http.get("/") as response:
        assert response.url.path == "/sandbox/"
        page = await response.text()
    assert "static/sandbox.js" in page and "Sandbox" in page
    async with http.get("/sandbox/static/sandbox.js") as response:
        assert response.status == 200


async def test_state_names_the_school_its_own_database_and_students(sandbox):
    http, _ = sandbox
    async with http.get("/sandbox/state") as response:
        state = await response.json()
    assert state["school"] == "Test School" and state["database"] == "sandbox.db"
    assert [(s["name"], s["language"], s["role"]) for s in state["students"]] == [
        ("Anna", "en", ""), ("Дмитрий", "ru", ""), ("Camille", "fr", ""),
        ("Olga", "en", "owner")]
    assert state["messenger"] == "sandbox"
    assert state["moved"] == ""


async def test_students_can_be_added_and_bad_ones_are_refused(sandbox):
    http, _ = sandbox
    status, student = await _post(http, "/sandbox/students", {"name": "Zoé", "language": "fr"})
    assert status == 200 and student["id"] == "s4"
    for body in ({"name": "", "language": "en"}, {"name": "X", "language": "english"},
                 {"name": "x" * 41, "language": "en"}):
        status, problem = await _post(http, "/sandbox/students", body)
        assert status == 400 and problem["error"]
    async with http.post("/sandbox/students", data=b"not json") as response:
        assert response.status == 400


async def test_a_conversation_reaches_the_feed_and_the_history(sandbox):
    http, _ = sandbox
    events = []

    async def listen():
        async with http.get("/sandbox/events") as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 3:
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    status, _ = await _post(http, "/sandbox/send", {"student": "s2", "text": "/start"})
    assert status == 200
    messages = await _get_history(http, "s2")
    menu = messages[-1]
    status, _ = await _post(http, "/sandbox/press",
                            {"student": "s2", "message": menu["id"], "action": "cat"})
    assert status == 200
    await asyncio.wait_for(listener, 5)
    assert [e["type"] for e in events] == ["said", "message", "edit"]
    assert events[1]["text"] == "Привет из Test School!"
    assert events[2]["id"] == menu["id"] and "Python" in json.dumps(events[2], ensure_ascii=False)
    history = await _get_history(http, "s2")
    assert [e["from"] for e in history] == ["student", "bot"]


async def _get_history(http, student):
    async with http.get("/sandbox/history", params={"student": student}) as response:
        return await response.json()


async def test_bad_requests_change_nothing(sandbox):
    http, platform = sandbox
    assert (await _post(http, "/sandbox/send", {"student": "nobody", "text": "hi"}))[0] == 404
    assert (await _post(http, "/sandbox/send", {"student": "s1", "text": ""}))[0] == 400
    assert (await _post(http, "/sandbox/press",
                        {"student": "s1", "message": "1", "action": "x" * 65}))[0] == 400
    assert (await _post(http, "/sandbox/clock", {"advance": "soon"}))[0] == 400
    assert (await _post(http, "/sandbox/clock", {"advance": "P1Y"}))[0] == 400
    assert (await _post(http, "/sandbox/clock", {"advance": "-P1D"}))[0] == 400
    async with http.get("/sandbox/state") as response:
        assert (await response.json())["moved"] == ""
    assert platform.channels["sandbox"].chat("s1").messages == []


async def test_buy_under_the_prefix_then_move_the_clock_for_the_next_lesson(sandbox):
    http, platform = sandbox
    await _post(http, "/sandbox/send", {"student": "s1", "text": "/start python-life"})
    card = (await _get_history(http, "s1"))[-1]
    await _post(http, "/sandbox/press",
                {"student": "s1", "message": card["id"], "action": "b:python-life"})
    order = (await _get_history(http, "s1"))[-1]
    link = next(b["url"] for row in order["rows"] for b in row if b["url"])
    assert "/sandbox/pay/" in link
    async with http.get(urlsplit(link).path) as response:
        form = checkout_forms(await response.text(), str(response.url))["pay"]
    assert "/sandbox/payments/test/webhook" in form["url"]
    async with http.post(form["url"], data=form["fields"]) as response:
        assert response.url.path.startswith("/sandbox/pay/") and response.url.path.endswith("/done")
        assert 'data-status="paid"' in await response.text()
    await platform.dispatcher.dispatch_once()
    assert "Payment received" in (await _get_history(http, "s1"))[-1]["text"]

    status, state = await _post(http, "/sandbox/clock", {"advance": "P1D"})
    assert status == 200 and state["moved"] == "1 day"
    assert "Variables" in (await _get_history(http, "s1"))[-1]["text"]
    assert platform.clock.offset == timedelta(days=1)


async def test_every_start_begins_with_a_fresh_sandbox(tmp_path, school):
    settings = Settings(_env_file=None, secret_key="s" * 32,
                        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db")
    (tmp_path / "sandbox.db").write_bytes(b"an old sandbox")
    platform, engine = await open_sandbox(settings, school)
    try:
        async with platform.uow_factory() as uow:
            assert await uow.users.get(1) is None
    finally:
        await engine.dispose()


def test_the_sandbox_is_on_without_messengers_and_only_on_loopback():
    assert sandbox_wanted(Settings(_env_file=None), messengers=0) is True
    assert sandbox_wanted(Settings(_env_file=None), messengers=1) is False
    assert sandbox_wanted(Settings(_env_file=None, sandbox="on"), messengers=1) is True
    assert sandbox_wanted(Settings(_env_file=None, sandbox="off"), messengers=0) is False
    public = {"host": "0.0.0.0", "test_payments": True}
    assert sandbox_wanted(Settings(_env_file=None, **public), messengers=0) is False
    assert sandbox_wanted(Settings(_env_file=None, **public, sandbox_public=True),
                          messengers=0) is True


async def _press(http, student, label):
    """Press the newest button whose label contains ``label``."""
    for entry in reversed(await _get_history(http, student)):
        for row in entry.get("rows", []):
            for button in row:
                if label in button["text"] and button["action"]:
                    status, _ = await _post(http, "/sandbox/press", {
                        "student": student, "message": entry["id"], "action": button["action"]})
                    assert status == 200
                    return
    raise AssertionError(f"no button like {label!r}")


async def test_a_bundles_paid_group_shows_in_the_sandbox_with_where_it_is_joined(sandbox):
    """No Telegram in the sandbox, so no invite link: the group still shows as bought."""
    http, platform = sandbox
    await _post(http, "/sandbox/send", {"student": "s1", "text": "/start python-30"})
    await _press(http, "s1", "Buy")
    order = (await _get_history(http, "s1"))[-1]
    link = next(b["url"] for row in order["rows"] for b in row if b["url"])
    async with http.get(urlsplit(link).path) as response:
        form = checkout_forms(await response.text(), str(response.url))["pay"]
    async with http.post(form["url"], data=form["fields"]) as response:
        assert 'data-status="paid"' in await response.text()
    await platform.dispatcher.dispatch_once()
    note = "👥 Included: “Club” (a Telegram group), joined with the personal link the bot " \
           "sends you in Telegram."
    assert note in (await _get_history(http, "s1"))[-1]["text"]
    await _press(http, "s1", "My courses")
    await _press(http, "s1", "Python 30 days")
    detail = (await _get_history(http, "s1"))[-1]
    assert detail["text"].startswith("Python 30 days — until") and note in detail["text"]


async def _say(http, person, text):
    status, _ = await _post(http, "/sandbox/send", {"student": person, "text": text})
    assert status == 200
    return (await _get_history(http, person))[-1]


async def test_the_pretend_owner_runs_staff_commands_and_gives_a_student_a_role(sandbox):
    http, platform = sandbox
    help_text = (await _say(http, "olga", "/help"))["text"]
    assert "Staff commands for your role (owner):" in help_text
    assert all(f"/{c} —" in help_text for c in ("paid", "refund", "audit", "staff"))
    assert "Staff commands" not in (await _say(http, "s1", "/help"))["text"]
    assert "didn't get that" in (await _say(http, "s1", "/audit"))["text"]

    added = await _say(http, "olga", "/staff add sandbox:s2 support")
    assert added["text"] == "✅ sandbox:s2 is now support."
    async with http.get("/sandbox/state") as response:
        roles = {s["id"]: s["role"] for s in (await response.json())["students"]}
    assert roles == {"s1": "", "s2": "support", "s3": "", "olga": "owner"}
    support_help = (await _say(http, "s2", "/help"))["text"]
    assert "(поддержка)" in support_help and "/refund" not in support_help  # Дмитрий: ru

    audit = (await _say(http, "olga", "/audit"))["text"].splitlines()
    assert audit[0] == "Audit log, latest 2:"  # this /audit is written after it reads
    assert "sandbox:olga (owner) /staff add sandbox:s2 support — sandbox:s2: not staff -> " \
           "support" in audit[1]
    assert "sandbox:s1 (-) /audit — not staff" in audit[2]
    async with platform.uow_factory() as uow:
        [member] = await uow.staff.all()
    assert (member.account, member.role.value, member.added_by) == (
        "sandbox:s2", "support", "sandbox:olga")


async def test_a_school_file_naming_sandbox_staff_keeps_its_role(tmp_path, school):
    import dataclasses

    from core.staff import Role, StaffRef

    named = dataclasses.replace(school, staff=(StaffRef("sandbox", "olga", Role.SUPPORT),
                                               StaffRef("sandbox", "s1", Role.MANAGER)))
    settings = Settings(_env_file=None, secret_key="s" * 32,
                        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db")
    platform, engine = await open_sandbox(settings, named)
    try:
        assert platform.school().role_in_file("sandbox", "olga") is Role.SUPPORT
        assert platform.school().role_in_file("sandbox", "s1") is Role.MANAGER
        assert len(platform.school().staff) == 2
    finally:
        await engine.dispose()


@pytest.fixture
async def demo_sandbox(tmp_path):
    """The sandbox of the demo school (school.example.yaml), with its automations."""
    async with sandbox_server(tmp_path, load_school(ROOT / "school.example.yaml")) as served:
        yield served


async def test_the_clock_ends_an_automations_wait_in_the_demo_school(demo_sandbox):
    """The free first lesson, then three hours later "Did you like it?"; yes: the course."""
    http, platform = demo_sandbox
    await _post(http, "/sandbox/send", {"student": "s1", "text": "/start python-first-lesson"})
    card = (await _get_history(http, "s1"))[-1]
    await _post(http, "/sandbox/press", {"student": "s1", "message": card["id"],
                                 "action": "b:python-first-lesson"})
    await platform.run_sweeps()
    await platform.dispatcher.drain()
    said = [m["text"] for m in await _get_history(http, "s1")]
    assert not any("Did you like" in text for text in said)

    status, state = await _post(http, "/sandbox/clock", {"advance": "PT3H"})
    assert status == 200 and state["moved"] == "3 hours"
    question = (await _get_history(http, "s1"))[-1]
    assert question["text"] == "Did you like the first Python lesson?"
    yes = question["rows"][0][0]
    assert yes["text"] == "👍 Yes" and yes["action"].startswith("aa:")
    await _post(http, "/sandbox/press", {"student": "s1", "message": question["id"],
                                 "action": yes["action"]})
    await platform.dispatcher.drain()
    offer = (await _get_history(http, "s1"))[-1]
    assert offer["text"].startswith("Glad to hear it!")
    assert offer["rows"][0][0]["action"] == "o:python-lifetime"

    await _post(http, "/sandbox/send", {"student": "olga", "text": "/automations taster-feedback"})
    screen = (await _get_history(http, "olga"))[-1]["text"]
    assert "Runs: 0 active, 0 waiting, 0 paused, 1 done, 0 cancelled" in screen
